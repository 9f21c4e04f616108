// tokengate's errors: one base class with a stable `code` in one union, so `switch (err.code)`
// narrows; errors that come from a PKCS#11 function also carry `rv`, `rvName` and `fn`. Messages
// never contain a secret: they are built from names and numbers only, never from caller input.
// Nothing here loads a native addon: the verifier uses these classes too.

export type TokengateErrorCode =
  | 'ERR_PKCS11'
  | 'ERR_MODULE_LOAD'
  | 'ERR_INVALID_ARGUMENT'
  | 'ERR_PIN_INCORRECT'
  | 'ERR_PIN_LOCKED'
  | 'ERR_PIN_EXPIRED'
  | 'ERR_PIN_LENGTH'
  | 'ERR_PIN_INVALID'
  | 'ERR_NOT_LOGGED_IN'
  | 'ERR_TOKEN_NOT_PRESENT'
  | 'ERR_TOKEN_REMOVED'
  | 'ERR_TOKEN_AMBIGUOUS'
  | 'ERR_SESSION_CLOSED'
  | 'ERR_SESSION_READ_ONLY'
  | 'ERR_KEY_NOT_FOUND'
  | 'ERR_KEY_TYPE_MISMATCH'
  | 'ERR_MECHANISM_NOT_SUPPORTED'
  | 'ERR_MODULE_CLOSED'
  | 'ERR_FINAL_TRY_REFUSED'
  | 'ERR_UNBLOCK_NOT_SUPPORTED'
  // The lockout layer's (src/lockout/errors.ts); listed here so one union covers every code.
  | 'ERR_TOKEN_BLOCKED'
  // The HID and FIDO layers' (src/hid/, src/fido/).
  | FidoErrorCode
  // The verifier's and its client's (src/verifier/errors.ts).
  | VerifierErrorCode;

/** The codes only a USB security key (HID transport, CTAPHID, CTAP2) gives. */
export type FidoErrorCode =
  | 'ERR_PIN_AUTH_BLOCKED'
  | 'ERR_PIN_NOT_SET'
  | 'ERR_PIN_POLICY'
  | 'ERR_NO_CREDENTIALS'
  | 'ERR_USER_PRESENCE_TIMEOUT'
  | 'ERR_OPERATION_CANCELLED'
  | 'ERR_OPERATION_DENIED'
  | 'ERR_DEVICE_ACCESS_DENIED'
  | 'ERR_DEVICE_IO'
  | 'ERR_DEVICE_BUSY'
  | 'ERR_DEVICE_TIMEOUT'
  | 'ERR_CTAPHID'
  | 'ERR_CTAP2'
  | 'ERR_FIDO_PROTOCOL'
  | 'ERR_FIDO_NOT_SUPPORTED';

/** The codes of the verifier's errors (and of its client's). */
export type VerifierErrorCode =
  | 'ERR_INVALID_CREDENTIALS'
  | 'ERR_PASSWORD_REQUIRED'
  | 'ERR_RATE_LIMITED'
  | 'ERR_STORE_UNAVAILABLE'
  | 'ERR_INVALID_INPUT'
  | 'ERR_USER_EXISTS'
  | 'ERR_USER_NOT_FOUND'
  | 'ERR_NO_SECURITY_TOKEN'
  | 'ERR_SECURITY_TOKEN_NOT_FOUND'
  | 'ERR_UNAUTHORIZED'
  | 'ERR_FORBIDDEN'
  | 'ERR_CREDENTIAL_REFUSED'
  | 'ERR_CREDENTIAL_EXISTS'
  | 'ERR_CREDENTIAL_NOT_FOUND'
  | 'ERR_CREDENTIAL_STATE'
  | 'ERR_VERIFIER_REFUSED'
  | 'ERR_VERIFIER_UNREACHABLE'
  | 'ERR_INVALID_VERIFIER_URL'
  | 'ERR_RELYING_PARTY_MISMATCH'
  | 'ERR_CHALLENGE_MESSAGE';

