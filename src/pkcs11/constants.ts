// Numeric PKCS#11 constants. pkcs11js exports most of them; the ones it lacks (EdDSA, pkcs11js #52)
// are taken from the PKCS#11 3.0 specification (pkcs11t.h).
export const CKM_EDDSA = 0x1057;
export const CKK_EC_EDWARDS = 0x40;
// CK_RV names live with the errors (src/errors/ckr-names.ts), which need no addon.
export { ckrName } from '../errors/ckr-names.js';

/** Session states (pkcs11.h); pkcs11js does not export them. */
export const CKS_RO_PUBLIC_SESSION = 0;
export const CKS_RO_USER_FUNCTIONS = 1;
export const CKS_RW_PUBLIC_SESSION = 2;
export const CKS_RW_USER_FUNCTIONS = 3;
export const CKS_RW_SO_FUNCTIONS = 4;
