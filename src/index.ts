// tokengate's public API. Everything not exported here is internal.
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
export type { SessionOptions, LoginOptions, UserType } from './pkcs11/session.js';
export type { UnblockPinOptions } from './pkcs11/unblock.js';
export type { TokenAdmission } from './pkcs11/admission.js';
export { SessionPool } from './pkcs11/pool.js';
export type { SessionPoolOptions } from './pkcs11/pool.js';
export type { ObjectRef, TokenKey } from './pkcs11/objects.js';
export type { GenerateKeyPairOptions, KeyPairType } from './pkcs11/keygen.js';
export { createSelfSignedCertificate, createCertificateRequest } from './pkcs11/enrollment.js';
export type { CertificateOptions, CertificateRequestOptions } from './pkcs11/enrollment.js';
export { uninitializedTokens } from './pkcs11/admin.js';
export type { InitializeTokenOptions } from './pkcs11/admin.js';
export { TokenCryptoKey, tokenCrypto, tokenKeyPair } from './pkcs11/crypto-adapter.js';
export type { TokenCrypto, TokenKeyPair, TokenKeyAlgorithm } from './pkcs11/crypto-adapter.js';
export type { TokenCertificate, ImportCertificateOptions } from './pkcs11/certificates.js';
export { PublicKey } from './pkcs11/public-key.js';
export { verifySignature, verifySignatureAsync, SIGNATURE_ALGORITHMS, defaultAlgorithm } from './pkcs11/signing.js';
export type { SignatureAlgorithm, SignatureFormat, SignOptions, VerifyOptions, VerificationKey } from './pkcs11/signing.js';
export type { MechanismInfo } from './pkcs11/mechanisms.js';
export type { KeyType, NamedCurve } from './pkcs11/curves.js';
export { ckrName } from './pkcs11/constants.js';
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
} from './pkcs11/errors.js';
export type { TokengateErrorCode, Pkcs11Failure } from './pkcs11/errors.js';
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

// The companion verifier (src/verifier/).
export { Verifier, DEFAULT_IP_LIMIT } from './verifier/verifier.js';
export type { VerifierOptions, VerifierWarning } from './verifier/verifier.js';
export { ServerSecret } from './verifier/server-secret.js';
export {
  VerifierError,
  InvalidCredentialsError,
  RateLimitedError,
  InvalidInputError,
  UserExistsError,
  UserNotFoundError,
  NoSecurityTokenError,
  SecurityTokenNotFoundError,
  UnauthorizedError,
  ForbiddenError,
} from './verifier/errors.js';
export type { VerifierErrorCode } from './verifier/errors.js';
export type { LoginRequest, LoginResult, PasswordCheck } from './verifier/accounts/authenticator.js';
export type { UserView, NewUserInput, UserAction } from './verifier/accounts/admin.js';
export type { ApiKeyInfo, ApiKeyScope } from './verifier/access/api-keys.js';
export type { AuditRecord, AuditQuery } from './verifier/store/audit.js';
export type { MailTransportConfig } from './verifier/mail/transport.js';
export type { LockoutPolicy } from './verifier/policy/lockout.js';
export type { Argon2Cost } from './verifier/accounts/passwords.js';
export { VerifierClient, signInWithToken, enrollToken } from './verifier/client.js';
export type { VerifierClientOptions, ChallengeFromVerifier, SignInOptions, EnrollTokenOptions } from './verifier/client.js';
export {
  CredentialRefusedError,
  CredentialExistsError,
  CredentialNotFoundError,
  CredentialStateError,
  VerifierRefusedError,
  VerifierUnreachableError,
  PasswordRequiredError,
  InvalidVerifierUrlError,
} from './verifier/errors.js';
export { challengeMessage, CHALLENGE_MESSAGE_VERSION } from './verifier/protocol.js';
export type { ChallengePurpose, ChallengeMessageFields } from './verifier/protocol.js';
export type { EnrolledCredential, CredentialView, CredentialStatus, EnrollInput, LifecycleAction, Blocklist as VerifierBlocklist } from './verifier/tokens/registry.js';
export type { CredentialSelector, IssuedChallenge, ChallengeLoginResult } from './verifier/tokens/challenges.js';
export type { ChallengePolicy } from './verifier/tokens/policy.js';
export type { CertificatePolicy, CertificateRefusal } from './verifier/credentials/certificate-policy.js';
export { buildVerifierServer } from './verifier/http/server.js';
export type { VerifierServerOptions } from './verifier/http/server.js';
