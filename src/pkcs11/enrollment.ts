// Certificates and certificate requests for a key pair on the token, signed by the token, made with
// @peculiar/x509 through the WebCrypto adapter (crypto-adapter.ts).
import { InvalidArgumentError } from './errors.js';
import { tokenCrypto, tokenKeyPair } from './crypto-adapter.js';
import type { ObjectRef, TokenKey } from './objects.js';
import type { Session } from './session.js';
import type { SignatureAlgorithm } from './signing.js';
import { x509 } from '../algorithms/x509.js';

export interface CertificateOptions {
  /** Distinguished name, e.g. `CN=Door 17, O=Example`; subject and issuer of a self-signed certificate. */
  subject: string;
  /** Default: now. */
  notBefore?: Date;
  /** Default: one year after notBefore. */
  notAfter?: Date;
  /** Hex serial number; 16 random bytes by default. */
  serialNumber?: string;
  /**
   * Extensions. A self-signed certificate gets keyUsage digitalSignature (critical) and the subject
   * key identifier unless an extension here has the same type, which then replaces the default.
   */
  extensions?: x509.Extension[];
  /** Defaults from the key: ECDSA with the curve's hash, RSA PKCS#1 v1.5 SHA-256, Ed25519. */
  algorithm?: SignatureAlgorithm;
}

export interface CertificateRequestOptions {
  /** Distinguished name of the requester. */
  subject: string;
  /** Requested extensions (PKCS#9 extensionRequest); none by default. */
  extensions?: x509.Extension[];
  algorithm?: SignatureAlgorithm;
}

function checkName(subject: unknown): x509.Name {
  if (typeof subject !== 'string' || subject.trim().length === 0) throw new InvalidArgumentError('a subject name is required, e.g. "CN=Door 17"');
  let name: x509.Name;
  try {
    name = new x509.Name(subject);
  } catch (err) {
    throw new InvalidArgumentError('the subject is not a distinguished name', { cause: err });
  }
  // x509 reads text without "type=value" pairs as an empty name rather than failing.
  if (name.toJSON().length === 0) throw new InvalidArgumentError('the subject is not a distinguished name, e.g. "CN=Door 17"');
  return name;
}

function checkExtensions(extensions: unknown): x509.Extension[] {
  if (extensions === undefined) return [];
  if (!Array.isArray(extensions) || !extensions.every((e) => e instanceof x509.Extension)) {
    throw new InvalidArgumentError('extensions must be an array of x509.Extension');
  }
  return extensions;
}

function checkValidity(options: CertificateOptions): { notBefore: Date; notAfter: Date } {
  const isDate = (d: unknown): d is Date => d instanceof Date && !Number.isNaN(d.getTime());
  if (options.notBefore !== undefined && !isDate(options.notBefore)) throw new InvalidArgumentError('notBefore must be a valid Date');
  if (options.notAfter !== undefined && !isDate(options.notAfter)) throw new InvalidArgumentError('notAfter must be a valid Date');
  const notBefore = options.notBefore ?? new Date();
  const notAfter = options.notAfter ?? new Date(notBefore.getTime() + 365 * 24 * 3600 * 1000);
  if (notAfter.getTime() <= notBefore.getTime()) throw new InvalidArgumentError('notAfter must be later than notBefore');
  return { notBefore, notAfter };
}

function checkSerial(serial: unknown): string | undefined {
  if (serial === undefined) return undefined;
  // x509 reads the hex leniently; a serial that is not whole hex bytes, or zero, is a mistake.
  if (typeof serial !== 'string' || !/^(?:[0-9a-f]{2})+$/iu.test(serial) || /^0+$/u.test(serial)) {
    throw new InvalidArgumentError('serialNumber must be non-zero hex, two digits per byte');
  }
  return serial;
}

/** A self-signed certificate for a key pair on the token, signed by the token. */
export async function createSelfSignedCertificate(session: Session, key: TokenKey | ObjectRef, options: CertificateOptions): Promise<x509.X509Certificate> {
  // Everything the caller gave is checked before the token is asked for anything.
  const name = checkName(options?.subject);
  const extra = checkExtensions(options.extensions);
  const { notBefore, notAfter } = checkValidity(options);
  const serialNumber = checkSerial(options.serialNumber);
  const crypto = tokenCrypto();
  const keys = await tokenKeyPair(session, key, { algorithm: options.algorithm });
  const defaults = [
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
  ];
  const given = new Set(extra.map((e) => e.type));
  return x509.X509CertificateGenerator.createSelfSigned(
    {
      name,
      keys,
      signingAlgorithm: keys.signingAlgorithm,
      notBefore,
      notAfter,
      ...(serialNumber !== undefined && { serialNumber }),
      extensions: [...defaults.filter((d) => !given.has(d.type)), ...extra],
    },
    crypto,
  );
}

/** A PKCS#10 certificate signing request for a key pair on the token, signed by the token. */
export async function createCertificateRequest(session: Session, key: TokenKey | ObjectRef, options: CertificateRequestOptions): Promise<x509.Pkcs10CertificateRequest> {
  const name = checkName(options?.subject);
  const extensions = checkExtensions(options.extensions);
  const keys = await tokenKeyPair(session, key, { algorithm: options.algorithm });
  return x509.Pkcs10CertificateRequestGenerator.create(
    { name, keys, signingAlgorithm: keys.signingAlgorithm, ...(extensions.length > 0 && { extensions }) },
    tokenCrypto(),
  );
}
