// Enrollment's certificate checks fail closed, each with its reason code; and the challenge
// message is canonical and binds every field.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkCertificate, type CertificateCheck } from '../src/verifier/credentials/certificate-policy.js';
import { challengeMessage, ChallengeMessageError, type ChallengeMessageFields } from '../src/verifier/protocol.js';
import { x509 } from '../src/algorithms/x509.js';
import { crl, issue, rootCa } from './helpers/pki.js';

const DAY = 86_400_000;
const reason = (check: CertificateCheck) => (check.ok ? 'ok' : check.reason);

describe('certificate checks for enrollment', () => {
  it('accepts a self-signed certificate of every supported key type when no trust anchor is configured', async () => {
    const expected = { 'ec-p256': ['ECDSA-SHA256'], 'ec-p384': ['ECDSA-SHA384'], 'rsa-2048': ['RSA-PKCS1-SHA256', 'RSA-PSS-SHA256'], ed25519: ['Ed25519'] } as const;
    for (const [type, algorithms] of Object.entries(expected)) {
      const { certificate } = await issue({ type: type as keyof typeof expected });
      const check = await checkCertificate(certificate.toString('pem'));
      expect(check.ok, type).toBe(true);
      if (check.ok) {
        expect(check.accepted.algorithms).toEqual(algorithms);
        expect(check.accepted.fingerprint).toMatch(/^[0-9a-f]{64}$/);
      }
    }
  });

  it('refuses what cannot be proven acceptable, with a reason code for each', async () => {
    expect(reason(await checkCertificate('not a certificate'))).toBe('certificate_unparseable');
    expect(reason(await checkCertificate(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01])))).toBe('certificate_unparseable');
    expect(reason(await checkCertificate((await issue({ notAfter: new Date(Date.now() - DAY), notBefore: new Date(Date.now() - 2 * DAY) })).certificate))).toBe('certificate_expired');
    expect(reason(await checkCertificate((await issue({ notBefore: new Date(Date.now() + DAY) })).certificate))).toBe('certificate_not_yet_valid');
    expect(reason(await checkCertificate((await issue({ usages: null })).certificate))).toBe('certificate_no_digital_signature');
    expect(reason(await checkCertificate((await issue({ usages: x509.KeyUsageFlags.keyEncipherment })).certificate))).toBe('certificate_no_digital_signature');
    expect(reason(await checkCertificate((await issue({ type: 'ec-p521' })).certificate))).toBe('unsupported_algorithm');
    expect(reason(await checkCertificate((await issue({ type: 'rsa-1024' })).certificate))).toBe('weak_key');
  });

  it('with trust anchors, needs a chain to one of them: direct, through an intermediate, never self-signed or foreign', async () => {
    const root = await rootCa();
    const intermediate = await issue({ issuer: root, ca: true, subject: 'CN=Test Intermediate', usages: x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign });
    const direct = await issue({ issuer: root });
    const viaIntermediate = await issue({ issuer: intermediate, subject: 'CN=Second Holder' });
    const policy = { trustAnchors: [root.certificate], intermediates: [intermediate.certificate] };
    expect(reason(await checkCertificate(direct.certificate, policy))).toBe('ok');
    expect(reason(await checkCertificate(viaIntermediate.certificate, policy))).toBe('ok');
    expect(reason(await checkCertificate(viaIntermediate.certificate, { trustAnchors: [root.certificate] }))).toBe('certificate_untrusted');
    expect(reason(await checkCertificate((await issue()).certificate, policy))).toBe('certificate_untrusted');
    expect(reason(await checkCertificate(root.certificate, policy))).not.toBe('ok');
    const stranger = await rootCa('CN=Test Root');
    expect(reason(await checkCertificate((await issue({ issuer: stranger })).certificate, policy))).toBe('certificate_untrusted');
    // A leaf "issued" by a non-CA certificate does not chain.
    const notCa = await issue({ issuer: root, subject: 'CN=Not A CA' });
    expect(reason(await checkCertificate((await issue({ issuer: notCa, subject: 'CN=Third' })).certificate, { trustAnchors: [root.certificate], intermediates: [notCa.certificate] }))).toBe('certificate_untrusted');
  });

  it('refuses a certificate listed in its issuer\'s CRL, and a CRL that is not signed by the issuer or out of date', async () => {
    const root = await rootCa();
    const good = await issue({ issuer: root });
    const lost = await issue({ issuer: root, subject: 'CN=Lost Holder' });
    const policy = { trustAnchors: [root.certificate], crls: [await crl(root, [lost.certificate])] };
    expect(reason(await checkCertificate(good.certificate, policy))).toBe('ok');
    expect(reason(await checkCertificate(lost.certificate, policy))).toBe('certificate_revoked');
    const forger = await rootCa();
    expect(reason(await checkCertificate(good.certificate, { ...policy, crls: [await crl(root, [], { signer: forger })] }))).toBe('crl_invalid');
    expect(reason(await checkCertificate(good.certificate, { ...policy, crls: [await crl(root, [], { nextUpdate: new Date(Date.now() - 1000) })] }))).toBe('crl_invalid');
  });
});

describe('the challenge message', () => {
  const base: ChallengeMessageFields = { verifierId: 'door-1.example', purpose: 'login', username: 'alice', credentialId: 'cred-1', challenge: new Uint8Array(16).fill(7) };

  it('is the documented lines, byte for byte', () => {
    expect(challengeMessage(base).toString('utf8')).toBe(
      ['tokengate-challenge-v1', 'verifier:door-1.example', 'purpose:login', 'user:alice', 'credential:cred-1', `challenge:${Buffer.alloc(16, 7).toString('base64url')}`].join('\n'),
    );
    expect(challengeMessage({ ...base, challenge: Buffer.alloc(16, 7).toString('base64url') })).toEqual(challengeMessage(base));
  });

  it('refuses fields that would make it ambiguous', () => {
    for (const bad of [{ username: 'a\nchallenge:x' }, { verifierId: '' }, { credentialId: 'c\0' }, { purpose: 'other' }, { challenge: 'not base64url!' }, { challenge: new Uint8Array() }]) {
      expect(() => challengeMessage({ ...base, ...bad } as ChallengeMessageFields)).toThrow(ChallengeMessageError);
    }
  });

  it('differs whenever any field differs (property)', () => {
    const text = fc.string({ minLength: 1, maxLength: 12 }).filter((s) => !/[\r\n\0]/.test(s));
    const fields = fc.record({
      verifierId: text,
      purpose: fc.constantFrom('login' as const, 'enroll' as const, 'step-up' as const),
      username: text,
      credentialId: text,
      challenge: fc.uint8Array({ minLength: 1, maxLength: 20 }),
    });
    fc.assert(
      fc.property(fields, fields, (a, b) => {
        const same = a.verifierId === b.verifierId && a.purpose === b.purpose && a.username === b.username && a.credentialId === b.credentialId && Buffer.from(a.challenge).equals(Buffer.from(b.challenge));
        return challengeMessage(a).equals(challengeMessage(b)) === same;
      }),
      { numRuns: 500 },
    );
  });
});
