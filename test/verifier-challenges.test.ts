// Hardware-token challenge-response end to end: SoftHSM keys of every supported algorithm, their
// certificates issued by a test CA, enrolled with the verifier; the token signs through the library.
// Every refusal is checked with its audit reason; the replay race runs on SQLite and on PostgreSQL
// with two verifier instances.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultAlgorithm, Pkcs11Module, type Session, type SignatureAlgorithm } from '../src/index.js';
import { InvalidCredentialsError } from '../src/verifier/index.js';
import { CredentialNotFoundError, CredentialStateError, RateLimitedError } from '../src/verifier/errors.js';
import type { IssuedChallenge } from '../src/verifier/tokens/challenges.js';
import type { AuditRecord } from '../src/verifier/store/audit.js';
import { openDatabase, type Verifier } from '../src/verifier/verifier.js';
import { issue, rootCa, type Issued } from './helpers/pki.js';
import { useSoftHsm } from './helpers/softhsm.js';
import { certifyTokenKey } from './helpers/token-certificates.js';
import { ENGINES, openVerifier, useVerifierStack } from './helpers/verifier.js';

const hsm = useSoftHsm({ tokens: [{ label: 'enrolled' }] });
const stack = useVerifierStack();
const PASSWORD = 'correct horse battery';
const IP = '203.0.113.44';
const LABELS = ['p256', 'p384', 'rsa2048', 'ed25519'] as const;
let root: Issued;
let mod: Pkcs11Module;
let session: Session;
let clock = Date.now();
let verifier: Verifier;
const spki = new Map<string, Buffer>();
const credential = new Map<string, string>();

beforeAll(async () => {
  root = await rootCa();
  mod = await Pkcs11Module.load(hsm.current.modulePath);
  session = await mod.token({ label: 'enrolled' }).openSession();
  await session.login(hsm.current.tokens[0]!.userPin);
  for (const k of hsm.current.tokens[0]!.keys) spki.set(k.label, Buffer.from(k.publicKeyPem.replace(/-----[^-]+-----|\s/g, ''), 'base64'));
  verifier = await openVerifier(await stack.newDatabase('sqlite'), stack.smtp, {
    now: () => clock,
    verifierId: 'door-verifier',
    certificatePolicy: { trustAnchors: [root.certificate] },
    lockout: { threshold: 3 },
  });
  for (const username of ['alice', 'bob']) await verifier.admin.create('test', { username, email: `${username}@example.test`, password: PASSWORD });
  await verifier.admin.setChallengePolicy('test', 'alice', 'token-only');
  for (const label of LABELS) {
    const certificate = await certifyTokenKey(label, spki.get(label)!, root, { subject: `CN=Alice ${label}` });
    const enrolled = await verifier.credentials.enroll('test', { username: 'alice', certificate: certificate.toString('pem'), label, ...(label === 'p256' ? { serial: hsm.current.tokens[0]!.serial } : {}) });
    credential.set(label, enrolled.id);
  }
});
afterAll(async () => {
  await verifier?.close();
  await session?.close();
  await mod?.close();
});

async function challenge(label: string, username = 'alice', purpose: 'login' | 'step-up' = 'login'): Promise<IssuedChallenge> {
  return verifier.challenges.issue({ username, credential: { id: credential.get(label)! }, purpose, clientIp: IP });
}

async function sign(label: string, message: Buffer, algorithm?: SignatureAlgorithm): Promise<{ signature: Uint8Array; algorithm: SignatureAlgorithm }> {
  const key = await session.findPrivateKey({ label });
  const chosen = algorithm ?? defaultAlgorithm(key);
  return { signature: await session.signChallenge(key, message, { algorithm: chosen }), algorithm: chosen };
}

async function answer(issued: IssuedChallenge, signed: { signature: Uint8Array; algorithm: SignatureAlgorithm }, over: { username?: string; purpose?: 'login' | 'step-up'; password?: string } = {}) {
  return verifier.challenges.respond({ challengeId: issued.challengeId, username: over.username ?? 'alice', purpose: over.purpose ?? 'login', ...signed, ...(over.password ? { password: over.password } : {}), clientIp: IP });
}

