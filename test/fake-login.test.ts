// The login path against an in-memory PKCS#11 (test/helpers/fake-pkcs11.ts): fast, and able to
// do what SoftHSM cannot — a token pulled out in the middle of C_Login, an I/O error instead of a
// verdict, a card's counter moved behind the library's back — beside the SoftHSM and PIV tests.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HostLockout, PinIncorrectError, PinLockedError, Pkcs11Module, type SessionPool } from '../src/index.js';
import { FakePkcs11 } from './helpers/fake-pkcs11.js';

const SOFT = { label: 'soft', serial: 'S0FT0001', userPin: '123456', soPin: '87654321' };
const CARD = { label: 'card', serial: 'CARD0001', userPin: '246810', soPin: '13572468', pinTries: 3 };
const opened: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const o of opened.splice(0).reverse()) await o.close();
});

async function setUp() {
  const fake = new FakePkcs11([SOFT, CARD]);
  const lockout = new HostLockout({ stateDir: mkdtempSync(join(tmpdir(), 'tokengate-fake-')) });
  const module = await Pkcs11Module.load(FakePkcs11.modulePath(), { binding: fake.binding, loginGuard: lockout });
  opened.push(lockout, module);
  return { fake, lockout, module };
}

async function login(module: Pkcs11Module, label: string, pin: string, allowFinalTry = false): Promise<unknown> {
  await using session = await module.token({ label }).openSession();
  return session.login(pin, { allowFinalTry }).then(() => 'ok', (err: unknown) => err);
}

const logins = (fake: FakePkcs11) => fake.calls.filter((c) => c === 'C_Login').length;

describe('the login guard on an in-memory PKCS#11', () => {
  it('a software token: the host counts, locks at the limit, and the right PIN never reaches it', async () => {
    const { fake, module } = await setUp();
    expect(module.token({ label: 'soft' }).pinCountedBy).toBe('host');
    expect(await login(module, 'soft', '000001')).toMatchObject({ code: 'ERR_PIN_INCORRECT', retriesLeft: 2 });
    expect(await login(module, 'soft', '000002')).toMatchObject({ code: 'ERR_PIN_INCORRECT', retriesLeft: 1 });
    const before = logins(fake);
    expect(await login(module, 'soft', '000003')).toMatchObject({ code: 'ERR_FINAL_TRY_REFUSED' });
    expect(await login(module, 'soft', '000003', true)).toMatchObject({ code: 'ERR_PIN_LOCKED', lockedNow: true });
    expect(await login(module, 'soft', SOFT.userPin, true)).toMatchObject({ code: 'ERR_PIN_LOCKED', lockedNow: false });
    expect(logins(fake) - before).toBe(1); // only the locking attempt was sent
  });

  it('a token pulled out in the middle of C_Login, or an I/O error: no verdict, so no try counted', async () => {
    const { fake, module } = await setUp();
    const token = module.token({ label: 'soft' });
    fake.failNext('C_Login', 'CKR_DEVICE_REMOVED');
    expect(await login(module, 'soft', '000001')).toMatchObject({ code: 'ERR_TOKEN_REMOVED' });
    fake.failNext('C_Login', 'CKR_DEVICE_ERROR');
    expect(await login(module, 'soft', '000001')).toMatchObject({ code: 'ERR_PKCS11', rvName: 'CKR_DEVICE_ERROR', fn: 'C_Login' });
    expect(token.pinState()).toMatchObject({ failures: 0, retriesLeft: 3 });
    expect(await login(module, 'soft', SOFT.userPin)).toBe('ok');
  });

  it('a card: its own counter is the only one, the locking answer says so, and a change elsewhere shows at once', async () => {
    const { fake, lockout, module } = await setUp();
    const card = module.token({ label: 'card' });
    expect(card.pinCountedBy).toBe('token');
    const first = await login(module, 'card', '000001');
    expect(first).toBeInstanceOf(PinIncorrectError);
    expect(first).toMatchObject({ retriesLeft: undefined }); // the card's flags say nothing yet
    expect(await login(module, 'card', '000002')).toMatchObject({ code: 'ERR_PIN_INCORRECT', retriesLeft: 1, finalTry: true });
    expect(card.pinState()).toMatchObject({ pinStatus: 'finalTry', retriesLeft: 1, source: 'token', failures: undefined });
    // Used with the right PIN on another machine: back to 3 tries, and no final-try question here.
    fake.setTriesLeft(CARD.serial, 3);
    expect(card.pinState()).toMatchObject({ pinStatus: 'ok' });
    expect(await login(module, 'card', CARD.userPin)).toBe('ok');
    fake.setTriesLeft(CARD.serial, 1);
    const locking = await login(module, 'card', '000003', true);
    expect(locking).toBeInstanceOf(PinLockedError);
    expect(locking).toMatchObject({ lockedNow: true, pinType: 'user' });
    expect(fake.triesLeft(CARD.serial)).toBe(0);
    // The host kept no count of its own for the card, at any point.
    expect(lockout.count(card.guardIdentity, 'user')).toEqual({ failures: 0, retriesLeft: 3, locked: false });
    // Unblocked elsewhere: unlocked here at once.
    fake.setTriesLeft(CARD.serial, 3);
    expect(await login(module, 'card', CARD.userPin)).toBe('ok');
  });

  it('a pool\'s login is counted like any other', async () => {
    const { module } = await setUp();
    const token = module.token({ label: 'soft' });
    await expect(token.openPool({ pin: '000001', workers: 0 })).rejects.toMatchObject({ code: 'ERR_PIN_INCORRECT', retriesLeft: 2 });
    const pool = await token.openPool({ pin: SOFT.userPin, workers: 0 });
    opened.push(pool);
    expect(token.pinState().failures).toBe(0);
  });
});

describe('a pool\'s session set on an in-memory PKCS#11', () => {
  const loggedIn = (pool: SessionPool) => pool.use((session) => session.isLoggedIn());

  it('pulled out and put back between calls: the next call gets fresh sessions, logged in again', async () => {
    const { fake, module } = await setUp();
    const pool = await module.token({ label: 'soft' }).openPool({ pin: SOFT.userPin, workers: 0, size: 2 });
    opened.push(pool);
    expect(await loggedIn(pool)).toBe(true);
    const before = logins(fake);
    fake.setPresent(SOFT.serial, false);
    fake.setPresent(SOFT.serial, true);
    expect(await loggedIn(pool)).toBe(true); // the lost session is replaced and the call retried once
    expect(logins(fake)).toBe(before + 1);
  });

  it('pulled out: calls fail with ERR_TOKEN_REMOVED (no waiting) until it is back', async () => {
    const { fake, module } = await setUp();
    const pool = await module.token({ label: 'soft' }).openPool({ pin: SOFT.userPin, workers: 0, size: 2 });
    opened.push(pool);
    fake.setPresent(SOFT.serial, false);
    await expect(loggedIn(pool)).rejects.toMatchObject({ code: 'ERR_TOKEN_REMOVED' });
    await expect(loggedIn(pool)).rejects.toMatchObject({ code: 'ERR_TOKEN_REMOVED' });
    fake.setPresent(SOFT.serial, true);
    expect(await loggedIn(pool)).toBe(true);
    await pool.close();
    await expect(loggedIn(pool)).rejects.toMatchObject({ code: 'ERR_SESSION_CLOSED' });
  });
});
