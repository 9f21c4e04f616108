// CBOR as a real key speaks it: replies in CTAP2 canonical form (cborg's default map order is
// exactly that, and libfido2 refuses anything else), requests accepted only when canonical too,
// and never a null (python-fido2 0.9.1 turns it into False). The deliberately broken encodings
// for the non-canonical-reply fault live here as well, so they stay next to the right one.
import { decode, encode } from 'cborg';
import { CtapStatusError, Status, fail } from './constants.js';

export type CborValue = number | string | boolean | Uint8Array | CborValue[] | CborMap;
export type CborMap = Map<number | string, CborValue>;

export function encodeCbor(value: CborValue): Uint8Array {
  return encode(value);
}

/** Decodes a request's CBOR strictly; anything a canonical encoder would not produce is refused. */
export function decodeRequest(bytes: Uint8Array): CborMap {
  let value: unknown;
  try {
    value = decode(bytes, { strict: true, useMaps: true, rejectDuplicateMapKeys: true, allowIndefinite: false, allowUndefined: false, allowBigInt: false });
  } catch {
    return fail(Status.INVALID_CBOR);
  }
  if (!(value instanceof Map)) return fail(Status.CBOR_UNEXPECTED_TYPE);
  try {
    if (!sameBytes(encode(value), bytes)) fail(Status.INVALID_CBOR);
  } catch (error) {
    if (error instanceof CtapStatusError) throw error;
    fail(Status.INVALID_CBOR);
  }
  return value as CborMap;
}

export type NonCanonicalKind = 'unsorted' | 'non-minimal';

/**
 * The same map, encoded wrongly on purpose: `unsorted` writes the top-level keys in reverse
 * order, `non-minimal` writes the first key (a small integer) in two bytes (0x18 0x01).
 */
export function encodeNonCanonical(map: CborMap, kind: NonCanonicalKind): Uint8Array {
  const entries = [...map.entries()].map(([k, v]) => ({ key: encode(k), value: encode(v) }));
  // Canonical order first (what cborg would write), then break it.
  entries.sort((a, b) => compareBytes(a.key, b.key));
  if (kind === 'unsorted' && entries.length > 1) entries.reverse();
  const parts: Uint8Array[] = [mapHeader(entries.length)];
  entries.forEach((entry, i) => {
    if (kind === 'non-minimal' && i === 0 && entry.key.length === 1 && entry.key[0]! < 24) {
      parts.push(Uint8Array.of(0x18, entry.key[0]!));
    } else {
      parts.push(entry.key);
    }
    parts.push(entry.value);
  });
  return concat(parts);
}

function mapHeader(n: number): Uint8Array {
  if (n < 24) return Uint8Array.of(0xa0 | n);
  return Uint8Array.of(0xb8, n);
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  // Canonical CTAP2 order for the keys we use: first byte (major type), then length, then bytes.
  if (a[0] !== b[0]) return a[0]! - b[0]!;
  if (a.length !== b.length) return a.length - b.length;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

// Typed readers for request parameters: a wrong type is CBOR_UNEXPECTED_TYPE, as the spec says.
export const read = {
  bytes(map: CborMap, key: number | string): Uint8Array | undefined {
    const v = map.get(key);
    if (v === undefined) return undefined;
    return v instanceof Uint8Array ? v : fail(Status.CBOR_UNEXPECTED_TYPE);
  },
  text(map: CborMap, key: number | string): string | undefined {
    const v = map.get(key);
    if (v === undefined) return undefined;
    return typeof v === 'string' ? v : fail(Status.CBOR_UNEXPECTED_TYPE);
  },
  uint(map: CborMap, key: number | string): number | undefined {
    const v = map.get(key);
    if (v === undefined) return undefined;
    return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : fail(Status.CBOR_UNEXPECTED_TYPE);
  },
  int(map: CborMap, key: number | string): number | undefined {
    const v = map.get(key);
    if (v === undefined) return undefined;
    return typeof v === 'number' && Number.isInteger(v) ? v : fail(Status.CBOR_UNEXPECTED_TYPE);
  },
  bool(map: CborMap, key: number | string): boolean | undefined {
    const v = map.get(key);
    if (v === undefined) return undefined;
    return typeof v === 'boolean' ? v : fail(Status.CBOR_UNEXPECTED_TYPE);
  },
  map(map: CborMap, key: number | string): CborMap | undefined {
    const v = map.get(key);
    if (v === undefined) return undefined;
    return v instanceof Map ? v : fail(Status.CBOR_UNEXPECTED_TYPE);
  },
  array(map: CborMap, key: number | string): CborValue[] | undefined {
    const v = map.get(key);
    if (v === undefined) return undefined;
    return Array.isArray(v) ? v : fail(Status.CBOR_UNEXPECTED_TYPE);
  },
};

export function required<T>(value: T | undefined): T {
  return value === undefined ? fail(Status.MISSING_PARAMETER) : value;
}