/**
 * The entry written last. The log is in time order, and this file's clock goes forward and back
 * (expiries): entries from a moment it was ahead sort after later ones, so "last" is by id.
 */
function lastWritten(entries: AuditRecord[]): AuditRecord | undefined {
  return entries.reduce<AuditRecord | undefined>((last, e) => (last && last.id > e.id ? last : e), undefined);
}

async function refusedWith(attempt: Promise<unknown>, reason: string, subject = 'alice'): Promise<void> {
  await expect(attempt).rejects.toBeInstanceOf(InvalidCredentialsError);
  const last = lastWritten((await verifier.audit({ subject, limit: 1000 })).filter((e) => e.action.startsWith('challenge.')));
  expect(last).toMatchObject({ result: 'failure', reason });
}

describe('challenge-response with enrolled SoftHSM keys', () => {
  it('accepts a fresh signature by each key type, the message naming verifier, purpose, user, credential and challenge', async () => {
    for (const [label, algorithm] of [['p256'], ['p384'], ['rsa2048', 'RSA-PKCS1-SHA256'], ['rsa2048', 'RSA-PSS-SHA256'], ['ed25519']] as const) {
      const issued = await challenge(label);
      expect(issued.fields).toMatchObject({ verifierId: 'door-verifier', purpose: 'login', username: 'alice', credentialId: credential.get(label) });
      expect(Buffer.from(issued.fields.challenge, 'base64url').length).toBeGreaterThanOrEqual(16);
      await expect(answer(issued, await sign(label, issued.message, algorithm))).resolves.toMatchObject({ username: 'alice', credentialId: credential.get(label) });
    }
  });

  it('refuses a forged signature, another enrolled key\'s signature, a replay, another user\'s challenge and another purpose', async () => {
    let issued = await challenge('p256');
    await refusedWith(answer(issued, { signature: randomBytes(64), algorithm: 'ECDSA-SHA256' }), 'bad_signature');

    issued = await challenge('p256');
    // A real signature of the right message, by the wrong (also enrolled) key.
    const other = await sign('p384', issued.message);
    await refusedWith(answer(issued, { ...other, algorithm: 'ECDSA-SHA256' }), 'bad_signature');

    issued = await challenge('p256');
    const good = await sign('p256', issued.message);
    await expect(answer(issued, good)).resolves.toBeTruthy();
    await refusedWith(answer(issued, good), 'challenge_replayed');

    issued = await challenge('p256');
    await refusedWith(answer(issued, await sign('p256', issued.message), { username: 'bob' }), 'wrong_user', 'bob');

    issued = await challenge('p256', 'alice', 'step-up');
    await refusedWith(answer(issued, await sign('p256', issued.message)), 'wrong_purpose');
    // The credential's counter took only the forged and wrong-key answers; the lock threshold is 3.
    expect((await verifier.credentials.get(credential.get('p256')!)).locked).toBe(false);
  });

  it('refuses an expired challenge', async () => {
    const issued = await challenge('p256');
    const signed = await sign('p256', issued.message);
    clock += 61_000;
    try {
      await refusedWith(answer(issued, signed), 'challenge_expired');
    } finally {
      clock -= 61_000;
    }
  });

  it('purges challenges an hour after they expired: answering one then finds nothing', async () => {
    const old = await challenge('p384');
    const signed = await sign('p384', old.message);
    clock += 2 * 3_600_000;
    try {
      const fresh = await challenge('p384');
      expect((await verifier.housekeep()).challenges).toBeGreaterThan(0);
      await refusedWith(answer(old, signed), 'challenge_unknown');
      // The one not yet expired an hour is kept, and answers.
      await expect(answer(fresh, await sign('p384', fresh.message))).resolves.toMatchObject({ username: 'alice' });
    } finally {
      clock -= 2 * 3_600_000;
    }
  });

  it('blocks a lost token at once: its outstanding challenge dies, it is listed, and disabled or revoked ones are refused too', async () => {
    const before = await verifier.credentials.blocklist();
    const outstanding = await challenge('p256');
    const signed = await sign('p256', outstanding.message);
    await verifier.credentials.apply('helpdesk', credential.get('p256')!, 'block', 'reported lost');
    await refusedWith(answer(outstanding, signed), 'credential_blocked');
    // Asked again, the verifier says plainly that the token is blocked (its holder should know).
    await expect(challenge('p256')).rejects.toMatchObject({ code: 'ERR_CREDENTIAL_STATE', message: 'this token is blocked' });
    const list = await verifier.credentials.blocklist();
    expect(list.version).toBeGreaterThan(before.version);
    expect(list.serials).toContain(hsm.current.tokens[0]!.serial);
    expect(list.certificateFingerprints).toContain((await verifier.credentials.get(credential.get('p256')!)).fingerprint);
    // Found again: enabled, off the list.
    await verifier.credentials.apply('helpdesk', credential.get('p256')!, 'enable', 'found');
    expect((await verifier.credentials.blocklist()).serials).not.toContain(hsm.current.tokens[0]!.serial);

    const p384 = await challenge('p384');
    await verifier.credentials.apply('admin', credential.get('p384')!, 'disable');
    await refusedWith(answer(p384, await sign('p384', p384.message)), 'credential_disabled');
    await verifier.credentials.apply('admin', credential.get('p384')!, 'enable');

    const ed = await challenge('ed25519');
    await verifier.credentials.apply('admin', credential.get('ed25519')!, 'revoke', 'left the company');
    await refusedWith(answer(ed, await sign('ed25519', ed.message)), 'credential_revoked');
    await expect(verifier.credentials.apply('admin', credential.get('ed25519')!, 'enable')).rejects.toMatchObject({ code: 'ERR_CREDENTIAL_STATE' });
    const audit = (await verifier.audit({ subject: 'alice', limit: 1000 })).map((e) => `${e.action}:${e.reason}`);
    expect(audit).toEqual(expect.arrayContaining(['credential.block:reported lost', 'credential.revoke:left the company']));
  });

  it('refuses an expired certificate at answer time, and untrusted or expired certificates at enrollment', async () => {
    const p384 = spki.get('p384')!;
    // One token, one user: the same key under another certificate is refused.
    const twin = await certifyTokenKey('p384', p384, root);
    await expect(verifier.credentials.enroll('test', { username: 'bob', certificate: twin.toString('pem') })).rejects.toMatchObject({ code: 'ERR_CREDENTIAL_EXISTS' });

    const selfSigned = await issue({ type: 'ec-p256', subject: 'CN=Nobody trusts me' });
    await expect(verifier.credentials.enroll('test', { username: 'bob', certificate: selfSigned.certificate.toString('pem') })).rejects.toMatchObject({ reason: 'certificate_untrusted' });
    const expired = await issue({ type: 'ec-p256', issuer: root, notBefore: new Date(clock - 10 * 86_400_000), notAfter: new Date(clock - 86_400_000) });
    await expect(verifier.credentials.enroll('test', { username: 'bob', certificate: expired.certificate.toString('pem') })).rejects.toMatchObject({ reason: 'certificate_expired' });
    const reasons = (await verifier.audit({ subject: 'bob', action: 'credential.enroll' })).map((e) => e.reason);
    expect(reasons).toEqual(['certificate_untrusted', 'certificate_expired']);

    // A certificate that expires while enrolled: refused once it has.
    const soon = await issue({ type: 'ec-p256', issuer: root, notAfter: new Date(clock + 3_600_000) });
    const enrolled = await verifier.credentials.enroll('test', { username: 'bob', certificate: soon.certificate.toString('pem') });
    await verifier.admin.setChallengePolicy('test', 'bob', 'token-only');
    const issued = await verifier.challenges.issue({ username: 'bob', credential: { id: enrolled.id }, purpose: 'login', clientIp: IP });
    const { webcrypto } = await import('node:crypto');
    const raw = new Uint8Array(await webcrypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, soon.keys.privateKey, issued.message));
    clock += 2 * 3_600_000;
    try {
      await refusedWith(verifier.challenges.respond({ challengeId: issued.challengeId, username: 'bob', purpose: 'login', signature: raw, algorithm: 'ECDSA-SHA256', clientIp: IP }), 'challenge_expired', 'bob');
      const fresh = await verifier.challenges.issue({ username: 'bob', credential: { id: enrolled.id }, purpose: 'login', clientIp: IP });
      const sig = new Uint8Array(await webcrypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, soon.keys.privateKey, fresh.message));
      await refusedWith(verifier.challenges.respond({ challengeId: fresh.challengeId, username: 'bob', purpose: 'login', signature: sig, algorithm: 'ECDSA-SHA256', clientIp: IP }), 'certificate_expired', 'bob');
    } finally {
      clock -= 2 * 3_600_000;
    }
  });

  it('password + token: the password is checked first; a client range can make the token enough', async () => {
    await verifier.admin.setChallengePolicy('test', 'alice', 'password+token');
    try {
      let issued = await challenge('p384');
      expect(issued.passwordRequired).toBe(true);
      // Said plainly (its own code), audited as refused, not as a failed guess.
      await expect(answer(issued, await sign('p384', issued.message))).rejects.toMatchObject({ code: 'ERR_PASSWORD_REQUIRED' });
      expect(lastWritten(await verifier.audit({ subject: 'alice', action: 'challenge.login', limit: 1000 }))).toMatchObject({ result: 'refused', reason: 'password_missing' });
      issued = await challenge('p384');
      await expect(answer(issued, await sign('p384', issued.message), { password: 'not the password' })).rejects.toBeInstanceOf(InvalidCredentialsError);
      expect(lastWritten(await verifier.audit({ subject: 'alice', limit: 1000 }))).toMatchObject({ reason: 'bad_password' });
      issued = await challenge('p384');
      await expect(answer(issued, await sign('p384', issued.message), { password: PASSWORD })).resolves.toBeTruthy();
      // The kiosk network: the card and its PIN suffice there.
      await verifier.organisation.setChallengePolicyRange('test', '203.0.113.0/24', 'token-only');
      issued = await challenge('p384');
      expect(issued.passwordRequired).toBe(false);
      await expect(answer(issued, await sign('p384', issued.message))).resolves.toBeTruthy();
    } finally {
      await verifier.organisation.setChallengePolicyRange('test', '203.0.113.0/24', undefined);
      await verifier.admin.setChallengePolicy('test', 'alice', 'token-only');
    }
  });

  it('locks a credential after the threshold of invalid signatures; an admin unlock frees it', async () => {
    for (let i = 0; i < 3; i++) {
      const issued = await challenge('rsa2048');
      await refusedWith(answer(issued, { signature: randomBytes(256), algorithm: 'RSA-PKCS1-SHA256' }), 'bad_signature');
    }
    expect((await verifier.credentials.get(credential.get('rsa2048')!)).locked).toBe(true);
    const issued = await challenge('rsa2048');
    await refusedWith(answer(issued, await sign('rsa2048', issued.message, 'RSA-PKCS1-SHA256')), 'credential_locked');
    await verifier.credentials.unlock('admin', credential.get('rsa2048')!);
    const again = await challenge('rsa2048');
    await expect(answer(again, await sign('rsa2048', again.message, 'RSA-PKCS1-SHA256'))).resolves.toBeTruthy();
  });

  it('issues a temporary replacement password for a lost token: with the user\'s password it lets them in', async () => {
    const { password: temporary, expiresAt } = await verifier.temporaryPasswords.issue('helpdesk', 'bob', { deliver: 'show' });
    expect(temporary).toMatch(/^[A-Za-z0-9]{20}$/);
    expect(expiresAt.getTime() - clock).toBe(10 * 86_400_000);
    await expect(verifier.temporaryPasswords.login({ username: 'bob', password: PASSWORD, temporaryPassword: temporary!, clientIp: IP })).resolves.toMatchObject({ username: 'bob' });
    await expect(verifier.temporaryPasswords.login({ username: 'bob', password: PASSWORD, temporaryPassword: 'x'.repeat(20), clientIp: IP })).rejects.toBeInstanceOf(InvalidCredentialsError);
    clock += 11 * 86_400_000;
    try {
      await expect(verifier.temporaryPasswords.login({ username: 'bob', password: PASSWORD, temporaryPassword: temporary!, clientIp: IP })).rejects.toBeInstanceOf(InvalidCredentialsError);
    } finally {
      clock -= 11 * 86_400_000;
    }
    // Mailed instead of shown: it arrives at bob's address.
    await verifier.temporaryPasswords.issue('helpdesk', 'bob', { deliver: 'mail' });
    await stack.smtp.nextMail('bob@example.test'); // the first: bob's security token, when he was created
    const mail = await stack.smtp.nextMail('bob@example.test');
    expect(mail.text).toMatch(/Temporary password: [A-Za-z0-9]{20}/);
  });
});

