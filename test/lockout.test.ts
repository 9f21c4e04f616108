// Every PIN attempt is counted: on SoftHSM, which never locks a PIN itself, the module's login
// guard (HostLockout) counts each wrong secret on every path that sends one — Session.login, a
// pool's first login and its re-login after the sessions are lost, changePin, an SO unblock — locks
// at exactly the limit, refuses the right PIN afterwards without reaching the token, keeps the lock
// across a restart, and holds under two processes racing through different paths.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { HostLockout, PinIncorrectError, PinLockedError, Pkcs11Module, type Token } from '../src/index.js';
import { useSoftHsm } from './helpers/softhsm.js';

const LABELS = ['session', 'pool', 'relogin', 'change', 'change-logged-in', 'so-unblock', 'racing', 'restart'] as const;
const P256 = [{ type: 'ec-p256', label: 'p256', id: '01' }] as const;
const hsm = useSoftHsm({ tokens: LABELS.map((label) => ({ label, keys: label === 'pool' || label === 'relogin' ? P256 : [] })) });
const stateDir = mkdtempSync(join(tmpdir(), 'tokengate-lockout-'));
let lockout: HostLockout;
let mod: Pkcs11Module;

beforeAll(async () => {
  lockout = new HostLockout({ stateDir });
  mod = await Pkcs11Module.load(hsm.current.modulePath, { loginGuard: lockout });
});
afterEach(() => vi.restoreAllMocks());
afterAll(async () => {
  await mod?.close();
  lockout?.close();
  rmSync(stateDir, { recursive: true, force: true });
});

const fixtureOf = (label: (typeof LABELS)[number]) => hsm.current.tokens[LABELS.indexOf(label)]!;
const tokenOf = (label: (typeof LABELS)[number]): Token => mod.token({ label });
const outcome = (p: Promise<unknown>): Promise<unknown> => p.then(() => 'ok', (err: unknown) => err);

async function login(token: Token, pin: string, allowFinalTry = false): Promise<unknown> {
  await using session = await token.openSession();
  return outcome(session.login(pin, { allowFinalTry }));
}

/** After the limit: the right PIN is refused as locked and the token never sees it. */
async function expectLockedUntouched(token: Token, rightPin: string): Promise<void> {
  const sent = vi.spyOn(mod.raw, 'C_Login');
  const refused = await login(token, rightPin, true);
  expect(refused).toBeInstanceOf(PinLockedError);
  expect(refused).toMatchObject({ code: 'ERR_PIN_LOCKED', lockedNow: false });
  expect(sent).not.toHaveBeenCalled();
  expect(token.pinState()).toMatchObject({ pinStatus: 'locked', retriesLeft: 0, failures: 3, source: 'host' });
}

