// Integration: sessions (read-only / read-write), login and logout as user and SO, closing, PIN
// handling (SoftHSM sets CKF_USER_PIN_COUNT_LOW on every real wrong attempt, so an unchanged
// pinStatus proves the token was never asked), and bad input refused before the token is touched.
import { inspect } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  PinIncorrectError,
  Pkcs11Module,
  verifySignature,
  type Session,
  type SignatureAlgorithm,
  type Token,
} from '../src/index.js';
import { call } from '../src/pkcs11/binding.js';
import { createCertificateObject } from '../src/pkcs11/certificates.js';
import { CKS_RO_USER_FUNCTIONS, CKS_RW_PUBLIC_SESSION, CKS_RW_SO_FUNCTIONS, CKS_RW_USER_FUNCTIONS } from '../src/pkcs11/constants.js';
import { pkcs11js } from '../src/pkcs11/native.js';
import { useSoftHsm } from './helpers/softhsm.js';

const hsm = useSoftHsm();

let mod: Pkcs11Module;
let token: Token;

beforeAll(async () => {
  // The token's own answers, without the host's count in front (lockout.test.ts covers that): these
  // tests send more wrong PINs than the host would let through.
  mod = await Pkcs11Module.load(hsm.current.modulePath, { loginGuard: 'none' });
  token = mod.token({ serial: hsm.current.tokens[0]!.serial });
});

afterAll(async () => {
  await mod?.close();
});

afterEach(async () => {
  vi.restoreAllMocks();
  // Every test closes its sessions, so no login carries over (it ends with the last session):
  // a fresh session is not logged in.
  await using probe = await token.openSession();
  expect(await probe.isLoggedIn()).toBe(false);
});

const userPin = () => hsm.current.tokens[0]!.userPin;
const soPin = () => hsm.current.tokens[0]!.soPin;
const p256Pem = () => hsm.current.tokens[0]!.keys.find((k) => k.label === 'p256')!.publicKeyPem;

function sessionState(session: Session): Promise<number> {
  return session.exclusive((lib, h) => lib.C_GetSessionInfo(h).state);
}

function sessionIsRw(session: Session): Promise<boolean> {
  return session.exclusive((lib, h) => (lib.C_GetSessionInfo(h).flags & pkcs11js.CKF_RW_SESSION) !== 0);
}

/** Makes sure the user PIN's status is back to 'ok' (a correct login clears COUNT_LOW). */
async function resetPinStatus(): Promise<void> {
  await using s = await token.openSession({ write: true });
  await s.login(userPin());
  await s.logout();
  await s.login(soPin(), { userType: 'so' });
  await s.logout();
  expect(token.info().pinStatus).toBe('ok');
  expect(token.info().soPinStatus).toBe('ok');
}

