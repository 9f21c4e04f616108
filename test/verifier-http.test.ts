// The verifier's HTTP API: the same answers over the wire, API-key scopes, client addresses behind
// proxies, the OpenAPI document, and bad input of every kind answered with a 4xx, never a 500.
import type { FastifyInstance, InjectOptions } from 'fastify';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildVerifierServer } from '../src/verifier/http/server.js';
import type { Verifier } from '../src/verifier/verifier.js';
import { openVerifier, tokenIn, useVerifierStack } from './helpers/verifier.js';

const PASSWORD = 'correct horse battery';
let verifier: Verifier;
let app: FastifyInstance;
let proxied: FastifyInstance;
let adminKey: string;
let helpdeskKey: string;
let auditKey: string;
let token: string;
const stack = useVerifierStack(['sqlite']);

beforeAll(async () => {
  verifier = await openVerifier(await stack.newDatabase('sqlite'), stack.smtp, { ipLimit: { failures: 1000 } });
  app = await buildVerifierServer(verifier);
  proxied = await buildVerifierServer(verifier, { trustedProxies: ['10.0.0.0/8'] });
  adminKey = (await verifier.apiKeys.create('test', 'admin', ['admin'])).key;
  helpdeskKey = (await verifier.apiKeys.create('test', 'helpdesk', ['helpdesk'])).key;
  auditKey = (await verifier.apiKeys.create('test', 'auditor', ['audit'])).key;
  const created = await app.inject({
    method: 'POST',
    url: '/v1/admin/users',
    headers: { authorization: `Bearer ${adminKey}` },
    payload: { username: 'alice', email: 'alice@example.test', password: PASSWORD },
  });
  expect(created.statusCode).toBe(201);
  token = tokenIn((await stack.smtp.nextMail('alice@example.test')).text);
});
afterAll(async () => {
  await app?.close();
  await proxied?.close();
  await verifier?.close();
});

function login(payload: unknown, remoteAddress = '203.0.113.5', server = app) {
  return server.inject({ method: 'POST', url: '/v1/login', payload: payload as Record<string, unknown>, remoteAddress });
}

