// `tokengate verifier serve`: the HTTP API until SIGINT/SIGTERM, then a clean close (in-flight
// requests finish, queued mail is left for the next start).
import { once } from 'node:events';
import { buildVerifierServer } from '../../verifier/http/server.js';
import { Verifier, type VerifierOptions } from '../../verifier/verifier.js';
import type { VerifierCliConfig } from './config.js';

export async function serve(options: VerifierOptions, http: VerifierCliConfig['serve']): Promise<number> {
  const [host, port] = (http.listen ?? '127.0.0.1:8787').split(/:(?=\d+$)/);
  await using verifier = await Verifier.open(options);
  const { listen: _listen, ...limits } = http;
  const app = await buildVerifierServer(verifier, { ...limits, logger: true });
  const address = await app.listen({ host: host || '127.0.0.1', port: Number(port ?? 8787) });
  console.error(`tokengate verifier: listening on ${address} (OpenAPI at ${address}/openapi.json)`);
  await Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')]);
  await app.close();
  return 0;
}
