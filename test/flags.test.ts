// Unit tests: CK_TOKEN_INFO / CK_SLOT_INFO flag words decoded into named booleans, and the PIN
// status derived from them. Bit values are written out from pkcs11t.h (PKCS#11 2.40) rather than
// taken from pkcs11js, so a wrong constant in the library cannot agree with itself.
import { describe, expect, it } from 'vitest';
import { decodeSlotFlags, decodeTokenFlags, type PinStatus, type TokenFlags } from '../src/index.js';
import { soPinStatus, userPinStatus } from '../src/pkcs11/flags.js';

const TOKEN_BITS: Record<keyof TokenFlags, number> = {
  rng: 0x00000001,
  writeProtected: 0x00000002,
  loginRequired: 0x00000004,
  userPinInitialized: 0x00000008,
  restoreKeyNotNeeded: 0x00000020,
  clockOnToken: 0x00000040,
  protectedAuthenticationPath: 0x00000100,
  dualCryptoOperations: 0x00000200,
  tokenInitialized: 0x00000400,
  secondaryAuthentication: 0x00000800,
  userPinCountLow: 0x00010000,
  userPinFinalTry: 0x00020000,
  userPinLocked: 0x00040000,
  userPinToBeChanged: 0x00080000,
  soPinCountLow: 0x00100000,
  soPinFinalTry: 0x00200000,
  soPinLocked: 0x00400000,
  soPinToBeChanged: 0x00800000,
  errorState: 0x01000000,
};

const SLOT_BITS = { tokenPresent: 0x1, removableDevice: 0x2, hardwareSlot: 0x4 } as const;

const TOKEN_NAMES = Object.keys(TOKEN_BITS) as Array<keyof TokenFlags>;
const ALL_TOKEN_BITS = TOKEN_NAMES.reduce((acc, name) => (acc | TOKEN_BITS[name]) >>> 0, 0);

function onlyTrue(flags: object): string[] {
  return Object.entries(flags)
    .filter(([, v]) => v)
    .map(([k]) => k)
    .sort();
}

describe('decodeTokenFlags', () => {
  it('decodes exactly the named booleans, no more and no less', () => {
    expect(Object.keys(decodeTokenFlags(0)).sort()).toEqual([...TOKEN_NAMES].sort());
    expect(onlyTrue(decodeTokenFlags(0))).toEqual([]);
  });

  it.each(TOKEN_NAMES)('sets only %s for its own bit', (name) => {
    const flags = decodeTokenFlags(TOKEN_BITS[name]);
    expect(onlyTrue(flags)).toEqual([name]);
    // Every other bit set: the named flag alone is false.
    const others = decodeTokenFlags((ALL_TOKEN_BITS & ~TOKEN_BITS[name]) >>> 0);
    expect(others[name]).toBe(false);
    expect(onlyTrue(others)).toHaveLength(TOKEN_NAMES.length - 1);
  });

  it('decodes the high bits (SO PIN to be changed, error state) and the whole word', () => {
    expect(decodeTokenFlags(0x00800000).soPinToBeChanged).toBe(true);
    expect(decodeTokenFlags(0x01000000).errorState).toBe(true);
    expect(onlyTrue(decodeTokenFlags(0x01800000))).toEqual(['errorState', 'soPinToBeChanged']);
    expect(onlyTrue(decodeTokenFlags(ALL_TOKEN_BITS))).toEqual([...TOKEN_NAMES].sort());
    // A word with the sign bit set (as an unsigned CK_FLAGS can be) still decodes every flag.
    expect(onlyTrue(decodeTokenFlags(0xffffffff))).toEqual([...TOKEN_NAMES].sort());
    expect(onlyTrue(decodeTokenFlags(0x81000000))).toEqual(['errorState']);
  });

  it('ignores bits that name nothing', () => {
    // 0x10 and 0x1000-0x8000 are unassigned in CK_TOKEN_INFO; 0x02000000+ too.
    expect(onlyTrue(decodeTokenFlags(0x00000010 | 0x0000f000 | 0x7e000000))).toEqual([]);
  });

  it('decodes a real SoftHSM token word', () => {
    // rng | loginRequired | userPinInitialized | restoreKeyNotNeeded | tokenInitialized | userPinCountLow
    const flags = decodeTokenFlags(0x1 | 0x4 | 0x8 | 0x20 | 0x400 | 0x10000);
    expect(onlyTrue(flags)).toEqual(
      ['loginRequired', 'restoreKeyNotNeeded', 'rng', 'tokenInitialized', 'userPinCountLow', 'userPinInitialized'].sort(),
    );
    expect(userPinStatus(flags)).toBe('countLow');
    expect(soPinStatus(flags)).toBe('ok');
  });
});

