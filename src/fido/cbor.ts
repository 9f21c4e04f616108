// CBOR for CTAP2 through cborg: its default map ordering is CTAP2's canonical order (major type,
// then length, then bytes — what libfido2's ctap_check_cbor demands), so encoding is cborg's own.
// Decoding is strict: minimal integers and lengths, no duplicate keys, no indefinite lengths, no
// undefined, no tags, no floats' NaN/Infinity; and the re-encoding must equal the input, which
// refuses keys out of canonical order too. A key that sends anything else is broken or hostile.
import { decode, decodeFirst, encode } from 'cborg';
import { FidoProtocolError } from '../errors/index.js';

export type CborValue = number | bigint | string | boolean | null | Uint8Array | CborValue[] | CborMap;
export type CborMap = Map<number | string, CborValue>;

const STRICT = {
  strict: true,
  useMaps: true,
  rejectDuplicateMapKeys: true,
  allowIndefinite: false,
  allowUndefined: false,
  allowInfinity: false,
  allowNaN: false,
  allowBigInt: false,
  tags: [],
} as const;

export function encodeCbor(value: unknown): Uint8Array {
  return encode(value);
}

/** Decodes one canonical CBOR item that fills `bytes` exactly; FidoProtocolError otherwise. */
export function decodeCanonical(bytes: Uint8Array, what: string): CborValue {
  let value: CborValue;
  try {
    value = decode(bytes, STRICT) as CborValue;
  } catch (cause) {
    throw new FidoProtocolError(`the security key sent malformed CBOR in ${what}`, { cause });
  }
  const again = encode(value);
  if (Buffer.compare(again, bytes) !== 0) {
    throw new FidoProtocolError(`the security key sent non-canonical CBOR in ${what}`);
  }
  return value;
}

/** The first canonical item in `bytes` and what follows it (authData's COSE key, then extensions). */
export function decodeCanonicalFirst(bytes: Uint8Array, what: string): [CborValue, Uint8Array] {
  let value: CborValue;
  let rest: Uint8Array;
  try {
    [value, rest] = decodeFirst(bytes, STRICT) as [CborValue, Uint8Array];
  } catch (cause) {
    throw new FidoProtocolError(`the security key sent malformed CBOR in ${what}`, { cause });
  }
  decodeCanonical(bytes.subarray(0, bytes.length - rest.length), what);
  return [value, rest];
}

/** Decodes a CTAP2 response map (integer keys) or throws FidoProtocolError. */
export function decodeResponseMap(bytes: Uint8Array, what: string): CborMap {
  const value = decodeCanonical(bytes, what);
  if (!(value instanceof Map)) throw new FidoProtocolError(`${what}: the security key's answer is not a CBOR map`);
  return value;
}

// Typed reads from a decoded map: a field of the wrong type is the key's protocol error.
function wrong(what: string, key: number | string, expected: string): FidoProtocolError {
  return new FidoProtocolError(`${what}: field ${String(key)} is not ${expected}`);
}

export function optionalBytes(map: CborMap, key: number | string, what: string): Uint8Array | undefined {
  const v = map.get(key);
  if (v === undefined) return undefined;
  if (!(v instanceof Uint8Array)) throw wrong(what, key, 'a byte string');
  return v;
}
export function requiredBytes(map: CborMap, key: number | string, what: string): Uint8Array {
  const v = optionalBytes(map, key, what);
  if (v === undefined) throw new FidoProtocolError(`${what}: field ${String(key)} is missing`);
  return v;
}
export function optionalInt(map: CborMap, key: number | string, what: string): number | undefined {
  const v = map.get(key);
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw wrong(what, key, 'an integer');
  return v;
}
export function optionalBool(map: CborMap, key: number | string, what: string): boolean | undefined {
  const v = map.get(key);
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw wrong(what, key, 'a boolean');
  return v;
}
export function optionalText(map: CborMap, key: number | string, what: string): string | undefined {
  const v = map.get(key);
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw wrong(what, key, 'a text string');
  return v;
}
export function optionalMap(map: CborMap, key: number | string, what: string): CborMap | undefined {
  const v = map.get(key);
  if (v === undefined) return undefined;
  if (!(v instanceof Map)) throw wrong(what, key, 'a map');
  return v;
}
export function optionalArray(map: CborMap, key: number | string, what: string): CborValue[] | undefined {
  const v = map.get(key);
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) throw wrong(what, key, 'an array');
  return v;
}
