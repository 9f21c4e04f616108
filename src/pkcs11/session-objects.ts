// A session's object functions (PKCS#11's object management group): finding and listing keys and
// certificates, a key's public half, storing a certificate. Each runs as one exclusive operation
// of the session; Session's methods of the same names forward here.
import { call, type Handle, type RawPkcs11 } from './binding.js';
import { CKS_RO_USER_FUNCTIONS, CKS_RW_USER_FUNCTIONS } from './constants.js';
import { InvalidArgumentError, KeyNotFoundError, NotLoggedInError, SessionReadOnlyError } from './errors.js';
import { describeRef, findByClass, findOne, readKey, type ObjectRef, type TokenKey } from './objects.js';
import { PublicKey, publicKeyJwk } from './public-key.js';
import { createCertificateObject, readCertificate, type ImportCertificateOptions, type TokenCertificate } from './certificates.js';
import type { X509Certificate } from '../algorithms/x509.js';
import type { Session } from './session.js';

/** True when the session is logged in as the user, the only role that may use private keys. */
export function userLoggedIn(lib: RawPkcs11, session: Handle): boolean {
  const { state } = call(lib, 'C_GetSessionInfo', session);
  return state === CKS_RO_USER_FUNCTIONS || state === CKS_RW_USER_FUNCTIONS;
}

/** The first private key matching `ref`; run inside `exclusive`. */
export function privateKeyIn(lib: RawPkcs11, session: Handle, ref: ObjectRef): TokenKey {
  const found = findByClass(lib, session, 'privateKey', ref);
  if (found.length > 0) return readKey(lib, session, found[0]!);
  // Private keys are private objects, invisible until the user logs in: without a login the
  // search finds nothing, and "not logged in" is the answer that tells the caller what to do.
  if (!userLoggedIn(lib, session)) throw new NotLoggedInError(`log in as the user to use private key ${describeRef(ref)}`);
  throw new KeyNotFoundError(`no private key with ${describeRef(ref)} on the token`);
}

export function findPrivateKey(s: Session, ref: ObjectRef): Promise<TokenKey> {
  return s.exclusive((lib, session) => privateKeyIn(lib, session, ref));
}

export function findPublicKey(s: Session, ref: ObjectRef): Promise<TokenKey> {
  return s.exclusive((lib, session) => readKey(lib, session, findOne(lib, session, 'publicKey', ref)));
}

export function listKeys(s: Session, objectClass: 'privateKey' | 'publicKey'): Promise<TokenKey[]> {
  return s.exclusive((lib, session) =>
    findByClass(lib, session, objectClass).flatMap((h) => {
      try {
        return [readKey(lib, session, h)];
      } catch {
        return []; // a key of a type we do not sign with (AES, DSA…) is not listed
      }
    }),
  );
}

export function findCertificate(s: Session, ref: ObjectRef): Promise<TokenCertificate> {
  return s.exclusive((lib, session) => readCertificate(lib, session, findOne(lib, session, 'certificate', ref)));
}

export function listCertificates(s: Session): Promise<TokenCertificate[]> {
  return s.exclusive((lib, session) => findByClass(lib, session, 'certificate').map((h) => readCertificate(lib, session, h)));
}

/** The public half of a key pair: the public key object with the same CKA_ID, else the certificate's key. */
export function publicKeyOf(s: Session, ref: ObjectRef | TokenKey): Promise<PublicKey> {
  // Lookup and read are one exclusive operation, so a close() queued meanwhile cannot fall between them.
  return s.exclusive((lib, session) => {
    let key: TokenKey;
    if ('handle' in ref) key = ref;
    else {
      // The private key when it is visible (logged in), else the public key object itself.
      const priv = findByClass(lib, session, 'privateKey', ref);
      key = readKey(lib, session, priv[0] ?? findOne(lib, session, 'publicKey', ref));
    }
    if (key.objectClass === 'publicKey') return new PublicKey(publicKeyJwk(lib, session, key), key);
    const pub = findByClass(lib, session, 'publicKey', { id: key.id });
    if (pub.length > 0) return new PublicKey(publicKeyJwk(lib, session, readKey(lib, session, pub[0]!)), key);
    const certs = findByClass(lib, session, 'certificate', { id: key.id });
    if (certs.length > 0) {
      const jwk = readCertificate(lib, session, certs[0]!).publicKey.jwk();
      return new PublicKey(jwk, key);
    }
    // The token is there; the key's public half is not: a missing object, not a missing token.
    throw new KeyNotFoundError(`no public key or certificate shares the id of "${key.label}"`);
  });
}

/** Stores an X.509 certificate on the token; give it the key pair's CKA_ID so the two pair up. */
export async function importCertificate(s: Session, certificate: X509Certificate | Uint8Array | string, options: ImportCertificateOptions): Promise<TokenCertificate> {
  if (typeof options !== "object" || options === null) throw new InvalidArgumentError('importing a certificate needs { label, id }');
  if (!(options.id instanceof Uint8Array) || options.id.length === 0) return Promise.reject(new InvalidArgumentError('a certificate needs the non-empty CKA_ID of its key'));
  if (!s.readWrite) return Promise.reject(new SessionReadOnlyError('open the session with { write: true } to store a certificate'));
  return s.exclusive((lib, session) => {
    s.forgetIdentity(); // a new certificate changes what the admission check sees
    return readCertificate(lib, session, createCertificateObject(lib, session, certificate, options));
  });
}
