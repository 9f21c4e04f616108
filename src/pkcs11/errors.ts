// Translating what the binding throws into tokengate's typed errors, once, at the boundary. The
// error classes themselves live in src/errors/ (no binding needed to use them).
import { ckrName } from '../errors/ckr-names.js';
import {
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
  TokenRemovedError,
  SessionClosedError,
  SessionReadOnlyError,
  KeyNotFoundError,
  KeyTypeMismatchError,
  MechanismNotSupportedError,
  type Pkcs11Failure,
} from '../errors/index.js';

export * from '../errors/index.js';

type ErrorInit = { cause?: unknown; failure?: Pkcs11Failure };

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

/** The CK_RV in whatever pkcs11js threw, if it carries one (also read by the signing worker thread). */
export function bindingRv(err: unknown): number | undefined {
  const e = (err ?? {}) as BindingErrorShape;
  if (e.name === 'Pkcs11Error' && typeof e.code === 'number') return e.code;
  const match = typeof e.message === 'string' ? NATIVE_CKR_MESSAGE.exec(e.message) : null;
  return match ? Number(match[1]) : undefined;
}

/**
 * Why a session is gone, if it is: the one classifier of sessions, pools and the signing workers.
 * `'session'`: closed or invalidated while its token stayed (open a new one and log in again);
 * `'token'`: its token was pulled out (nothing to reopen until it is back); `'module'`: the
 * module was finalized under it.
 */
export type SessionLoss = 'session' | 'token' | 'module';

const SESSION_LOSS: Partial<Record<string, SessionLoss>> = {
  ERR_SESSION_CLOSED: 'session',
  ERR_TOKEN_REMOVED: 'token',
  ERR_TOKEN_NOT_PRESENT: 'token',
  ERR_MODULE_CLOSED: 'module',
};

export function sessionLoss(err: unknown): SessionLoss | undefined {
  return err instanceof TokengateError ? SESSION_LOSS[err.code] : undefined;
}

/** The same, for a bare CK_RV (the worker thread's view). */
export function sessionLossRv(rv: number, fn: string): SessionLoss | undefined {
  return SESSION_LOSS[errorForRv(rv, fn).code];
}

/**
 * What a failure on a session of `owner` means to its caller: a session lost after its owner
 * closed is a closed session; lost with its token no longer there, a removed token.
 */
export function explainSessionLoss(err: unknown, owner: { closed: boolean; token: { label: string; isPresent(): boolean } }, closedMessage: string): unknown {
  if (!(err instanceof TokengateError)) return err;
  const loss = SESSION_LOSS[err.code];
  if (loss !== 'session' && loss !== 'token') return err;
  if (owner.closed) return new SessionClosedError(closedMessage, { cause: err });
  if (err.code === 'ERR_TOKEN_REMOVED' || owner.token.isPresent()) return err;
  return new TokenRemovedError(`token "${owner.token.label}" was removed`, { cause: err, failure: err.failure });
}

/** Translates whatever pkcs11js threw from `fn` into one of ours. */
export function translateBindingError(err: unknown, fn: string): TokengateError {
  if (err instanceof TokengateError) return err;
  const e = (err ?? {}) as BindingErrorShape;
  const rv = bindingRv(err);
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
