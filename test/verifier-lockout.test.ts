// Throttling and lockout that cannot be turned against users, on both stores.
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { splitAppended } from '../src/verifier/accounts/credentials.js';
import { InvalidCredentialsError, RateLimitedError } from '../src/verifier/errors.js';
import type { Verifier } from '../src/verifier/verifier.js';
import { ENGINES, openVerifier, tokenIn, useVerifierStack } from './helpers/verifier.js';

const PASSWORD = 'correct horse battery';
const IP = '203.0.113.9';

const stack = useVerifierStack();

describe('splitting password + appended token', () => {
  it('takes exactly the last tokenLength characters, and joins back to the input', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 80 }), fc.integer({ min: 16, max: 64 }), (input, length) => {
        const split = splitAppended(input, length);
        const chars = Array.from(input);
        if (chars.length <= length) return split === undefined;
        return split !== undefined && Array.from(split.token).length === length && split.password + split.token === input && Array.from(split.password).length === chars.length - length;
      }),
    );
  });

  it('recovers any password and any alphanumeric token', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 60 }), fc.stringMatching(/^[A-Za-z0-9]{24}$/), (password, token) => {
        const split = splitAppended(password + token, 24);
        return split?.token === token && split.password === password;
      }),
    );
  });
});

describe.each(ENGINES)('lockout on %s', (engine) => {
  let verifier: Verifier;
  let seq = 0;
  afterEach(async () => {
    await verifier?.close();
  });

  async function setUp(options: Parameters<typeof openVerifier>[2] = {}): Promise<{ username: string; token: string }> {
    verifier = await openVerifier(await stack.newDatabase(engine), stack.smtp, options);
    const username = `locked${++seq}.${engine}`;
    await verifier.admin.create('test', { username, email: `${username}@example.test`, password: PASSWORD });
    return { username, token: tokenIn((await stack.smtp.nextMail(`${username}@example.test`)).text) };
  }

  it('50 concurrent wrong logins: exactly the threshold is counted, the lock engages, real checks stop', async () => {
    const { username, token } = await setUp();
    const before = verifier.stats();
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, (_, i) => verifier.login({ username, password: `wrong password ${i}`, securityToken: token, clientIp: `198.51.100.${i + 1}` })),
    );
    expect(results.every((r) => r.status === 'rejected' && r.reason instanceof InvalidCredentialsError)).toBe(true);
    const threshold = verifier.lockoutPolicy.threshold;
    // Every attempt cost one argon2id verification; only `threshold` of them checked the password.
    const after = verifier.stats();
    expect(after.passwordVerifications - before.passwordVerifications).toBe(50);
    expect(after.dummyVerifications - before.dummyVerifications).toBe(50 - threshold);
    const user = await verifier.admin.get(username);
    expect(user).toMatchObject({ failedLogins: threshold, locked: true });
    const reasons = (await verifier.audit({ subject: username, action: 'login' })).map((e) => e.reason);
    expect(reasons.filter((r) => r === 'bad_password')).toHaveLength(threshold);
    expect(reasons.filter((r) => r === 'locked')).toHaveLength(50 - threshold);
    // The right password is refused while locked, with the same answer, unchecked: the one
    // verification it costs is against the dummy hash.
    const during = verifier.stats();
    await expect(verifier.login({ username, password: PASSWORD, securityToken: token, clientIp: IP })).rejects.toBeInstanceOf(InvalidCredentialsError);
    expect(verifier.stats()).toEqual({ passwordVerifications: during.passwordVerifications + 1, dummyVerifications: during.dummyVerifications + 1 });
    // An admin unlock lets the owner back in; the success clears the count.
    await verifier.admin.apply('test', username, 'unlock');
    await expect(verifier.login({ username, password: PASSWORD, securityToken: token, clientIp: IP })).resolves.toBeTruthy();
    expect(await verifier.admin.get(username)).toMatchObject({ failedLogins: 0, locked: false });
  });

  it('parallel correct logins of one user are never mistaken for failures', async () => {
    const { username, token } = await setUp();
    const results = await Promise.allSettled(
      Array.from({ length: 25 }, () => verifier.login({ username, password: PASSWORD, securityToken: token, clientIp: IP })),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(25);
    expect(await verifier.admin.get(username)).toMatchObject({ failedLogins: 0, locked: false });
  });

  it('wrong and right passwords racing: never more than the threshold of failures is hashed', async () => {
    const { username, token } = await setUp({ lockout: { threshold: 5 } });
    const before = verifier.stats();
    const attempts = Array.from({ length: 30 }, (_, i) =>
      verifier.login({ username, password: i % 3 === 0 ? PASSWORD : `wrong password ${i}`, securityToken: token, clientIp: IP }).then(
        () => 'ok',
        () => 'refused',
      ),
    );
    const outcomes = await Promise.all(attempts);
    const wrongHashed = (await verifier.audit({ subject: username, action: 'login' })).filter((e) => e.reason === 'bad_password').length;
    const succeeded = outcomes.filter((o) => o === 'ok').length;
    // Each success clears the count, so failures between successes stay under the threshold;
    // the refusals that checked nothing cost a dummy verification each.
    const after = verifier.stats();
    const real = after.passwordVerifications - after.dummyVerifications - (before.passwordVerifications - before.dummyVerifications);
    expect(real).toBe(wrongHashed + succeeded);
    expect(after.passwordVerifications - before.passwordVerifications).toBe(30);
    const user = await verifier.admin.get(username);
    expect(user.failedLogins).toBeLessThanOrEqual(5);
  });

  it('a lock that runs out allows one more try, and a wrong one locks again for twice as long', async () => {
    let now = Date.now();
    const { username, token } = await setUp({ lockout: { threshold: 3, baseMs: 60_000 }, now: () => now });
    for (let i = 0; i < 3; i++) await verifier.login({ username, password: 'wrong password', securityToken: token, clientIp: IP }).catch(() => {});
    const first = (await verifier.admin.get(username)).lockedUntil!.getTime() - now;
    expect(first).toBe(60_000);
    now += 60_001;
    await verifier.login({ username, password: 'wrong again!', securityToken: token, clientIp: IP }).catch(() => {});
    const second = (await verifier.admin.get(username)).lockedUntil!.getTime() - now;
    expect(second).toBe(120_000);
    // The counter did not clear on the timer: still locked now, the right password included.
    await expect(verifier.login({ username, password: PASSWORD, securityToken: token, clientIp: IP })).rejects.toBeInstanceOf(InvalidCredentialsError);
    now += 120_001;
    await expect(verifier.login({ username, password: PASSWORD, securityToken: token, clientIp: IP })).resolves.toBeTruthy();
  });

  it('one address failing too often is slowed down itself, without locking the users it tried', async () => {
    const { username, token } = await setUp({ ipLimit: { failures: 5, windowMs: 60_000 } });
    const victims = [];
    for (let i = 0; i < 3; i++) {
      const name = `victim${i}.${engine}`;
      await verifier.admin.create('test', { username: name, email: `${name}@example.test`, password: PASSWORD });
      victims.push(name);
    }
    const attacker = '192.0.2.66';
    let limited = 0;
    for (let i = 0; i < 12; i++) {
      const answer = await verifier.login({ username: victims[i % 3]!, password: 'guess guess guess', clientIp: attacker }).catch((e: unknown) => e);
      if (answer instanceof RateLimitedError) limited++;
    }
    expect(limited).toBe(7);
    for (const victim of victims) expect((await verifier.admin.get(victim)).locked).toBe(false);
    // Others, from their own addresses, are unaffected.
    await expect(verifier.login({ username, password: PASSWORD, securityToken: token, clientIp: IP })).resolves.toBeTruthy();
    const refused = await verifier.login({ username, password: PASSWORD, securityToken: token, clientIp: attacker }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'ERR_RATE_LIMITED' });
    expect((refused as RateLimitedError).retryAfterSeconds).toBeGreaterThan(0);
  });

  it('refuses a threshold above 100 (NIST SP 800-63B)', async () => {
    await expect(openVerifier(await stack.newDatabase(engine), stack.smtp, { lockout: { threshold: 101 } })).rejects.toMatchObject({ code: 'ERR_INVALID_INPUT', message: 'lockout threshold must be 1..100' });
  });
});
