// The challenge policy over HTTP, on both stores: a new user is password+token, the enroll reply
// says so, a kiosk that sends no password hears ERR_PASSWORD_REQUIRED (the same answer whatever it
// signed, and not counted against its address), and one admin step — the user's policy or a range
// override for the kiosk's network — makes the card and its PIN enough. The range routes are
// admin-scoped, schema-checked and in the OpenAPI document.
import { webcrypto } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildVerifierServer } from '../src/verifier/http/server.js';
import { VerifierClient } from '../src/client/verifier-client.js';
import type { Verifier } from '../src/verifier/verifier.js';
import { issue, type Issued } from './helpers/pki.js';
import { ENGINES, openVerifier, useVerifierStack } from './helpers/verifier.js';

const stack = useVerifierStack();
const PASSWORD = 'correct horse battery';
const KIOSK = '198.51.100.20';
const RANGES = '/v1/admin/challenge-policy-ranges';

describe.each(ENGINES)('challenge policy over HTTP on %s', (engine) => {
  let verifier: Verifier;
  let app: FastifyInstance;
  let url: string;
  let adminKey: string;
  let helpdeskKey: string;
  let card: Issued;

  beforeAll(async () => {
    // Two failures per address: a refusal that counted would show at once (429).
    verifier = await openVerifier(await stack.newDatabase(engine), stack.smtp, { ipLimit: { failures: 2 } });
    app = await buildVerifierServer(verifier);
    url = await app.listen({ host: '127.0.0.1', port: 0 });
    adminKey = (await verifier.apiKeys.create('test', 'admin', ['admin'])).key;
    helpdeskKey = (await verifier.apiKeys.create('test', 'helpdesk', ['helpdesk'])).key;
    for (const username of ['dana', 'erik']) await verifier.admin.create('test', { username, email: `${username}@example.test`, password: PASSWORD });
    card = await issue({ type: 'ec-p256', subject: 'CN=Dana' });
  });
  afterAll(async () => {
    await app?.close();
    await verifier?.close();
  });

  const as = (key: string) => ({ authorization: `Bearer ${key}` });

  async function kioskAnswer(signed: 'right' | 'wrong', password?: string) {
    const issued = await app.inject({ method: 'POST', url: '/v1/challenges', remoteAddress: KIOSK, payload: { credential: { serial: 'DANA-1' }, purpose: 'login' } });
    expect(issued.statusCode).toBe(201);
    const challenge = issued.json<{ challengeId: string; message: string; passwordRequired: boolean; fields: { username: string } }>();
    const message = Buffer.from(challenge.message, 'base64');
    const signature = Buffer.from(await webcrypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, card.keys.privateKey, signed === 'right' ? message : Buffer.from('something else')));
    const response = await app.inject({
      method: 'POST',
      url: `/v1/challenges/${challenge.challengeId}/response`,
      remoteAddress: KIOSK,
      payload: { username: challenge.fields.username, purpose: 'login', signature: signature.toString('base64'), algorithm: 'ECDSA-SHA256', ...(password ? { password } : {}) },
    });
    return { passwordRequired: challenge.passwordRequired, status: response.statusCode, body: response.json<{ error?: { code: string; message: string } }>() };
  }

  it('a new user is password+token: the enroll reply and the user say so, and a kiosk without a password hears ERR_PASSWORD_REQUIRED', async () => {
    expect((await app.inject({ method: 'GET', url: '/v1/admin/users/dana', headers: as(helpdeskKey) })).json()).toMatchObject({ challengePolicy: 'password+token' });
    const enrolled = await app.inject({ method: 'POST', url: '/v1/admin/users/dana/credentials', headers: as(adminKey), payload: { certificate: card.certificate.toString('pem'), serial: 'DANA-1' } });
    expect(enrolled.statusCode).toBe(201);
    expect(enrolled.json()).toMatchObject({ username: 'dana', status: 'active', challengePolicy: 'password+token' });

    const right = await kioskAnswer('right');
    expect(right).toMatchObject({ passwordRequired: true, status: 401, body: { error: { code: 'ERR_PASSWORD_REQUIRED' } } });
    // Decided before the signature is checked: a wrong one gets the very same answer.
    const wrong = await kioskAnswer('wrong');
    expect(wrong).toEqual(right);
    const last = (await verifier.audit({ subject: 'dana', action: 'challenge.login', newestFirst: true, limit: 1 }))[0];
    expect(last).toMatchObject({ result: 'refused', reason: 'password_missing' });
    // With the password, password + token works from the same address: the two refusals above were not counted (budget 2).
    expect(await kioskAnswer('right', PASSWORD)).toMatchObject({ status: 200 });

    // The client library hands the kiosk the remote code.
    const client = new VerifierClient(url);
    const challenge = await client.challenge(undefined, { serial: 'DANA-1' });
    const signature = new Uint8Array(await webcrypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, card.keys.privateKey, challenge.message));
    await expect(client.respond(challenge.challengeId, { username: 'dana', purpose: 'login', signature, algorithm: 'ECDSA-SHA256' })).rejects.toMatchObject({
      code: 'ERR_VERIFIER_REFUSED',
      status: 401,
      remoteCode: 'ERR_PASSWORD_REQUIRED',
    });
  });

  it('a range override for the kiosk network makes the card enough there; removing it restores the user\'s policy', async () => {
    const set = await app.inject({ method: 'PUT', url: RANGES, headers: as(adminKey), payload: { cidr: '198.51.100.99/24', policy: 'token-only' } });
    expect(set.statusCode).toBe(200);
    expect(set.json()).toEqual({ cidr: '198.51.100.0/24', policy: 'token-only' });
    expect((await app.inject({ method: 'GET', url: RANGES, headers: as(helpdeskKey) })).json()).toEqual([{ cidr: '198.51.100.0/24', policy: 'token-only' }]);
    expect(await kioskAnswer('right')).toMatchObject({ passwordRequired: false, status: 200 });

    expect((await app.inject({ method: 'DELETE', url: `${RANGES}?cidr=198.51.100.0/24`, headers: as(adminKey) })).statusCode).toBe(204);
    expect((await app.inject({ method: 'GET', url: RANGES, headers: as(adminKey) })).json()).toEqual([]);
    expect(await kioskAnswer('right')).toMatchObject({ passwordRequired: true, status: 401 });
  });

  it('the per-user policy shows in the user and in a later enroll reply', async () => {
    expect((await app.inject({ method: 'PUT', url: '/v1/admin/users/erik/challenge-policy', headers: as(adminKey), payload: { policy: 'token-only' } })).statusCode).toBe(204);
    expect((await app.inject({ method: 'GET', url: '/v1/admin/users/erik', headers: as(adminKey) })).json()).toMatchObject({ challengePolicy: 'token-only' });
    const own = await issue({ type: 'ec-p256', subject: 'CN=Erik' });
    const enrolled = await app.inject({ method: 'POST', url: '/v1/self/credentials', payload: { username: 'erik', password: PASSWORD, certificate: own.certificate.toString('pem') } });
    expect(enrolled.json()).toMatchObject({ username: 'erik', challengePolicy: 'token-only' });
  });

  it('range routes: admin scope, schema-checked input, in the OpenAPI document', async () => {
    const body = { cidr: '203.0.113.0/24', policy: 'token-only' };
    expect((await app.inject({ method: 'PUT', url: RANGES, payload: body })).json()).toMatchObject({ error: { code: 'ERR_UNAUTHORIZED' } });
    expect((await app.inject({ method: 'PUT', url: RANGES, headers: as(helpdeskKey), payload: body })).statusCode).toBe(403);
    expect((await app.inject({ method: 'DELETE', url: `${RANGES}?cidr=203.0.113.0/24`, headers: as(helpdeskKey) })).statusCode).toBe(403);
    for (const bad of [{ ...body, policy: 'password-only' }, { ...body, extra: 1 }, { cidr: body.cidr }, { ...body, cidr: '10.0.0.0/99' }]) {
      const refused = await app.inject({ method: 'PUT', url: RANGES, headers: as(adminKey), payload: bad });
      expect({ status: refused.statusCode, code: refused.json<{ error: { code: string } }>().error.code }).toEqual({ status: 400, code: 'ERR_INVALID_INPUT' });
    }
    expect((await app.inject({ method: 'GET', url: RANGES, headers: as(adminKey) })).json()).toEqual([]);
    const paths = (await app.inject({ method: 'GET', url: '/openapi.json' })).json<{ paths: Record<string, Record<string, unknown>> }>().paths;
    expect(Object.keys(paths[RANGES] ?? {}).sort()).toEqual(['delete', 'get', 'put']);
    expect(paths['/v1/admin/users/{username}/challenge-policy']).toHaveProperty('put');
  });

  it('an API key that is not accepted is told so, with how to make one', async () => {
    for (const key of ['tgk_bogus', `tgk_${'0'.repeat(16)}_${'A'.repeat(43)}`]) {
      const refused = await app.inject({ method: 'GET', url: RANGES, headers: as(key) });
      expect(refused.statusCode).toBe(401);
      const { code, message } = refused.json<{ error: { code: string; message: string } }>().error;
      expect(code).toBe('ERR_UNAUTHORIZED');
      expect(message).toContain('not accepted');
      expect(message).toContain('tokengate verifier api-key create');
      expect(message).not.toContain(key);
    }
  });
});
