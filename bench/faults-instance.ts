// One verifier instance for bench:faults and its test, in a process of its own (so that it can be
// killed with SIGKILL): reads its settings from stdin as one JSON line (the server secret is not
// for argv), serves HTTP on the port given, and prints `listening` once it does.
import { createInterface } from 'node:readline';
import { buildVerifierServer } from '../src/verifier/http/server.js';
import { ServerSecret } from '../src/verifier/server-secret.js';
import { Verifier } from '../src/verifier/verifier.js';

export interface InstanceSettings {
  readonly database: string;
  readonly secretHex: string;
  readonly smtpPort: number;
  readonly port: number;
}

let line = '';
for await (const first of createInterface({ input: process.stdin })) {
  line = first;
  break;
}
const settings = JSON.parse(line) as InstanceSettings;
const verifier = await Verifier.open({
  database: settings.database,
  secret: ServerSecret.from(Buffer.from(settings.secretHex, 'hex')),
  mail: { from: 'faults@localhost', transport: { kind: 'smtp', host: '127.0.0.1', port: settings.smtpPort }, pollMs: 250, retryBaseMs: 250, leaseMs: 5000 },
  // Each login is one line in the audit log; the failure budget is not what this measures.
  ipLimit: { failures: 1_000_000 },
});
const app = await buildVerifierServer(verifier);
await app.listen({ host: '127.0.0.1', port: settings.port });
console.log('listening');
const stop = async () => {
  await app.close();
  await verifier.close();
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
