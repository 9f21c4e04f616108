// `npm run fido-sim -- --udp 127.0.0.1:0 …`: the simulated key on its own, for trying a client or
// fido2-tools by hand. Prefer FIDO_SIM_PIN in the environment for the PIN (it stays out of `ps`);
// --pin is accepted because this is a test fixture's PIN for a simulator, nothing real.
import { parseArgs } from 'node:util';
import { SimulatedAuthenticator, type SimulatedAuthenticatorOptions } from './authenticator.js';
import type { TouchMode } from './presence.js';
import type { ProtocolVersion } from './pin-protocol.js';

const usage = `usage: fido-sim --udp HOST:PORT [--pin PIN] [--retries N] [--per-cycle N]
                [--touch auto|manual|never] [--protocols 2,1] [--no-permissions-token] [--ctap1-only]
  FIDO_SIM_PIN sets the PIN without putting it on the command line.`;

function main(): void {
  const { values } = parseArgs({
    options: {
      udp: { type: 'string', default: '127.0.0.1:0' },
      pin: { type: 'string' },
      retries: { type: 'string' },
      'per-cycle': { type: 'string' },
      touch: { type: 'string' },
      protocols: { type: 'string' },
      'no-permissions-token': { type: 'boolean' },
      'ctap1-only': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return;
  }
  const at = values.udp.lastIndexOf(':');
  const host = at > 0 ? values.udp.slice(0, at).replace(/^\[|\]$/g, '') : values.udp;
  const port = at > 0 ? Number(values.udp.slice(at + 1)) : 0;
  const options: SimulatedAuthenticatorOptions = {};
  const pin = values.pin ?? process.env.FIDO_SIM_PIN;
  if (pin) options.pin = pin;
  if (values.retries) options.retries = count('--retries', values.retries);
  if (values['per-cycle']) options.retriesPerPowerCycle = count('--per-cycle', values['per-cycle']);
  if (values.touch) {
    if (!['auto', 'manual', 'never'].includes(values.touch)) die(`--touch is auto, manual or never, not ${values.touch}`);
    options.touch = values.touch as TouchMode;
  }
  if (values.protocols) {
    const list = values.protocols.split(',').map(Number);
    if (list.some((p) => p !== 1 && p !== 2)) die(`--protocols lists 1 and/or 2, not ${values.protocols}`);
    options.pinProtocols = list as ProtocolVersion[];
  }
  if (values['no-permissions-token']) options.pinUvAuthToken = false;
  if (values['ctap1-only']) options.ctap1Only = true;
  if (!Number.isInteger(port) || port < 0 || port > 65535) die(`--udp wants HOST:PORT, not ${values.udp}`);

  const sim = new SimulatedAuthenticator(options);
  // In manual mode the key is touched by a line on stdin ("t" or an empty line).
  if (options.touch === 'manual') {
    process.stdin.on('data', () => sim.touch());
  }
  sim.serveUdp({ host, port }).then(
    (server) => {
      process.stdout.write(`fido-sim listening on udp:${server.address.includes(':') ? `[${server.address}]` : server.address}:${server.port}\n`);
      const stop = () => {
        void sim.close().then(() => process.exit(0));
      };
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    },
    (error: Error) => die(`cannot listen on ${values.udp}: ${error.message}`),
  );
}

function count(flag: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 255) die(`${flag} wants a whole number from 1 to 255, not ${text}`);
  return n;
}

function die(message: string): never {
  process.stderr.write(`fido-sim: ${message}\n${usage}\n`);
  process.exit(2);
}

main();
