// Key pairs generated on the token. The private half is sensitive, never extractable, and signs
// only (no decrypt, unwrap or derive); C_GenerateKeyPair runs on the libuv pool, off the event loop.
import { randomBytes } from 'node:crypto';
import { callAsync, pkcs11js, type Handle, type RawMechanism, type RawPkcs11, type RawTemplate } from './binding.js';
import { CKK_EC_EDWARDS } from './constants.js';
import { curveSpec, ED25519_PARAMS_OID } from './curves.js';
import { InvalidArgumentError } from './errors.js';
import { readKey, type TokenKey } from './objects.js';

export type KeyPairType = 'ec-p256' | 'ec-p384' | 'rsa-2048' | 'rsa-3072' | 'ed25519';

export interface GenerateKeyPairOptions {
  type: KeyPairType;
  /** CKA_LABEL of both halves. */
  label: string;
  /** CKA_ID shared by both halves (and later the certificate); 16 random bytes by default. */
  id?: Uint8Array;
}

/** PKCS#11 3.0; pkcs11js 2.1 has no constant for it. */
const CKM_EC_EDWARDS_KEY_PAIR_GEN = 0x1055;
const RSA_F4 = Buffer.from([0x01, 0x00, 0x01]); // 65537

interface Recipe {
  mechanism: RawMechanism;
  keyType: number;
  /** Attributes only the public template carries (curve, modulus size, exponent). */
  publicPart: RawTemplate;
}

const ec = (der: string | Buffer, keyType: number, mechanism: number): Recipe => ({
  mechanism: { mechanism },
  keyType,
  publicPart: [{ type: pkcs11js.CKA_EC_PARAMS, value: typeof der === 'string' ? Buffer.from(der, 'hex') : der }],
});

const rsa = (bits: number): Recipe => ({
  mechanism: { mechanism: pkcs11js.CKM_RSA_PKCS_KEY_PAIR_GEN },
  keyType: pkcs11js.CKK_RSA,
  publicPart: [
    { type: pkcs11js.CKA_MODULUS_BITS, value: bits },
    { type: pkcs11js.CKA_PUBLIC_EXPONENT, value: RSA_F4 },
  ],
});

const RECIPES: Record<KeyPairType, () => Recipe> = {
  'ec-p256': () => ec(curveSpec('P-256').der, pkcs11js.CKK_EC, pkcs11js.CKM_EC_KEY_PAIR_GEN),
  'ec-p384': () => ec(curveSpec('P-384').der, pkcs11js.CKK_EC, pkcs11js.CKM_EC_KEY_PAIR_GEN),
  'rsa-2048': () => rsa(2048),
  'rsa-3072': () => rsa(3072),
  ed25519: () => ec(ED25519_PARAMS_OID, CKK_EC_EDWARDS, CKM_EC_EDWARDS_KEY_PAIR_GEN),
};

/** A checked request: everything the token will be sent, worked out without touching it. */
export interface KeyPairPlan {
  readonly label: string;
  readonly id: Buffer;
  readonly recipe: Recipe;
}

/** Checks the options and settles the id; throws InvalidArgumentError on anything unusable. */
export function planKeyPair(options: GenerateKeyPairOptions): KeyPairPlan {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('generateKeyPair needs an options object');
  const { type, label, id } = options;
  if (typeof type !== 'string' || !Object.hasOwn(RECIPES, type)) {
    throw new InvalidArgumentError(`unknown key pair type ${String(type)}; use one of ${Object.keys(RECIPES).join(', ')}`);
  }
  if (typeof label !== 'string' || label.length === 0) throw new InvalidArgumentError('a key pair needs a non-empty label');
  if (id !== undefined && !(id instanceof Uint8Array)) throw new InvalidArgumentError('a key id must be bytes');
  if (id !== undefined && id.length === 0) throw new InvalidArgumentError('a key id must not be empty');
  return { label, id: id === undefined ? randomBytes(16) : Buffer.from(id), recipe: RECIPES[type]() };
}

/** Runs C_GenerateKeyPairAsync (libuv pool) in `session`; returns both halves, read back from the token. */
export async function generateKeyPairOn(lib: RawPkcs11, session: Handle, plan: KeyPairPlan): Promise<{ privateKey: TokenKey; publicKey: TokenKey }> {
  const { recipe } = plan;
  const common = (cls: number): RawTemplate => [
    { type: pkcs11js.CKA_CLASS, value: cls },
    { type: pkcs11js.CKA_KEY_TYPE, value: recipe.keyType },
    { type: pkcs11js.CKA_TOKEN, value: true },
    { type: pkcs11js.CKA_LABEL, value: plan.label },
    { type: pkcs11js.CKA_ID, value: plan.id },
  ];
  const publicTemplate: RawTemplate = [
    ...common(pkcs11js.CKO_PUBLIC_KEY),
    ...recipe.publicPart,
    { type: pkcs11js.CKA_PRIVATE, value: false },
    { type: pkcs11js.CKA_VERIFY, value: true },
    { type: pkcs11js.CKA_ENCRYPT, value: false },
    { type: pkcs11js.CKA_WRAP, value: false },
  ];
  const privateTemplate: RawTemplate = [
    ...common(pkcs11js.CKO_PRIVATE_KEY),
    { type: pkcs11js.CKA_PRIVATE, value: true },
    { type: pkcs11js.CKA_SENSITIVE, value: true },
    { type: pkcs11js.CKA_EXTRACTABLE, value: false },
    { type: pkcs11js.CKA_SIGN, value: true },
    // A signing key does nothing else: no decryption, unwrapping or key agreement with it.
    { type: pkcs11js.CKA_DECRYPT, value: false },
    { type: pkcs11js.CKA_UNWRAP, value: false },
    { type: pkcs11js.CKA_DERIVE, value: false },
  ];
  const pair = await callAsync(lib, 'C_GenerateKeyPairAsync', session, recipe.mechanism, publicTemplate, privateTemplate);
  return { privateKey: readKey(lib, session, pair.privateKey), publicKey: readKey(lib, session, pair.publicKey) };
}
