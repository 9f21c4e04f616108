// Integration: initialising tokens, setting the user PIN as SO, changing PINs. SoftHSM sets
// pinStatus 'countLow' on every real wrong attempt, so an unchanged 'ok' proves the token was not
// asked; SoftHSM keeps one blank token in a free slot, and moves a token it initialises.
import { execFileSync } from 'node:child_process';
import { randomBytes, verify } from 'node:crypto';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pkcs11Module, uninitializedTokens, type Token } from '../src/index.js';
import { call } from '../src/pkcs11/binding.js';
import { useSoftHsm } from './helpers/softhsm.js';

const hsm = useSoftHsm({ tokens: [{ label: 'admin', keys: [] }] });
let mod: Pkcs11Module;

beforeAll(async () => {
  mod = await Pkcs11Module.load(hsm.current.modulePath);
});
afterAll(async () => {
  await mod?.close();
});

const userPin = () => hsm.current.tokens[0]!.userPin;
const soPin = () => hsm.current.tokens[0]!.soPin;
const adminToken = (): Token => mod.token({ label: 'admin' });
const freeCount = (): number => mod.tokens().filter((t) => !t.flags.tokenInitialized).length;

async function failure(op: Promise<unknown> | (() => unknown)): Promise<Error & { code?: string; rvName?: string }> {
  try {
    await (typeof op === 'function' ? op() : op);
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected a failure');
}

/** The label bytes exactly as the token reports them, padding included. */
function rawLabel(token: Token): string {
  return call(mod.raw, 'C_GetTokenInfo', token.relocate()).label;
}

function pkcs11ToolSlots(): string {
  return execFileSync('pkcs11-tool', ['--module', hsm.current.modulePath, '--list-token-slots'], {
    env: { ...process.env, ...hsm.current.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  }).toString();
}

describe('token.initialize', () => {
  it('initialises the blank token; the SO sets the user PIN; the user makes a key and signs', async () => {
    const blanks = uninitializedTokens(mod);
    expect(blanks).toHaveLength(1); // SoftHSM's free slot
    const blank = blanks[0]!;
    expect(blank.info().flags.tokenInitialized).toBe(false);
    expect(blank.serial).toBe('');

    const token = blank.initialize({ soPin: 'so-secret-1', label: 'via-token' });
    const info = token.info();
    expect(info).toMatchObject({ label: 'via-token', flags: { tokenInitialized: true, userPinInitialized: false } });
    expect(info.serial).not.toBe('');
    // The label is blank-padded to 32 bytes, as PKCS#11 wants (not NUL-padded, not over-read).
    expect(rawLabel(token)).toBe('via-token'.padEnd(32, ' '));
    // The blank token this object stood for is no more; SoftHSM opened a new free slot.
    expect(await failure(() => blank.info())).toMatchObject({ code: 'ERR_TOKEN_NOT_PRESENT' });
    expect(uninitializedTokens(mod)).toHaveLength(1);
    expect(pkcs11ToolSlots()).toMatch(/token label\s*:\s*via-token\s*\n/);

    {
      await using so = await token.openSession({ write: true });
      await so.login('so-secret-1', { userType: 'so' });
      await so.initUserPin('user-pin-1');
    }
    expect(token.info().flags.userPinInitialized).toBe(true);
    await using user = await token.openSession({ write: true });
    await user.login('user-pin-1');
    const { privateKey, publicKey } = await user.generateKeyPair({ type: 'ec-p256', label: 'first-key' });
    const challenge = randomBytes(32);
    const signature = await user.signChallenge(privateKey, challenge);
    expect(verify('sha256', challenge, { key: publicKey.keyObject(), dsaEncoding: 'ieee-p1363' }, signature)).toBe(true);
  });

  it('refuses a token that is initialised already, and keeps it intact', async () => {
    const token = adminToken();
    expect(await failure(() => token.initialize({ soPin: soPin(), label: 'wiped' }))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    expect(token.info()).toMatchObject({ label: 'admin', soPinStatus: 'ok', flags: { userPinInitialized: true } });
  });

  it('refuses labels over 32 bytes (counted in UTF-8) and SO PINs out of range, leaving the blank token blank', async () => {
    const blank = uninitializedTokens(mod)[0]!;
    const before = freeCount();
    const cases: Array<[() => unknown, string]> = [
      [() => blank.initialize({ soPin: 'so-secret-1', label: 'x'.repeat(33) }), 'ERR_INVALID_ARGUMENT'],
      [() => blank.initialize({ soPin: 'so-secret-1', label: '€'.repeat(11) }), 'ERR_INVALID_ARGUMENT'], // 11 characters, 33 bytes
      [() => blank.initialize({ soPin: 'so-secret-1', label: '' }), 'ERR_INVALID_ARGUMENT'],
      [() => blank.initialize({ soPin: '1', label: 'short-pin' }), 'ERR_PIN_LENGTH'],
      [() => blank.initialize({ soPin: 'x'.repeat(256), label: 'long-pin' }), 'ERR_PIN_LENGTH'],
      [() => mod.initializeToken({ soPin: 'so-secret-1', label: 'x'.repeat(33) }), 'ERR_INVALID_ARGUMENT'],
      [() => mod.initializeToken({ soPin: '1', label: 'short-pin' }), 'ERR_PIN_LENGTH'],
    ];
    for (const [op, code] of cases) expect(await failure(op)).toMatchObject({ code });
    expect(freeCount()).toBe(before);
    expect(blank.info().flags.tokenInitialized).toBe(false);
  });

  it('takes a label of exactly 32 bytes', () => {
    const label = 'é'.repeat(16); // 32 bytes
    const token = uninitializedTokens(mod)[0]!.initialize({ soPin: 'so-secret-2', label });
    expect(token.label).toBe(label);
    expect(Buffer.byteLength(rawLabel(token))).toBe(32);
  });
});

describe('module.initializeToken', () => {
  it('picks the free slot and returns the token found again by its new serial', async () => {
    const token = mod.initializeToken({ soPin: 'so-secret-3', label: 'via-module' });
    expect(token.info()).toMatchObject({ label: 'via-module', flags: { tokenInitialized: true } });
    expect(rawLabel(token)).toBe('via-module'.padEnd(32, ' '));
    await using so = await token.openSession({ write: true });
    await so.login('so-secret-3', { userType: 'so' });
    await so.initUserPin('user-pin-3');
    expect(token.info().flags.userPinInitialized).toBe(true);
  });
});

describe('initUserPin', () => {
  it('needs the SO logged in, in a read-write session', async () => {
    const token = adminToken();
    {
      await using ro = await token.openSession();
      expect(await failure(ro.initUserPin('new-pin-1'))).toMatchObject({ code: 'ERR_SESSION_READ_ONLY' });
    }
    await using rw = await token.openSession({ write: true });
    expect(await failure(rw.initUserPin('new-pin-1'))).toMatchObject({ code: 'ERR_NOT_LOGGED_IN' });
    await rw.login(userPin());
    expect(await failure(rw.initUserPin('new-pin-1'))).toMatchObject({ code: 'ERR_NOT_LOGGED_IN' });
    await rw.logout();
    // Still the old PIN.
    await rw.login(userPin());
    expect(token.info().pinStatus).toBe('ok');
  });

  it('resets a user PIN as SO (the SO-side unblock); a PIN out of range never reaches the token', async () => {
    const token = adminToken();
    {
      await using so = await token.openSession({ write: true });
      await so.login(soPin(), { userType: 'so' });
      expect(await failure(so.initUserPin('12'))).toMatchObject({ code: 'ERR_PIN_LENGTH' });
      expect(await failure(so.initUserPin('x'.repeat(256)))).toMatchObject({ code: 'ERR_PIN_LENGTH' });
      await so.initUserPin('reset-pin-9');
    }
    await using s = await token.openSession({ write: true });
    expect(await failure(s.login(userPin()))).toMatchObject({ code: 'ERR_PIN_INCORRECT' });
    await s.login('reset-pin-9');
    await s.changePin('reset-pin-9', userPin());
    expect(token.info().pinStatus).toBe('ok');
  });
});

describe('changePin', () => {
  it('changes the user PIN: the old one then fails, the new one works', async () => {
    const token = adminToken();
    {
      await using s = await token.openSession({ write: true });
      await s.login(userPin());
      await s.changePin(userPin(), '654321');
    }
    {
      await using s = await token.openSession();
      expect(await failure(s.login(userPin()))).toMatchObject({ code: 'ERR_PIN_INCORRECT', rvName: 'CKR_PIN_INCORRECT', fn: 'C_Login' });
      await s.login('654321');
    }
    // Put it back, through a logged-out read-write session this time.
    await using s = await token.openSession({ write: true });
    await s.changePin('654321', userPin());
    await s.login(userPin());
    expect(token.info().pinStatus).toBe('ok');
  });

  it('forgets the login it changed: the old PIN is not accepted on the strength of a live login', async () => {
    const token = adminToken();
    await using a = await token.openSession({ write: true });
    await a.login(userPin());
    await a.changePin(userPin(), '777777');
    // `a` is still logged in, so the token would answer CKR_USER_ALREADY_LOGGED_IN without looking.
    await using b = await token.openSession();
    expect(await failure(b.login(userPin()))).toMatchObject({ code: 'ERR_PIN_INCORRECT' });
    await b.login('777777');
    await b.logout();
    await using c = await token.openSession({ write: true });
    await c.changePin('777777', userPin());
    await c.login(userPin());
    expect(token.info().pinStatus).toBe('ok');
  });

  it('changes the SO PIN when the SO is logged in', async () => {
    const token = adminToken();
    {
      await using so = await token.openSession({ write: true });
      await so.login(soPin(), { userType: 'so' });
      expect(await failure(so.changePin('wrong-so-pin', 'new-so-pin'))).toMatchObject({ code: 'ERR_PIN_INCORRECT' });
      expect(token.info().soPinStatus).toBe('countLow');
      expect(token.info().pinStatus).toBe('ok');
      await so.changePin(soPin(), 'new-so-pin');
    }
    await using so = await token.openSession({ write: true });
    expect(await failure(so.login(soPin(), { userType: 'so' }))).toMatchObject({ code: 'ERR_PIN_INCORRECT' });
    await so.login('new-so-pin', { userType: 'so' });
    await so.changePin('new-so-pin', soPin());
    await so.logout();
    await so.login(soPin(), { userType: 'so' });
    expect(token.info().soPinStatus).toBe('ok');
  });

  it('a wrong current PIN is the token\'s answer; a PIN out of range or a read-only session never reaches it', async () => {
    const token = adminToken();
    {
      await using ro = await token.openSession();
      expect(await failure(ro.changePin('000000', '654321'))).toMatchObject({ code: 'ERR_SESSION_READ_ONLY' });
    }
    await using s = await token.openSession({ write: true });
    expect(await failure(s.changePin('1', '654321'))).toMatchObject({ code: 'ERR_PIN_LENGTH' });
    expect(await failure(s.changePin(userPin(), 'x'.repeat(256)))).toMatchObject({ code: 'ERR_PIN_LENGTH' });
    expect(await failure(s.changePin(userPin(), ''))).toMatchObject({ code: 'ERR_PIN_LENGTH' });
    expect(token.info().pinStatus).toBe('ok');
    expect(await failure(s.changePin('000000', '654321'))).toMatchObject({ code: 'ERR_PIN_INCORRECT' });
    expect(token.info().pinStatus).toBe('countLow');
    await s.login(userPin());
    expect(token.info().pinStatus).toBe('ok');
  });
});

describe('secrecy', () => {
  it('no PIN appears in any error, however it failed', async () => {
    const pins = ['so-secret-4711', 'user-secret-4711', 'old-secret-4711', 'x'.repeat(300)];
    const token = adminToken();
    const errors: unknown[] = [];
    const collect = async (op: Promise<unknown> | (() => unknown)): Promise<void> => {
      errors.push(await failure(op));
    };
    await collect(() => token.initialize({ soPin: pins[0]!, label: 'again' }));
    await collect(() => uninitializedTokens(mod)[0]!.initialize({ soPin: pins[3]!, label: 'long' }));
    {
      await using s = await token.openSession({ write: true });
      await collect(s.changePin(pins[2]!, pins[1]!));
      await collect(s.changePin(pins[3]!, pins[1]!));
      await collect(s.initUserPin(pins[1]!));
      await s.login(userPin());
    }
    expect(errors.map((e) => (e as { code?: string }).code)).toEqual(['ERR_INVALID_ARGUMENT', 'ERR_PIN_LENGTH', 'ERR_PIN_INCORRECT', 'ERR_PIN_LENGTH', 'ERR_NOT_LOGGED_IN']);
    for (const err of errors) {
      const text = inspect(err, { depth: 10, showHidden: true }) + JSON.stringify(err);
      for (const pin of pins) expect(text.includes(pin)).toBe(false);
    }
  });
});
