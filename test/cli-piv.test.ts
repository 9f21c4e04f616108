// The CLI on a card that counts its own tries (the emulated PIV card through pcscd and OpenSC):
// the card's counter is the only truth. `status` says the card counts and shows its PUK, not an SO
// PIN; wrong PINs through login and change-pin are counted by the card alone; the wrong PIN that
// locks it exits 4; and when the card's counter is changed behind the library's back — a right PIN
// or a PUK unblock through pkcs11-tool, as on another machine — the next status and login follow
// the card at once. A wrong PUK says it was the PUK.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI_MAIN, runCli, type CliRun } from './helpers/cli.js';
import { usePivStack } from './helpers/piv.js';

const PIN = '246810';
const PUK = '97531864';
const NEW_PIN = '135790';
const piv = usePivStack({ pin: PIN, puk: PUK, pinTries: 3, pukTries: 3, holder: 'Cli Card' });
const state = mkdtempSync(join(tmpdir(), 'tokengate-cli-piv-'));
afterAll(() => rmSync(state, { recursive: true, force: true }));

function tokengate(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return runCli([...args, '--module', piv.current.modulePath], { ...process.env, TOKENGATE_STATE_DIR: state, ...env });
}

/** Another program on another machine, with its own view: OpenSC's own tool. */
function pkcs11Tool(args: string[]): void {
  execFileSync('pkcs11-tool', ['--module', piv.current.modulePath, ...args], { env: process.env, stdio: 'ignore' });
}

async function status(): Promise<Record<string, unknown>> {
  const r = await tokengate(['status', '--json']);
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

const card = () => piv.current.card.state();

describe('the CLI with a card that counts its own tries', () => {
  it('keys lists the card\'s certificate; export gets it and its public key out, byte for byte', async () => {
    const keys = await tokengate(['keys', '--json', '--debug']);
    expect(keys.stderr).toBe('');
    expect(keys.status).toBe(0);
    const [entry] = JSON.parse(keys.stdout) as Array<{ certificate: boolean; subject: string }>;
    expect(entry).toMatchObject({ certificate: true, subject: 'CN=Cli Card' });
    const out = join(state, 'card.der');
    const label = (JSON.parse(keys.stdout) as Array<{ label: string }>)[0]!.label;
    expect((await tokengate(['export', '--key', label, '--cert', '--format', 'der', '--out', out])).status).toBe(0);
    expect(readFileSync(out)).toEqual(Buffer.from(piv.current.card.certificate.rawData));
    const pub = await tokengate(['export', '--key', label, '--public-key']);
    expect(pub.stdout).toBe(execFileSync('openssl', ['x509', '-inform', 'der', '-in', out, '-pubkey', '-noout'], { encoding: 'utf8' }));
  }, 60_000);

  it('leaves counting to the card on every path, and follows the card when it changes elsewhere', async () => {
    const first = await status();
    expect(first).toMatchObject({ countedBy: 'token', pin: { pinStatus: 'ok', source: 'token' }, puk: { secret: 'puk', pinStatus: 'unknown', source: 'token' } });
    expect(first).not.toHaveProperty('soPin');
    expect(first.pin).not.toHaveProperty('failures');

    const wrong = await tokengate(['login'], { TOKENGATE_PIN: '000001' });
    expect(wrong.status).toBe(3);
    expect(wrong.stderr).toContain('wrong PIN (the token does not say how many tries are left) [ERR_PIN_INCORRECT]');
    expect((await card()).pinTriesLeft).toBe(2);
    const again = await tokengate(['change-pin'], { TOKENGATE_PIN: '000002', TOKENGATE_NEW_PIN: NEW_PIN });
    expect(again.status).toBe(3);
    expect(again.stderr).toContain('1 try left');
    expect((await card()).pinTriesLeft).toBe(1);
    expect(await status()).toMatchObject({ pin: { pinStatus: 'finalTry', retriesLeft: 1, source: 'token' } });

    // The right PIN in another program: the card is back to 3 tries, and so is this machine.
    pkcs11Tool(['--login', '--pin', PIN, '--list-objects']);
    expect((await card()).pinTriesLeft).toBe(3);
    expect(await status()).toMatchObject({ pin: { pinStatus: 'ok', source: 'token' } });
    expect((await tokengate(['login'], { TOKENGATE_PIN: PIN })).status).toBe(0); // no made-up final try

    // Two wrong, then the final try refused unless allowed, then the wrong PIN that locks: exit 4.
    for (const pin of ['000003', '000004']) expect((await tokengate(['login'], { TOKENGATE_PIN: pin })).status).toBe(3);
    const kept = await tokengate(['sign', '--in', CLI_MAIN, '--out', join(state, 'x.sig')], { TOKENGATE_PIN: '000005' });
    expect(kept.status).toBe(2);
    expect((await card()).pinTriesLeft).toBe(1);
    const locking = await tokengate(['login', '--allow-final-try'], { TOKENGATE_PIN: '000005' });
    expect(locking.status).toBe(4);
    expect(locking.stderr).toContain('wrong PIN — the PIN is now locked');
    expect((await card()).pinTriesLeft).toBe(0);
    expect(await status()).toMatchObject({ pin: { pinStatus: 'locked', retriesLeft: 0, source: 'token' } });

    // The helpdesk unblocks the card with the PUK on its own machine: unlocked here at once.
    pkcs11Tool(['--unlock-pin', '--puk', PUK, '--new-pin', NEW_PIN]);
    expect(await card()).toMatchObject({ pinTriesLeft: 3, pukTriesLeft: 3 });
    expect(await status()).toMatchObject({ pin: { pinStatus: 'ok' } });
    expect((await tokengate(['login'], { TOKENGATE_PIN: NEW_PIN })).status).toBe(0);

    // A wrong PUK says it was the PUK, and costs the PUK a try on the card; the right one unblocks.
    const wrongPuk = await tokengate(['unblock-pin'], { TOKENGATE_PUK: '00000000', TOKENGATE_NEW_PIN: PIN });
    expect(wrongPuk.status).toBe(3);
    expect(wrongPuk.stderr).toContain('wrong PUK');
    expect(wrongPuk.stderr).not.toContain('00000000');
    expect((await card()).pukTriesLeft).toBe(2);
    expect((await tokengate(['unblock-pin'], { TOKENGATE_PUK: PUK, TOKENGATE_NEW_PIN: PIN })).status).toBe(0);
    expect(await card()).toMatchObject({ pinTriesLeft: 3, pukTriesLeft: 3 });
    expect((await tokengate(['login'], { TOKENGATE_PIN: PIN })).status).toBe(0);
  }, 180_000);
});
