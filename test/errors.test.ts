// Unit tests: CK_RV values and whatever pkcs11js throws become our typed errors, once, with a
// stable `code` and the `rv`, `rvName` and `fn` of the failure.
import { describe, expect, it } from 'vitest';
import * as api from '../src/index.js';
import {
  InvalidArgumentError,
  KeyNotFoundError,
  KeyTypeMismatchError,
  MechanismNotSupportedError,
  ModuleClosedError,
  ModuleLoadError,
  NotLoggedInError,
  Pkcs11Error,
  PinExpiredError,
  PinIncorrectError,
  PinInvalidError,
  PinLengthError,
  PinLockedError,
  SessionClosedError,
  SessionReadOnlyError,
  TokenAmbiguousError,
  TokenNotPresentError,
  TokenRemovedError,
  TokengateError,
  ckrName,
  type TokengateErrorCode,
} from '../src/index.js';
import { errorForRv, translateBindingError } from '../src/pkcs11/errors.js';
import { pkcs11js } from '../src/pkcs11/native.js';

type ErrorClass = new (message: string, init?: { cause?: unknown }) => TokengateError;

/** CKR name → the class and code a caller switches on. Values are those of pkcs11t.h. */
const MAPPED: ReadonlyArray<[string, number, ErrorClass, TokengateErrorCode]> = [
  ['CKR_PIN_INCORRECT', 0xa0, PinIncorrectError, 'ERR_PIN_INCORRECT'],
  ['CKR_PIN_INVALID', 0xa1, PinInvalidError, 'ERR_PIN_INVALID'],
  ['CKR_PIN_LEN_RANGE', 0xa2, PinLengthError, 'ERR_PIN_LENGTH'],
  ['CKR_PIN_EXPIRED', 0xa3, PinExpiredError, 'ERR_PIN_EXPIRED'],
  ['CKR_PIN_LOCKED', 0xa4, PinLockedError, 'ERR_PIN_LOCKED'],
  ['CKR_PIN_TOO_WEAK', 0x1b8, PinInvalidError, 'ERR_PIN_INVALID'],
  ['CKR_USER_NOT_LOGGED_IN', 0x101, NotLoggedInError, 'ERR_NOT_LOGGED_IN'],
  ['CKR_DEVICE_REMOVED', 0x32, TokenRemovedError, 'ERR_TOKEN_REMOVED'],
  ['CKR_SESSION_CLOSED', 0xb0, SessionClosedError, 'ERR_SESSION_CLOSED'],
  ['CKR_SESSION_HANDLE_INVALID', 0xb3, SessionClosedError, 'ERR_SESSION_CLOSED'],
  ['CKR_SESSION_READ_ONLY', 0xb5, SessionReadOnlyError, 'ERR_SESSION_READ_ONLY'],
  ['CKR_SESSION_READ_ONLY_EXISTS', 0xb7, SessionReadOnlyError, 'ERR_SESSION_READ_ONLY'],
  ['CKR_KEY_HANDLE_INVALID', 0x60, KeyNotFoundError, 'ERR_KEY_NOT_FOUND'],
  ['CKR_OBJECT_HANDLE_INVALID', 0x82, KeyNotFoundError, 'ERR_KEY_NOT_FOUND'],
  ['CKR_KEY_TYPE_INCONSISTENT', 0x63, KeyTypeMismatchError, 'ERR_KEY_TYPE_MISMATCH'],
  ['CKR_KEY_FUNCTION_NOT_PERMITTED', 0x68, KeyTypeMismatchError, 'ERR_KEY_TYPE_MISMATCH'],
  ['CKR_MECHANISM_INVALID', 0x70, MechanismNotSupportedError, 'ERR_MECHANISM_NOT_SUPPORTED'],
  ['CKR_MECHANISM_PARAM_INVALID', 0x71, MechanismNotSupportedError, 'ERR_MECHANISM_NOT_SUPPORTED'],
  ['CKR_CURVE_NOT_SUPPORTED', 0x140, MechanismNotSupportedError, 'ERR_MECHANISM_NOT_SUPPORTED'],
  ['CKR_ARGUMENTS_BAD', 0x7, InvalidArgumentError, 'ERR_INVALID_ARGUMENT'],
  ['CKR_DATA_LEN_RANGE', 0x21, InvalidArgumentError, 'ERR_INVALID_ARGUMENT'],
  ['CKR_DATA_INVALID', 0x20, InvalidArgumentError, 'ERR_INVALID_ARGUMENT'],
  ['CKR_CRYPTOKI_NOT_INITIALIZED', 0x190, ModuleClosedError, 'ERR_MODULE_CLOSED'],
  // No more specific class: the generic one, with the CKR still named.
  ['CKR_GENERAL_ERROR', 0x5, Pkcs11Error, 'ERR_PKCS11'],
  ['CKR_OPERATION_ACTIVE', 0x90, Pkcs11Error, 'ERR_PKCS11'],
  ['CKR_DEVICE_ERROR', 0x30, Pkcs11Error, 'ERR_PKCS11'],
  ['CKR_FUNCTION_NOT_SUPPORTED', 0x54, Pkcs11Error, 'ERR_PKCS11'],
];