export interface Pkcs11Failure {
  /** The CK_RV the module returned. */
  readonly rv: number;
  /** Its CKR_ name, e.g. `CKR_PIN_INCORRECT`. */
  readonly rvName: string;
  /** The PKCS#11 function that failed, e.g. `C_Login`. */
  readonly fn: string;
}

/** What a security key answered, for errors that come from a CTAP2 command or a CTAPHID frame. */
export interface CtapFailure {
  /** The CTAP2 status byte (e.g. 0x31) or, for a CTAPHID ERROR frame, its error code. */
  readonly status: number;
  /** Its name, e.g. `CTAP2_ERR_PIN_INVALID` or `CTAPHID_ERR_CHANNEL_BUSY`. */
  readonly statusName: string;
  /** The command that failed, e.g. `clientPIN.getPinUvAuthTokenUsingPinWithPermissions`. */
  readonly command: string;
}

interface ErrorInit {
  cause?: unknown;
  failure?: Pkcs11Failure;
  ctap?: CtapFailure;
}

export class TokengateError extends Error {
  readonly code: TokengateErrorCode = 'ERR_PKCS11';
  readonly rv: number | undefined;
  readonly rvName: string | undefined;
  readonly fn: string | undefined;
  /** What a security key answered, when the error came from one (never set with `rv`). */
  readonly ctap: CtapFailure | undefined;

  constructor(message: string, init: ErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = new.target.name;
    this.rv = init.failure?.rv;
    this.rvName = init.failure?.rvName;
    this.fn = init.failure?.fn;
    this.ctap = init.ctap;
  }

  /** `rv`, `rvName` and `fn` together, to hand on to an error that explains this one. */
  get failure(): Pkcs11Failure | undefined {
    return this.rv === undefined ? undefined : { rv: this.rv, rvName: this.rvName!, fn: this.fn! };
  }

  /** The CKR value, where the error came from the token; an alias of `rv` for the lockout layer. */
  get ckr(): number | undefined {
    return this.rv;
  }
}

/** A CKR the library has no more specific class for. */
export class Pkcs11Error extends TokengateError {
  override readonly code = 'ERR_PKCS11';
}
export class ModuleLoadError extends TokengateError {
  override readonly code = 'ERR_MODULE_LOAD';
}
export class ModuleClosedError extends TokengateError {
  override readonly code = 'ERR_MODULE_CLOSED';
}
export class InvalidArgumentError extends TokengateError {
  override readonly code = 'ERR_INVALID_ARGUMENT';
}
/** Which secret: the user PIN, the SO PIN, or the PUK of an unblock. */
export type PinType = 'user' | 'so' | 'puk';

interface PinErrorInit extends ErrorInit {
  /** Defaults to `'user'`. */
  pinType?: PinType;
}

interface PinIncorrectInit extends PinErrorInit {
  retriesLeft?: number | undefined;
  finalTry?: boolean;
}

interface PinLockedInit extends PinErrorInit {
  lockedNow?: boolean;
}

export class PinIncorrectError extends TokengateError {
  override readonly code = 'ERR_PIN_INCORRECT';
  /** Tries left before the PIN locks, when the token (or the host lockout) says. */
  readonly retriesLeft: number | undefined;
  /** True when the next wrong PIN locks it. */
  readonly finalTry: boolean;
  /** Which secret was wrong: the user PIN, the SO PIN, or the PUK of an unblock. */
  readonly pinType: PinType;

  constructor(message: string, init: PinIncorrectInit = {}) {
    super(message, init);
    this.retriesLeft = init.retriesLeft;
    this.finalTry = init.finalTry ?? false;
    this.pinType = init.pinType ?? 'user';
  }

  /** True when this wrong PIN used the last try: the PIN is locked now. */
  get locked(): boolean {
    return this.retriesLeft === 0;
  }
}
export class PinLockedError extends TokengateError {
  override readonly code = 'ERR_PIN_LOCKED';
  /** Which secret is locked: the user PIN, the SO PIN, or a card's PUK. */
  readonly pinType: PinType;
  /** True when this very attempt was wrong and used the last try (its `cause` is the PinIncorrectError). */
  readonly lockedNow: boolean;

