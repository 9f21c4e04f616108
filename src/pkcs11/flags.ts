// CK_TOKEN_INFO / CK_SLOT_INFO flag words decoded into named booleans, and the PIN status a caller acts on.
import { pkcs11js } from './binding.js';

export interface TokenFlags {
  rng: boolean;
  writeProtected: boolean;
  loginRequired: boolean;
  userPinInitialized: boolean;
  restoreKeyNotNeeded: boolean;
  clockOnToken: boolean;
  protectedAuthenticationPath: boolean;
  dualCryptoOperations: boolean;
  tokenInitialized: boolean;
  secondaryAuthentication: boolean;
  userPinCountLow: boolean;
  userPinFinalTry: boolean;
  userPinLocked: boolean;
  userPinToBeChanged: boolean;
  soPinCountLow: boolean;
  soPinFinalTry: boolean;
  soPinLocked: boolean;
  soPinToBeChanged: boolean;
  errorState: boolean;
}

export interface SlotFlags {
  tokenPresent: boolean;
  removableDevice: boolean;
  hardwareSlot: boolean;
}

/** The PIN's state as the token reports it; the worst condition wins. */
export type PinStatus = 'ok' | 'countLow' | 'finalTry' | 'locked' | 'toBeChanged';

const TOKEN_FLAG_BITS: Record<keyof TokenFlags, number> = {
  rng: pkcs11js.CKF_RNG,
  writeProtected: pkcs11js.CKF_WRITE_PROTECTED,
  loginRequired: pkcs11js.CKF_LOGIN_REQUIRED,
  userPinInitialized: pkcs11js.CKF_USER_PIN_INITIALIZED,
  restoreKeyNotNeeded: pkcs11js.CKF_RESTORE_KEY_NOT_NEEDED,
  clockOnToken: pkcs11js.CKF_CLOCK_ON_TOKEN,
  protectedAuthenticationPath: pkcs11js.CKF_PROTECTED_AUTHENTICATION_PATH,
  dualCryptoOperations: pkcs11js.CKF_DUAL_CRYPTO_OPERATIONS,
  tokenInitialized: pkcs11js.CKF_TOKEN_INITIALIZED,
  secondaryAuthentication: pkcs11js.CKF_SECONDARY_AUTHENTICATION,
  userPinCountLow: pkcs11js.CKF_USER_PIN_COUNT_LOW,
  userPinFinalTry: pkcs11js.CKF_USER_PIN_FINAL_TRY,
  userPinLocked: pkcs11js.CKF_USER_PIN_LOCKED,
  userPinToBeChanged: pkcs11js.CKF_USER_PIN_TO_BE_CHANGED,
  soPinCountLow: pkcs11js.CKF_SO_PIN_COUNT_LOW,
  soPinFinalTry: pkcs11js.CKF_SO_PIN_FINAL_TRY,
  soPinLocked: pkcs11js.CKF_SO_PIN_LOCKED,
  soPinToBeChanged: pkcs11js.CKF_SO_PIN_TO_BE_CHANGED,
  errorState: 0x01000000, // CKF_ERROR_STATE, PKCS#11 2.40
};

const SLOT_FLAG_BITS: Record<keyof SlotFlags, number> = {
  // pkcs11js's typings omit the slot flags; values from pkcs11.h.
  tokenPresent: 1 << 0,
  removableDevice: 1 << 1,
  hardwareSlot: 1 << 2,
};

function decode<K extends string>(word: number, bits: Record<K, number>): Record<K, boolean> {
  const out = {} as Record<K, boolean>;
  for (const key of Object.keys(bits) as K[]) {
    // `>>> 0` keeps the high flag bits unsigned; JS bit operators work on signed 32-bit ints.
    out[key] = ((word & bits[key]) >>> 0) !== 0;
  }
  return out;
}

export function decodeTokenFlags(word: number): TokenFlags {
  return decode(word, TOKEN_FLAG_BITS);
}

export function decodeSlotFlags(word: number): SlotFlags {
  return decode(word, SLOT_FLAG_BITS);
}

export function userPinStatus(flags: TokenFlags): PinStatus {
  return pinStatusOf(flags.userPinLocked, flags.userPinFinalTry, flags.userPinCountLow, flags.userPinToBeChanged);
}

export function soPinStatus(flags: TokenFlags): PinStatus {
  return pinStatusOf(flags.soPinLocked, flags.soPinFinalTry, flags.soPinCountLow, flags.soPinToBeChanged);
}

function pinStatusOf(locked: boolean, finalTry: boolean, countLow: boolean, toBeChanged: boolean): PinStatus {
  if (locked) return 'locked';
  if (finalTry) return 'finalTry';
  if (countLow) return 'countLow';
  if (toBeChanged) return 'toBeChanged';
  return 'ok';
}
