// The security-token scheme as Salesforce users know it, each behaviour its own test, on SQLite
// and on a real PostgreSQL; mail through a real SMTP peer, tokens read from the received mails.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidCredentialsError, NoSecurityTokenError } from '../src/verifier/errors.js';
import type { Verifier } from '../src/verifier/verifier.js';
import { ServerSecret } from '../src/verifier/server-secret.js';
import { ENGINES, openVerifier, secretOf, tokenIn, useVerifierStack } from './helpers/verifier.js';

const OUTSIDE = '203.0.113.7';
const OFFICE = '198.51.100.20';
const PASSWORD = 'correct horse battery';

const stack = useVerifierStack();

async function refusal(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => 'accepted',
    (err: unknown) => err,
  );
}

describe.each(ENGINES)('security tokens on %s', (engine) => {
  let verifier: Verifier;
  let database: string;
  let seq = 0;
  afterEach(async () => {
    await verifier?.close();
  });

  /** A verifier and a user with their first token, read from the mail they received. */
  async function setUp(options: { loginIpRanges?: string[] } = {}): Promise<{ username: string; email: string; token: string }> {
    database = await stack.newDatabase(engine);
    verifier = await openVerifier(database, stack.smtp);
    const username = `user${++seq}.${engine}`;
    const email = `${username}@example.test`;
    await verifier.admin.create('test', { username, email, password: PASSWORD, ...options });
    if (options.loginIpRanges?.length) return { username, email, token: '' };
    return { username, email, token: tokenIn((await stack.smtp.nextMail(email)).text) };
  }

  it('mails a 24-character alphanumeric token; the token is case-sensitive, the username is not', async () => {
    const { username, token } = await setUp();
    expect(token).toMatch(/^[A-Za-z0-9]{24}$/);
    await expect(verifier.login({ username: username.toUpperCase(), password: PASSWORD, securityToken: token, clientIp: OUTSIDE })).resolves.toMatchObject({
      via: { kind: 'security-token', name: 'default' },
    });
    const swapped = token.replace(/[A-Za-z]/, (c) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()));
    expect(await refusal(verifier.login({ username, password: PASSWORD, securityToken: swapped, clientIp: OUTSIDE }))).toBeInstanceOf(InvalidCredentialsError);
  });

  it('takes the token in its own field or appended to the password', async () => {
    const { username, token } = await setUp();
    await expect(verifier.login({ username, password: PASSWORD, securityToken: token, clientIp: OUTSIDE })).resolves.toMatchObject({ username });
    await expect(verifier.login({ username, password: PASSWORD + token, clientIp: OUTSIDE })).resolves.toMatchObject({ via: { kind: 'security-token' } });
    // Outside the trusted ranges the password alone is not enough.
    expect(await refusal(verifier.login({ username, password: PASSWORD, clientIp: OUTSIDE }))).toBeInstanceOf(InvalidCredentialsError);
    const audit = await verifier.audit({ subject: username, action: 'login' });
    // Too short to hold a token: refused before the token is even looked for.
    expect(audit.at(-1)).toMatchObject({ result: 'failure', reason: 'token_missing' });
    expect(await refusal(verifier.login({ username, password: 'a'.repeat(30) + token, clientIp: OUTSIDE }))).toBeInstanceOf(InvalidCredentialsError);
    expect((await verifier.audit({ subject: username, action: 'login' })).at(-1)).toMatchObject({ reason: 'bad_password' });
  });

  it('accepts the password alone from a trusted range, and password + token there too', async () => {
    const { username, token } = await setUp();
    await verifier.organisation.addTrustedRange('test', '198.51.100.0/24', 'office');
    await expect(verifier.login({ username, password: PASSWORD, clientIp: OFFICE })).resolves.toMatchObject({ via: { kind: 'trusted-range' } });
    await expect(verifier.login({ username, password: PASSWORD + token, clientIp: OFFICE })).resolves.toMatchObject({ via: { kind: 'security-token' } });
    await expect(verifier.login({ username, password: PASSWORD, clientIp: `::ffff:${OFFICE}` })).resolves.toMatchObject({ username });
    expect(await refusal(verifier.login({ username, password: PASSWORD, clientIp: OUTSIDE }))).toBeInstanceOf(InvalidCredentialsError);
    await verifier.organisation.addTrustedRange('test', '2001:db8::/32');
    await expect(verifier.login({ username, password: PASSWORD, clientIp: '2001:db8::42' })).resolves.toMatchObject({ username });
  });

  it('refuses a user with login ranges outside them, even with the right password, and offers no token reset', async () => {
    const { username, email } = await setUp({ loginIpRanges: ['198.51.100.0/24', '2001:db8:1::/48'] });
    await expect(verifier.login({ username, password: PASSWORD, clientIp: OFFICE })).resolves.toMatchObject({ via: { kind: 'login-range' } });
    await expect(verifier.login({ username, password: PASSWORD, clientIp: '2001:db8:1::9' })).resolves.toMatchObject({ username });
    expect(await refusal(verifier.login({ username, password: PASSWORD, clientIp: OUTSIDE }))).toBeInstanceOf(InvalidCredentialsError);
    expect((await verifier.audit({ subject: username, action: 'login' })).at(-1)).toMatchObject({ reason: 'outside_login_ranges' });
    expect(await refusal(verifier.selfService.resetSecurityToken({ username, password: PASSWORD, clientIp: OFFICE }))).toBeInstanceOf(NoSecurityTokenError);
    expect((await verifier.admin.get(username)).securityTokens).toEqual([]);
    await verifier.deliverMail();
    expect(stack.smtp.received.filter((m) => m.to === email)).toEqual([]);
  });

  it('a token reset mails a new token and the old one stops working at once', async () => {
    const { username, email, token: old } = await setUp();
    await verifier.selfService.resetSecurityToken({ username, password: PASSWORD, clientIp: OUTSIDE });
    const fresh = tokenIn((await stack.smtp.nextMail(email)).text);
    expect(fresh).not.toBe(old);
    expect(await refusal(verifier.login({ username, password: PASSWORD, securityToken: old, clientIp: OUTSIDE }))).toBeInstanceOf(InvalidCredentialsError);
    await expect(verifier.login({ username, password: PASSWORD, securityToken: fresh, clientIp: OUTSIDE })).resolves.toMatchObject({ username });
    // A reset needs the current password.
    expect(await refusal(verifier.selfService.resetSecurityToken({ username, password: 'not the password', clientIp: OUTSIDE }))).toBeInstanceOf(InvalidCredentialsError);
  });

  it('a password change resets the token too, and mails the new one', async () => {
    const { username, email, token: old } = await setUp();
    const newPassword = 'a different passphrase';
    await verifier.selfService.changePassword({ username, password: PASSWORD, newPassword, clientIp: OUTSIDE });
    const mail = await stack.smtp.nextMail(email);
    expect(mail.text).toContain('password was reset');
    const fresh = tokenIn(mail.text);
    expect(await refusal(verifier.login({ username, password: newPassword, securityToken: old, clientIp: OUTSIDE }))).toBeInstanceOf(InvalidCredentialsError);
    expect(await refusal(verifier.login({ username, password: PASSWORD, securityToken: fresh, clientIp: OUTSIDE }))).toBeInstanceOf(InvalidCredentialsError);
    await expect(verifier.login({ username, password: newPassword, securityToken: fresh, clientIp: OUTSIDE })).resolves.toMatchObject({ username });
    // An admin's password reset does the same.
    await verifier.admin.resetPassword('test', username, 'set by the admin');
    const third = tokenIn((await stack.smtp.nextMail(email)).text);
    await expect(verifier.login({ username, password: 'set by the admin' + third, clientIp: OUTSIDE })).resolves.toMatchObject({ username });
    expect(await refusal(verifier.login({ username, password: 'set by the admin' + fresh, clientIp: OUTSIDE }))).toBeInstanceOf(InvalidCredentialsError);
  });

  it('deactivation stops logins; reactivation brings the same token back', async () => {
    const { username, token } = await setUp();
    await verifier.admin.apply('test', username, 'deactivate');
    expect(await refusal(verifier.login({ username, password: PASSWORD, securityToken: token, clientIp: OUTSIDE }))).toBeInstanceOf(InvalidCredentialsError);
    expect((await verifier.audit({ subject: username, action: 'login' })).at(-1)).toMatchObject({ reason: 'deactivated' });
    await verifier.admin.apply('test', username, 'reactivate');
    await expect(verifier.login({ username, password: PASSWORD, securityToken: token, clientIp: OUTSIDE })).resolves.toMatchObject({ username });
    // Freezing blocks the login without deactivating.
    await verifier.admin.apply('test', username, 'freeze');
    expect(await refusal(verifier.login({ username, password: PASSWORD, securityToken: token, clientIp: OUTSIDE }))).toBeInstanceOf(InvalidCredentialsError);
    expect(await verifier.admin.get(username)).toMatchObject({ active: true, frozen: true });
    await verifier.admin.apply('test', username, 'unfreeze');
    await expect(verifier.login({ username, password: PASSWORD, securityToken: token, clientIp: OUTSIDE })).resolves.toMatchObject({ username });
  });

  it('answers every failure the same way and audits the real reason', async () => {
    const { username, token } = await setUp();
    await verifier.organisation.addTrustedRange('test', '198.51.100.0/24');
    const failures = [
      { request: { username: 'nobody-here', password: PASSWORD, securityToken: token }, reason: 'unknown_user' },
      { request: { username, password: 'wrong password!', securityToken: token }, reason: 'bad_password' },
      { request: { username, password: PASSWORD, securityToken: token.slice(1) + 'x' }, reason: 'bad_token' },
      { request: { username, password: 'short' }, reason: 'token_missing' },
    ];
    const answers = [];
    for (const { request } of failures) answers.push(await refusal(verifier.login({ ...request, clientIp: OUTSIDE })));
    for (const answer of answers) {
      expect(answer).toBeInstanceOf(InvalidCredentialsError);
      expect(answer).toMatchObject({ code: 'ERR_INVALID_CREDENTIALS', message: 'invalid username, password, security token; or user locked out' });
    }
    const reasons = (await verifier.audit({ action: 'login' })).filter((e) => e.result === 'failure').map((e) => e.reason);
    expect(reasons).toEqual(failures.map((f) => f.reason));
    // The audit never holds a secret.
    const all = JSON.stringify(await verifier.audit());
    for (const secret of [PASSWORD, token, 'wrong password!']) expect(all).not.toContain(secret);
  });

  it('keeps several named tokens, each reset or revoked on its own', async () => {
    const { username, email, token: first } = await setUp();
    await verifier.admin.issueToken('test', username, 'ci-pipeline');
    const ci = tokenIn((await stack.smtp.nextMail(email)).text, 'ci-pipeline');
    await expect(verifier.login({ username, password: PASSWORD, securityToken: ci, clientIp: OUTSIDE })).resolves.toMatchObject({ via: { kind: 'security-token', name: 'ci-pipeline' } });
    await expect(verifier.login({ username, password: PASSWORD, securityToken: first, clientIp: OUTSIDE })).resolves.toMatchObject({ via: { name: 'default' } });
    await verifier.admin.revokeToken('test', username, 'ci-pipeline');
    expect(await refusal(verifier.login({ username, password: PASSWORD, securityToken: ci, clientIp: OUTSIDE }))).toBeInstanceOf(InvalidCredentialsError);
    await expect(verifier.login({ username, password: PASSWORD, securityToken: first, clientIp: OUTSIDE })).resolves.toMatchObject({ username });
    expect((await verifier.admin.get(username)).securityTokens.map((t) => t.name)).toEqual(['default']);
  });

  it('loses no token mail while the SMTP server refuses: it is queued and sent when it is back', async () => {
    const { username, email } = await setUp();
    stack.smtp.refusing = true;
    try {
      await verifier.selfService.resetSecurityToken({ username, password: PASSWORD, clientIp: OUTSIDE });
      await verifier.deliverMail();
      expect(await verifier.pendingMail()).toBe(1);
    } finally {
      stack.smtp.refusing = false;
    }
    // The queued retry (retryBaseMs 50, poll 100 ms) delivers it: waited for by event.
    const fresh = tokenIn((await stack.smtp.nextMail(email)).text);
    await expect(verifier.login({ username, password: PASSWORD, securityToken: fresh, clientIp: OUTSIDE })).resolves.toMatchObject({ username });
    expect(await verifier.pendingMail()).toBe(0);
  });

  it('a token mail queued before a stop is delivered by the next start, sealed meanwhile', async () => {
    const { username, email } = await setUp();
    stack.smtp.refusing = true;
    try {
      await verifier.selfService.resetSecurityToken({ username, password: PASSWORD, clientIp: OUTSIDE });
      await verifier.deliverMail();
    } finally {
      await verifier.close();
      stack.smtp.refusing = false;
    }
    // The queued body is sealed: the store alone does not reveal the token.
    verifier = await openVerifier(database, stack.smtp, { secret: ServerSecret.generate() });
    await verifier.deliverMail();
    expect(await verifier.pendingMail()).toBe(1);
    await verifier.close();
    verifier = await openVerifier(database, stack.smtp, { secret: secretOf(database) });
    const fresh = tokenIn((await stack.smtp.nextMail(email)).text);
    await expect(verifier.login({ username, password: PASSWORD, securityToken: fresh, clientIp: OUTSIDE })).resolves.toMatchObject({ username });
  });

  it('never stores a token or password in clear', async () => {
    const { username, token } = await setUp();
    await verifier.login({ username, password: PASSWORD, securityToken: token, clientIp: OUTSIDE });
    if (engine === 'sqlite') {
      await verifier.close();
      const bytes = Buffer.concat([readFileSync(database), readFileSync(`${database}-wal`, { flag: 'a+' })]);
      expect(bytes.includes(Buffer.from(token))).toBe(false);
      expect(bytes.includes(Buffer.from(PASSWORD))).toBe(false);
    } else {
      const view = JSON.stringify(await verifier.admin.get(username));
      expect(view).not.toContain(token);
    }
  });

  it('reminds the owner of a token past the maximum age, once', async () => {
    database = await stack.newDatabase(engine);
    let now = Date.now();
    verifier = await openVerifier(database, stack.smtp, { tokenMaxAgeDays: 90, now: () => now });
    const email = `aging.${engine}@example.test`;
    await verifier.admin.create('test', { username: `aging.${engine}`, email, password: PASSWORD });
    await stack.smtp.nextMail(email);
    expect(await verifier.organisation.remindStaleTokens()).toBe(0);
    now += 91 * 86_400_000;
    expect(await verifier.organisation.remindStaleTokens()).toBe(1);
    expect(await verifier.organisation.remindStaleTokens()).toBe(0);
    const reminder = await stack.smtp.nextMail(email);
    expect(reminder.subject).toContain('due for a reset');
    expect(reminder.text).not.toMatch(/[A-Za-z0-9]{24}/);
  });
});
