// The kiosk (main.ts) in a real terminal (tmux) with a security key: the simulated key served on
// UDP by this process (`--fido-device udp:…`), enrolled discoverably for a token-only user of a
// running verifier whose relying party the kiosk asks for at start. The key's PIN with its tries,
// "Touch your key…", ACCESS GRANTED naming the user; after the idle reset the key, still plugged
// in, is asked about again and a wrong PIN says the tries the key has left. The reader is empty.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedAuthenticator } from '../native-fixtures/fido/authenticator.js';
import { SecurityKey } from '../src/index.js';
import { enrollSecurityKey, VerifierClient } from '../src/client/index.js';
import { useServedVerifier } from './helpers/served-verifier.js';
import { useSoftHsm } from './helpers/softhsm.js';
import { startInTerminal, type Terminal } from './helpers/terminal.js';

const PIN = '4831-pin';
const RP = 'door.example.com';
const hsm = useSoftHsm({ tokens: [] });
const served = useServedVerifier({ fido: { rpId: RP } });
const main = fileURLToPath(new URL('../examples/kiosk/main.ts', import.meta.url));
const sim = new SimulatedAuthenticator({ pin: PIN, touch: 'auto' });
let port: number;
let terminal: Terminal | undefined;

beforeAll(async () => {
  const { verifier, url } = served.current;
  port = (await sim.serveUdp({ host: '127.0.0.1', port: 0 })).port;
  await verifier.admin.create('test', { username: 'kim', email: 'kim@example.test', password: 'correct horse battery' });
  await verifier.admin.setChallengePolicy('test', 'kim', 'token-only');
  const admin = new VerifierClient(url, { apiKey: (await verifier.apiKeys.create('test', 'admin', ['admin'])).key });
  await using key = await SecurityKey.open(sim.connect().host);
  await enrollSecurityKey(admin, key, { username: 'kim', label: 'door key', discoverable: true, unlock: (rpId) => key.unlock(PIN, { rpId }) });
}, 60_000);
afterAll(async () => {
  terminal?.stop();
  await sim.close();
});

describe('the kiosk at a terminal with a security key', () => {
  it('asks the key\'s PIN with its tries, says "touch your key", grants Kim; after the reset a wrong PIN shows the key\'s count', async () => {
    const state = join(tmpdir(), `tokengate-kiosk-fido-terminal-${process.pid}`);
    terminal = startInTerminal(
      [process.execPath, '--import', 'tsx', main, '--module', hsm.current.modulePath, '--verifier', served.current.url, '--fido-device', `udp:127.0.0.1:${port}`, '--state-dir', state, '--idle-timeout', '3'],
      { ...hsm.current.env, PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root' },
    );
    const t = terminal;
    await t.waitFor(/Present your card or security key…/);
    await t.waitFor(/Security key "security key at udp:127\.0\.0\.1:\d+"/);
    await t.waitFor(/your PIN \(8 tries left\)/);
    t.type(PIN);
    let screen = await t.waitFor(/ACCESS GRANTED — welcome, kim/);
    expect(screen).toContain('Touch your key…');
    expect(screen).not.toContain(PIN);
    // The verdict stays until the idle reset; the key is still in, so the kiosk asks again.
    await t.waitFor(/your PIN \(8 tries left\)/, 2);
    t.type('0000-bad');
    screen = await t.waitFor(/ACCESS DENIED — wrong PIN \(7 tries left\)/);
    expect(sim.retriesLeft).toBe(7);
    expect(screen).not.toContain('0000-bad');
  }, 90_000);
});
