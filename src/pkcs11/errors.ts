// The PKCS#11 layer's errors. One base class with a stable `code`; errors that come from a C_
// function also carry `rv`, `rvName` and `fn`. Messages never contain a PIN: they are built here
// from names and numbers only, never from caller input.
import { ckrName } from './constants.js';

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
  | 'ERR_TOKEN_BLOCKED';

export interface Pkcs11Failure {
  /** The CK_RV the module returned. */
  readonly rv: number;
  /** Its CKR_ name, e.g. `CKR_PIN_INCORRECT`. */
  readonly rvName: string;
  /** The PKCS#11 function that failed, e.g. `C_Login`. */
  readonly fn: string;
}

interface ErrorInit {
  cause?: unknown;
  failure?: Pkcs11Failure;
}

export class TokengateError extends Error {
  readonly code: TokengateErrorCode = 'ERR_PKCS11';
  readonly rv: number | undefined;
  readonly rvName: string | undefined;
  readonly fn: string | undefined;

  constructor(message: string, init: ErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = new.target.name;
    this.rv = init.failure?.rv;
    this.rvName = init.failure?.rvName;
    this.fn = init.failure?.fn;
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
export class PinIncorrectError extends TokengateError {
  override readonly code = 'ERR_PIN_INCORRECT';
  /** Tries left before the PIN locks, when the token (or the host lockout) says. */
  retriesLeft: number | undefined;
  /** True when the next wrong PIN locks it. */
  finalTry = false;
  /** Which secret was wrong: the user PIN, the SO PIN, or the PUK of an unblock. */
  pinType: 'user' | 'so' | 'puk' = 'user';

  /** True when this wrong PIN used the last try: the PIN is locked now. */
  get locked(): boolean {
    return this.retriesLeft === 0;
  }
}
export class PinLockedError extends TokengateError {
  override readonly code = 'ERR_PIN_LOCKED';
  /** Which secret is locked: the user PIN, the SO PIN, or a card's PUK. */
  pinType: 'user' | 'so' | 'puk' = 'user';
  /** True when this very attempt was wrong and used the last try (its `cause` is the PinIncorrectError). */
  lockedNow = false;
}
/** The next wrong PIN would lock the PIN, and the caller did not pass `allowFinalTry: true`. */
export class FinalTryRefusedError extends TokengateError {
  override readonly code = 'ERR_FINAL_TRY_REFUSED';
  pinType: 'user' | 'so' | 'puk' = 'user';
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

type ErrorClass = new (message: string, init?: ErrorInit) => TokengateError;

// Functions that touch a token through a slot rather than a session: there a missing token is
// "not present"; anywhere else it was there a moment ago, so it was removed.
const SLOT_FUNCTIONS = new Set([
  'C_GetTokenInfo',
  'C_OpenSession',
  'C_InitToken',
  'C_GetMechanismList',
  'C_GetMechanismInfo',
]);

const BY_NAME: Record<string, ErrorClass> = {
  CKR_PIN_INCORRECT: PinIncorrectError,
  CKR_PIN_LOCKED: PinLockedError,
  CKR_PIN_EXPIRED: PinExpiredError,
  CKR_PIN_LEN_RANGE: PinLengthError,
  CKR_PIN_INVALID: PinInvalidError,
  CKR_PIN_TOO_WEAK: PinInvalidError,
  CKR_USER_NOT_LOGGED_IN: NotLoggedInError,
  CKR_DEVICE_REMOVED: TokenRemovedError,
  CKR_SESSION_CLOSED: SessionClosedError,
  CKR_SESSION_HANDLE_INVALID: SessionClosedError,
  CKR_SESSION_READ_ONLY: SessionReadOnlyError,
  // An SO login is refused while any read-only session with the token is open.
  CKR_SESSION_READ_ONLY_EXISTS: SessionReadOnlyError,
  CKR_KEY_HANDLE_INVALID: KeyNotFoundError,
  CKR_OBJECT_HANDLE_INVALID: KeyNotFoundError,
  CKR_KEY_TYPE_INCONSISTENT: KeyTypeMismatchError,
  CKR_KEY_FUNCTION_NOT_PERMITTED: KeyTypeMismatchError,
  CKR_MECHANISM_INVALID: MechanismNotSupportedError,
  CKR_MECHANISM_PARAM_INVALID: MechanismNotSupportedError,
  CKR_CURVE_NOT_SUPPORTED: MechanismNotSupportedError,
  CKR_ARGUMENTS_BAD: InvalidArgumentError,
  CKR_DATA_LEN_RANGE: InvalidArgumentError,
  CKR_DATA_INVALID: InvalidArgumentError,
  CKR_CRYPTOKI_NOT_INITIALIZED: ModuleClosedError,
};

/** Builds the typed error for a CK_RV returned by `fn`. */
export function errorForRv(rv: number, fn: string, cause?: unknown): TokengateError {
  const rvName = ckrName(rv);
  let cls = BY_NAME[rvName] ?? Pkcs11Error;
  if (rvName === 'CKR_TOKEN_NOT_PRESENT') {
    cls = SLOT_FUNCTIONS.has(fn) ? TokenNotPresentError : TokenRemovedError;
  }
  return new cls(`${fn} failed: ${rvName}`, { cause, failure: { rv, rvName, fn } });
}

interface BindingErrorShape {
  name?: unknown;
  code?: unknown;
  message?: unknown;
}

/**
 * pkcs11js's native layer throws a plain Error whose message is `CKR_NAME:<decimal CK_RV>`. Its JS
 * wrapper turns most of those into Pkcs11Error, but not for the methods it overrides or replaces
 * (C_CreateObject, C_CopyObject, C_SetAttributeValue, C_FindObjects), so both shapes are read.
 */
const NATIVE_CKR_MESSAGE = /^CKR_[A-Z0-9_]+:(\d+)$/u;

function bindingRv(e: BindingErrorShape): number | undefined {
  if (e.name === 'Pkcs11Error' && typeof e.code === 'number') return e.code;
  const match = typeof e.message === 'string' ? NATIVE_CKR_MESSAGE.exec(e.message) : null;
  return match ? Number(match[1]) : undefined;
}

/** Translates whatever pkcs11js threw from `fn` into one of ours. */
export function translateBindingError(err: unknown, fn: string): TokengateError {
  if (err instanceof TokengateError) return err;
  const e = (err ?? {}) as BindingErrorShape;
  const rv = bindingRv(e);
  if (fn === 'load') {
    // Whatever `load` throws (dlopen's text, or a CKR from C_GetFunctionList), the module cannot be
    // used: always ModuleLoadError, keeping the CKR when there is one. dlopen's text names the path
    // and the reason; it cannot contain a PIN.
    if (rv !== undefined) {
      const rvName = ckrName(rv);
      return new ModuleLoadError(`cannot load PKCS#11 module: ${rvName}`, { cause: err, failure: { rv, rvName, fn } });
    }
    return new ModuleLoadError(`cannot load PKCS#11 module: ${String(e.message ?? err)}`);
  }
  if (rv !== undefined) return errorForRv(rv, fn);
  if (err instanceof TypeError) {
    return new InvalidArgumentError(`${fn}: ${err.message}`);
  }
  return new Pkcs11Error(`${fn} failed: ${String(e.message ?? err)}`);
}