/** Settles a promise (or a throwing call) into its error; fails when it does not fail. */
async function failure(op: Promise<unknown> | (() => unknown)): Promise<Error & { code?: string; rvName?: string; fn?: string }> {
  try {
    await (typeof op === 'function' ? op() : op);
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected a failure');
}

describe('read-only and read-write sessions', () => {
  it('opens RO by default and RW on request', async () => {
    await using ro = await token.openSession();
    await using rw = await token.openSession({ write: true });
    expect(ro.readWrite).toBe(false);
    expect(rw.readWrite).toBe(true);
    expect(await sessionIsRw(ro)).toBe(false);
    expect(await sessionIsRw(rw)).toBe(true);
    expect(await sessionState(rw)).toBe(CKS_RW_PUBLIC_SESSION);
  });

  it('refuses a write on an RO session with ERR_SESSION_READ_ONLY; an RW session may write', async () => {
    const cert = hsm.current.tokens[0]!.keys[0]!.certificatePem;
    await using ro = await token.openSession();
    const err = await failure(ro.exclusive((lib, h) => createCertificateObject(lib, h, cert, { id: new Uint8Array([0x70]), label: 'ro-write' })));
    expect(err).toMatchObject({ code: 'ERR_SESSION_READ_ONLY', rvName: 'CKR_SESSION_READ_ONLY', fn: 'C_CreateObject', name: 'SessionReadOnlyError' });
    await expect(ro.findCertificate({ label: 'ro-write' })).rejects.toMatchObject({ code: 'ERR_KEY_NOT_FOUND' });

    await using rw = await token.openSession({ write: true });
    const handle = await rw.exclusive((lib, h) => createCertificateObject(lib, h, cert, { id: new Uint8Array([0x71]), label: 'rw-write' }));
    expect((await ro.findCertificate({ label: 'rw-write' })).id.toString('hex')).toBe('71');
    await rw.exclusive((lib, h) => call(lib, 'C_DestroyObject', h, handle));
    await expect(ro.findCertificate({ label: 'rw-write' })).rejects.toMatchObject({ code: 'ERR_KEY_NOT_FOUND' });
  });
});

describe('login and logout', () => {
  it('logs the user in and out; isLoggedIn follows; login state is shared by the application’s sessions', async () => {
    await using a = await token.openSession();
    await using b = await token.openSession();
    expect(await a.isLoggedIn()).toBe(false);
    await a.login(userPin());
    expect(await a.isLoggedIn()).toBe(true);
    expect(await sessionState(a)).toBe(CKS_RO_USER_FUNCTIONS);
    // PKCS#11 login is per application and token.
    expect(await b.isLoggedIn()).toBe(true);
    // Logging in again (from another session) is not an error.
    await b.login(userPin());
    await a.logout();
    expect(await a.isLoggedIn()).toBe(false);
    expect(await b.isLoggedIn()).toBe(false);
    // Logging out again is quiet.
    await a.logout();
    expect(await a.isLoggedIn()).toBe(false);
  });

  it('logs in as SO on an RW session, where the user cannot sign', async () => {
    await using rw = await token.openSession({ write: true });
    await rw.login(soPin(), { userType: 'so' });
    expect(await rw.isLoggedIn()).toBe(true);
    expect(await sessionState(rw)).toBe(CKS_RW_SO_FUNCTIONS);
    // The SO sees no private keys: signing needs the user.
    await expect(rw.signChallenge({ label: 'p256' }, 'x')).rejects.toMatchObject({ code: 'ERR_NOT_LOGGED_IN' });
    await rw.logout();
    expect(await rw.isLoggedIn()).toBe(false);
    await rw.login(userPin());
    expect(await sessionState(rw)).toBe(CKS_RW_USER_FUNCTIONS);
  });

  it('refuses an SO login while a read-only session is open, with ERR_SESSION_READ_ONLY', async () => {
    await using ro = await token.openSession();
    await expect(ro.login(soPin(), { userType: 'so' })).rejects.toMatchObject({ code: 'ERR_SESSION_READ_ONLY' });
    await using rw = await token.openSession({ write: true });
    await expect(rw.login(soPin(), { userType: 'so' })).rejects.toMatchObject({ code: 'ERR_SESSION_READ_ONLY' });
    await ro.close();
    await rw.login(soPin(), { userType: 'so' });
    expect(await sessionState(rw)).toBe(CKS_RW_SO_FUNCTIONS);
  });

  it('refuses an unknown user type with ERR_INVALID_ARGUMENT', async () => {
    await using s = await token.openSession();
    await expect(s.login(userPin(), { userType: 'admin' as never })).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    expect(await s.isLoggedIn()).toBe(false);
  });
});

describe('closing', () => {
  it('closes idempotently, also through `await using`', async () => {
    let kept: Session | undefined;
    {
      await using s = await token.openSession();
      kept = s;
      expect(s.closed).toBe(false);
    }
    expect(kept.closed).toBe(true);
    await kept.close();
    await kept[Symbol.asyncDispose]();
    expect(kept.closed).toBe(true);
  });

  it('gives ERR_SESSION_CLOSED for every use of a closed session', async () => {
    const s = await token.openSession();
    await s.login(userPin());
    await s.close();
    const closed = { code: 'ERR_SESSION_CLOSED' };
    await expect(s.signChallenge({ label: 'p256' }, 'x')).rejects.toMatchObject(closed);
    await expect(s.login(userPin())).rejects.toMatchObject(closed);
    await expect(s.logout()).rejects.toMatchObject(closed);
    await expect(s.isLoggedIn()).rejects.toMatchObject(closed);
    await expect(s.findPrivateKey({ label: 'p256' })).rejects.toMatchObject(closed);
    await expect(s.findPublicKey({ label: 'p256' })).rejects.toMatchObject(closed);
    await expect(s.findCertificate({ label: 'p256' })).rejects.toMatchObject(closed);
    await expect(s.listKeys()).rejects.toMatchObject(closed);
    await expect(s.listCertificates()).rejects.toMatchObject(closed);
    await expect(s.publicKey({ label: 'p256' })).rejects.toMatchObject(closed);
  });

  it('gives ERR_SESSION_CLOSED when the module closed the handle under it, and closes quietly then', async () => {
    const s = await token.openSession();
    call(mod.raw, 'C_CloseSession', s.handle);
    await expect(s.isLoggedIn()).rejects.toMatchObject({ code: 'ERR_SESSION_CLOSED', rvName: 'CKR_SESSION_HANDLE_INVALID' });
    await s.close();
    expect(s.closed).toBe(true);
  });

  it('lets operations already queued finish before it closes', async () => {
    const s = await token.openSession();
    await s.login(userPin());
    const pending = [s.signChallenge({ label: 'p256' }, 'one'), s.signChallenge({ label: 'p256' }, 'two')];
    const closing = s.close();
    const late = s.signChallenge({ label: 'p256' }, 'three');
    const sigs = await Promise.all(pending);
    await closing;
    expect(verifySignature(p256Pem(), 'one', sigs[0]!, { algorithm: 'ECDSA-SHA256' })).toBe(true);
    expect(verifySignature(p256Pem(), 'two', sigs[1]!, { algorithm: 'ECDSA-SHA256' })).toBe(true);
    // Queued behind the close: the session is gone by the time it runs.
    await expect(late).rejects.toMatchObject({ code: 'ERR_SESSION_CLOSED' });
  });
});

describe('PINs', () => {
  it('a wrong user PIN is ERR_PIN_INCORRECT and sets countLow; a correct one clears it', async () => {
    await resetPinStatus();
    await using s = await token.openSession();
    const err = await failure(s.login('987650'));
    expect(err).toBeInstanceOf(PinIncorrectError);
    expect(err).toMatchObject({ code: 'ERR_PIN_INCORRECT', rvName: 'CKR_PIN_INCORRECT', fn: 'C_Login', finalTry: false });
    expect(await s.isLoggedIn()).toBe(false);
    expect(token.info().pinStatus).toBe('countLow');
    expect(token.info().flags.userPinCountLow).toBe(true);
    expect(mod.tokens().find((t) => t.serial === token.serial)!.pinStatus).toBe('countLow');
    await s.login(userPin());
    expect(token.info().pinStatus).toBe('ok');
    expect(token.info().flags.userPinCountLow).toBe(false);
  });

  it('a wrong SO PIN is ERR_PIN_INCORRECT and sets the SO countLow; a correct one clears it', async () => {
    await resetPinStatus();
    await using rw = await token.openSession({ write: true });
    await expect(rw.login('98765401', { userType: 'so' })).rejects.toMatchObject({ code: 'ERR_PIN_INCORRECT' });
    expect(token.info().soPinStatus).toBe('countLow');
    expect(token.info().pinStatus).toBe('ok');
    await rw.login(soPin(), { userType: 'so' });
    expect(token.info().soPinStatus).toBe('ok');
  });

  it('a PIN outside the token’s length range is ERR_PIN_LENGTH and never reaches the token', async () => {
    await resetPinStatus();
    const { min, max } = token.info().pinLength;
    expect({ min, max }).toEqual({ min: 4, max: 255 });
    await using s = await token.openSession({ write: true });
    const login = vi.spyOn(mod.raw, 'C_Login');
    for (const [what, pin] of [
      ['too short', '913'],
      ['too long', '8642'.repeat(64)],
      ['empty', ''],
    ] as const) {
      await expect(s.login(pin), what).rejects.toMatchObject({ code: 'ERR_PIN_LENGTH', name: 'PinLengthError' });
      await expect(s.login(pin, { userType: 'so' }), `SO ${what}`).rejects.toMatchObject({ code: 'ERR_PIN_LENGTH' });
    }
    expect(login).not.toHaveBeenCalled();
    // SoftHSM flags every wrong attempt it sees; nothing was flagged, so it saw none.
    expect(token.info().pinStatus).toBe('ok');
    expect(token.info().soPinStatus).toBe('ok');
    expect(await s.isLoggedIn()).toBe(false);
  });

  it('counts PIN length in bytes, with inclusive bounds', async () => {
    await resetPinStatus();
    await using s = await token.openSession();
    const login = vi.spyOn(mod.raw, 'C_Login');
    // Exactly min and max bytes, and 2 characters that are 4 UTF-8 bytes: all go to the token.
    for (const pin of ['4321', '5'.repeat(255), 'éé']) {
      await expect(s.login(pin)).rejects.toMatchObject({ code: 'ERR_PIN_INCORRECT' });
    }
    expect(login).toHaveBeenCalledTimes(3);
    // 256 bytes made of 128 two-byte characters: too long although only 128 characters.
    await expect(s.login('é'.repeat(128))).rejects.toMatchObject({ code: 'ERR_PIN_LENGTH' });
    expect(login).toHaveBeenCalledTimes(3);
    await s.login(userPin());
    expect(token.info().pinStatus).toBe('ok');
  });

  it('a PIN that is not a string is ERR_INVALID_ARGUMENT and never reaches the token', async () => {
    await resetPinStatus();
    await using s = await token.openSession();
    const login = vi.spyOn(mod.raw, 'C_Login');
    for (const pin of [123456, undefined, null, Buffer.from('123456'), ['123456'], { toString: () => '123456' }]) {
      await expect(s.login(pin as never), inspect(pin)).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    }
    expect(login).not.toHaveBeenCalled();
    expect(token.info().pinStatus).toBe('ok');
  });

  it('never puts the PIN in an error’s message, stack, JSON or inspection', async () => {
    await resetPinStatus();
    await using s = await token.openSession({ write: true });
    const cases: Array<[string, () => Promise<unknown>]> = [
      ['864213', () => s.login('864213')],
      ['97531246', () => s.login('97531246', { userType: 'so' })],
      ['573', () => s.login('573')],
      ['2468'.repeat(70), () => s.login('2468'.repeat(70))],
      ['735119', () => s.login(Buffer.from('735119') as never)],
      ['Z9x8C7v6', () => s.login('Z9x8C7v6', { userType: 'nobody' as never })],
      ['642197', async () => {
        const closed = await token.openSession();
        await closed.close();
        return closed.login('642197');
      }],
    ];
    for (const [pin, op] of cases) {
      const err = await failure(op());
      const views = [
        err.message,
        String(err.stack),
        JSON.stringify(err),
        JSON.stringify(err, Object.getOwnPropertyNames(err)),
        inspect(err, { depth: Infinity, showHidden: true }),
        String(err),
      ];
      for (const view of views) expect(view.includes(pin), `${err.name} leaks ${pin}: ${view}`).toBe(false);
    }
    await resetPinStatus();
  });
});

describe('bad input', () => {
  it('a wrong key label or id is ERR_KEY_NOT_FOUND', async () => {
    await using s = await token.openSession();
    await s.login(userPin());
    await expect(s.signChallenge({ label: 'no-such-key' }, 'x')).rejects.toMatchObject({ code: 'ERR_KEY_NOT_FOUND' });
    await expect(s.signChallenge({ id: 'ee' }, 'x')).rejects.toMatchObject({ code: 'ERR_KEY_NOT_FOUND' });
  });

  it('a key used with another key type’s algorithm is ERR_KEY_TYPE_MISMATCH, before C_SignInit', async () => {
    await using s = await token.openSession();
    await s.login(userPin());
    const signInit = vi.spyOn(mod.raw, 'C_SignInit');
    const mismatches: Array<[string, SignatureAlgorithm]> = [
      ['rsa2048', 'ECDSA-SHA256'],
      ['rsa2048', 'ECDSA-SHA384'],
      ['rsa2048', 'Ed25519'],
      ['p256', 'Ed25519'],
      ['p256', 'RSA-PKCS1-SHA256'],
      ['p384', 'RSA-PSS-SHA256'],
      ['ed25519', 'ECDSA-SHA256'],
      ['ed25519', 'RSA-PSS-SHA256'],
    ];
    for (const [label, algorithm] of mismatches) {
      await expect(s.signChallenge({ label }, 'x', { algorithm }), `${label} ${algorithm}`).rejects.toMatchObject({
        code: 'ERR_KEY_TYPE_MISMATCH',
        name: 'KeyTypeMismatchError',
      });
    }
    // A public key cannot sign either.
    const pub = await s.findPublicKey({ label: 'p256' });
    await expect(s.signChallenge(pub, 'x')).rejects.toMatchObject({ code: 'ERR_KEY_TYPE_MISMATCH' });
    expect(signInit).not.toHaveBeenCalled();
    // The session is unharmed.
    const sig = await s.signChallenge({ label: 'p256' }, 'still fine');
    expect(signInit).toHaveBeenCalledTimes(1);
    expect(verifySignature(p256Pem(), 'still fine', sig, { algorithm: 'ECDSA-SHA256' })).toBe(true);
  });

  it('an empty or non-byte challenge, an unknown algorithm or format are ERR_INVALID_ARGUMENT, before C_SignInit', async () => {
    await using s = await token.openSession();
    await s.login(userPin());
    const signInit = vi.spyOn(mod.raw, 'C_SignInit');
    const invalid = { code: 'ERR_INVALID_ARGUMENT' };
    await expect(s.signChallenge({ label: 'p256' }, '')).rejects.toMatchObject(invalid);
    await expect(s.signChallenge({ label: 'p256' }, new Uint8Array(0))).rejects.toMatchObject(invalid);
    await expect(s.signChallenge({ label: 'rsa2048' }, Buffer.alloc(0))).rejects.toMatchObject(invalid);
    await expect(s.signChallenge({ label: 'p256' }, 42 as never)).rejects.toMatchObject(invalid);
    await expect(s.signChallenge({ label: 'p256' }, { length: 3 } as never)).rejects.toMatchObject(invalid);
    await expect(s.signChallenge({ label: 'p256' }, 'x', { algorithm: 'ECDSA-SHA1' as never })).rejects.toMatchObject(invalid);
    await expect(s.signChallenge({ label: 'p256' }, 'x', { algorithm: 'ecdsa-sha256' as never })).rejects.toMatchObject(invalid);
    await expect(s.signChallenge({ label: 'p256' }, 'x', { format: 'base64' as never })).rejects.toMatchObject(invalid);
    expect(signInit).not.toHaveBeenCalled();
  });

  it('signing without login is ERR_NOT_LOGGED_IN, by reference and with a key found before logout', async () => {
    await using s = await token.openSession();
    await expect(s.signChallenge({ label: 'p256' }, 'x')).rejects.toMatchObject({ code: 'ERR_NOT_LOGGED_IN', name: 'NotLoggedInError' });
    await expect(s.signChallenge({ id: '03' }, 'x')).rejects.toMatchObject({ code: 'ERR_NOT_LOGGED_IN' });
    await expect(s.findPrivateKey({ label: 'p256' })).rejects.toMatchObject({ code: 'ERR_NOT_LOGGED_IN' });
    await s.login(userPin());
    const key = await s.findPrivateKey({ label: 'p256' });
    await s.logout();
    await expect(s.signChallenge(key, 'x')).rejects.toMatchObject({ code: 'ERR_NOT_LOGGED_IN' });
    // After logging in again the key is found and signs (SoftHSM hands out new handles for
    // private objects at each login, so the old TokenKey stays dead).
    await s.login(userPin());
    const sig = await s.signChallenge({ label: 'p256' }, 'again');
    expect(verifySignature(p256Pem(), 'again', sig, { algorithm: 'ECDSA-SHA256' })).toBe(true);
  });
});

describe('a second login while the token is already logged in', () => {
  it('accepts the PIN we logged in with without asking the token again', async () => {
    await using first = await token.openSession();
    await first.login(userPin());
    const spy = vi.spyOn(mod.raw, 'C_Logout');
    await using second = await token.openSession();
    await second.login(userPin());
    expect(spy).not.toHaveBeenCalled();
    expect(await first.isLoggedIn()).toBe(true);
    expect(token.info().pinStatus).toBe('ok');
  });

  it('does not take CKR_USER_ALREADY_LOGGED_IN as proof of a wrong PIN', async () => {
    await using first = await token.openSession();
    await first.login(userPin());
    await using second = await token.openSession();
    const wrong = await second.login('999999').catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(PinIncorrectError);
    expect((wrong as PinIncorrectError).code).toBe('ERR_PIN_INCORRECT');
    // The wrong PIN really reached the token (SoftHSM flags COUNT_LOW), and the login is gone.
    expect(token.info().pinStatus).toBe('countLow');
    expect(await first.isLoggedIn()).toBe(false);
    await second.login(userPin());
    expect(await first.isLoggedIn()).toBe(true);
    expect(token.info().pinStatus).toBe('ok');
  });
});
