// The kiosk (main.ts) in a real terminal (tmux) with a security key: a simulated key served on UDP
// by this process (`--fido-device udp:…`), enrolled discoverably for a token-only user of a running
// verifier whose relying party the kiosk asks for at start. The reader is empty. Pulling the key
// out closes the simulator's port, which the kiosk's watcher sees as for a HID key going away.
// Each story has its own key and kiosk: granted, and a wrong PIN with the key's count; the last
// try asked about (declined, then accepted) and the key blocked; too many wrong PINs since plugging
// in, "unplug and plug in again", replugged and granted, then pulled out at the PIN prompt; and
// "Touch your key…" shown and timed out.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { SimulatedAuthenticator, type SimulatedAuthenticatorOptions } from '../native-fixtures/fido/authenticator.js';
import { SecurityKey } from '../src/index.js';
import { enrollSecurityKey, VerifierClient } from '../src/client/index.js';
import { useServedVerifier } from './helpers/served-verifier.js';
import { useSoftHsm } from './helpers/softhsm.js';
import { startInTerminal, type Terminal } from './helpers/terminal.js';

const PIN = '4831-pin';
const RP = 'door.example.com';
const WAITING = /Present your card or security key…/;
const hsm = useSoftHsm({ tokens: [] });
const served = useServedVerifier({ fido: { rpId: RP } });
const main = fileURLToPath(new URL('../examples/kiosk/main.ts', import.meta.url));
let admin: VerifierClient;

beforeAll(async () => {
  const { verifier, url } = served.current;
  admin = new VerifierClient(url, { apiKey: (await verifier.apiKeys.create('test', 'admin', ['admin'])).key });
}, 60_000);

/** A new key with PIN set, enrolled for a new token-only user, and a kiosk at a terminal for it. */
async function kioskWithKey(test: TestContext, username: string, options: SimulatedAuthenticatorOptions = {}): Promise<{ t: Terminal; sim: SimulatedAuthenticator }> {
  const { verifier, url } = served.current;
  const sim = new SimulatedAuthenticator({ pin: PIN, touch: 'auto', ...options });
  const port = (await sim.serveUdp({ host: '127.0.0.1', port: 0 })).port;
  test.onTestFinished(() => sim.close());
  await verifier.admin.create('test', { username, email: `${username}@example.test`, password: 'correct horse battery' });
  await verifier.admin.setChallengePolicy('test', username, 'token-only');
  // Enrolment is touched whatever the story's touch mode: a manual key is touched when it asks.
  const touch = () => sim.touch();
  sim.on('up-needed', touch);
  {
    await using key = await SecurityKey.open(sim.connect().host);
    await enrollSecurityKey(admin, key, { username, label: 'door key', discoverable: true, unlock: (rpId) => key.unlock(PIN, { rpId }) });
  }
  sim.off('up-needed', touch);
  const state = join(tmpdir(), `tokengate-kiosk-fido-terminal-${process.pid}-${username}`);
  const t = startInTerminal(
    [process.execPath, '--import', 'tsx', main, '--module', hsm.current.modulePath, '--verifier', url, '--fido-device', `udp:127.0.0.1:${port}`, '--state-dir', state, '--idle-timeout', '3'],
    { ...hsm.current.env, PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root' },
  );
  test.onTestFinished(() => t.stop());
  await t.waitFor(WAITING);
  await t.waitFor(/Security key "security key at udp:127\.0\.0\.1:\d+"/);
  return { t, sim };
}

// The stories run side by side: each has its own key, user and kiosk, and mostly waits on the idle reset.
describe.concurrent('the kiosk at a terminal with a security key', () => {
  it('asks the key\'s PIN with its tries, says "touch your key", grants Kim; after the reset a wrong PIN shows the key\'s count', async (test) => {
    const { t, sim } = await kioskWithKey(test, 'kim');
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

  it('the last try is asked about: declined, nothing reaches the key; accepted and wrong, the key is blocked and the next visit says "see the helpdesk" without a prompt', async (test) => {
    const { t, sim } = await kioskWithKey(test, 'lou', { retries: 2 });
    await t.waitFor(/your PIN \(2 tries left\)/);
    t.type('0000-bad');
    await t.waitFor(/ACCESS DENIED — wrong PIN \(1 try left: the next wrong PIN locks the key\)/);
    await t.waitFor(/your PIN \(1 try left\)/);
    t.type('1111-bad');
    await t.waitFor(/This is your last try: a wrong PIN locks the key\. Go on\?/);
    t.type('n');
    await t.waitFor(/ACCESS DENIED — last try kept — nothing was sent to the key/);
    expect(sim.retriesLeft).toBe(1);
    await t.waitFor(/your PIN \(1 try left\)/, 2);
    t.type('2222-bad');
    await t.waitFor(/This is your last try: a wrong PIN locks the key\. Go on\?/, 2);
    t.type('y');
    await t.waitFor(/ACCESS DENIED — the PIN is locked — please see the helpdesk/);
    expect(sim.retriesLeft).toBe(0);
    // After the idle reset the blocked key, still plugged in, is refused at once: no prompt.
    const screen = await t.waitFor(/ACCESS DENIED — the PIN is locked — please see the helpdesk/, 2);
    expect(screen.match(/your PIN \(/g)).toHaveLength(3);
  }, 90_000);

  it('too many wrong PINs since plugging in: "unplug the key and plug it in again"; replugged, it grants; pulled out at the prompt, the kiosk resets and no try is spent', async (test) => {
    const { t, sim } = await kioskWithKey(test, 'max');
    for (const [n, wrong] of ['0000-bad', '1111-bad', '2222-bad'].entries()) {
      await t.waitFor(/your PIN \(\d tries left\)/, n + 1);
      t.type(wrong);
    }
    await t.waitFor(/ACCESS DENIED — too many wrong PINs — unplug the key and plug it in again/);
    expect(sim.pinAuthBlocked).toBe(true);
    expect(sim.retriesLeft).toBe(5);
    const waits = (t.screen().match(new RegExp(WAITING.source, 'g')) ?? []).length;
    sim.unplug();
    await t.waitFor(WAITING, waits + 1);
    sim.plug();
    await t.waitFor(/your PIN \(5 tries left\)/);
    t.type(PIN);
    await t.waitFor(/ACCESS GRANTED — welcome, max/);
    expect(sim.retriesLeft).toBe(8);
    // After the idle reset the key is asked about again (its first visit asked with 8 too); it is
    // pulled out while the prompt waits.
    await t.waitFor(/your PIN \(8 tries left\)/, 2);
    const before = (t.screen().match(new RegExp(WAITING.source, 'g')) ?? []).length;
    sim.unplug();
    const screen = await t.waitFor(WAITING, before + 1);
    expect(screen).toMatch(/ACCESS DENIED — the token was pulled out/);
    expect(sim.retriesLeft).toBe(8);
    expect(sim.consecutivePinFailures).toBe(0);
  }, 120_000);

  it('a key not touched in time: "Touch your key…" shown, then denied for it', async (test) => {
    const { t, sim } = await kioskWithKey(test, 'ned', { touch: 'manual', touchTimeoutMs: 1_500 });
    await t.waitFor(/your PIN \(8 tries left\)/);
    t.type(PIN);
    const screen = await t.waitFor(/ACCESS DENIED — the key was not touched in time/);
    expect(screen).toContain('Touch your key…');
    expect(sim.waitingForTouch).toBe(false);
  }, 90_000);
});
