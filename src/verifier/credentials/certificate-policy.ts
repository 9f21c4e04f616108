// Checks a certificate before it is enrolled as a token credential, failing closed: anything that
// cannot be proven acceptable is refused with a reason code (for the audit log), never let through.
// Order: parse → validity window → key usage → key algorithm → chain to a trust anchor → CRL.
import { createHash } from 'node:crypto';
import { x509, X509Certificate } from '../../algorithms/x509.js';
import { classifyKey, type CredentialKeyInfo } from './key-algorithm.js';

export type CertificateRefusal =
  | 'certificate_unparseable'
  | 'certificate_not_yet_valid'
  | 'certificate_expired'
  | 'certificate_no_digital_signature'
  | 'unsupported_algorithm'
  | 'weak_key'
  | 'certificate_untrusted'
  | 'certificate_revoked'
  | 'crl_invalid';

export interface CertificatePolicy {
  /** Root (or pinned) certificates a chain must end in; none configured = no chain is required. */
  trustAnchors?: readonly X509Certificate[];
  /** Intermediate CA certificates that may complete a chain. */
  intermediates?: readonly X509Certificate[];
  /** Revocation lists (signed by a certificate of the chain); a listed serial is refused. */
  crls?: readonly x509.X509Crl[];
}

export interface AcceptedCertificate extends CredentialKeyInfo {
  certificate: X509Certificate;
  /** SHA-256 of the DER certificate, lower-case hex: the blocklist's identifier. */
  fingerprint: string;
  /** DER SubjectPublicKeyInfo. */
  spki: Buffer;
  subject: string;
  notBefore: Date;
  notAfter: Date;
}

export type CertificateCheck = { ok: true; accepted: AcceptedCertificate } | { ok: false; reason: CertificateRefusal; detail: string };

const refuse = (reason: CertificateRefusal, detail: string): CertificateCheck => ({ ok: false, reason, detail });

export function parseCertificate(input: X509Certificate | Uint8Array | string): X509Certificate | undefined {
  try {
    return input instanceof X509Certificate ? input : new X509Certificate(typeof input === 'string' ? input : Buffer.from(input));
  } catch {
    return undefined;
  }
}

export function certificateSha256(certificate: X509Certificate): string {
  return createHash('sha256').update(Buffer.from(certificate.rawData)).digest('hex');
}

function within(certificate: X509Certificate, now: Date): CertificateRefusal | undefined {
  if (now < certificate.notBefore) return 'certificate_not_yet_valid';
  if (now > certificate.notAfter) return 'certificate_expired';
  return undefined;
}

function isCa(certificate: X509Certificate): boolean {
  const bc = certificate.getExtension(x509.BasicConstraintsExtension);
  return bc?.ca === true;
}

/** Builds the chain from `certificate` to a trust anchor; every link valid now and signed by the next. */
async function chainToAnchor(certificate: X509Certificate, policy: CertificatePolicy, now: Date): Promise<X509Certificate[] | CertificateRefusal> {
  const anchors = policy.trustAnchors ?? [];
  const builder = new x509.X509ChainBuilder({ certificates: [...(policy.intermediates ?? []), ...anchors] });
  let chain: X509Certificate[];
  try {
    chain = [...(await builder.build(certificate))];
  } catch {
    return 'certificate_untrusted';
  }
  const top = chain.at(-1)!;
  const anchorPrints = new Set(anchors.map(certificateSha256));
  // The end certificate itself is never its own anchor: it must be issued by one.
  if (chain.length < 2 || !anchorPrints.has(certificateSha256(top))) return 'certificate_untrusted';
  for (const issuer of chain.slice(1)) {
    if (!isCa(issuer) || within(issuer, now) !== undefined) return 'certificate_untrusted';
  }
  return chain;
}

async function revoked(certificate: X509Certificate, chain: X509Certificate[], crls: readonly x509.X509Crl[], now: Date): Promise<CertificateRefusal | undefined> {
  const issuer = chain[1];
  for (const crl of crls) {
    if (crl.issuer !== certificate.issuer) continue;
    // A CRL counts only when a certificate of the chain signed it and it is current.
    if (!issuer) return 'crl_invalid';
    let signed = false;
    try {
      signed = await crl.verify({ publicKey: issuer });
    } catch {
      signed = false;
    }
    if (!signed || (crl.nextUpdate !== undefined && crl.nextUpdate < now)) return 'crl_invalid';
    if (crl.findRevoked(certificate)) return 'certificate_revoked';
  }
  return undefined;
}

/** Checks `input` against the policy at `now`. */
export async function checkCertificate(input: X509Certificate | Uint8Array | string, policy: CertificatePolicy = {}, now = new Date()): Promise<CertificateCheck> {
  const certificate = parseCertificate(input);
  if (!certificate) return refuse('certificate_unparseable', 'the certificate cannot be parsed');
  const window = within(certificate, now);
  if (window) return refuse(window, `valid ${certificate.notBefore.toISOString()} to ${certificate.notAfter.toISOString()}`);
  const usage = certificate.getExtension(x509.KeyUsagesExtension);
  if (!usage || (usage.usages & x509.KeyUsageFlags.digitalSignature) === 0) {
    return refuse('certificate_no_digital_signature', 'the key usage extension must allow digitalSignature');
  }
  const spki = Buffer.from(certificate.publicKey.rawData);
  const key = classifyKey(spki);
  if ('refusal' in key) return refuse(key.refusal, 'the public key type or size is not accepted');
  let chain: X509Certificate[] = [certificate];
  if ((policy.trustAnchors ?? []).length > 0) {
    const built = await chainToAnchor(certificate, policy, now);
    if (typeof built === 'string') return refuse(built, 'no chain to a configured trust anchor');
    chain = built;
  }
  if ((policy.crls ?? []).length > 0) {
    const revocation = await revoked(certificate, chain, policy.crls!, now);
    if (revocation) return refuse(revocation, revocation === 'certificate_revoked' ? 'listed in a CRL' : 'a CRL for this issuer is not signed by the chain or is out of date');
  }
  return {
    ok: true,
    accepted: {
      ...key,
      certificate,
      fingerprint: certificateSha256(certificate),
      spki,
      subject: certificate.subject,
      notBefore: certificate.notBefore,
      notAfter: certificate.notAfter,
    },
  };
}
