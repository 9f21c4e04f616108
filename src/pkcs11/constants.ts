// Numeric PKCS#11 constants. pkcs11js exports most of them; the ones it lacks (EdDSA, pkcs11js #52)
// are taken from the PKCS#11 3.0 specification (pkcs11t.h).
import { pkcs11js } from './native.js';

export const CKM_EDDSA = 0x1057;
export const CKK_EC_EDWARDS = 0x40;
export const CKR_VENDOR_DEFINED = 0x80000000;

/** Every CKR_ name pkcs11js knows, by value. Some values have two names; the first wins. */
const CKR_NAMES: ReadonlyMap<number, string> = (() => {
  const names = new Map<number, string>();
  for (const [name, value] of Object.entries(pkcs11js)) {
    if (name.startsWith('CKR_') && typeof value === 'number' && !names.has(value)) {
      names.set(value, name);
    }
  }
  // Names in p11-kit's pkcs11.h that pkcs11js 2.1 does not export.
  names.set(0x1b, 'CKR_ACTION_PROHIBITED');
  names.set(0x140, 'CKR_CURVE_NOT_SUPPORTED');
  return names;
})();

export function ckrName(rv: number): string {
  const known = CKR_NAMES.get(rv);
  if (known) return known;
  if (rv >= CKR_VENDOR_DEFINED) return `CKR_VENDOR_DEFINED+0x${(rv - CKR_VENDOR_DEFINED).toString(16)}`;
  return `CKR_0x${rv.toString(16).padStart(8, '0')}`;
}

export function ckrValue(name: string): number {
  const value = (pkcs11js as unknown as Record<string, unknown>)[name];
  if (typeof value !== 'number') throw new TypeError(`unknown CKR constant ${name}`);
  return value;
}

/** Session states (pkcs11.h); pkcs11js does not export them. */
export const CKS_RO_PUBLIC_SESSION = 0;
export const CKS_RO_USER_FUNCTIONS = 1;
export const CKS_RW_PUBLIC_SESSION = 2;
export const CKS_RW_USER_FUNCTIONS = 3;
export const CKS_RW_SO_FUNCTIONS = 4;