  constructor(message: string, init: PinLockedInit = {}) {
    super(message, init);
    this.pinType = init.pinType ?? 'user';
    this.lockedNow = init.lockedNow ?? false;
  }
}
/** The next wrong PIN would lock the PIN, and the caller did not pass `allowFinalTry: true`. */
export class FinalTryRefusedError extends TokengateError {
  override readonly code = 'ERR_FINAL_TRY_REFUSED';
  readonly pinType: PinType;

  constructor(message: string, init: PinErrorInit = {}) {
    super(message, init);
    this.pinType = init.pinType ?? 'user';
  }
}
/**
 * Neither unblock strategy works here: the module takes no PUK in an unlogged session (OpenSC:
 * `user_pin_unblock_style = set_pin_in_unlogged_session` in OPENSC_CONF), or the token has no SO
 * login able to set the user PIN (PIV cards).
 */
export class UnblockNotSupportedError extends TokengateError {
  override readonly code = 'ERR_UNBLOCK_NOT_SUPPORTED';
}
export class PinExpiredError extends TokengateError {
  override readonly code = 'ERR_PIN_EXPIRED';
}
export class PinLengthError extends TokengateError {
  override readonly code = 'ERR_PIN_LENGTH';
}
export class PinInvalidError extends TokengateError {
  override readonly code = 'ERR_PIN_INVALID';
}
export class NotLoggedInError extends TokengateError {
  override readonly code = 'ERR_NOT_LOGGED_IN';
}
export class TokenNotPresentError extends TokengateError {
  override readonly code = 'ERR_TOKEN_NOT_PRESENT';
}
export class TokenAmbiguousError extends TokengateError {
  override readonly code = 'ERR_TOKEN_AMBIGUOUS';
}
export class TokenRemovedError extends TokengateError {
  override readonly code = 'ERR_TOKEN_REMOVED';
}
export class SessionClosedError extends TokengateError {
  override readonly code = 'ERR_SESSION_CLOSED';
}
/** A write (or an SO login) needs read-write sessions: open one with `{ write: true }`. */
export class SessionReadOnlyError extends TokengateError {
  override readonly code = 'ERR_SESSION_READ_ONLY';
}
export class KeyNotFoundError extends TokengateError {
  override readonly code = 'ERR_KEY_NOT_FOUND';
}
export class KeyTypeMismatchError extends TokengateError {
  override readonly code = 'ERR_KEY_TYPE_MISMATCH';
}
export class MechanismNotSupportedError extends TokengateError {
  override readonly code = 'ERR_MECHANISM_NOT_SUPPORTED';
}

/** The token's serial or one of its certificates is on the blocklist (the lockout layer's). */
export class TokenBlockedError extends TokengateError {
  override readonly code = 'ERR_TOKEN_BLOCKED';
}

// ---- USB security keys (src/hid/, src/fido/). A key's wrong PIN is a PinIncorrectError, its
// blocked PIN a PinLockedError (also exported as PinBlockedError), its final try refused a
// FinalTryRefusedError and a key pulled out a TokenRemovedError, as for PKCS#11 tokens.

/**
 * Three wrong PINs since the key was plugged in: the key refuses every PIN until it is unplugged
 * and plugged in again (CTAP2_ERR_PIN_AUTH_BLOCKED). Stop prompting: another try cannot succeed.
 */
export class PinAuthBlockedError extends TokengateError {
  override readonly code = 'ERR_PIN_AUTH_BLOCKED';
  /** Tries left once the key has been re-plugged, where the key said. */
  readonly retriesLeft: number | undefined;

