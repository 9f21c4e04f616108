// `tokengate verifier serve`: the HTTP API until SIGINT/SIGTERM, then a clean close (in-flight
// requests finish, queued mail is left for the next start).
import { once } from 'node:events';
import { buildVerifierServer, Verifier } from '../../../verifier/index.js';
import { exitsWith } from '../../command.js';
import { EXIT } from '../../exit-codes.js';
import { configOf, defineVerifierCommand } from '../command.js';

export function serveCommand() {
  const command = defineVerifierCommand('serve', 'Runs the HTTP API (default 127.0.0.1:8787)', 'Runs the HTTP API (default 127.0.0.1:8787; OpenAPI at /openapi.json) until Ctrl-C or SIGTERM. --listen, --trusted-proxy and the connection bounds are its own settings.');
  return command.action(
    exitsWith(async function () {
      const { verifier: options, serve } = configOf(this);
      const [host, port] = (serve.listen ?? '127.0.0.1:8787').split(/:(?=\d+$)/);
      await using verifier = await Verifier.open(options);
      const { listen: _listen, ...limits } = serve;
      const app = await buildVerifierServer(verifier, { ...limits, logger: true });
      const address = await app.listen({ host: host || '127.0.0.1', port: Number(port ?? 8787) });
      console.error(`tokengate verifier: listening on ${address} (OpenAPI at ${address}/openapi.json)`);
      await Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')]);
      await app.close();
      return EXIT.ok;
    }),
  );
}
