// The token side against a running verifier over HTTP: a SoftHSM token enrolled end to end by the
// library (key generated on the token, certificate made and imported there, registered with an API
// key or the user's password), signing in with it, the helpdesk blocking it as lost, and a kiosk's
// blocklist refreshing (ETag: 304 when unchanged) so the token signs nothing more.
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Blocklist, Pkcs11Module, type Session } from '../src/index.js';
import { enrollToken, signInWithToken, VerifierClient } from '../src/client/index.js';
import { buildVerifierServer } from '../src/verifier/http/server.js';
import type { Verifier } from '../src/verifier/verifier.js';
import { useSoftHsm } from './helpers/softhsm.js';
import { openVerifier, useVerifierStack } from './helpers/verifier.js';

const hsm = useSoftHsm({ tokens: [{ label: 'kiosk-card', keys: [] }] });
const stack = useVerifierStack(['sqlite']);
const PASSWORD = 'correct horse battery';
let verifier: Verifier;
let app: FastifyInstance;
let url: string;
let mod: Pkcs11Module;
let session: Session;
let admin: VerifierClient;
let helpdesk: VerifierClient;

beforeAll(async () => {
  verifier = await openVerifier(await stack.newDatabase('sqlite'), stack.smtp);
  app = await buildVerifierServer(verifier);
  url = await app.listen({ host: '127.0.0.1', port: 0 });
  admin = new VerifierClient(url, { apiKey: (await verifier.apiKeys.create('test', 'admin', ['admin'])).key });
  helpdesk = new VerifierClient(url, { apiKey: (await verifier.apiKeys.create('test', 'helpdesk', ['helpdesk'])).key });
  for (const username of ['dana', 'erik']) await verifier.admin.create('test', { username, email: `${username}@example.test`, password: PASSWORD });
  await verifier.admin.setChallengePolicy('test', 'dana', 'token-only');
  mod = await Pkcs11Module.load(hsm.current.modulePath);
  session = await mod.token({ label: 'kiosk-card' }).openSession({ write: true });
  await session.login(hsm.current.tokens[0]!.userPin);
});
afterAll(async () => {
  await session?.close();
  await mod?.close();
  await app?.close();
  await verifier?.close();
});

describe('a token enrolled and used over HTTP', () => {
  it('enrolls end to end, signs in, is blocked as lost, and a kiosk\'s blocklist then refuses it', async () => {
    const serial = hsm.current.tokens[0]!.serial;
    const { credential, key } = await enrollToken(admin, session, { username: 'dana', key: { generate: { type: 'ec-p256', label: 'door' }, subject: 'CN=Dana' }, serial, label: 'door card' });
    expect(credential).toMatchObject({ username: 'dana', serial, status: 'active', keyType: 'ec-p256' });
    // The certificate was imported onto the token, next to its key.
    expect((await session.listCertificates()).map((c) => c.certificate.subject)).toContain('CN=Dana');

    await expect(signInWithToken(new VerifierClient(url), session, key, { username: 'dana', credential: { serial } })).resolves.toMatchObject({ username: 'dana', credentialId: credential.id });
    // A kiosk knows only the token: the verifier says whose it is.
    await expect(signInWithToken(new VerifierClient(url), session, key, { credential: { serial } })).resolves.toMatchObject({ username: 'dana' });
    await expect(new VerifierClient(url).challenge(undefined, { serial: 'not-enrolled-anywhere' })).rejects.toMatchObject({ status: 404, remoteCode: 'ERR_CREDENTIAL_NOT_FOUND' });

    const kiosk = new VerifierClient(url);
    const fetcher = kiosk.blocklistFetcher();
    const blocklist = new Blocklist();
    expect(await blocklist.refresh(fetcher)).toBe(true);
    expect(fetcher.lastStatus).toBe(200);
    expect(await blocklist.refresh(fetcher)).toBe(true);
    expect(fetcher.lastStatus).toBe(304);

    await helpdesk.request('POST', `/v1/admin/credentials/${credential.id}/block`, { reason: 'lost on the train' });
    await blocklist.refresh(fetcher);
    expect(fetcher.lastStatus).toBe(200);
    await using blocked = await mod.token({ label: 'kiosk-card' }).openSession({ admission: blocklist });
    await expect(blocked.login(hsm.current.tokens[0]!.userPin)).rejects.toMatchObject({ code: 'ERR_TOKEN_BLOCKED' });
    await expect(signInWithToken(new VerifierClient(url), session, key, { credential: { serial } })).rejects.toMatchObject({ code: 'ERR_VERIFIER_REFUSED', status: 409, remoteCode: 'ERR_CREDENTIAL_STATE' });

    // The helpdesk's stand-in until a new card arrives.
    const temporary = await helpdesk.request<{ password: string }>('POST', '/v1/admin/users/dana/temporary-password', { deliver: 'show' });
    const login = await new VerifierClient(url).request('POST', '/v1/login/temporary', { username: 'dana', password: PASSWORD, temporaryPassword: temporary.body!.password });
    expect(login.status).toBe(200);
    // The helpdesk cannot revoke (an admin's step); the admin can.
    await expect(helpdesk.request('POST', `/v1/admin/credentials/${credential.id}/revoke`, {})).rejects.toMatchObject({ status: 403 });
    await admin.request('POST', `/v1/admin/credentials/${credential.id}/revoke`, { reason: 'replaced' });
    const audit = (await verifier.audit({ subject: 'dana', limit: 1000 })).map((e) => `${e.action}:${e.reason}`);
    expect(audit).toEqual(expect.arrayContaining(['credential.enroll:ok', 'challenge.login:ok', 'credential.block:lost on the train', 'login.temporary:ok', 'credential.revoke:replaced']));
  });

  it('self-service enrollment needs the password; the same token cannot be enrolled twice', async () => {
    const generate = { generate: { type: 'ed25519' as const, label: 'erik-key' }, subject: 'CN=Erik' };
    await expect(enrollToken(new VerifierClient(url), session, { username: 'erik', key: generate, password: 'wrong password!' })).rejects.toMatchObject({ status: 401, remoteCode: 'ERR_INVALID_CREDENTIALS' });
    const key = await session.findPrivateKey({ label: 'erik-key' });
    const { credential } = await enrollToken(new VerifierClient(url), session, { username: 'erik', key: { existing: key }, password: PASSWORD });
    expect(credential).toMatchObject({ username: 'erik', keyType: 'ed25519' });
    await expect(enrollToken(admin, session, { username: 'dana', key: { existing: key } })).rejects.toMatchObject({ status: 409, remoteCode: 'ERR_CREDENTIAL_EXISTS' });
    // Erik's policy is password + token: the client sends the password when asked.
    await expect(signInWithToken(new VerifierClient(url), session, key, { username: 'erik', credential: { id: credential.id }, password: PASSWORD })).resolves.toMatchObject({ username: 'erik' });
  });

  it('an unreachable verifier is a typed error', async () => {
    await expect(new VerifierClient('http://127.0.0.1:1').challenge('dana', { serial: 'x' })).rejects.toMatchObject({ code: 'ERR_VERIFIER_UNREACHABLE' });
  });
});