  constructor(message: string, init: ErrorInit & { retriesLeft?: number | undefined } = {}) {
    super(message, init);
    this.retriesLeft = init.retriesLeft;
  }
}
/** The key has no PIN yet (CTAP2_ERR_PIN_NOT_SET): set one first. */
export class PinNotSetError extends TokengateError {
  override readonly code = 'ERR_PIN_NOT_SET';
}
/** The new PIN breaks the key's rules (too short, too long, CTAP2_ERR_PIN_POLICY_VIOLATION). */
export class PinPolicyError extends TokengateError {
  override readonly code = 'ERR_PIN_POLICY';
}
/** The key holds no credential for this relying party / allow list (CTAP2_ERR_NO_CREDENTIALS). */
export class NoCredentialsError extends TokengateError {
  override readonly code = 'ERR_NO_CREDENTIALS';
}
/** Nobody touched the key in time (CTAP2_ERR_USER_ACTION_TIMEOUT, or the caller's deadline). */
export class UserPresenceTimeoutError extends TokengateError {
  override readonly code = 'ERR_USER_PRESENCE_TIMEOUT';
}
/** The caller's AbortSignal fired; the key was told (CTAPHID_CANCEL) and answered. */
export class OperationCancelledError extends TokengateError {
  override readonly code = 'ERR_OPERATION_CANCELLED';
}
/** The key refused the operation (CTAP2_ERR_OPERATION_DENIED, or the user declined). */
export class OperationDeniedError extends TokengateError {
  override readonly code = 'ERR_OPERATION_DENIED';
}
/** The operating system refused to open the device; the message says how to fix it (udev, Administrator). */
export class DeviceAccessDeniedError extends TokengateError {
  override readonly code = 'ERR_DEVICE_ACCESS_DENIED';
}
/** Reading from or writing to the device failed for a reason other than its removal. */
export class DeviceIoError extends TokengateError {
  override readonly code = 'ERR_DEVICE_IO';
}
/** The key stayed busy with another channel (CTAPHID_ERR_CHANNEL_BUSY) after the retries. */
export class DeviceBusyError extends TokengateError {
  override readonly code = 'ERR_DEVICE_BUSY';
}
/** The key did not answer before the deadline. */
export class DeviceTimeoutError extends TokengateError {
  override readonly code = 'ERR_DEVICE_TIMEOUT';
}
/** A CTAPHID ERROR frame (invalid command, parameter, length, sequence, channel…); `ctap` says which. */
export class CtapHidError extends TokengateError {
  override readonly code = 'ERR_CTAPHID';
}
/** A CTAP2 status the library has no more specific class for; `ctap` says which. */
export class Ctap2Error extends TokengateError {
  override readonly code = 'ERR_CTAP2';
}
/** The key sent something the protocol does not allow (wrong nonce, bad sequence, non-canonical CBOR…). */
export class FidoProtocolError extends TokengateError {
  override readonly code = 'ERR_FIDO_PROTOCOL';
}
/** The key lacks what was asked (no CTAP2, no clientPIN, no such algorithm or PIN protocol). */
export class FidoNotSupportedError extends TokengateError {
  override readonly code = 'ERR_FIDO_NOT_SUPPORTED';
}
/** A security key's blocked PIN (retries at 0; only a reset, which erases its credentials, helps). */
export const PinBlockedError = PinLockedError;
export type PinBlockedError = PinLockedError;

/**
 * Every error the token library throws, as one union: `switch (err.code)` on it narrows to the
 * class, so `case 'ERR_PIN_INCORRECT':` gives `err.retriesLeft`. (Each class's `code` is a literal.)
 */
export type TokenLibraryError =
  | Pkcs11Error
  | ModuleLoadError
  | ModuleClosedError
  | InvalidArgumentError
  | PinIncorrectError
  | PinLockedError
  | FinalTryRefusedError
  | UnblockNotSupportedError
  | PinExpiredError
  | PinLengthError
  | PinInvalidError
  | NotLoggedInError
  | TokenNotPresentError
  | TokenAmbiguousError
  | TokenRemovedError
  | SessionClosedError
  | SessionReadOnlyError
  | KeyNotFoundError
  | KeyTypeMismatchError
  | MechanismNotSupportedError
  | TokenBlockedError
  | PinAuthBlockedError
  | PinNotSetError
  | PinPolicyError
  | NoCredentialsError
  | UserPresenceTimeoutError
  | OperationCancelledError
  | OperationDeniedError
  | DeviceAccessDeniedError
  | DeviceIoError
  | DeviceBusyError
  | DeviceTimeoutError
  | CtapHidError
  | Ctap2Error
  | FidoProtocolError
  | FidoNotSupportedError;

