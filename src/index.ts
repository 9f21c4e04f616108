// `tokengate`: the token library — PKCS#11 modules, tokens, sessions and pools, PIN lockout and
// the blocklist, signature verification. It loads no server dependency (Fastify, pg, SQLite for
// the verifier, argon2): the verifier is `tokengate/verifier`, its client `tokengate/client`.
// Everything not exported here is internal.
export { Pkcs11Module, moduleReferenceCount } from './pkcs11/module.js';
export type { ModuleInfo, SlotInfo, LoadOptions } from './pkcs11/module.js';
export { discoverModules } from './pkcs11/discovery.js';
export { findModuleWithToken } from './pkcs11/module-with-token.js';
export type { FindModuleOptions } from './pkcs11/module-with-token.js';
export type { DiscoveredModule, DiscoveryOptions } from './pkcs11/discovery.js';
export { Token } from './pkcs11/token.js';
export { TokenWatcher } from './pkcs11/watcher.js';
export type { TokenEvent, WatchOptions, TokenWatcherEvents } from './pkcs11/watcher.js';
export type { TokenInfo, TokenSelector } from './pkcs11/token.js';
export type { TokenFlags, SlotFlags, PinStatus } from './pkcs11/flags.js';
export { decodeTokenFlags, decodeSlotFlags } from './pkcs11/flags.js';
export { Session } from './pkcs11/session.js';
export { selectSigningKey } from './pkcs11/key-selection.js';
export { Pin } from './util/pin.js';
export type { SessionOptions, LoginOptions, UserType } from './pkcs11/session.js';
export type { UnblockPinOptions } from './pkcs11/unblock.js';
export type { TokenAdmission } from './pkcs11/admission.js';
export { SessionPool } from './pkcs11/pool.js';
export type { SessionPoolOptions } from './pkcs11/pool.js';
export type { WorkerKind } from './pkcs11/sign-workers.js';
export type { ObjectRef, TokenKey } from './pkcs11/objects.js';
export type { GenerateKeyPairOptions, KeyPairType } from './pkcs11/keygen.js';
export { createSelfSignedCertificate, createCertificateRequest } from './pkcs11/enrollment.js';
export type { CertificateOptions, CertificateRequestOptions } from './pkcs11/enrollment.js';
export { uninitializedTokens } from './pkcs11/token.js';
export type { InitializeTokenOptions } from './pkcs11/admin.js';
export { TokenCryptoKey, tokenCrypto, tokenKeyPair } from './pkcs11/crypto-adapter.js';
export type { TokenCrypto, TokenKeyPair, TokenKeyAlgorithm } from './pkcs11/crypto-adapter.js';
export type { TokenCertificate, ImportCertificateOptions } from './pkcs11/certificates.js';
export { PublicKey } from './pkcs11/public-key.js';
export { verifySignature, verifySignatureAsync, SIGNATURE_ALGORITHMS, rawToDer } from './algorithms/signature.js';
export type { SignatureAlgorithm, SignatureFormat, VerifyOptions, VerificationKey, KeyObjectSource } from './algorithms/signature.js';
export { defaultAlgorithm } from './pkcs11/signing.js';
export type { SignOptions } from './pkcs11/signing.js';
export type { MechanismInfo } from './pkcs11/mechanisms.js';
export type { KeyType, NamedCurve } from './pkcs11/curves.js';
export { ckrName } from './errors/ckr-names.js';
// USB security keys over HID: the device list and its watcher, and the transport the FIDO layer
// speaks CTAPHID over. node-hid is loaded only when a key is listed or opened, never by this import.
export { listFidoDevices, openHidTransport, singleFidoDeviceSource, FIDO_USAGE_PAGE, FIDO_USAGE } from './hid/devices.js';
export type { FidoDeviceInfo, HidDeviceSource } from './hid/devices.js';
export { FidoDeviceWatcher } from './hid/watcher.js';
export type { FidoDeviceEvent, FidoWatchOptions, FidoDeviceWatcherEvents, WatchedFidoDevice } from './hid/watcher.js';
export { HID_REPORT_SIZE } from './hid/transport.js';
export type { HidTransport, HidOpenOptions } from './hid/transport.js';
export { createMemoryHidPair } from './hid/memory-transport.js';
export type { MemoryHidPair, HidDeviceEnd } from './hid/memory-transport.js';
export { fidoDisplayName, fidoVendorName } from './hid/vendors.js';
export {
  TokengateError,
  Pkcs11Error,
  ModuleLoadError,
  ModuleClosedError,
  InvalidArgumentError,
  PinIncorrectError,
  PinLockedError,
  PinExpiredError,
  PinLengthError,
  PinInvalidError,
  NotLoggedInError,
  TokenNotPresentError,
  TokenAmbiguousError,
  TokenRemovedError,
  SessionClosedError,
  SessionReadOnlyError,
  KeyNotFoundError,
  KeyTypeMismatchError,
  MechanismNotSupportedError,
  FinalTryRefusedError,
  UnblockNotSupportedError,
  PinBlockedError,
  PinAuthBlockedError,
  PinNotSetError,
  PinPolicyError,
  NoCredentialsError,
  UserPresenceTimeoutError,
  OperationCancelledError,
  OperationDeniedError,
  DeviceAccessDeniedError,
  DeviceIoError,
  DeviceBusyError,
  DeviceTimeoutError,
  CtapHidError,
  Ctap2Error,
  FidoProtocolError,
  FidoNotSupportedError,
} from './errors/index.js';
export type { TokengateErrorCode, FidoErrorCode, Pkcs11Failure, CtapFailure, TokenLibraryError } from './errors/index.js';
export { HostLockout } from './lockout/host-lockout.js';
export type { HostLockoutOptions } from './lockout/host-lockout.js';
// Registers the host counter as the default login guard (see its header).
import './lockout/default-guard.js';
export type { LoginGuard, LoginGuardTicket, LoginGuardChoice, GuardAttempt, GuardedCount, GuardedToken, PinSecret, PinCounting, TokenChange } from './pkcs11/login-guard.js';
export type { PinState } from './pkcs11/pin-state.js';
export { TokenBlockedError } from './lockout/errors.js';
export { Blocklist, certificateFingerprint } from './lockout/blocklist.js';
export type { BlocklistEntries, BlocklistFetcher, TokenIdentity } from './lockout/blocklist.js';
export { defaultStateDir } from './lockout/state-dir.js';
// USB security keys over HID: FIDO2 (CTAPHID + CTAP2 clientPIN), U2F as a fallback.
export { SecurityKey } from './fido/security-key.js';
export type { SecurityKeyPinStatus, UnlockOptions as SecurityKeyUnlockOptions, ChangePinOptions as SecurityKeyChangePinOptions, TouchOptions } from './fido/security-key.js';
export type { EnrollOptions as SecurityKeyEnrollOptions, EnrolledCredential, SignChallengeOptions, ProbeCredentialsOptions, FidoAssertion, FidoAlgorithm } from './fido/credentials.js';
export { CtapHidConnection } from './fido/ctaphid.js';
export type { ConnectionOptions as CtapHidConnectionOptions, TransactOptions, CtapHidDeviceVersion } from './fido/ctaphid.js';
export { Ctap2 } from './fido/ctap2.js';
export type { AuthenticatorInfo, CallOptions as Ctap2CallOptions } from './fido/ctap2.js';
export { clientData, parseAuthenticatorData, coseToPublicKey } from './fido/webauthn.js';
export type { AuthenticatorData, AttestedCredential, ClientData } from './fido/webauthn.js';
// One shape for cards and security keys alike (what the kiosk and the client take).
export { Pkcs11HardwareToken } from './tokens/pkcs11-hardware-token.js';
export { FidoHardwareToken } from './tokens/fido-hardware-token.js';
export type { FidoTokenOptions } from './tokens/fido-hardware-token.js';
export { HardwareTokenWatcher } from './tokens/watcher.js';
export type { HardwareTokenWatchOptions, HardwareTokenArrival, HardwareTokenWatcherEvents } from './tokens/watcher.js';
export type {
  HardwareToken,
  HardwareTokenKind,
  HardwareTokenIdentity,
  HardwareTokenStatus,
  HardwareUnlockOptions,
  HardwareSignRequest,
  HardwareSignature,
  TouchAware,
} from './tokens/hardware-token.js';
