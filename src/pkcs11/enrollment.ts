// Certificates and certificate requests signed by a key on the token, made with @peculiar/x509.
// x509 signs through a WebCrypto `crypto.subtle.sign`; the adapter below answers that call with the
// token (for our keys) and hands everything else to Node's own WebCrypto.
import { webcrypto } from 'node:crypto';
import { InvalidArgumentError } from './errors.js';
import type { ObjectRef, TokenKey } from './objects.js';
import type { Session } from './session.js';
import { defaultAlgorithm, type SignatureAlgorithm } from './signing.js';
import { x509 } from './x509.js';

type X509Crypto = NonNullable<Parameters<typeof x509.X509CertificateGenerator.create>[1]>;

/** The WebCrypto algorithm x509 writes into the certificate for each of our algorithms. */
function webAlgorithm(key: TokenKey, algorithm: SignatureAlgorithm): webcrypto.Algorithm & Record<string, unknown> {
  switch (algorithm) {
    case 'ECDSA-SHA256':
    case 'ECDSA-SHA384':
      return { name: 'ECDSA', namedCurve: key.curve, hash: { name: algorithm === 'ECDSA-SHA256' ? 'SHA-256' : 'SHA-384' } };
    case 'RSA-PKCS1-SHA256':
      return { name: 'RSASSA-PKCS1-v1_5', hash: { name: 'SHA-256' } };
    case 'RSA-PSS-SHA256':
      return { name: 'RSA-PSS', hash: { name: 'SHA-256' }, saltLength: 32 };
    case 'Ed25519':
      return { name: 'Ed25519' };
  }
}

/** A private key on the token, dressed as a WebCrypto CryptoKey for x509. */
class TokenCryptoKey {
  readonly type = 'private';
  readonly extractable = false;
  readonly usages = ['sign'];
  readonly algorithm: webcrypto.Algorithm & Record<string, unknown>;

  constructor(
    readonly session: Session,
    readonly key: TokenKey,
    readonly signatureAlgorithm: SignatureAlgorithm,
  ) {
    this.algorithm = webAlgorithm(key, signatureAlgorithm);
  }
}

function tokenCrypto(): X509Crypto {
  const sign = async (algorithm: unknown, key: unknown, data: webcrypto.BufferSource): Promise<ArrayBuffer> => {
    if (!(key instanceof TokenCryptoKey)) return webcrypto.subtle.sign(algorithm as webcrypto.Algorithm, key as webcrypto.CryptoKey, data);
    const bytes = ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data);
    // WebCrypto's ECDSA signature is raw r‖s, which is what x509 converts to DER for the certificate.
    const signature = await key.session.signChallenge(key.key, bytes, { algorithm: key.signatureAlgorithm, format: 'raw' });
    return signature.buffer.slice(signature.byteOffset, signature.byteOffset + signature.byteLength) as ArrayBuffer;
  };
  // Node's SubtleCrypto checks `this`, so every other method is forwarded bound to the real one.
  const real = webcrypto.subtle as unknown as Record<string | symbol, unknown>;
  const subtle = new Proxy(real, {
    get: (target, prop) => {
      if (prop === 'sign') return sign;
      const value = target[prop];
      return typeof value === 'function' ? value.bind(webcrypto.subtle) : value;
    },
  });
  return { subtle, getRandomValues: webcrypto.getRandomValues.bind(webcrypto) } as unknown as X509Crypto;
}

interface SigningKeyPair {
  keys: { privateKey: TokenCryptoKey; publicKey: webcrypto.CryptoKey };
  signingAlgorithm: webcrypto.Algorithm;
}

async function signingKeyPair(session: Session, keyOrRef: TokenKey | ObjectRef, algorithm?: SignatureAlgorithm): Promise<SigningKeyPair> {
  const key = 'handle' in keyOrRef ? keyOrRef : await session.findPrivateKey(keyOrRef);
  const chosen = algorithm ?? defaultAlgorithm(key);
  const privateKey = new TokenCryptoKey(session, key, chosen);
  const publicKey = await (await session.publicKey(key)).cryptoKey(
    key.keyType === 'rsa' ? { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as webcrypto.RsaHashedImportParams : undefined,
  );
  return { keys: { privateKey, publicKey }, signingAlgorithm: privateKey.algorithm };
}

export interface CertificateOptions {
  /** Distinguished name, e.g. `CN=Door 17, O=Example`. */
  subject: string;
  notBefore?: Date;
  notAfter?: Date;
  /** Hex serial number; random by default. */
  serialNumber?: string;
  /** Extra extensions; by default keyUsage digitalSignature (critical) and the subject key identifier. */
  extensions?: x509.Extension[];
  algorithm?: SignatureAlgorithm;
}

export type CertificateRequestOptions = Pick<CertificateOptions, 'subject' | 'extensions' | 'algorithm'>;

function checkSubject(subject: unknown): string {
  if (typeof subject !== 'string' || subject.length === 0) throw new InvalidArgumentError('a certificate needs a subject name');
  return subject;
}

/** A self-signed certificate for a key pair on the token, signed by the token. */
export async function createSelfSignedCertificate(session: Session, key: TokenKey | ObjectRef, options: CertificateOptions): Promise<x509.X509Certificate> {
  const name = checkSubject(options.subject);
  const { keys, signingAlgorithm } = await signingKeyPair(session, key, options.algorithm);
  const extensions = options.extensions ?? [
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, webcrypto as unknown as X509Crypto),
  ];
  return x509.X509CertificateGenerator.createSelfSigned(
    {
      name,
      keys: keys as unknown as webcrypto.CryptoKeyPair,
      signingAlgorithm,
      extensions,
      ...(options.notBefore && { notBefore: options.notBefore }),
      ...(options.notAfter && { notAfter: options.notAfter }),
      ...(options.serialNumber && { serialNumber: options.serialNumber }),
    },
    tokenCrypto(),
  );
}

/** A PKCS#10 certificate signing request for a key pair on the token, signed by the token. */
export async function createCertificateRequest(session: Session, key: TokenKey | ObjectRef, options: CertificateRequestOptions): Promise<x509.Pkcs10CertificateRequest> {
  const name = checkSubject(options.subject);
  const { keys, signingAlgorithm } = await signingKeyPair(session, key, options.algorithm);
  return x509.Pkcs10CertificateRequestGenerator.create(
    {
      name,
      keys: keys as unknown as webcrypto.CryptoKeyPair,
      signingAlgorithm,
      extensions: options.extensions ?? [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)],
    },
    tokenCrypto(),
  );
}
