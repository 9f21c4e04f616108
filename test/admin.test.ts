// Integration: initialising a token, setting the user PIN as SO, changing PINs. SoftHSM sets
// pinStatus 'countLow' on every real wrong attempt, so an unchanged 'ok' proves the token was not asked.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pkcs11Module } from '../src/index.js';
import { useSoftHsm } from './helpers/softhsm.js';

const hsm = useSoftHsm({ tokens: [{ label: 'admin', keys: [] }] });
let mod: Pkcs11Module;

beforeAll(async () => {
  mod = await Pkcs11Module.load(hsm.current.modulePath);
});
afterAll(async () => {
  await mod?.close();
});

describe('initializeToken', () => {
  it('initialises the free slot, then the SO sets the user PIN and the user logs in', async () => {
    const token = mod.initializeToken({ soPin: 'so-secret-1', label: 'fresh' });
    const info = token.info();
    expect(info.label).toBe('fresh');
    expect(info.flags.tokenInitialized).toBe(true);
    expect(info.flags.userPinInitialized).toBe(false);
    {
      await using so = await token.openSession({ write: true });
      await so.login('so-secret-1', { userType: 'so' });
      await so.initUserPin('user-pin-1');
    }
    expect(token.info().flags.userPinInitialized).toBe(true);
    await using user = await token.openSession();
    await user.login('user-pin-1');
    expect(await user.isLoggedIn()).toBe(true);
  });

  it('refuses a label over 32 bytes and an SO PIN out of range, leaving the free slot free', () => {
    const free = () => mod.tokens().filter((t) => !t.flags.tokenInitialized).length;
    const before = free();
    expect(before).toBeGreaterThan(0);
    expect(() => mod.initializeToken({ soPin: 'so-secret-1', label: 'x'.repeat(33) })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    expect(() => mod.initializeToken({ soPin: '1', label: 'short-pin' })).toThrow(expect.objectContaining({ code: 'ERR_PIN_LENGTH' }));
    expect(free()).toBe(before);
  });
});

describe('changePin', () => {
  const original = () => hsm.current.tokens[0]!.userPin;

  it('changes the user PIN: the old one then fails, the new one works', async () => {
    const token = mod.token({ label: 'admin' });
    {
      await using s = await token.openSession({ write: true });
      await s.login(original());
      await s.changePin(original(), '654321');
    }
    {
      await using s = await token.openSession();
      await expect(s.login(original())).rejects.toMatchObject({ code: 'ERR_PIN_INCORRECT', rvName: 'CKR_PIN_INCORRECT', fn: 'C_Login' });
      await s.login('654321');
    }
    // Put it back, through a logged-out read-write session this time.
    await using s = await token.openSession({ write: true });
    await s.changePin('654321', original());
    await s.login(original());
    expect(token.info().pinStatus).toBe('ok');
  });

  it('a wrong current PIN is the token\'s answer; a PIN of the wrong length never reaches it', async () => {
    const token = mod.token({ label: 'admin' });
    await using s = await token.openSession({ write: true });
    await expect(s.changePin('1', '654321')).rejects.toMatchObject({ code: 'ERR_PIN_LENGTH' });
    await expect(s.changePin(original(), 'x'.repeat(256))).rejects.toMatchObject({ code: 'ERR_PIN_LENGTH' });
    expect(token.info().pinStatus).toBe('ok');
    await expect(s.changePin('000000', '654321')).rejects.toMatchObject({ code: 'ERR_PIN_INCORRECT' });
    expect(token.info().pinStatus).toBe('countLow');
    await s.login(original());
    expect(token.info().pinStatus).toBe('ok');
  });

  it('initUserPin as SO resets a user PIN (the SO-side unblock)', async () => {
    const token = mod.token({ label: 'admin' });
    {
      await using so = await token.openSession({ write: true });
      await so.login(hsm.current.tokens[0]!.soPin, { userType: 'so' });
      await expect(so.initUserPin('12')).rejects.toMatchObject({ code: 'ERR_PIN_LENGTH' });
      await so.initUserPin('reset-pin-9');
    }
    await using s = await token.openSession({ write: true });
    await expect(s.login(original())).rejects.toMatchObject({ code: 'ERR_PIN_INCORRECT' });
    await s.login('reset-pin-9');
    await s.changePin('reset-pin-9', original());
  });
});