describe('the login guard on SoftHSM', () => {
  it('is on by default: a software slot is counted by the host, under the state directory', async () => {
    await using plain = await Pkcs11Module.load(hsm.current.modulePath);
    const token = plain.token({ label: 'session' });
    expect(token.pinCountedBy).toBe('host');
    expect(plain.loginGuard).toBeInstanceOf(HostLockout);
    expect((plain.loginGuard as HostLockout).stateDir).toBe(process.env.TOKENGATE_STATE_DIR);
    await using none = await Pkcs11Module.load(hsm.current.modulePath, { loginGuard: 'none' });
    expect(none.loginGuard).toBeUndefined();
    expect(none.token({ label: 'session' }).pinState()).toMatchObject({ source: 'token', failures: undefined });
    await using cardLike = await Pkcs11Module.load(hsm.current.modulePath, { pinCounting: 'token' });
    expect(cardLike.token({ label: 'session' }).loginGuard).toBeUndefined();
    await expect(Pkcs11Module.load(hsm.current.modulePath, { loginGuard: 'sometimes' as never })).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
  });

  it('Session.login: counts, guards the final try, locks at the limit, and the right PIN is refused untouched', async () => {
    const token = tokenOf('session');
    expect(token.pinState()).toEqual({ secret: 'user', pinStatus: 'ok', failures: 0, retriesLeft: 3, source: 'host' });
    expect(await login(token, fixtureOf('session').userPin)).toBe('ok');
    const first = await login(token, '111111');
    expect(first).toBeInstanceOf(PinIncorrectError);
    expect(first).toMatchObject({ code: 'ERR_PIN_INCORRECT', retriesLeft: 2, finalTry: false, pinType: 'user', rvName: 'CKR_PIN_INCORRECT', fn: 'C_Login' });
    expect((first as Error).message).toBe('wrong PIN — 2 tries left');
    expect(await login(token, '222222')).toMatchObject({ code: 'ERR_PIN_INCORRECT', retriesLeft: 1, finalTry: true });
    expect(token.pinState().pinStatus).toBe('finalTry');

    // The last try is not spent by accident: neither the token nor the count moves.
    const sent = vi.spyOn(mod.raw, 'C_Login');
    expect(await login(token, '333333')).toMatchObject({ code: 'ERR_FINAL_TRY_REFUSED' });
    expect(sent).not.toHaveBeenCalled();
    expect(token.pinState().failures).toBe(2);
    vi.restoreAllMocks();

    const locking = await login(token, '333333', true);
    expect(locking).toBeInstanceOf(PinLockedError);
    expect(locking).toMatchObject({ lockedNow: true, pinType: 'user', cause: expect.any(PinIncorrectError) });
    expect((locking as Error).message).toBe('wrong PIN — the PIN is now locked; it must be unblocked');
    await expectLockedUntouched(token, fixtureOf('session').userPin);
  });

  it('a pool\'s first login is counted like any other, and never spends the last try unless allowed', async () => {
    const token = tokenOf('pool');
    for (const retriesLeft of [2, 1]) {
      expect(await outcome(token.openPool({ pin: '999999', workers: 0 }))).toMatchObject({ code: 'ERR_PIN_INCORRECT', retriesLeft });
    }
    expect(await outcome(token.openPool({ pin: fixtureOf('pool').userPin, workers: 0 }))).toMatchObject({ code: 'ERR_FINAL_TRY_REFUSED' });
    expect(await outcome(token.openPool({ pin: '999999', workers: 0, allowFinalTry: true }))).toMatchObject({ code: 'ERR_PIN_LOCKED', lockedNow: true });
    const sent = vi.spyOn(mod.raw, 'C_Login');
    expect(await outcome(token.openPool({ pin: fixtureOf('pool').userPin, workers: 0, allowFinalTry: true }))).toMatchObject({ code: 'ERR_PIN_LOCKED' });
    expect(sent).not.toHaveBeenCalled();
    expect(token.pinState()).toMatchObject({ pinStatus: 'locked', failures: 3 });
  });

  it('a pool\'s re-login after its sessions are lost is counted: a PIN changed elsewhere cannot guess on forever', async () => {
    const token = tokenOf('relogin');
    const { userPin } = fixtureOf('relogin');
    await using pool = await token.openPool({ pin: userPin, workers: 0 });
    expect((await pool.signChallenge({ label: 'p256' }, 'before')).length).toBe(64);
    // Someone changes the PIN, and the pool's sessions are lost (as when the token is pulled out and back).
    await token.changePin(userPin, '777777');
    mod.raw.C_CloseAllSessions(token.slot);
    const codes: unknown[] = [];
    for (let i = 0; i < 4; i++) codes.push(((await outcome(pool.signChallenge({ label: 'p256' }, `after ${i}`))) as { code?: string }).code);
    // Two wrong re-logins counted; then the pool stops short of the last try, every time.
    expect(codes).toEqual(['ERR_PIN_INCORRECT', 'ERR_PIN_INCORRECT', 'ERR_FINAL_TRY_REFUSED', 'ERR_FINAL_TRY_REFUSED']);
    expect(token.pinState()).toMatchObject({ pinStatus: 'finalTry', failures: 2, retriesLeft: 1 });
    // The right PIN (spending the last try knowingly) starts the count again.
    expect(await login(token, '777777', true)).toBe('ok');
    expect(token.pinState().failures).toBe(0);
  });

  it('changePin: a wrong current PIN counts, logged in or not, and locks at the limit', async () => {
    const token = tokenOf('change');
    expect(await outcome(token.changePin('111111', '654321'))).toMatchObject({ code: 'ERR_PIN_INCORRECT', retriesLeft: 2 });
    expect(await outcome(token.changePin('222222', '654321'))).toMatchObject({ code: 'ERR_PIN_INCORRECT', retriesLeft: 1 });
    expect(await outcome(token.changePin('333333', '654321'))).toMatchObject({ code: 'ERR_FINAL_TRY_REFUSED' });
    expect(await outcome(token.changePin('333333', '654321', { allowFinalTry: true }))).toMatchObject({ code: 'ERR_PIN_LOCKED', lockedNow: true });
    const setPin = vi.spyOn(mod.raw, 'C_SetPIN');
    expect(await outcome(token.changePin(fixtureOf('change').userPin, '654321', { allowFinalTry: true }))).toMatchObject({ code: 'ERR_PIN_LOCKED' });
    expect(setPin).not.toHaveBeenCalled();
    await expectLockedUntouched(token, fixtureOf('change').userPin);

    // Logged in with the right PIN first, C_SetPIN's own check of the old PIN counts as well.
    const other = tokenOf('change-logged-in');
    await using session = await other.openSession({ write: true });
    await session.login(fixtureOf('change-logged-in').userPin);
    for (const retriesLeft of [2, 1]) expect(await outcome(session.changePin('444444', '654321'))).toMatchObject({ code: 'ERR_PIN_INCORRECT', fn: 'C_SetPIN', retriesLeft });
    expect(await outcome(session.changePin('444444', '654321', { allowFinalTry: true }))).toMatchObject({ code: 'ERR_PIN_LOCKED', lockedNow: true });
    expect(other.pinState()).toMatchObject({ pinStatus: 'locked', failures: 3 });
  });

  it('unblockPin: a wrong SO PIN counts on the SO PIN\'s own counter and locks it; the right one resets the user\'s count', async () => {
    const token = tokenOf('so-unblock');
    const { soPin, userPin } = fixtureOf('so-unblock');
    expect(await login(token, '111111')).toMatchObject({ code: 'ERR_PIN_INCORRECT' });
    const wrongSo = await outcome(token.unblockPin({ soPin: '00000000', newPin: '135790' }));
    expect(wrongSo).toMatchObject({ code: 'ERR_PIN_INCORRECT', pinType: 'so', retriesLeft: 2 });
    expect((wrongSo as Error).message).toBe('wrong SO PIN — 2 tries left');
    expect(token.pinState('so')).toMatchObject({ secret: 'so', failures: 1, retriesLeft: 2 });
    expect(token.pinState('user').failures).toBe(1); // the user's count is its own
    await token.unblockPin({ soPin, newPin: '135790' });
    expect(token.pinState('so').failures).toBe(0);
    expect(token.pinState('user').failures).toBe(0);
    expect(await login(token, '135790')).toBe('ok');

    expect(await outcome(token.unblockPin({ soPin: '00000001', newPin: userPin }))).toMatchObject({ retriesLeft: 2 });
    expect(await outcome(token.unblockPin({ soPin: '00000002', newPin: userPin }))).toMatchObject({ retriesLeft: 1 });
    expect(await outcome(token.unblockPin({ soPin: '00000003', newPin: userPin, allowFinalTry: true }))).toMatchObject({ code: 'ERR_PIN_LOCKED', pinType: 'so', lockedNow: true });
    const sent = vi.spyOn(mod.raw, 'C_Login');
    expect(await outcome(token.unblockPin({ soPin, newPin: userPin, allowFinalTry: true }))).toMatchObject({ code: 'ERR_PIN_LOCKED', pinType: 'so' });
    expect(sent).not.toHaveBeenCalled();
    expect(token.pinState('so')).toMatchObject({ pinStatus: 'locked', failures: 3 });
  });

  it('keeps a lock across a restart, refuses a PIN of the wrong length without counting it, and never puts a PIN in an error', async () => {
    const token = tokenOf('restart');
    const { userPin, soPin } = fixtureOf('restart');
    expect(await login(token, '12')).toMatchObject({ code: 'ERR_PIN_LENGTH' });
    expect(token.pinState().failures).toBe(0);
    const wrong = await login(token, 'secret-wrong-pin-77');
    expect(wrong).toMatchObject({ code: 'ERR_PIN_INCORRECT' });
    const text = `${inspect(wrong, { depth: 5 })} ${JSON.stringify(wrong)} ${(wrong as Error).stack}`;
    expect(text).not.toContain('secret-wrong-pin-77');
    expect(text).not.toContain(userPin);
    await login(token, '222222');
    await login(token, '333333', true);
    // A restart: a new process's guard on the same state directory.
    using restarted = new HostLockout({ stateDir });
    await using again = await Pkcs11Module.load(hsm.current.modulePath, { loginGuard: restarted });
    const sameToken = again.token({ label: 'restart' });
    expect(sameToken.pinState()).toMatchObject({ pinStatus: 'locked', failures: 3 });
    expect(await login(sameToken, userPin, true)).toMatchObject({ code: 'ERR_PIN_LOCKED' });
    await sameToken.unblockPin({ soPin, newPin: userPin });
    expect(await login(sameToken, userPin)).toBe('ok');
  });

  it('two processes racing through different paths (login, changePin) get exactly the limit through', async () => {
    const fx = hsm.current;
    const serial = fixtureOf('racing').serial;
    const raceDir = mkdtempSync(join(tmpdir(), 'tokengate-race-'));
    const script = fileURLToPath(new URL('./helpers/wrong-pins.ts', import.meta.url));
    // Each child finds the token, says "ready" and waits; both are told to go at once.
    const start = (path: string) => {
      const child = spawn(process.execPath, ['--import', 'tsx', script, fx.modulePath, serial, raceDir, '10', path], {
        env: { ...process.env, ...fx.env },
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      let out = '';
      let readied: () => void;
      const ready = new Promise<void>((resolve) => (readied = resolve));
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.startsWith('ready\n')) readied();
      });
      const done = new Promise<string[]>((resolve, reject) => {
        child.on('error', reject);
        child.on('exit', (code) => (code === 0 ? resolve(out.trim().split('\n').slice(1)) : reject(new Error(`child exited ${code}`))));
      });
      return { child, ready: Promise.race([ready, done.then(() => undefined)]), done };
    };
    try {
      const racers = [start('login'), start('change-pin')];
      await Promise.all(racers.map((r) => r.ready));
      for (const r of racers) r.child.stdin.end('go\n');
      const results = (await Promise.all(racers.map((r) => r.done))).flat();
      expect(results).toHaveLength(20);
      // Exactly three reached the token: two wrong, and the one that locked.
      expect(results.filter((c) => c === 'ERR_PIN_INCORRECT')).toHaveLength(2);
      expect(results.filter((c) => c === 'ERR_PIN_LOCKED+now')).toHaveLength(1);
      expect(results.filter((c) => c === 'ERR_PIN_LOCKED')).toHaveLength(17);
      using raced = new HostLockout({ stateDir: raceDir });
      expect(raced.count({ modulePath: mod.path, serial, label: 'racing' }, 'user')).toMatchObject({ failures: 3, locked: true });
    } finally {
      rmSync(raceDir, { recursive: true, force: true });
    }
  });

  it('a growing delay makes the next attempt wait after failures', async () => {
    const delays: number[] = [];
    using slow = new HostLockout({ stateDir: mkdtempSync(join(tmpdir(), 'tokengate-delay-')), delayAfterFailures: (n) => (delays.push(n), 0) });
    await using delayed = await Pkcs11Module.load(hsm.current.modulePath, { loginGuard: slow });
    const token = delayed.token({ label: 'racing' });
    await login(token, '444444');
    await login(token, '555555');
    // The delay is asked for with the number of failures so far, only when there are some.
    expect(delays).toEqual([1]);
  });
});
