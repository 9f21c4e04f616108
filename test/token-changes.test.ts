// A PIN set by another process on a software token: SoftHSM reads its files only at C_Initialize,
// so until this process initialises the module again the new PIN is "wrong" here and the old one
// still works. The shared login guard records every PIN set anew; `token.changedElsewhere()` says
// when the last change was another process's, and `module.reload()` brings the new PIN in.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { HostLockout, Pkcs11Module } from '../src/index.js';
import { useSoftHsm } from './helpers/softhsm.js';

const hsm = useSoftHsm({ tokens: [{ label: 'shared', keys: [{ type: 'ec-p256', label: 'p256', id: '01' }] }] });
const stateDir = mkdtempSync(join(tmpdir(), 'tokengate-changes-'));
const main = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

function otherProcess(args: string[], env: Record<string, string>): number | null {
  return spawnSync(process.execPath, ['--import', 'tsx', main, ...args, '--module', hsm.current.modulePath, '--token', 'shared'], {
    env: { ...process.env, ...hsm.current.env, TOKENGATE_STATE_DIR: stateDir, ...env },
    stdio: 'ignore',
  }).status;
}

describe('a PIN changed by another process', () => {
  it('is noticed, and seen here after module.reload(); this process\'s own changes need no reload', async () => {
    const { userPin, soPin } = hsm.current.tokens[0]!;
    using lockout = new HostLockout({ stateDir });
    await using mod = await Pkcs11Module.load(hsm.current.modulePath, { loginGuard: lockout });
    const token = mod.token({ label: 'shared' });
    await using pool = await token.openPool({ pin: userPin, workers: 0 });
    expect(token.changedElsewhere()).toBe(false);

    // This process changes the PIN itself: nothing stale.
    await token.changePin(userPin, '11112222');
    expect(token.changedElsewhere()).toBe(false);
    await token.changePin('11112222', userPin);

    // The helpdesk's command line sets a new PIN while this process holds the token open.
    expect(otherProcess(['unblock-pin', '--with', 'so-pin'], { TOKENGATE_SO_PIN: soPin, TOKENGATE_NEW_PIN: '24682468' })).toBe(0);
    expect(token.changedElsewhere()).toBe(true);
    {
      // Stale: this process's SoftHSM still takes the old PIN and not the new one (which is why).
      await using probe = await Pkcs11Module.load(hsm.current.modulePath, { loginGuard: 'none' });
      await using s = await probe.token({ label: 'shared' }).openSession();
      await expect(s.login('24682468')).rejects.toMatchObject({ code: 'ERR_PIN_INCORRECT' });
    }
    expect(await mod.reload()).toBe(true);
    expect(token.changedElsewhere()).toBe(false);
    await using session = await token.openSession();
    await expect(session.login(userPin)).rejects.toMatchObject({ code: 'ERR_PIN_INCORRECT' });
    await session.login('24682468');
    // The pool's sessions ended with the reload; its next signature logs in again (with its own,
    // now old PIN: refused and counted, not a hang).
    await expect(pool.signChallenge({ label: 'p256' }, 'after the reload')).rejects.toMatchObject({ code: 'ERR_PIN_INCORRECT' });
  });
});