describe.each(ENGINES)('the replay race on %s', (engine) => {
  it('twenty copies of one response at once, across two verifier instances: exactly one succeeds', async () => {
    const database = await stack.newDatabase(engine);
    const first = await openVerifier(database, stack.smtp, { verifierId: 'race' });
    const second = engine === 'postgres' ? await openVerifier(database, stack.smtp, { verifierId: 'race' }) : first;
    try {
      await first.admin.create('test', { username: 'racer', email: 'racer@example.test', password: PASSWORD });
      await first.admin.setChallengePolicy('test', 'racer', 'token-only');
      const enrolled = await first.credentials.enroll('test', { username: 'racer', publicKey: spki.get('p256')! });
      const issued = await first.challenges.issue({ username: 'racer', credential: { id: enrolled.id }, purpose: 'login', clientIp: IP });
      const signed = await sign('p256', issued.message);
      const outcomes = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) =>
          (i % 2 === 0 ? first : second).challenges.respond({ challengeId: issued.challengeId, username: 'racer', purpose: 'login', ...signed, clientIp: IP }),
        ),
      );
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
      const reasons = (await first.audit({ subject: 'racer', action: 'challenge.login' })).map((e) => e.reason);
      expect(reasons.filter((r) => r === 'ok')).toHaveLength(1);
      expect(reasons.filter((r) => r === 'challenge_replayed')).toHaveLength(19);
    } finally {
      if (second !== first) await second.close();
      await first.close();
    }
  });
});

