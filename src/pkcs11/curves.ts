// Named curves and their DER-encoded OIDs, as found in CKA_EC_PARAMS.
import { InvalidArgumentError } from './errors.js';

export type NamedCurve = 'P-256' | 'P-384' | 'P-521';
export type KeyType = 'ec' | 'rsa' | 'ed25519';

interface CurveSpec {
  curve: NamedCurve;
  oid: string;
  der: string;
  /** Bytes of one coordinate / one half of a raw signature. */
  size: number;
  hash: 'sha256' | 'sha384' | 'sha512';
}

export const CURVES: readonly CurveSpec[] = [
  { curve: 'P-256', oid: '1.2.840.10045.3.1.7', der: '06082a8648ce3d030107', size: 32, hash: 'sha256' },
  { curve: 'P-384', oid: '1.3.132.0.34', der: '06052b81040022', size: 48, hash: 'sha384' },
  { curve: 'P-521', oid: '1.3.132.0.35', der: '06052b81040023', size: 66, hash: 'sha512' },
];

/** id-Ed25519 (RFC 8410), and the PrintableString form some modules still use. */
export const ED25519_PARAMS_OID = Buffer.from('06032b6570', 'hex');
const ED25519_PARAMS_NAME = Buffer.concat([Buffer.from([0x13, 12]), Buffer.from('edwards25519')]);

export function curveSpec(curve: NamedCurve): CurveSpec {
  const spec = CURVES.find((c) => c.curve === curve);
  if (!spec) throw new InvalidArgumentError(`unknown curve ${String(curve)}`);
  return spec;
}

export function curveFromParams(params: Buffer): NamedCurve | 'ed25519' | undefined {
  if (params.equals(ED25519_PARAMS_OID) || params.equals(ED25519_PARAMS_NAME)) return 'ed25519';
  const hex = params.toString('hex');
  return CURVES.find((c) => c.der === hex)?.curve;
}
