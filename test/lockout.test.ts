// Host-enforced PIN lockout on SoftHSM, which never locks a PIN itself: the count, the final-try
// guard, the lock, the SO unblock, several processes racing, and a restart keeping the lock.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { HostLockout, PinIncorrectError, Pkcs11Module, type Token } from '../src/index.js';
import { useSoftHsm } from './helpers/softhsm.js';

const hsm = useSoftHsm({ tokens: [{ label: 'locking', keys: [] }, { label: 'racing', keys: [] }] });
const stateDir = mkdtempSync(join(tmpdir(), 'tokengate-lockout-'));
let mod: Pkcs11Module;
let token: Token;

beforeAll(async () => {
  mod = await Pkcs11Module.load(hsm.current.modulePath);
  token = mod.token({ label: 'locking' });
});
afterAll(async () => {
  await mod?.close();
  rmSync(stateDir, { recursive: true, force: true });
});

const userPin = () => hsm.current.tokens[0]!.userPin;
const soPin = () => hsm.current.tokens[0]!.soPin;

async function attempt(lockout: HostLockout, pin: string, allowFinalTry = false): Promise<unknown> {
  await using session = await token.openSession();
  return lockout.login(session, pin, { allowFinalTry }).then(() => 'ok', (err: unknown) => err);
}

describe('HostLockout on SoftHSM', () => {
  it('counts wrong PINs, guards the final try, locks, and stays locked across a restart until the SO unblocks', async () => {
    const lockout = new HostLockout({ stateDir });
    expect(lockout.status(token)).toEqual({ pinStatus: 'ok', failures: 0, retriesLeft: 3, source: 'host' });
    expect(await attempt(lockout, userPin())).toBe('ok');

    const first = await attempt(lockout, '111111');
    expect(first).toBeInstanceOf(PinIncorrectError);
    expect(first).toMatchObject({ code: 'ERR_PIN_INCORRECT', retriesLeft: 2, finalTry: false });
    const second = await attempt(lockout, '222222');
    expect(second).toMatchObject({ code: 'ERR_PIN_INCORRECT', retriesLeft: 1, finalTry: true });
    expect(lockout.status(token).pinStatus).toBe('finalTry');

    // The last try is not spent by accident, and refusing it touches neither the token nor the count.
    const login = vi.spyOn(mod.raw, 'C_Login');
    expect(await attempt(lockout, '333333')).toMatchObject({ code: 'ERR_FINAL_TRY_REFUSED' });
    expect(login).not.toHaveBeenCalled();
    expect(lockout.status(token).failures).toBe(2);

    expect(await attempt(lockout, '333333', true)).toMatchObject({ code: 'ERR_PIN_INCORRECT', retriesLeft: 0 });
    expect(lockout.status(token)).toMatchObject({ pinStatus: 'locked', retriesLeft: 0 });
    login.mockClear();
    // Locked: even the right PIN is refused, without asking the token.
    expect(await attempt(lockout, userPin(), true)).toMatchObject({ code: 'ERR_PIN_LOCKED' });
    expect(login).not.toHaveBeenCalled();
    login.mockRestore();
    lockout.close();

    // A restart (a new instance on the same state directory) keeps the lock.
    const restarted = new HostLockout({ stateDir });
    expect(await attempt(restarted, userPin(), true)).toMatchObject({ code: 'ERR_PIN_LOCKED' });
    await restarted.unblockPin(token, { soPin: soPin(), newPin: 'fresh-pin-1' });
    expect(restarted.status(token).pinStatus).toBe('ok');
    expect(await attempt(restarted, userPin())).toMatchObject({ code: 'ERR_PIN_INCORRECT' });
    expect(await attempt(restarted, 'fresh-pin-1')).toBe('ok');
    // A correct PIN resets the count.
    expect(restarted.status(token).failures).toBe(0);
    {
      await using s = await token.openSession({ write: true });
      await s.login('fresh-pin-1');
      await s.changePin('fresh-pin-1', userPin());
    }
    restarted.close();
  });

  it('refuses a PIN of the wrong length without counting it, and never puts a PIN in an error', async () => {
    using lockout = new HostLockout({ stateDir });
    const err = await attempt(lockout, '12');
    expect(err).toMatchObject({ code: 'ERR_PIN_LENGTH' });
    expect(lockout.status(token).failures).toBe(0);
    const wrong = await attempt(lockout, 'secret-wrong-pin-77');
    expect(wrong).toMatchObject({ code: 'ERR_PIN_INCORRECT' });
    for (const e of [err, wrong]) {
      const text = `${inspect(e, { depth: 5 })} ${JSON.stringify(e)} ${(e as Error).stack}`;
      expect(text).not.toContain('secret-wrong-pin-77');
      expect(text).not.toContain(userPin());
    }
    expect(await attempt(lockout, userPin())).toBe('ok');
  });

  it('two processes trying 20 wrong PINs at once get exactly the limit through', async () => {
    const fx = hsm.current;
    const serial = fx.tokens[1]!.serial;
    const raceDir = mkdtempSync(join(tmpdir(), 'tokengate-race-'));
    const script = fileURLToPath(new URL('./helpers/wrong-pins.ts', import.meta.url));
    const run = () =>
      new Promise<string[]>((resolve, reject) => {
        const child = spawn(process.execPath, ['--import', 'tsx', script, fx.modulePath, serial, raceDir, '10'], {
          env: { ...process.env, ...fx.env },
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.on('error', reject);
        child.on('exit', (code) => (code === 0 ? resolve(out.trim().split('\n')) : reject(new Error(`child exited ${code}`))));
      });
    try {
      const results = (await Promise.all([run(), run()])).flat();
      expect(results).toHaveLength(20);
      expect(results.filter((c) => c === 'ERR_PIN_INCORRECT')).toHaveLength(3);
      expect(results.filter((c) => c === 'ERR_PIN_LOCKED')).toHaveLength(17);
      using lockout = new HostLockout({ stateDir: raceDir });
      expect(lockout.status(mod.token({ serial }))).toMatchObject({ failures: 3, pinStatus: 'locked' });
    } finally {
      rmSync(raceDir, { recursive: true, force: true });
    }
  });

  it('a growing delay makes the next attempt wait after failures', async () => {
    const delays: number[] = [];
    using lockout = new HostLockout({ stateDir, delayAfterFailures: (n) => (delays.push(n), 0) });
    await attempt(lockout, '444444');
    await attempt(lockout, userPin());
    // The delay is asked for with the number of failures so far, only when there are some.
    expect(delays).toEqual([1]);
  });
});
