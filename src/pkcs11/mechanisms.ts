// Mechanisms a token offers, named. Only the names the library uses are spelled out; others keep
// their number so nothing is hidden.
import { call, pkcs11js, type Handle, type RawPkcs11 } from './binding.js';
import { CKM_EDDSA } from './constants.js';

export interface MechanismInfo {
  type: number;
  name: string;
  minKeySize: number;
  maxKeySize: number;
  sign: boolean;
  verify: boolean;
  generateKeyPair: boolean;
  hardware: boolean;
}

const MECHANISM_NAMES: ReadonlyMap<number, string> = (() => {
  const names = new Map<number, string>([[CKM_EDDSA, 'CKM_EDDSA'], [0x1055, 'CKM_EC_EDWARDS_KEY_PAIR_GEN']]);
  for (const [name, value] of Object.entries(pkcs11js)) {
    if (name.startsWith('CKM_') && typeof value === 'number' && !names.has(value)) names.set(value, name);
  }
  return names;
})();

export function mechanismName(type: number): string {
  return MECHANISM_NAMES.get(type) ?? `CKM_0x${type.toString(16)}`;
}

export function listMechanisms(lib: RawPkcs11, slot: Handle): MechanismInfo[] {
  return call(lib, 'C_GetMechanismList', slot).map((type) => {
    const info = call(lib, 'C_GetMechanismInfo', slot, type);
    const has = (bit: number): boolean => ((info.flags & bit) >>> 0) !== 0;
    return {
      type,
      name: mechanismName(type),
      minKeySize: info.minKeySize,
      maxKeySize: info.maxKeySize,
      sign: has(pkcs11js.CKF_SIGN),
      verify: has(pkcs11js.CKF_VERIFY),
      generateKeyPair: has(pkcs11js.CKF_GENERATE_KEY_PAIR),
      hardware: has(pkcs11js.CKF_HW),
    };
  });
}