describe('login over HTTP', () => {
  it('accepts password + token, separately or appended, over a real socket too', async () => {
    expect((await login({ username: 'alice', password: PASSWORD, securityToken: token })).json()).toMatchObject({ result: 'ok', username: 'alice', via: { kind: 'security-token' } });
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    const response = await fetch(`${address}/v1/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'alice', password: PASSWORD + token }) });
    expect(response.status).toBe(200);
  });

  it('gives the unknown user and the wrong password the same status and body, after the same hashing work', async () => {
    const before = verifier.stats().passwordVerifications;
    const unknown = await login({ username: 'mallory', password: PASSWORD, securityToken: token });
    const middle = verifier.stats().passwordVerifications;
    const wrong = await login({ username: 'alice', password: 'wrong password!!', securityToken: token });
    expect(middle - before).toBe(1);
    expect(verifier.stats().passwordVerifications - middle).toBe(1);
    expect(unknown.statusCode).toBe(401);
    expect(wrong.statusCode).toBe(401);
    expect(unknown.body).toBe(wrong.body);
    expect(wrong.json()).toEqual({ error: { code: 'ERR_INVALID_CREDENTIALS', message: 'invalid username, password, security token; or user locked out' } });
  });

  it('believes X-Forwarded-For only from a trusted proxy', async () => {
    await verifier.organisation.addTrustedRange('test', '198.51.100.0/24');
    const spoofed = { 'x-forwarded-for': '198.51.100.7' };
    // Straight from a client: the header is ignored, the token is still required.
    const direct = await app.inject({ method: 'POST', url: '/v1/login', payload: { username: 'alice', password: PASSWORD }, remoteAddress: '203.0.113.5', headers: spoofed });
    expect(direct.statusCode).toBe(401);
    // Through a proxy we trust: the forwarded client is inside the trusted range.
    const viaProxy = await proxied.inject({ method: 'POST', url: '/v1/login', payload: { username: 'alice', password: PASSWORD }, remoteAddress: '10.1.2.3', headers: spoofed });
    expect(viaProxy.statusCode).toBe(200);
    // The same header from a proxy we do not trust changes nothing.
    const untrusted = await proxied.inject({ method: 'POST', url: '/v1/login', payload: { username: 'alice', password: PASSWORD }, remoteAddress: '192.0.2.1', headers: spoofed });
    expect(untrusted.statusCode).toBe(401);
    const audit = await verifier.audit({ subject: 'alice', action: 'login' });
    expect(audit.at(-2)).toMatchObject({ clientIp: '198.51.100.7', result: 'success' });
    expect(audit.at(-1)).toMatchObject({ clientIp: '192.0.2.1', result: 'failure' });
  });

  it('resets a token through self-service: 202, and the new token arrives by mail', async () => {
    const response = await app.inject({ method: 'POST', url: '/v1/self/security-token/reset', payload: { username: 'alice', password: PASSWORD } });
    expect(response.statusCode).toBe(202);
    const fresh = tokenIn((await stack.smtp.nextMail('alice@example.test')).text);
    expect((await login({ username: 'alice', password: PASSWORD, securityToken: token })).statusCode).toBe(401);
    expect((await login({ username: 'alice', password: PASSWORD, securityToken: fresh })).statusCode).toBe(200);
    token = fresh;
  });
});

describe('API keys and scopes', () => {
  it('refuses admin routes without a key, with a bad key, and with a key lacking the scope', async () => {
    expect((await app.inject({ method: 'GET', url: '/v1/admin/users' })).json()).toMatchObject({ error: { code: 'ERR_UNAUTHORIZED' } });
    expect((await app.inject({ method: 'GET', url: '/v1/admin/users', headers: { authorization: `Bearer ${adminKey.slice(0, -2)}xx` } })).statusCode).toBe(401);
    const forbidden = await app.inject({ method: 'DELETE', url: '/v1/admin/users/alice', headers: { authorization: `Bearer ${helpdeskKey}` } });
    expect(forbidden.statusCode).toBe(403);
    expect((await app.inject({ method: 'GET', url: '/v1/admin/users', headers: { authorization: `Bearer ${auditKey}` } })).statusCode).toBe(403);
  });

  it('lets the helpdesk unlock and read, and the auditor read the audit log', async () => {
    const unlocked = await app.inject({ method: 'POST', url: '/v1/admin/users/alice/unlock', headers: { authorization: `Bearer ${helpdeskKey}` } });
    expect(unlocked.statusCode).toBe(204);
    const user = await app.inject({ method: 'GET', url: '/v1/admin/users/alice', headers: { authorization: `Bearer ${helpdeskKey}` } });
    expect(user.json()).toMatchObject({ username: 'alice', active: true, securityTokens: [{ name: 'default' }] });
    expect(user.body).not.toContain('hash');
    const deactivate = await app.inject({ method: 'POST', url: '/v1/admin/users/alice/deactivate', headers: { authorization: `Bearer ${helpdeskKey}` } });
    expect(deactivate.statusCode).toBe(403);
    const audit = await app.inject({ method: 'GET', url: '/v1/audit?subject=alice&limit=500', headers: { authorization: `Bearer ${auditKey}` } });
    expect(audit.statusCode).toBe(200);
    const entries = audit.json() as Array<{ action: string; actor: string }>;
    expect(entries.some((e) => e.action === 'user.unlock' && e.actor.startsWith('api-key:'))).toBe(true);
    expect(audit.body).not.toContain(PASSWORD);
    expect(audit.body).not.toContain(token);
  });
});

describe('the user listing', () => {
  const get = (url: string) => app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${helpdeskKey}` } });
  /** The target of the Link header's `rel`, or undefined. */
  const linkOf = (header: unknown, rel: string) => (typeof header === 'string' ? new RegExp(`<([^>]+)>; rel="${rel}"`).exec(header)?.[1] : undefined);

  it('answers one page at a time, in username order, and links the next and previous pages', async () => {
    for (const name of ['page-c', 'page-a', 'page-e', 'page-b', 'page-d']) {
      const created = await app.inject({ method: 'POST', url: '/v1/admin/users', headers: { authorization: `Bearer ${adminKey}` }, payload: { username: name, email: `${name}@pages.test`, password: PASSWORD } });
      expect(created.statusCode).toBe(201);
    }
    const seen: string[][] = [];
    let url: string | undefined = '/v1/admin/users?search=page-&limit=2';
    let last: Awaited<ReturnType<typeof get>> | undefined;
    while (url !== undefined) {
      last = await get(url);
      expect(last.statusCode).toBe(200);
      seen.push((last.json() as Array<{ username: string }>).map((u) => u.username));
      url = linkOf(last.headers.link, 'next');
    }
    expect(seen).toEqual([['page-a', 'page-b'], ['page-c', 'page-d'], ['page-e']]);
    // Back from the last page: the two before it.
    const back = await get(linkOf(last!.headers.link, 'prev')!);
    expect((back.json() as Array<{ username: string }>).map((u) => u.username)).toEqual(['page-c', 'page-d']);
    // By email prefix, and everyone (alice too) by default, 100 a page.
    expect(((await get('/v1/admin/users?search=page-b@')).json() as Array<{ username: string }>).map((u) => u.username)).toEqual(['page-b']);
    const everyone = await get('/v1/admin/users');
    expect((everyone.json() as unknown[]).length).toBe(6);
    expect(everyone.headers.link).toBeUndefined();
    // The library's walk over every user, two a page: all of them, once each, in username order.
    const walked: string[] = [];
    for await (const user of verifier.admin.each('page-', 2)) walked.push(user.username);
    expect(walked).toEqual(['page-a', 'page-b', 'page-c', 'page-d', 'page-e']);
  });

  it('refuses a page it cannot answer with a 400', async () => {
    for (const query of ['limit=0', 'limit=1001', 'limit=ten', 'after=a&before=b', 'offset=5']) {
      const refused = await get(`/v1/admin/users?${query}`);
      expect([query, refused.statusCode, refused.json()]).toMatchObject([query, 400, { error: { code: 'ERR_INVALID_INPUT' } }]);
    }
  });
});