/** Every error class the package exports, with the code it must always carry. */
const CLASSES: ReadonlyArray<[ErrorClass, TokengateErrorCode]> = [
  [Pkcs11Error, 'ERR_PKCS11'],
  [ModuleLoadError, 'ERR_MODULE_LOAD'],
  [ModuleClosedError, 'ERR_MODULE_CLOSED'],
  [InvalidArgumentError, 'ERR_INVALID_ARGUMENT'],
  [PinIncorrectError, 'ERR_PIN_INCORRECT'],
  [PinLockedError, 'ERR_PIN_LOCKED'],
  [PinExpiredError, 'ERR_PIN_EXPIRED'],
  [PinLengthError, 'ERR_PIN_LENGTH'],
  [PinInvalidError, 'ERR_PIN_INVALID'],
  [NotLoggedInError, 'ERR_NOT_LOGGED_IN'],
  [TokenNotPresentError, 'ERR_TOKEN_NOT_PRESENT'],
  [TokenAmbiguousError, 'ERR_TOKEN_AMBIGUOUS'],
  [TokenRemovedError, 'ERR_TOKEN_REMOVED'],
  [SessionClosedError, 'ERR_SESSION_CLOSED'],
  [SessionReadOnlyError, 'ERR_SESSION_READ_ONLY'],
  [api.KeyNotFoundError, 'ERR_KEY_NOT_FOUND'],
  [KeyTypeMismatchError, 'ERR_KEY_TYPE_MISMATCH'],
  [MechanismNotSupportedError, 'ERR_MECHANISM_NOT_SUPPORTED'],
];

const exportedCkrs = Object.entries(pkcs11js).filter(
  (entry): entry is [string, number] => entry[0].startsWith('CKR_') && typeof entry[1] === 'number',
);

