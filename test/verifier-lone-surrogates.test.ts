// A lone surrogate in a secret (JSON's "\ud800") cannot be encoded as UTF-8: hashed, it would become
// U+FFFD, and a password set with U+FFFD would open with any lone surrogate. Every secret field of
// every route and of the library refuses it (400 ERR_INVALID_INPUT / InvalidInputError) before
// any hashing or counting; a real U+FFFD, and surrogate pairs, are ordinary characters.
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidInputError } from '../src/verifier/errors.js';
import { buildVerifierServer } from '../src/verifier/http/server.js';
import type { Verifier } from '../src/verifier/verifier.js';
import { ENGINES, openVerifier, tokenIn, useVerifierStack } from './helpers/verifier.js';

// The password holds a real U+FFFD and a surrogate pair; LONE is the same with a lone surrogate.
const PASSWORD = 'correct horse \ufffd battery \u{1F511}';
const LONE_JSON = '"correct horse \\ud800 battery \\ud83d\\udd11"';
const LONE = JSON.parse(LONE_JSON) as string;
const CLIENT = '203.0.113.77';

const stack = useVerifierStack();

describe.each(ENGINES)('lone surrogates in secrets on %s', (engine) => {
  let verifier: Verifier;
  let app: FastifyInstance;
  let adminKey: string;
  let token: string;
  const username = `fffd.${engine}`;

  beforeAll(async () => {
    verifier = await openVerifier(await stack.newDatabase(engine), stack.smtp);
    app = await buildVerifierServer(verifier);
    adminKey = (await verifier.apiKeys.create('test', 'admin', ['admin'])).key;
    await verifier.admin.create('test', { username, email: `${username}@example.test`, password: PASSWORD });
    token = tokenIn((await stack.smtp.nextMail(`${username}@example.test`)).text);
  });
  afterAll(async () => {
    await app?.close();
    await verifier?.close();
  });

  /** POST `body` (JSON text, so the escape arrives as the client wrote it). */
  function post(url: string, body: string, headers: Record<string, string> = {}) {
    return app.inject({ method: 'POST', url, payload: body, headers: { 'content-type': 'application/json', ...headers }, remoteAddress: CLIENT });
  }

  it('the password with a real U+FFFD logs in; the same with a lone surrogate is a 400, not a login', async () => {
    const ok = await post('/v1/login', JSON.stringify({ username, password: PASSWORD, securityToken: token }));
    expect(ok.statusCode).toBe(200);
    const lone = await post('/v1/login', `{"username":"${username}","password":${LONE_JSON},"securityToken":"${token}"}`);
    expect({ status: lone.statusCode, code: (lone.json() as { error?: { code?: string } }).error?.code }).toEqual({ status: 400, code: 'ERR_INVALID_INPUT' });
  });

  it('every secret field of every route refuses it, before any hashing or counting', async () => {
    const admin = { authorization: `Bearer ${adminKey}` };
    const u = `"username":"${username}"`;
    const cases: Array<[string, string, Record<string, string>?]> = [
      ['/v1/login', `{${u},"password":${LONE_JSON},"securityToken":"${token}"}`],
      ['/v1/login', `{${u},"password":"correct horse battery","securityToken":"${'A'.repeat(23)}\\udc00"}`],
      ['/v1/login', `{${u},"password":${LONE_JSON.slice(0, -1)}${token}"}`],
      ['/v1/self/security-token/reset', `{${u},"password":${LONE_JSON}}`],
      ['/v1/self/password', `{${u},"password":${LONE_JSON},"newPassword":"a new password here"}`],
      ['/v1/self/password', `{${u},"password":${JSON.stringify(PASSWORD)},"newPassword":${LONE_JSON}}`],
      ['/v1/self/credentials', `{${u},"password":${LONE_JSON},"publicKey":"AAAA"}`],
      ['/v1/login/temporary', `{${u},"password":${LONE_JSON},"temporaryPassword":"ABCDEFGHJKLMNPQRSTUV"}`],
      ['/v1/login/temporary', `{${u},"password":${JSON.stringify(PASSWORD)},"temporaryPassword":"ABCDEFGHJ\\ud800KLMNPQRS"}`],
      ['/v1/challenges/00000000-0000-4000-8000-000000000000/response', `{${u},"purpose":"login","signature":"AAAA","algorithm":"ECDSA-SHA256","password":${LONE_JSON}}`],
      ['/v1/admin/users', `{"username":"newbie","email":"newbie@example.test","password":${LONE_JSON}}`, admin],
      [`/v1/admin/users/${username}/password`, `{"newPassword":${LONE_JSON}}`, admin],
    ];
    const before = { stats: verifier.stats(), user: await verifier.admin.get(username), audit: (await verifier.audit({ subject: username })).length };
    for (const [url, body, headers] of cases) {
      const response = await post(url, body, headers);
      expect({ url, body, status: response.statusCode, code: (response.json() as { error?: { code?: string } }).error?.code }).toEqual({ url, body, status: 400, code: 'ERR_INVALID_INPUT' });
      expect(response.body).not.toContain('horse');
    }
    expect(verifier.stats()).toEqual(before.stats);
    expect((await verifier.admin.get(username)).failedLogins).toBe(before.user.failedLogins);
    expect(await verifier.audit({ subject: username })).toHaveLength(before.audit);
    await expect(verifier.admin.get('newbie')).rejects.toMatchObject({ code: 'ERR_USER_NOT_FOUND' });
    // The password was not changed by any of them.
    expect((await post('/v1/login', JSON.stringify({ username, password: PASSWORD, securityToken: token }))).statusCode).toBe(200);
  });

  it('the library refuses it with InvalidInputError in every secret argument', async () => {
    const attempts: Array<() => Promise<unknown>> = [
      () => verifier.login({ username, password: LONE, securityToken: token, clientIp: CLIENT }),
      () => verifier.login({ username, password: PASSWORD, securityToken: `${token.slice(0, -1)}\ud800`, clientIp: CLIENT }),
      () => verifier.selfService.resetSecurityToken({ username, password: LONE, clientIp: CLIENT }),
      () => verifier.selfService.changePassword({ username, password: PASSWORD, newPassword: LONE, clientIp: CLIENT }),
      () => verifier.selfService.checkPassword('self.credential-enroll', { username, password: LONE, clientIp: CLIENT }),
      () => verifier.temporaryPasswords.login({ username, password: PASSWORD, temporaryPassword: '\udfff'.repeat(20), clientIp: CLIENT }),
      () => verifier.admin.create('test', { username: 'newbie', email: 'newbie@example.test', password: LONE }),
      () => verifier.admin.resetPassword('test', username, LONE),
    ];
    const before = verifier.stats();
    for (const attempt of attempts) {
      const error = await attempt().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(InvalidInputError);
      expect((error as InvalidInputError).code).toBe('ERR_INVALID_INPUT');
      expect((error as Error).message).not.toContain('horse');
    }
    expect(verifier.stats()).toEqual(before);
    await expect(verifier.login({ username, password: PASSWORD, securityToken: token, clientIp: CLIENT })).resolves.toMatchObject({ username });
  });
});
