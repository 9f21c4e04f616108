// The kiosk in a real terminal, as a newcomer meets it: ctrl+t does not reveal the PIN (no toggle
// is offered); keys typed while the result is on screen are neither echoed nor used as the next
// PIN; the kiosk and the CLI share one counter (the CLI sees the kiosk's lock); and the helpdesk's
// `tokengate unblock-pin` unlocks the card for the running kiosk — the new PIN grants, the old one
// is wrong — without a restart, although SoftHSM reads its files only at start-up.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enrollDoorUser, useServedVerifier } from './helpers/served-verifier.js';
import { useSoftHsm } from './helpers/softhsm.js';
import { startInTerminal, type Terminal } from './helpers/terminal.js';

const hsm = useSoftHsm({ tokens: [{ label: 'Kim card', keys: [] }] });
const served = useServedVerifier();
const kioskMain = fileURLToPath(new URL('../examples/kiosk/main.ts', import.meta.url));
const cliMain = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const state = mkdtempSync(join(tmpdir(), 'tokengate-first-hour-'));
let url: string;
let terminal: Terminal | undefined;

function tokengate(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, ['--import', 'tsx', cliMain, ...args, '--module', hsm.current.modulePath], {
    encoding: 'utf8',
    env: { ...process.env, ...hsm.current.env, TOKENGATE_STATE_DIR: state, ...env },
  });
}

beforeAll(async () => {
  url = served.current.url;
  await enrollDoorUser(served.current, { modulePath: hsm.current.modulePath, label: 'Kim card', userPin: hsm.current.tokens[0]!.userPin }, { username: 'kim', holder: 'Kim Example' });
}, 60_000);
afterAll(() => terminal?.stop());

describe('a newcomer\'s kiosk', () => {
  it('never shows the PIN, drops what is typed between prompts, and follows the CLI\'s unblock while running', async () => {
    const pin = hsm.current.tokens[0]!.userPin;
    terminal = startInTerminal([process.execPath, '--import', 'tsx', kioskMain, '--module', hsm.current.modulePath, '--verifier', url, '--state-dir', state, '--idle-timeout', '3'], {
      ...hsm.current.env,
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/root',
    });
    const t = terminal;
    let screen = await t.waitFor(/Kim Example, your PIN \(3 tries left\):/);
    expect(screen).not.toContain('toggle visibility');
    t.type(pin, false);
    await t.waitFor(new RegExp(`your PIN \\(3 tries left\\): \\*{${pin.length}}`));
    t.keys('C-t'); // the reveal key of the prompt library: must do nothing
    // One more key after it: once its star shows, the ctrl+t before it has been handled too.
    t.type('x', false);
    screen = await t.waitFor(new RegExp(`your PIN \\(3 tries left\\): \\*{${pin.length + 1}} *$`, 'm'));
    expect(screen).not.toContain(pin);
    t.keys('BSpace');
    await t.waitFor(new RegExp(`your PIN \\(3 tries left\\): \\*{${pin.length}} *$`, 'm'));
    t.keys('Enter');
    screen = await t.waitFor(/ACCESS GRANTED — welcome, Kim Example/);
    expect(screen).not.toContain(pin);

    // Typed while the verdict is up: not echoed, and not the next visitor's PIN.
    t.type('98765432');
    await t.waitFor(/Kim Example, your PIN \(3 tries left\):/, 2);
    expect(t.screen()).not.toContain('98765432');
    t.type(pin);
    screen = await t.waitFor(/ACCESS GRANTED — welcome, Kim Example/, 2);
    expect(screen).not.toMatch(/wrong PIN/);

    // Locked at the kiosk: three wrong PINs, the last one confirmed.
    for (const [wrong, left, seen] of [['11111111', 3, 3], ['22222222', 2, 1], ['33333333', 1, 1]] as const) {
      await t.waitFor(new RegExp(`your PIN \\(${left} ${left === 1 ? 'try' : 'tries'} left\\):`), seen);
      t.type(wrong);
      if (left === 1) {
        await t.waitFor(/This is your last try/);
        t.type('y');
      }
    }
    await t.waitFor(/ACCESS DENIED — the PIN is locked/);
    // One counter on this machine: the CLI sees the kiosk's lock.
    const status = JSON.parse(tokengate(['status', '--json']).stdout) as { pin: { pinStatus: string; failures: number } };
    expect(status.pin).toMatchObject({ pinStatus: 'locked', failures: 3 });

    // The helpdesk unblocks with the CLI while the kiosk keeps running.
    const unblocked = tokengate(['unblock-pin', '--with', 'so-pin'], { TOKENGATE_SO_PIN: hsm.current.tokens[0]!.soPin, TOKENGATE_NEW_PIN: '55556666' });
    expect(unblocked.status).toBe(0);
    await t.waitFor(/Kim Example, your PIN \(3 tries left\):/, 4, 30_000);
    t.type(pin); // the old PIN no longer opens the door
    await t.waitFor(/ACCESS DENIED — wrong PIN \(2 tries left\)/);
    await t.waitFor(/your PIN \(2 tries left\):/, 2);
    t.type('55556666');
    await t.waitFor(/ACCESS GRANTED — welcome, Kim Example/, 3);
  }, 150_000);
});
