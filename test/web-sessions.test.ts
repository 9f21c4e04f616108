// The web pages' sessions and forms over HTTP, on SQLite and PostgreSQL: cookie flags (Secure
// when the request came over TLS), rotation at sign-in, sign-out, sessions ended by token and
// password resets (the user's own and an admin's), by deactivation and by time, CSRF tokens
// required and bound to the session, a rate-limited sign-in, the audit filters and the login
// timeline.
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { buildVerifierServer } from '../src/verifier/http/server.js';
import type { Verifier } from '../src/verifier/verifier.js';
import { ENGINES, openVerifier, tokenIn, useVerifierStack } from './helpers/verifier.js';

const PASSWORD = 'correct horse battery';
const stack = useVerifierStack();
let verifier: Verifier | undefined;
let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  await verifier?.close();
});

/** A browser of sorts: keeps cookies, reads the CSRF token off each page, sends forms from our origin. */
class Visitor {
  readonly cookies = new Map<string, string>();
  csrf = '';
  constructor(
    private readonly server: FastifyInstance,
    private readonly headers: Record<string, string> = {},
    private readonly remoteAddress = '127.0.0.1',
  ) {}
  #keep(response: LightMyRequestResponse): LightMyRequestResponse {
    for (const c of response.cookies) c.value === '' ? this.cookies.delete(c.name) : this.cookies.set(c.name, c.value);
    const token = /name="_csrf" value="([^"]+)"/.exec(response.body)?.[1];
    if (token) this.csrf = token;
    return response;
  }
  get cookie(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
  async get(url: string): Promise<LightMyRequestResponse> {
    return this.#keep(await this.server.inject({ url, headers: { cookie: this.cookie, ...this.headers }, remoteAddress: this.remoteAddress }));
  }
  /** `csrf: null` sends no token. */
  async post(url: string, form: Record<string, string>, csrf: string | null = this.csrf): Promise<LightMyRequestResponse> {
    const payload = new URLSearchParams({ ...form, ...(csrf === null ? {} : { _csrf: csrf }) }).toString();
    const headers = { cookie: this.cookie, 'content-type': 'application/x-www-form-urlencoded', origin: `${this.headers['x-forwarded-proto'] ?? 'http'}://localhost:80`, 'sec-fetch-site': 'same-origin', ...this.headers };
    return this.#keep(await this.server.inject({ method: 'POST', url, payload, headers, remoteAddress: this.remoteAddress }));
  }
  async signIn(username: string, password: string, securityToken: string): Promise<LightMyRequestResponse> {
    await this.get('/account/sign-in');
    return this.post('/account/sign-in', { username, password, securityToken });
  }
}

