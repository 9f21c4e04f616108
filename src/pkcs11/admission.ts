// A check a session makes before every login and signature: is this token still allowed? The
// blocklist of lost tokens (src/lockout/blocklist.ts) is one; the core only knows this interface,
// so the PKCS#11 layer does not depend on the lockout layer.
import { createHash } from 'node:crypto';
import { findByClass } from './objects.js';
import { readCertificate } from './certificates.js';
import type { Handle, RawPkcs11 } from './binding.js';
import type { X509Certificate } from '../algorithms/x509.js';

export interface TokenIdentity {
  serial?: string;
  certificates?: ReadonlyArray<X509Certificate | Uint8Array>;
  /** SHA-256 of each certificate's DER, lower-case hex: a cheaper form of `certificates`. */
  certificateFingerprints?: readonly string[];
  /** A security key's WebAuthn credential ids (base64url or bytes), e.g. the one that just signed. */
  fidoCredentialIds?: ReadonlyArray<string | Uint8Array>;
}

export interface TokenAdmission {
  /** Throws (e.g. TokenBlockedError) when the token must not be used. */
  assertAllowed(identity: TokenIdentity): void;
}

/** The token's identity as an admission check sees it: its serial and its certificates' fingerprints. */
export function readTokenIdentity(lib: RawPkcs11, session: Handle, serial: string): Required<Pick<TokenIdentity, 'serial' | 'certificateFingerprints'>> {
  // Certificates are public objects: readable before login, so a blocked card never sees the PIN.
  const certificateFingerprints = findByClass(lib, session, 'certificate').map((handle) =>
    createHash('sha256').update(Buffer.from(readCertificate(lib, session, handle).certificate.rawData)).digest('hex'),
  );
  return { serial, certificateFingerprints };
}