describe.each(ENGINES)('the client address budget on %s', (engine) => {
  it('an address over its failure budget is refused before any signature of its is checked; other addresses are not', async () => {
    const database = await stack.newDatabase(engine);
    const budgeted = await openVerifier(database, stack.smtp, { verifierId: 'budget', ipLimit: { failures: 3 }, lockout: { threshold: 10 } });
    const guesser = '198.51.100.7';
    try {
      await budgeted.admin.create('test', { username: 'carol', email: 'carol@example.test', password: PASSWORD });
      await budgeted.admin.setChallengePolicy('test', 'carol', 'token-only');
      const enrolled = await budgeted.credentials.enroll('test', { username: 'carol', publicKey: spki.get('p256')! });
      const ask = (clientIp: string) => budgeted.challenges.issue({ username: 'carol', credential: { id: enrolled.id }, purpose: 'login', clientIp });
      const reply = (issued: IssuedChallenge, signed: { signature: Uint8Array; algorithm: SignatureAlgorithm }, clientIp: string) =>
        budgeted.challenges.respond({ challengeId: issued.challengeId, username: 'carol', purpose: 'login', ...signed, clientIp });
      // Asked for while the address was still in budget, answered correctly after it ran out.
      const pending = await ask(guesser);
      for (let i = 0; i < 3; i++) {
        const issued = await ask(guesser);
        await expect(reply(issued, { signature: randomBytes(64), algorithm: 'ECDSA-SHA256' }, guesser)).rejects.toBeInstanceOf(InvalidCredentialsError);
      }
      await expect(reply(pending, await sign('p256', pending.message), guesser)).rejects.toBeInstanceOf(RateLimitedError);
      await expect(ask(guesser)).rejects.toBeInstanceOf(RateLimitedError);
      const audit = await budgeted.audit({ subject: 'carol' });
      expect(audit.filter((e) => e.reason === 'ip_rate_limited').map((e) => e.action)).toEqual(['challenge.login', 'challenge.issue']);
      // The refused answer checked no signature: the credential counted only the three bad ones.
      expect(audit.filter((e) => e.reason === 'bad_signature')).toHaveLength(3);
      // The user, from another address, is not held back by the guesser.
      const fresh = await ask(IP);
      await expect(reply(fresh, await sign('p256', fresh.message), IP)).resolves.toMatchObject({ username: 'carol' });
    } finally {
      await budgeted.close();
    }
  });
});

