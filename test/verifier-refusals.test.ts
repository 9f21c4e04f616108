// Every refusal of a login costs the same hashing work — exactly one argon2id verification — so
// the time an answer takes tells an attacker neither that a user exists nor that it is locked.
// Each path is identified by its audit reason, over HTTP, on both stores.
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildVerifierServer } from '../src/verifier/http/server.js';
import { openDatabase, type Verifier } from '../src/verifier/verifier.js';
import { ENGINES, openVerifier, useVerifierStack } from './helpers/verifier.js';

const PASSWORD = 'correct horse battery';
const WRONG_TOKEN = 'A'.repeat(24);
const CLIENT = '203.0.113.40';

const stack = useVerifierStack();

describe.each(ENGINES)('refusal work on %s', (engine) => {
  let database: string;
  let verifier: Verifier;
  let app: FastifyInstance;
  const expectedBody = JSON.stringify({ error: { code: 'ERR_INVALID_CREDENTIALS', message: 'invalid username, password, security token; or user locked out' } });

  beforeAll(async () => {
    database = await stack.newDatabase(engine);
    verifier = await openVerifier(database, stack.smtp, { lockout: { threshold: 3 }, ipLimit: { failures: 10_000 } });
    app = await buildVerifierServer(verifier);
    for (const name of ['plain', 'gone', 'icy', 'ranged', 'shut', 'crowded']) {
      await verifier.admin.create('test', { username: name, email: `${name}@example.test`, password: PASSWORD, ...(name === 'ranged' ? { loginIpRanges: ['10.0.0.0/8'] } : {}) });
    }
    await verifier.admin.apply('test', 'gone', 'deactivate');
    await verifier.admin.apply('test', 'icy', 'freeze');
    for (let i = 0; i < 3; i++) await verifier.login({ username: 'shut', password: `wrong password ${i}`, securityToken: WRONG_TOKEN, clientIp: CLIENT }).catch(() => undefined);
    expect(await verifier.admin.get('shut')).toMatchObject({ locked: true });
  });
  afterAll(async () => {
    await app?.close();
    await verifier?.close();
  });

  /** One request: its status and body, the verifications it cost, and the reason it was audited with. */
  async function refusal(url: string, payload: Record<string, string>) {
    const before = verifier.stats().passwordVerifications;
    const response = await app.inject({ method: 'POST', url, payload, remoteAddress: CLIENT });
    const work = verifier.stats().passwordVerifications - before;
    const reason = (await verifier.audit({ subject: payload.username! })).at(-1)?.reason;
    return { status: response.statusCode, body: response.body, work, reason };
  }

  const cases: Array<[reason: string, username: string, body: Record<string, string>]> = [
    ['unknown_user', 'nobody', { password: PASSWORD, securityToken: WRONG_TOKEN }],
    ['deactivated', 'gone', { password: PASSWORD, securityToken: WRONG_TOKEN }],
    ['frozen', 'icy', { password: PASSWORD, securityToken: WRONG_TOKEN }],
    ['outside_login_ranges', 'ranged', { password: PASSWORD }],
    ['locked', 'shut', { password: PASSWORD, securityToken: WRONG_TOKEN }],
    ['token_missing', 'plain', { password: PASSWORD }],
    ['bad_password', 'plain', { password: 'wrong password', securityToken: WRONG_TOKEN }],
    ['bad_token', 'plain', { password: PASSWORD, securityToken: WRONG_TOKEN }],
  ];

  it.each(cases)('POST /v1/login refused as %s: one argon2id verification, the one answer', async (reason, username, body) => {
    expect(await refusal('/v1/login', { username, ...body })).toEqual({ status: 401, body: expectedBody, work: 1, reason });
  });

  it('self-service behind the password: a locked or unknown user costs one verification too', async () => {
    for (const [username, reason] of [['shut', 'locked'], ['nobody', 'unknown_user']] as const) {
      expect(await refusal('/v1/self/security-token/reset', { username, password: PASSWORD })).toEqual({ status: 401, body: expectedBody, work: 1, reason });
    }
  });

  it('every slot held by attempts in flight (busy): refused after the wait, one verification', async () => {
    // Three checks of another instance in flight right now: this attempt waits its 10 s for a slot.
    const store = openDatabase(database);
    try {
      await store.run('UPDATE users SET in_flight = ?, in_flight_since = ? WHERE username = ?', [3, Date.now(), 'crowded']);
    } finally {
      await store.close();
    }
    expect(await refusal('/v1/login', { username: 'crowded', password: PASSWORD, securityToken: WRONG_TOKEN })).toEqual({ status: 401, body: expectedBody, work: 1, reason: 'busy' });
  }, 30_000);
});