describe('errorForRv', () => {
  it.each(MAPPED)('%s becomes its named class', (name, rv, cls, code) => {
    const err = errorForRv(rv, 'C_Sign');
    expect(err).toBeInstanceOf(cls);
    expect(err).toBeInstanceOf(TokengateError);
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe(code);
    expect(err.name).toBe(cls.name);
    expect(err.rv).toBe(rv);
    expect(err.rvName).toBe(name);
    expect(err.fn).toBe('C_Sign');
    expect(err.ckr).toBe(rv);
  });

  it('tells a token that is not there from one that was removed, by the function that failed', () => {
    const rv = 0xe0; // CKR_TOKEN_NOT_PRESENT
    for (const fn of ['C_GetTokenInfo', 'C_OpenSession', 'C_InitToken', 'C_GetMechanismList', 'C_GetMechanismInfo']) {
      const err = errorForRv(rv, fn);
      expect(err, fn).toBeInstanceOf(TokenNotPresentError);
      expect(err.code).toBe('ERR_TOKEN_NOT_PRESENT');
      expect(err.fn).toBe(fn);
    }
    for (const fn of ['C_Sign', 'C_SignInit', 'C_Login', 'C_FindObjectsInit', 'C_GetAttributeValue', 'C_CloseSession']) {
      const err = errorForRv(rv, fn);
      expect(err, fn).toBeInstanceOf(TokenRemovedError);
      expect(err.code).toBe('ERR_TOKEN_REMOVED');
      expect(err.rvName).toBe('CKR_TOKEN_NOT_PRESENT');
    }
  });

  it('keeps the cause it is given', () => {
    const cause = new Error('native');
    expect(errorForRv(0xa0, 'C_Login', cause).cause).toBe(cause);
    expect(errorForRv(0xa0, 'C_Login').cause).toBeUndefined();
  });

  it('names every CKR_ value pkcs11js exports, and maps each back to its name', () => {
    expect(exportedCkrs.length).toBeGreaterThan(80);
    for (const [name, value] of exportedCkrs) {
      expect(ckrName(value), name).toBe(name);
      const err = errorForRv(value, 'C_Test');
      expect(err.rvName).toBe(name);
      expect(err.rv).toBe(value);
      expect(err).toBeInstanceOf(TokengateError);
    }
  });

  it('names CKR values pkcs11js does not export', () => {
    expect(ckrName(0x1b)).toBe('CKR_ACTION_PROHIBITED');
    expect(ckrName(0x140)).toBe('CKR_CURVE_NOT_SUPPORTED');
  });

  it('gives vendor-defined and unknown values a readable, distinct name', () => {
    expect(ckrName(0x80000000)).toMatch(/^CKR_VENDOR_DEFINED/);
    expect(ckrName(0x80000123)).toBe('CKR_VENDOR_DEFINED+0x123');
    expect(ckrName(0x80000124)).not.toBe(ckrName(0x80000123));
    expect(ckrName(0xffffffff)).toBe('CKR_VENDOR_DEFINED+0x7fffffff');
    expect(ckrName(0x999)).toBe('CKR_0x00000999');
    const err = errorForRv(0x80000123, 'C_Sign');
    expect(err).toBeInstanceOf(Pkcs11Error);
    expect(err.code).toBe('ERR_PKCS11');
    expect(err.rv).toBe(0x80000123);
    expect(err.rvName).toBe('CKR_VENDOR_DEFINED+0x123');
  });
});