describe.each(ENGINES)('issuing challenges on %s', (engine) => {
  it('stores a challenge only when one is handed out: unknown user or token, blocked token, deactivated or frozen user get none', async () => {
    const database = await stack.newDatabase(engine);
    const issuer = await openVerifier(database, stack.smtp, { verifierId: 'issuer' });
    const store = openDatabase(database);
    try {
      await issuer.admin.create('test', { username: 'erin', email: 'erin@example.test', password: PASSWORD });
      const enrolled = await issuer.credentials.enroll('test', { username: 'erin', publicKey: spki.get('p256')!, serial: 'ERIN-1' });
      const ask = (over: { username?: string; credential?: { id: string } | { serial: string } } = {}) =>
        issuer.challenges.issue({ credential: over.credential ?? { id: enrolled.id }, purpose: 'login', clientIp: IP, ...('username' in over ? (over.username === undefined ? {} : { username: over.username }) : { username: 'erin' }) });
      const stored = async () => (await store.get<{ n: number }>('SELECT count(*) AS n FROM challenges'))!.n;

      const first = await ask();
      const byTokenAlone = await ask({ username: undefined, credential: { serial: 'ERIN-1' } });
      expect(byTokenAlone.fields.username).toBe('erin');
      expect(Number(await stored())).toBe(2);
      await expect(ask({ username: 'nobody' })).rejects.toBeInstanceOf(InvalidCredentialsError);
      await expect(ask({ credential: { id: 'no-such-credential' } })).rejects.toBeInstanceOf(CredentialNotFoundError);
      await expect(ask({ username: undefined, credential: { serial: 'NO-SUCH' } })).rejects.toBeInstanceOf(CredentialNotFoundError);
      await issuer.admin.apply('test', 'erin', 'freeze');
      await expect(ask()).rejects.toBeInstanceOf(InvalidCredentialsError);
      await issuer.admin.apply('test', 'erin', 'unfreeze');
      await issuer.admin.apply('test', 'erin', 'deactivate');
      await expect(ask()).rejects.toBeInstanceOf(InvalidCredentialsError);
      await issuer.admin.apply('test', 'erin', 'reactivate');
      await issuer.credentials.apply('test', enrolled.id, 'block', 'lost');
      await expect(ask()).rejects.toBeInstanceOf(CredentialStateError);
      expect(Number(await stored())).toBe(2);
      const reasons = (await issuer.audit({ action: 'challenge.issue' })).map((e) => e.reason);
      expect(reasons).toEqual(['unknown_user', 'credential_unknown', 'credential_unknown', 'frozen', 'deactivated', 'credential_blocked']);
      // The challenges handed out are the stored ones, bound to erin and her token.
      const rows = await store.all<{ id: string; credential_id: string }>('SELECT id, credential_id FROM challenges ORDER BY created_at, id');
      expect(rows.map((r) => r.id).sort()).toEqual([first.challengeId, byTokenAlone.challengeId].sort());
      expect(new Set(rows.map((r) => r.credential_id))).toEqual(new Set([enrolled.id]));
    } finally {
      await store.close();
      await issuer.close();
    }
  });
});
