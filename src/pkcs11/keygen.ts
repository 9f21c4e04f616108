// Key pairs generated on the token. The private half is sensitive and never leaves it.
import { randomBytes } from 'node:crypto';
import { callAsync, pkcs11js, type Handle, type RawMechanism, type RawPkcs11, type RawTemplate } from './binding.js';
import { CKK_EC_EDWARDS } from './constants.js';
import { curveSpec, ED25519_PARAMS_OID, type NamedCurve } from './curves.js';
import { InvalidArgumentError } from './errors.js';
import { readKey, type TokenKey } from './objects.js';

export type KeyPairType = 'ec-p256' | 'ec-p384' | 'rsa-2048' | 'rsa-3072' | 'ed25519';

export interface GenerateKeyPairOptions {
  type: KeyPairType;
  label: string;
  /** CKA_ID shared by both halves (and later the certificate); 16 random bytes by default. */
  id?: Uint8Array;
}

const CKM_EC_EDWARDS_KEY_PAIR_GEN = 0x1055;
const EC_CURVES: Partial<Record<KeyPairType, NamedCurve>> = { 'ec-p256': 'P-256', 'ec-p384': 'P-384' };
const RSA_BITS: Partial<Record<KeyPairType, number>> = { 'rsa-2048': 2048, 'rsa-3072': 3072 };

interface KeyPairRecipe {
  mechanism: RawMechanism;
  publicPart: RawTemplate;
  privatePart: RawTemplate;
}

function recipe(type: KeyPairType): KeyPairRecipe {
  const curve = EC_CURVES[type];
  if (curve) {
    const params = Buffer.from(curveSpec(curve).der, 'hex');
    return {
      mechanism: { mechanism: pkcs11js.CKM_EC_KEY_PAIR_GEN },
      publicPart: [{ type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_EC }, { type: pkcs11js.CKA_EC_PARAMS, value: params }],
      privatePart: [{ type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_EC }],
    };
  }
  const bits = RSA_BITS[type];
  if (bits) {
    return {
      mechanism: { mechanism: pkcs11js.CKM_RSA_PKCS_KEY_PAIR_GEN },
      publicPart: [
        { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_RSA },
        { type: pkcs11js.CKA_MODULUS_BITS, value: bits },
        { type: pkcs11js.CKA_PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) },
      ],
      privatePart: [{ type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_RSA }],
    };
  }
  if (type === 'ed25519') {
    return {
      mechanism: { mechanism: CKM_EC_EDWARDS_KEY_PAIR_GEN },
      publicPart: [{ type: pkcs11js.CKA_KEY_TYPE, value: CKK_EC_EDWARDS }, { type: pkcs11js.CKA_EC_PARAMS, value: ED25519_PARAMS_OID }],
      privatePart: [{ type: pkcs11js.CKA_KEY_TYPE, value: CKK_EC_EDWARDS }],
    };
  }
  throw new InvalidArgumentError(`unknown key pair type ${String(type)}`);
}

export function checkKeyPairOptions(options: GenerateKeyPairOptions): { id: Buffer; recipe: KeyPairRecipe } {
  if (typeof options?.label !== 'string' || options.label.length === 0) throw new InvalidArgumentError('a key pair needs a label');
  const id = options.id === undefined ? randomBytes(16) : Buffer.from(options.id);
  if (id.length === 0) throw new InvalidArgumentError('a key id must not be empty');
  return { id, recipe: recipe(options.type) };
}

/** Runs C_GenerateKeyPair on the libuv pool; returns the private key, read back from the token. */
export async function generateKeyPairOn(lib: RawPkcs11, session: Handle, options: GenerateKeyPairOptions): Promise<{ privateKey: TokenKey; publicKey: TokenKey }> {
  const { id, recipe: r } = checkKeyPairOptions(options);
  const common: RawTemplate = [
    { type: pkcs11js.CKA_TOKEN, value: true },
    { type: pkcs11js.CKA_LABEL, value: options.label },
    { type: pkcs11js.CKA_ID, value: id },
  ];
  const pair = await callAsync(
    lib,
    'C_GenerateKeyPairAsync',
    session,
    r.mechanism,
    [...common, ...r.publicPart, { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PUBLIC_KEY }, { type: pkcs11js.CKA_VERIFY, value: true }, { type: pkcs11js.CKA_PRIVATE, value: false }],
    [
      ...common,
      ...r.privatePart,
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
      { type: pkcs11js.CKA_PRIVATE, value: true },
      { type: pkcs11js.CKA_SENSITIVE, value: true },
      { type: pkcs11js.CKA_EXTRACTABLE, value: false },
      { type: pkcs11js.CKA_SIGN, value: true },
    ],
  );
  return { privateKey: readKey(lib, session, pair.privateKey), publicKey: readKey(lib, session, pair.publicKey) };
}