describe.each(ENGINES)('web sessions on %s', (engine) => {
  async function start(options: Parameters<typeof openVerifier>[2] = {}): Promise<{ verifier: Verifier; app: FastifyInstance; token: string }> {
    verifier = await openVerifier(await stack.newDatabase(engine), stack.smtp, options);
    app = await buildVerifierServer(verifier, { trustedProxies: ['10.0.0.0/8'] });
    await verifier.admin.create('test', { username: `ann-${engine}`, email: `ann-${engine}@example.test`, password: PASSWORD });
    return { verifier, app, token: tokenIn((await stack.smtp.nextMail(`ann-${engine}@example.test`)).text) };
  }

  it('sets HttpOnly SameSite=Strict cookies, Secure only over TLS, and a new session at every sign-in', async () => {
    const { app: server, token } = await start();
    const plain = new Visitor(server);
    const first = await plain.signIn(`ann-${engine}`, PASSWORD, token);
    expect(first.statusCode).toBe(303);
    const cookie = first.cookies.find((c) => c.name === 'tg_account')!;
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/account' });
    expect(cookie.secure).toBeFalsy();
    const before = plain.cookies.get('tg_account')!;
    await plain.get('/account/sign-in');
    expect((await plain.post('/account/sign-in', { username: `ann-${engine}`, password: PASSWORD, securityToken: token })).statusCode).toBe(303);
    expect(plain.cookies.get('tg_account')).not.toBe(before);
    // The old cookie names nothing any more.
    const stale = await server.inject({ url: '/account', headers: { cookie: `tg_account=${before}` } });
    expect(stale.headers.location).toBe('/account/sign-in');

    const tls = new Visitor(server, { 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.9' }, '10.0.0.1');
    const secure = (await tls.signIn(`ann-${engine}`, PASSWORD, token)).cookies.find((c) => c.name === 'tg_account')!;
    expect(secure.secure).toBe(true);
  });

  it('ends sessions at sign-out, on a token reset, on an admin\'s password reset, and on deactivation', async () => {
    const { verifier: v, app: server, token } = await start();
    const username = `ann-${engine}`;
    const signedIn = async () => {
      const visitor = new Visitor(server);
      expect((await visitor.signIn(username, PASSWORD, await current())).statusCode).toBe(303);
      expect((await visitor.get('/account')).statusCode).toBe(200);
      return visitor;
    };
    let latest = token;
    const current = async () => latest;
    const gone = async (visitor: Visitor) => expect((await visitor.get('/account')).headers.location).toBe('/account/sign-in');

    const a = await signedIn();
    expect((await a.post('/account/sign-out', {})).headers.location).toBe('/account/sign-in?notice=signed-out');
    await gone(a);

    const b = await signedIn();
    const c = await signedIn();
    await b.get('/account/security-token');
    expect((await b.post('/account/security-token', { password: PASSWORD })).headers.location).toBe('/account/sign-in?notice=token-mailed');
    latest = tokenIn((await stack.smtp.nextMail(`${username}@example.test`)).text);
    await gone(b);
    await gone(c);

    const d = await signedIn();
    await v.admin.resetPassword('test', username, PASSWORD);
    latest = tokenIn((await stack.smtp.nextMail(`${username}@example.test`)).text);
    await gone(d);

    const e = await signedIn();
    await v.admin.apply('test', username, 'deactivate');
    await gone(e);
  });

  it('ends a session after 30 idle minutes, and any after 12 hours however busy', async () => {
    let clock = Date.now();
    const { app: server, token } = await start({ now: () => clock });
    const visitor = new Visitor(server);
    expect((await visitor.signIn(`ann-${engine}`, PASSWORD, token)).statusCode).toBe(303);
    clock += 29 * 60_000;
    expect((await visitor.get('/account')).statusCode).toBe(200);
    clock += 31 * 60_000;
    expect((await visitor.get('/account')).headers.location).toBe('/account/sign-in');

    expect((await visitor.signIn(`ann-${engine}`, PASSWORD, token)).statusCode).toBe(303);
    for (let minutes = 20; minutes < 12 * 60; minutes += 20) {
      clock += 20 * 60_000;
      expect((await visitor.get('/account')).statusCode, `after ${minutes} minutes`).toBe(200);
    }
    clock += 20 * 60_000;
    expect((await visitor.get('/account')).headers.location).toBe('/account/sign-in');
  });

  it('requires a CSRF token bound to the session, and the API stays JSON-only', async () => {
    const { app: server, token } = await start();
    const visitor = new Visitor(server);
    await visitor.get('/account/sign-in');
    const anonymousToken = visitor.csrf;
    expect((await visitor.post('/account/sign-in', { username: 'x', password: 'y' }, null)).statusCode).toBe(403);
    expect((await visitor.post('/account/sign-in', { username: 'x', password: 'y' }, 'forged')).statusCode).toBe(403);
    expect((await visitor.signIn(`ann-${engine}`, PASSWORD, token)).statusCode).toBe(303);
    // A token issued before sign-in does not carry over to the session.
    const refused = await visitor.post('/account/password', { password: PASSWORD, newPassword: 'another passphrase', confirmPassword: 'another passphrase' }, anonymousToken);
    expect(refused.statusCode).toBe(403);
    expect(refused.body).toContain('role="alert"');
    // Form bodies are the pages' alone.
    const api = await server.inject({ method: 'POST', url: '/v1/login', payload: `username=ann-${engine}&password=x`, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(api.statusCode).toBe(415);
    // And the OpenAPI document stays the API's.
    const paths = Object.keys((await server.inject({ url: '/openapi.json' })).json<{ paths: object }>().paths);
    expect(paths.filter((p) => !p.startsWith('/v1/'))).toEqual(['/health']);
  });

  it('answers a sign-in from an address over its failure budget with 429 and Retry-After', async () => {
    const { app: server } = await start({ ipLimit: { failures: 2 } });
    const visitor = new Visitor(server);
    await visitor.get('/account/sign-in');
    for (let i = 0; i < 2; i++) expect((await visitor.post('/account/sign-in', { username: `ann-${engine}`, password: 'wrong password!!', securityToken: 'x'.repeat(24) })).statusCode).toBe(401);
    const limited = await visitor.post('/account/sign-in', { username: `ann-${engine}`, password: PASSWORD, securityToken: 'x'.repeat(24) });
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    await visitor.get('/console/sign-in');
    const console = await visitor.post('/console/sign-in', { apiKey: 'not a key' });
    expect(console.statusCode).toBe(429);
  });

  it('filters the audit log by result, reason and address, pages back by id, and counts logins per bucket', async () => {
    const { verifier: v, token } = await start();
    const username = `ann-${engine}`;
    const since = v.now() - 1000;
    await v.login({ username, password: PASSWORD, securityToken: token, clientIp: '198.51.100.1' });
    for (let i = 0; i < 3; i++) await v.login({ username, password: 'wrong password!!', securityToken: token, clientIp: '198.51.100.2' }).catch(() => undefined);
    const failures = await v.audit({ result: 'failure', reason: 'bad_password', clientIp: '198.51.100.2', newestFirst: true });
    expect(failures.map((e) => e.subject)).toEqual([username, username, username]);
    const older = await v.audit({ before: failures[0]!.id, result: 'failure', newestFirst: true, limit: 10 });
    expect(older.map((e) => e.id)).toEqual(failures.slice(1).map((e) => e.id));
    const timeline = await v.loginTimeline({ since, until: v.now() + 60_000, bucketMs: 30_000 });
    expect(timeline.reduce((n, b) => n + b.successes, 0)).toBe(1);
    expect(timeline.reduce((n, b) => n + b.failures, 0)).toBe(3);
  });
});
