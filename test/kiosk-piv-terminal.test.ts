// The kiosk in a real terminal once more, now with the emulated PIV card through pcscd and
// OpenSC: the card counts its own tries, and only the card. Granted; a wrong PIN counted by the
// card alone; the card pulled out while the PIN prompt is up (the kiosk resets), put back; a wrong
// PIN that leaves the last try, the kiosk asking before it is spent, and granted.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { usePivStack } from './helpers/piv.js';
import { useServedVerifier } from './helpers/served-verifier.js';
import { startInTerminal, type Terminal } from './helpers/terminal.js';

const PIN = '246810';
const piv = usePivStack({ pin: PIN, pinTries: 3, holder: 'Jo Example' });
const served = useServedVerifier();
const main = fileURLToPath(new URL('../examples/kiosk/main.ts', import.meta.url));
let url: string;
let terminal: Terminal | undefined;

beforeAll(async () => {
  const { verifier } = served.current;
  url = served.current.url;
  await verifier.admin.create('test', { username: 'jo', email: 'jo@example.test', password: 'correct horse battery' });
  await verifier.admin.setChallengePolicy('test', 'jo', 'token-only');
  await verifier.credentials.enroll('test', { username: 'jo', certificate: piv.current.card.certificatePem, serial: piv.current.card.serial });
}, 60_000);
afterAll(() => terminal?.stop());

describe('the kiosk at a terminal with a PIV card through OpenSC', () => {
  it('grants, counts a wrong PIN on the card, resets when the card is pulled at the prompt, and grants again once it is back', async () => {
    const state = mkdtempSync(join(tmpdir(), 'tokengate-kiosk-piv-'));
    terminal = startInTerminal(
      [process.execPath, '--import', 'tsx', main, '--module', piv.current.modulePath, '--verifier', url, '--state-dir', state, '--idle-timeout', '3'],
      { OPENSC_CONF: process.env.OPENSC_CONF ?? '', PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root' },
    );
    const t = terminal;
    // The card counts its own tries and OpenSC's PIV driver does not say how many are left until the
    // last one: no count is shown, and none is made up by the host.
    await t.waitFor(/Jo Example, your PIN:/, 1, 40_000);
    t.type(PIN);
    await t.waitFor(/ACCESS GRANTED — welcome, Jo Example/, 1, 30_000);
    await t.waitFor(/Jo Example, your PIN:/, 2);
    t.type('000000');
    const screen = await t.waitFor(/ACCESS DENIED — wrong PIN *$/m);
    expect(screen).not.toContain('tries left');
    expect((await piv.current.card.state()).pinTriesLeft).toBe(2);
    await t.waitFor(/Jo Example, your PIN:/, 3);
    // Pulled out with the prompt on screen.
    await piv.current.card.remove();
    await t.waitFor(/ACCESS DENIED — the token was pulled out/);
    await piv.current.card.insert();
    await t.waitFor(/Jo Example, your PIN:/, 4, 30_000);
    t.type('000000');
    // The card's FINAL_TRY flag, read through OpenSC: one try left, and the kiosk asks before spending it.
    await t.waitFor(/ACCESS DENIED — wrong PIN \(1 try left: the next wrong PIN locks the card\)/);
    expect((await piv.current.card.state()).pinTriesLeft).toBe(1);
    await t.waitFor(/Jo Example, your PIN \(1 try left\):/);
    t.type(PIN);
    await t.waitFor(/This is your last try: a wrong PIN locks the card\. Go on\?/);
    t.type('y');
    await t.waitFor(/ACCESS GRANTED — welcome, Jo Example/, 2, 30_000);
    expect((await piv.current.card.state()).pinTriesLeft).toBe(3);
  }, 180_000);
});