describe('translateBindingError', () => {
  it('translates a pkcs11js Pkcs11Error by its numeric code and the function called', () => {
    const raw = new pkcs11js.Pkcs11Error('CKR_PIN_INCORRECT:160', 160, 'C_Login');
    const err = translateBindingError(raw, 'C_Login');
    expect(err).toBeInstanceOf(PinIncorrectError);
    expect(err.code).toBe('ERR_PIN_INCORRECT');
    expect(err).toMatchObject({ rv: 0xa0, rvName: 'CKR_PIN_INCORRECT', fn: 'C_Login', name: 'PinIncorrectError' });
  });

  it('translates pkcs11js errors for vendor codes (which it calls CKR_VENDOR_DEFINED) by number', () => {
    // pkcs11js formats every CK_RV it has no name for as "CKR_VENDOR_DEFINED:<decimal>".
    const raw = new pkcs11js.Pkcs11Error(`CKR_VENDOR_DEFINED:${0x80000111}`);
    const err = translateBindingError(raw, 'C_Sign');
    expect(err.rv).toBe(0x80000111);
    expect(err.rvName).toBe('CKR_VENDOR_DEFINED+0x111');
    const unnamed = translateBindingError(new pkcs11js.Pkcs11Error(`CKR_VENDOR_DEFINED:${0x140}`), 'C_GenerateKeyPair');
    expect(unnamed).toBeInstanceOf(MechanismNotSupportedError);
    expect(unnamed.rvName).toBe('CKR_CURVE_NOT_SUPPORTED');
  });

  it('translates the native layer’s plain "CKR_NAME:<rv>" Errors (methods pkcs11js does not wrap)', () => {
    // What C_CreateObject / C_FindObjects throw in pkcs11js 2.1: a plain Error, not a Pkcs11Error.
    const readOnly = translateBindingError(new Error('CKR_SESSION_READ_ONLY:181'), 'C_CreateObject');
    expect(readOnly).toBeInstanceOf(SessionReadOnlyError);
    expect(readOnly).toMatchObject({ code: 'ERR_SESSION_READ_ONLY', rv: 0xb5, rvName: 'CKR_SESSION_READ_ONLY', fn: 'C_CreateObject' });
    const closed = translateBindingError(new Error('CKR_SESSION_HANDLE_INVALID:179'), 'C_FindObjects');
    expect(closed).toMatchObject({ code: 'ERR_SESSION_CLOSED', rv: 0xb3, fn: 'C_FindObjects' });
    const vendor = translateBindingError(new Error(`CKR_VENDOR_DEFINED:${0x80000002}`), 'C_CreateObject');
    expect(vendor).toMatchObject({ code: 'ERR_PKCS11', rv: 0x80000002, rvName: 'CKR_VENDOR_DEFINED+0x2' });
    // Only that exact shape: other text that merely mentions a CKR is not trusted for a number.
    const prose = translateBindingError(new Error('failed with CKR_PIN_INCORRECT:160 somewhere'), 'C_Login');
    expect(prose).toMatchObject({ code: 'ERR_PKCS11', rv: undefined });
  });

  it('turns a failure of load into ModuleLoadError, whatever was thrown', () => {
    const dlopen = translateBindingError(new pkcs11js.NativeError('/x.so: cannot open shared object file'), 'load');
    expect(dlopen).toBeInstanceOf(ModuleLoadError);
    expect(dlopen.code).toBe('ERR_MODULE_LOAD');
    expect(dlopen.name).toBe('ModuleLoadError');
    const plain = translateBindingError(new Error('undefined symbol: C_GetFunctionList'), 'load');
    expect(plain.code).toBe('ERR_MODULE_LOAD');
    // A module whose C_GetFunctionList fails is as unloadable as one that is not a module at all.
    const ckr = translateBindingError(new pkcs11js.Pkcs11Error('CKR_GENERAL_ERROR:5'), 'load');
    expect(ckr).toBeInstanceOf(ModuleLoadError);
    expect(ckr).toMatchObject({ code: 'ERR_MODULE_LOAD', rv: 5, rvName: 'CKR_GENERAL_ERROR', fn: 'load' });
  });

  it('turns the binding’s argument TypeErrors into InvalidArgumentError', () => {
    const err = translateBindingError(new TypeError('Parameter 1 MUST be Buffer'), 'C_Sign');
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err.code).toBe('ERR_INVALID_ARGUMENT');
    expect(err.fn).toBeUndefined();
  });

  it('passes our own errors through unchanged', () => {
    const ours = new KeyNotFoundError('x');
    expect(translateBindingError(ours, 'C_FindObjects')).toBe(ours);
  });

  it('wraps anything else in Pkcs11Error', () => {
    for (const thrown of [new Error('boom'), new pkcs11js.NativeError('boom'), 'a string', 42, null, undefined]) {
      const err = translateBindingError(thrown, 'C_Sign');
      expect(err).toBeInstanceOf(Pkcs11Error);
      expect(err.code).toBe('ERR_PKCS11');
      expect(err.name).toBe('Pkcs11Error');
    }
  });
});

describe('error classes', () => {
  it.each(CLASSES)('%o has a stable code and its own name', (cls, code) => {
    const cause = new Error('inner');
    const err = new cls('message', { cause });
    expect(err).toBeInstanceOf(TokengateError);
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe(code);
    expect(err.name).toBe(cls.name);
    expect(err.cause).toBe(cause);
    expect(err.rv).toBeUndefined();
    expect(err.stack).toContain(cls.name);
    expect(Object.prototype.toString.call(err)).toBe('[object Error]');
  });

  it('exports every class from the package entry point', () => {
    for (const [cls] of CLASSES) expect(api[cls.name as keyof typeof api], cls.name).toBe(cls);
    expect(api.TokengateError).toBe(TokengateError);
  });

  it('gives every mapped class a distinct code', () => {
    const byCode = new Map<string, string>();
    for (const [cls, code] of CLASSES) {
      expect(byCode.get(code) ?? cls.name, code).toBe(cls.name);
      byCode.set(code, cls.name);
    }
  });

  it('PinIncorrectError carries the retry information fields', () => {
    const err = errorForRv(0xa0, 'C_Login') as PinIncorrectError;
    expect(err.finalTry).toBe(false);
    expect(err.retriesLeft).toBeUndefined();
  });
});
