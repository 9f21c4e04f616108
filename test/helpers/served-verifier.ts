// A running verifier for tests of its clients (the kiosk, the CLI): SQLite, mail to a real SMTP
// peer, HTTP on loopback; started before the file's tests, closed after them. And a door's user
// with an enrolled SoftHSM card (enrollDoorUser).
import { createServer } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll } from 'vitest';
import { enrollToken, VerifierClient } from '../../src/client/index.js';
import { Pkcs11Module } from '../../src/index.js';
import { buildVerifierServer } from '../../src/verifier/http/server.js';
import type { Verifier, VerifierOptions } from '../../src/verifier/verifier.js';
import { startSmtpPeer, type SmtpPeer } from './smtp.js';
import { openVerifier, useStoreEngines } from './verifier.js';

export interface ServedVerifier {
  readonly verifier: Verifier;
  readonly url: string;
  readonly smtp: SmtpPeer;
  /** Its SQLite file, for a CLI run against the same store. */
  readonly database: string;
}

/** A port nobody listens on just now (the kernel's pick), for a server whose origin must be known before it starts. */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/**
 * `overrides`: the verifier's options beyond the test defaults (e.g. `fido`). `webauthn`: served
 * at http://localhost:PORT, which is the relying party's one origin — a browser's WebAuthn needs a
 * domain (not 127.0.0.1) in a secure context, which localhost is over plain HTTP.
 */
export function useServedVerifier(overrides: Partial<VerifierOptions> = {}, options: { webauthn?: boolean } = {}): { readonly current: ServedVerifier } {
  const engines = useStoreEngines(['sqlite']);
  let served: ServedVerifier | undefined;
  let app: FastifyInstance | undefined;
  beforeAll(async () => {
    const smtp = await startSmtpPeer();
    const database = await engines.newDatabase('sqlite');
    const port = options.webauthn ? await freePort() : 0;
    const origin = `http://localhost:${port}`;
    const verifier = await openVerifier(database, smtp, options.webauthn ? { ...overrides, fido: { rpId: 'localhost', origins: [origin] } } : overrides);
    app = await buildVerifierServer(verifier);
    const url = await app.listen({ host: '127.0.0.1', port });
    served = { verifier, smtp, database, url: options.webauthn ? origin : url };
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    await served?.verifier.close();
    await served?.smtp.stop();
  });
  return {
    get current(): ServedVerifier {
      if (!served) throw new Error('verifier not started');
      return served;
    },
  };
}

/**
 * A user of the served verifier whose SoftHSM card is enrolled for a door: created, given the
 * `token-only` challenge policy a kiosk needs (it sends no password), and a key generated on the
 * card with a certificate for `holder`, registered through the admin API. Returns the credential id.
 */
export async function enrollDoorUser(served: ServedVerifier, card: { modulePath: string; label: string; userPin: string }, user: { username: string; holder: string }): Promise<string> {
  const { verifier, url } = served;
  await verifier.admin.create('test', { username: user.username, email: `${user.username}@example.test`, password: 'correct horse battery' });
  await verifier.admin.setChallengePolicy('test', user.username, 'token-only');
  const admin = new VerifierClient(url, { apiKey: (await verifier.apiKeys.create('test', `admin-${user.username}`, ['admin'])).key });
  // The right PIN, once: no guard needed in front of it.
  await using mod = await Pkcs11Module.load(card.modulePath, { loginGuard: 'none' });
  const token = mod.token({ label: card.label });
  await using session = await token.openSession({ write: true });
  await session.login(card.userPin);
  const key = { generate: { type: 'ec-p256' as const, label: 'door' }, subject: `CN=${user.holder}` };
  const { credential } = await enrollToken(admin, session, { username: user.username, key, serial: token.serial });
  await session.logout();
  return credential.id;
}
