// X.509 certificates on the token, as @peculiar/x509 objects.
import { X509Certificate } from '../algorithms/x509.js';
import { createPublicKey } from 'node:crypto';
import { call, pkcs11js, type Handle, type RawPkcs11 } from './binding.js';
import { InvalidArgumentError } from './errors.js';
import { readAttributes } from './objects.js';
import type { Jwk } from './public-key.js';

export interface TokenCertificate {
  readonly handle: Handle;
  readonly label: string;
  readonly id: Buffer;
  readonly certificate: X509Certificate;
  /** The certificate's subject public key, ready for verification. */
  readonly publicKey: { spki(): Buffer; jwk(): Jwk };
}

export function readCertificate(lib: RawPkcs11, session: Handle, handle: Handle): TokenCertificate {
  const attrs = readAttributes(lib, session, handle, [pkcs11js.CKA_LABEL, pkcs11js.CKA_ID, pkcs11js.CKA_VALUE]);
  const certificate = new X509Certificate(attrs.get(pkcs11js.CKA_VALUE)!);
  const spki = Buffer.from(certificate.publicKey.rawData);
  return {
    handle,
    label: attrs.get(pkcs11js.CKA_LABEL)?.toString('utf8') ?? '',
    id: attrs.get(pkcs11js.CKA_ID) ?? Buffer.alloc(0),
    certificate,
    publicKey: {
      spki: () => spki,
      jwk: () => createPublicKey({ key: spki, format: 'der', type: 'spki' }).export({ format: 'jwk' }),
    },
  };
}

export interface ImportCertificateOptions {
  /** CKA_ID: give the key pair's id so applications pair the certificate with its key. */
  id: Uint8Array;
  label: string;
}

export function certificateTemplate(cert: X509Certificate | Uint8Array | string, options: ImportCertificateOptions) {
  let parsed: X509Certificate;
  try {
    parsed = cert instanceof X509Certificate ? cert : new X509Certificate(typeof cert === 'string' ? cert : Buffer.from(cert));
  } catch (err) {
    throw new InvalidArgumentError('not an X.509 certificate', { cause: err });
  }
  if (!options.label) throw new InvalidArgumentError('a certificate needs a label');
  return [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_CERTIFICATE },
    { type: pkcs11js.CKA_CERTIFICATE_TYPE, value: pkcs11js.CKC_X_509 },
    { type: pkcs11js.CKA_TOKEN, value: true },
    { type: pkcs11js.CKA_PRIVATE, value: false },
    { type: pkcs11js.CKA_LABEL, value: options.label },
    { type: pkcs11js.CKA_ID, value: Buffer.from(options.id) },
    { type: pkcs11js.CKA_SUBJECT, value: Buffer.from(parsed.subjectName.toArrayBuffer()) },
    { type: pkcs11js.CKA_ISSUER, value: Buffer.from(parsed.issuerName.toArrayBuffer()) },
    { type: pkcs11js.CKA_SERIAL_NUMBER, value: derIntegerFromHex(parsed.serialNumber) },
    { type: pkcs11js.CKA_VALUE, value: Buffer.from(parsed.rawData) },
  ];
}

/** CKA_SERIAL_NUMBER holds the DER INTEGER, tag and length included. */
function derIntegerFromHex(hex: string): Buffer {
  let bytes = Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
  if (bytes.length === 0 || bytes[0]! & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return Buffer.concat([Buffer.from([0x02, bytes.length]), bytes]);
}

export function createCertificateObject(lib: RawPkcs11, session: Handle, cert: X509Certificate | Uint8Array | string, options: ImportCertificateOptions): Handle {
  return call(lib, 'C_CreateObject', session, certificateTemplate(cert, options));
}
