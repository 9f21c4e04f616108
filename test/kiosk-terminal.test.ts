// The kiosk in a real terminal (tmux), against SoftHSM and a running verifier: granted; a wrong PIN
// with the tries left shown; the final-try question; locked; a blocked card; the verifier away
// (the cached blocklist still refuses, and the person is told); a card pulled out at the PIN prompt.
import { mkdirSync, readdirSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pkcs11Module } from '../src/index.js';
import { VerifierClient } from '../src/client/index.js';
import type { Verifier } from '../src/verifier/verifier.js';
import { enrollDoorUser, useServedVerifier } from './helpers/served-verifier.js';
import { useSoftHsm } from './helpers/softhsm.js';
import { startInTerminal, type Terminal } from './helpers/terminal.js';

const hsm = useSoftHsm({ tokens: [{ label: 'Hal card', keys: [] }] });
const served = useServedVerifier();
const main = fileURLToPath(new URL('../examples/kiosk/main.ts', import.meta.url));
let verifier: Verifier;
let url: string;
let credentialId: string;
let helpdesk: VerifierClient;
let terminal: Terminal | undefined;

beforeAll(async () => {
  ({ verifier, url } = served.current);
  helpdesk = new VerifierClient(url, { apiKey: (await verifier.apiKeys.create('test', 'helpdesk', ['helpdesk'])).key });
  credentialId = await enrollDoorUser(served.current, { modulePath: hsm.current.modulePath, label: 'Hal card', userPin: hsm.current.tokens[0]!.userPin }, { username: 'hal', holder: 'Hal Example' });
}, 60_000);
afterAll(() => terminal?.stop());

describe('the kiosk at a terminal', () => {
  it('lets Hal in, counts wrong PINs, asks before the last try, locks, refuses a blocked card even with the server away, and resets when the card is pulled', async () => {
    const state = join(tmpdir(), `tokengate-kiosk-terminal-${process.pid}`);
    const pin = hsm.current.tokens[0]!.userPin;
    terminal = startInTerminal([process.execPath, '--import', 'tsx', main, '--module', hsm.current.modulePath, '--verifier', url, '--state-dir', state, '--idle-timeout', '3'], {
      ...hsm.current.env,
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/root',
    });
    const t = terminal;
    await t.waitFor(/Hal Example, your PIN \(3 tries left\)/);
    t.type(pin);
    let screen = await t.waitFor(/ACCESS GRANTED — welcome, Hal Example/);
    // The PIN is never echoed.
    expect(screen).not.toContain(pin);

    // The verdict stays until the idle reset; the card is still in, so the kiosk asks again.
    await t.waitFor(/your PIN \(3 tries left\)/, 2);
    t.type('0000');
    await t.waitFor(/ACCESS DENIED — wrong PIN \(2 tries left\)/);
    await t.waitFor(/your PIN \(2 tries left\)/);
    t.type('1111');
    await t.waitFor(/wrong PIN \(1 try left/);
    await t.waitFor(/your PIN \(1 try left\)/);
    t.type('2222');
    await t.waitFor(/This is your last try: a wrong PIN locks the card\. Go on\?/);
    t.type('y');
    await t.waitFor(/ACCESS DENIED — the PIN is locked — please see the helpdesk/);
    // Locked: the next visit is refused without asking for a PIN.
    screen = await t.waitFor(/the PIN is locked/, 2);
    expect(screen.match(/your PIN/g)).toHaveLength(4);
    t.stop();

    // The helpdesk unblocks the PIN, then the card is reported lost; the kiosk caches the blocklist.
    {
      const { HostLockout } = await import('../src/index.js');
      // The kiosk's counters are the machine's: the same state directory the CLI would use.
      using lockout = new HostLockout({ stateDir: state });
      await using mod = await Pkcs11Module.load(hsm.current.modulePath, { loginGuard: lockout });
      await mod.token({ label: 'Hal card' }).unblockPin({ soPin: hsm.current.tokens[0]!.soPin, newPin: pin });
    }
    await helpdesk.request('POST', `/v1/admin/credentials/${credentialId}/block`, { reason: 'lost' });
    terminal = startInTerminal([process.execPath, '--import', 'tsx', main, '--module', hsm.current.modulePath, '--verifier', url, '--state-dir', state, '--idle-timeout', '3'], {
      ...hsm.current.env,
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/root',
    });
    await terminal.waitFor(/ACCESS DENIED — this token is blocked/);
    terminal.stop();

    // The verifier away: the cached list still refuses the card, and says the server is not answering.
    terminal = startInTerminal([process.execPath, '--import', 'tsx', main, '--module', hsm.current.modulePath, '--verifier', 'http://127.0.0.1:1', '--state-dir', state, '--idle-timeout', '3'], {
      ...hsm.current.env,
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/root',
    });
    screen = await terminal.waitFor(/ACCESS DENIED — this token is blocked/);
    expect(screen).toContain('the access server is not answering');
    terminal.stop();

    // Found again and unblocked; pulled out while the PIN prompt is up: the kiosk resets.
    await new VerifierClient(url, { apiKey: (await verifier.apiKeys.create('test', 'admin2', ['admin'])).key }).request('POST', `/v1/admin/credentials/${credentialId}/enable`, {});
    terminal = startInTerminal([process.execPath, '--import', 'tsx', main, '--module', hsm.current.modulePath, '--verifier', url, '--state-dir', state, '--idle-timeout', '30'], {
      ...hsm.current.env,
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/root',
    });
    await terminal.waitFor(/your PIN \(3 tries left\)/);
    const tokens = join(hsm.current.dir, 'tokens');
    const away = join(hsm.current.dir, 'away');
    mkdirSync(away, { recursive: true });
    for (const name of readdirSync(tokens)) renameSync(join(tokens, name), join(away, name));
    screen = await terminal.waitFor(/ACCESS DENIED — the token was pulled out/);
    await terminal.waitFor(/Present your card/, 2);
  }, 120_000);
});