describe('decodeSlotFlags', () => {
  it('decodes each slot flag alone and together', () => {
    expect(decodeSlotFlags(0)).toEqual({ tokenPresent: false, removableDevice: false, hardwareSlot: false });
    for (const [name, bit] of Object.entries(SLOT_BITS)) {
      expect(onlyTrue(decodeSlotFlags(bit))).toEqual([name]);
    }
    expect(decodeSlotFlags(0x7)).toEqual({ tokenPresent: true, removableDevice: true, hardwareSlot: true });
    expect(onlyTrue(decodeSlotFlags(0xfffffff8))).toEqual([]);
  });
});

// The reference rule: the worst condition wins.
function expectedStatus(locked: boolean, finalTry: boolean, countLow: boolean, toBeChanged: boolean): PinStatus {
  if (locked) return 'locked';
  if (finalTry) return 'finalTry';
  if (countLow) return 'countLow';
  if (toBeChanged) return 'toBeChanged';
  return 'ok';
}

const COMBINATIONS = Array.from({ length: 16 }, (_, i) => [!!(i & 8), !!(i & 4), !!(i & 2), !!(i & 1)] as const);

describe('PIN status precedence: locked > finalTry > countLow > toBeChanged > ok', () => {
  it.each(COMBINATIONS)('user PIN locked=%s finalTry=%s countLow=%s toBeChanged=%s', (locked, finalTry, countLow, toBeChanged) => {
    const word =
      (locked ? TOKEN_BITS.userPinLocked : 0) |
      (finalTry ? TOKEN_BITS.userPinFinalTry : 0) |
      (countLow ? TOKEN_BITS.userPinCountLow : 0) |
      (toBeChanged ? TOKEN_BITS.userPinToBeChanged : 0);
    const flags = decodeTokenFlags(word);
    expect(userPinStatus(flags)).toBe(expectedStatus(locked, finalTry, countLow, toBeChanged));
    // User PIN bits never leak into the SO PIN's status.
    expect(soPinStatus(flags)).toBe('ok');
  });

  it.each(COMBINATIONS)('SO PIN locked=%s finalTry=%s countLow=%s toBeChanged=%s', (locked, finalTry, countLow, toBeChanged) => {
    const word =
      (locked ? TOKEN_BITS.soPinLocked : 0) |
      (finalTry ? TOKEN_BITS.soPinFinalTry : 0) |
      (countLow ? TOKEN_BITS.soPinCountLow : 0) |
      (toBeChanged ? TOKEN_BITS.soPinToBeChanged : 0);
    const flags = decodeTokenFlags(word >>> 0);
    expect(soPinStatus(flags)).toBe(expectedStatus(locked, finalTry, countLow, toBeChanged));
    expect(userPinStatus(flags)).toBe('ok');
  });

  it('reports user and SO status independently in one word', () => {
    const flags = decodeTokenFlags(TOKEN_BITS.userPinFinalTry | TOKEN_BITS.soPinToBeChanged | TOKEN_BITS.errorState);
    expect(userPinStatus(flags)).toBe('finalTry');
    expect(soPinStatus(flags)).toBe('toBeChanged');
  });
});