describe('bad input', () => {
  const admin = () => ({ authorization: `Bearer ${adminKey}` });

  it('answers each kind with its 4xx and code', async () => {
    const cases: Array<[InjectOptions & { url: string }, number, string]> = [
      [{ method: 'POST', url: '/v1/login', payload: { username: 'alice', password: 12345 } }, 400, 'ERR_INVALID_INPUT'],
      [{ method: 'POST', url: '/v1/login', payload: { username: 'alice', password: 'x', admin: true } }, 400, 'ERR_INVALID_INPUT'],
      [{ method: 'POST', url: '/v1/login', payload: { username: 'alice' } }, 400, 'ERR_INVALID_INPUT'],
      [{ method: 'POST', url: '/v1/login', payload: '{"username": "alice", ', headers: { 'content-type': 'application/json' } }, 400, 'ERR_BAD_JSON'],
      [{ method: 'POST', url: '/v1/login', payload: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), headers: { 'content-type': 'application/json' } }, 400, 'ERR_NOT_UTF8'],
      [{ method: 'POST', url: '/v1/login', payload: 'username=alice', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, 415, 'ERR_UNSUPPORTED_MEDIA_TYPE'],
      [{ method: 'POST', url: '/v1/login', payload: { username: 'alice', password: 'x'.repeat(20_000) } }, 413, 'ERR_BODY_TOO_LARGE'],
      [{ method: 'POST', url: '/v1/admin/trusted-ip-ranges', headers: admin(), payload: { cidr: '10.0.0.0/33' } }, 400, 'ERR_INVALID_INPUT'],
      [{ method: 'POST', url: '/v1/admin/users', headers: admin(), payload: { username: 'bob', email: 'not-an-email', password: PASSWORD } }, 400, 'ERR_INVALID_INPUT'],
      [{ method: 'POST', url: '/v1/admin/users', headers: admin(), payload: { username: 'bob', email: 'bob@example.test', password: PASSWORD, loginIpRanges: ['300.1.1.1/8'] } }, 400, 'ERR_INVALID_INPUT'],
      [{ method: 'POST', url: '/v1/admin/users', headers: admin(), payload: { username: 'alice', email: 'a@example.test', password: PASSWORD } }, 409, 'ERR_USER_EXISTS'],
      [{ method: 'GET', url: '/v1/admin/users/nobody', headers: admin() }, 404, 'ERR_USER_NOT_FOUND'],
      [{ method: 'GET', url: '/v1/audit?limit=abc', headers: admin() }, 400, 'ERR_INVALID_INPUT'],
      [{ method: 'GET', url: '/nowhere' }, 404, 'ERR_NOT_FOUND'],
    ];
    for (const [request, status, code] of cases) {
      const response = await app.inject(request);
      expect({ url: request.url, status: response.statusCode, code: (response.json() as { error?: { code?: string } }).error?.code }).toEqual({ url: request.url, status, code });
    }
  });

  it('never answers a 500 to any JSON a client can send to login', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.jsonValue(), fc.record({ username: fc.jsonValue(), password: fc.jsonValue(), securityToken: fc.jsonValue() }, { requiredKeys: [] })), async (body) => {
        const response = await app.inject({ method: 'POST', url: '/v1/login', payload: JSON.stringify(body), headers: { 'content-type': 'application/json' }, remoteAddress: '192.0.2.200' });
        expect([400, 401, 413, 429]).toContain(response.statusCode);
        expect(response.json()).toHaveProperty('error.code');
      }),
      { numRuns: 60 },
    );
  });
});

describe('the OpenAPI document', () => {
  it('describes every route with its schemas', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as { openapi: string; paths: Record<string, Record<string, { requestBody?: unknown }>> };
    expect(doc.openapi).toMatch(/^3\./);
    for (const path of ['/v1/login', '/v1/self/security-token/reset', '/v1/self/password', '/v1/admin/users', '/v1/admin/users/{username}', '/v1/audit', '/health']) {
      expect(Object.keys(doc.paths)).toContain(path);
    }
    expect(doc.paths['/v1/login']!.post!.requestBody).toBeTruthy();
    expect((await app.inject({ method: 'GET', url: '/health' })).json()).toMatchObject({ status: 'ok' });
  });
});
