// Finding token objects and reading their attributes into typed descriptions.
import { call, guard, pkcs11js, type Handle, type RawPkcs11, type RawTemplate } from './binding.js';
import { CKK_EC_EDWARDS } from './constants.js';
import { curveFromParams, type KeyType, type NamedCurve } from './curves.js';
import { InvalidArgumentError, KeyNotFoundError } from './errors.js';

/** A key or certificate named by its CKA_LABEL or its CKA_ID (bytes, or hex). */
export type ObjectRef = { label: string; id?: undefined } | { id: Uint8Array | string; label?: undefined };

export type ObjectClass = 'privateKey' | 'publicKey' | 'certificate';

const CLASS_VALUES: Record<ObjectClass, number> = {
  privateKey: pkcs11js.CKO_PRIVATE_KEY,
  publicKey: pkcs11js.CKO_PUBLIC_KEY,
  certificate: pkcs11js.CKO_CERTIFICATE,
};

export interface TokenKey {
  readonly objectClass: 'privateKey' | 'publicKey';
  /** Internal object handle; valid until the token is removed. */
  readonly handle: Handle;
  readonly label: string;
  readonly id: Buffer;
  readonly keyType: KeyType;
  readonly curve: NamedCurve | undefined;
  readonly modulusBits: number | undefined;
  /** CKA_ALWAYS_AUTHENTICATE: every signature needs a context-specific login. */
  readonly alwaysAuthenticate: boolean;
}

export function refToTemplate(ref: ObjectRef): RawTemplate {
  if (ref && typeof ref.label === 'string' && ref.label.length > 0) {
    return [{ type: pkcs11js.CKA_LABEL, value: ref.label }];
  }
  if (ref && ref.id !== undefined) {
    // Buffer.from(s, 'hex') stops silently at the first bad digit ('01zz' and '011' both became
    // 01), which would find a different object than the caller named: demand whole hex bytes.
    if (typeof ref.id === 'string' && !/^(?:[0-9a-f]{2})*$/iu.test(ref.id)) {
      throw new InvalidArgumentError('an object id string must be hex, two digits per byte');
    }
    const id = typeof ref.id === 'string' ? Buffer.from(ref.id, 'hex') : Buffer.from(ref.id);
    if (id.length === 0) throw new InvalidArgumentError('an object id must not be empty');
    return [{ type: pkcs11js.CKA_ID, value: id }];
  }
  throw new InvalidArgumentError('an object is chosen by a non-empty label or id');
}

export function describeRef(ref: ObjectRef): string {
  if (typeof ref.label === 'string') return `label "${ref.label}"`;
  const id = typeof ref.id === 'string' ? ref.id : Buffer.from(ref.id ?? []).toString('hex');
  return `id ${id}`;
}

/** Runs a whole C_FindObjects search; C_FindObjectsFinal always runs, even on failure. */
export function findObjects(lib: RawPkcs11, session: Handle, template: RawTemplate): Handle[] {
  call(lib, 'C_FindObjectsInit', session, template);
  try {
    const found: Handle[] = [];
    for (;;) {
      const batch = guard('C_FindObjects', () => lib.C_FindObjects(session, 64));
      found.push(...batch);
      if (batch.length < 64) return found;
    }
  } finally {
    call(lib, 'C_FindObjectsFinal', session);
  }
}

export function findByClass(lib: RawPkcs11, session: Handle, cls: ObjectClass, ref?: ObjectRef): Handle[] {
  const template: RawTemplate = [{ type: pkcs11js.CKA_CLASS, value: CLASS_VALUES[cls] }];
  if (ref) template.push(...refToTemplate(ref));
  return findObjects(lib, session, template);
}

export function findOne(lib: RawPkcs11, session: Handle, cls: ObjectClass, ref: ObjectRef): Handle {
  const found = findByClass(lib, session, cls, ref);
  if (found.length === 0) throw new KeyNotFoundError(`no ${cls} with ${describeRef(ref)} on the token`);
  return found[0]!;
}

export function readAttributes(lib: RawPkcs11, session: Handle, object: Handle, types: number[]): Map<number, Buffer> {
  const result = call(lib, 'C_GetAttributeValue', session, object, types.map((type) => ({ type })));
  return new Map(result.map((a) => [a.type, a.value]));
}

/** Reads one attribute, or undefined when the object does not have it. */
export function readOptionalAttribute(lib: RawPkcs11, session: Handle, object: Handle, type: number): Buffer | undefined {
  try {
    return readAttributes(lib, session, object, [type]).get(type);
  } catch {
    return undefined;
  }
}

function ulong(value: Buffer | undefined): number {
  if (!value || value.length === 0) return 0;
  return value.length >= 8 ? Number(value.readBigUInt64LE(0)) : value.readUInt32LE(0);
}

export function readKey(lib: RawPkcs11, session: Handle, handle: Handle): TokenKey {
  const attrs = readAttributes(lib, session, handle, [pkcs11js.CKA_CLASS, pkcs11js.CKA_KEY_TYPE, pkcs11js.CKA_LABEL, pkcs11js.CKA_ID]);
  const objectClass = ulong(attrs.get(pkcs11js.CKA_CLASS)) === pkcs11js.CKO_PRIVATE_KEY ? 'privateKey' : 'publicKey';
  const ckk = ulong(attrs.get(pkcs11js.CKA_KEY_TYPE));
  let keyType: KeyType;
  let curve: NamedCurve | undefined;
  let modulusBits: number | undefined;
  if (ckk === pkcs11js.CKK_RSA) {
    keyType = 'rsa';
    const modulus = readOptionalAttribute(lib, session, handle, pkcs11js.CKA_MODULUS);
    modulusBits = modulus ? modulus.length * 8 : ulong(readOptionalAttribute(lib, session, handle, pkcs11js.CKA_MODULUS_BITS));
  } else if (ckk === pkcs11js.CKK_EC || ckk === CKK_EC_EDWARDS) {
    const params = readOptionalAttribute(lib, session, handle, pkcs11js.CKA_EC_PARAMS) ?? Buffer.alloc(0);
    const named = curveFromParams(params);
    if (named === undefined) throw new KeyNotFoundError(`key ${describeLabel(attrs)} uses an unsupported curve`);
    if (named === 'ed25519') keyType = 'ed25519';
    else {
      keyType = 'ec';
      curve = named;
    }
  } else {
    throw new KeyNotFoundError(`key ${describeLabel(attrs)} has unsupported key type 0x${ckk.toString(16)}`);
  }
  const always =
    objectClass === 'privateKey' ? readOptionalAttribute(lib, session, handle, pkcs11js.CKA_ALWAYS_AUTHENTICATE) : undefined;
  return {
    objectClass,
    handle,
    label: attrs.get(pkcs11js.CKA_LABEL)?.toString('utf8') ?? '',
    id: attrs.get(pkcs11js.CKA_ID) ?? Buffer.alloc(0),
    keyType,
    curve,
    modulusBits,
    alwaysAuthenticate: always !== undefined && always.length > 0 && always[0] === 1,
  };
}

function describeLabel(attrs: Map<number, Buffer>): string {
  return `"${attrs.get(pkcs11js.CKA_LABEL)?.toString('utf8') ?? ''}"`;
}
