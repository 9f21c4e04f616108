// A running verifier for tests of its clients (the kiosk, the CLI): SQLite, mail to a real SMTP
// peer, HTTP on loopback; started before the file's tests, closed after them.
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll } from 'vitest';
import { buildVerifierServer } from '../../src/verifier/http/server.js';
import type { Verifier } from '../../src/verifier/verifier.js';
import { startSmtpPeer, type SmtpPeer } from './smtp.js';
import { openVerifier, useStoreEngines } from './verifier.js';

export interface ServedVerifier {
  readonly verifier: Verifier;
  readonly url: string;
  readonly smtp: SmtpPeer;
}

export function useServedVerifier(): { readonly current: ServedVerifier } {
  const engines = useStoreEngines(['sqlite']);
  let served: ServedVerifier | undefined;
  let app: FastifyInstance | undefined;
  beforeAll(async () => {
    const smtp = await startSmtpPeer();
    const verifier = await openVerifier(await engines.newDatabase('sqlite'), smtp);
    app = await buildVerifierServer(verifier);
    served = { verifier, smtp, url: await app.listen({ host: '127.0.0.1', port: 0 }) };
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
