// unblockPin's two strategies and changePin at token level, on SoftHSM (the SO strategy; the PUK
// strategy runs on the emulated PIV card in piv-lockout.test.ts).
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { InvalidArgumentError, PinIncorrectError, PinLengthError, Pkcs11Module, type Token } from '../src/index.js';
import { useSoftHsm } from './helpers/softhsm.js';

const hsm = useSoftHsm({ tokens: [{ label: 'unblocking', keys: [] }] });
let mod: Pkcs11Module;
let token: Token;

beforeAll(async () => {
  mod = await Pkcs11Module.load(hsm.current.modulePath);
  token = mod.token({ label: 'unblocking' });
});
afterAll(() => mod?.close());

const userPin = () => hsm.current.tokens[0]!.userPin;
const soPin = () => hsm.current.tokens[0]!.soPin;

async function canLogIn(pin: string): Promise<boolean> {
  await using session = await token.openSession();
  return session.login(pin).then(
    () => true,
    (err: unknown) => {
      if (err instanceof PinIncorrectError) return false;
      throw err;
    },
  );
}

describe('Token.unblockPin', () => {
  it('with a read-only session of ours still open, says which session to close, and counts nothing', async () => {
    await using open = await token.openSession();
    const refused = await token.unblockPin({ soPin: soPin(), newPin: '654321' }).then(() => 'ok', (err: unknown) => err);
    expect(refused).toMatchObject({ code: 'ERR_SESSION_READ_ONLY', rvName: 'CKR_SESSION_READ_ONLY_EXISTS' });
    expect((refused as Error).message).toContain('close yours (await using ends them), then unblock');
    expect(token.pinState('so').failures).toBe(0);
    await open.close();
    await token.unblockPin({ soPin: soPin(), newPin: userPin() });
    expect(await canLogIn(userPin())).toBe(true);
  });

  it('needs exactly one of puk and soPin, and checks the new PIN, before the token is touched', async () => {
    const setPin = vi.spyOn(mod.raw, 'C_SetPIN');
    const login = vi.spyOn(mod.raw, 'C_Login');
    await expect(token.unblockPin({ newPin: '654321' } as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(token.unblockPin({ puk: '12345678', soPin: soPin(), newPin: '654321' } as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(token.unblockPin(null as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(token.unblockPin({ soPin: soPin(), newPin: '' })).rejects.toBeInstanceOf(PinLengthError);
    await expect(token.unblockPin({ puk: '12345678', newPin: 'x'.repeat(300) })).rejects.toBeInstanceOf(PinLengthError);
    expect(setPin).not.toHaveBeenCalled();
    expect(login).not.toHaveBeenCalled();
    setPin.mockRestore();
    login.mockRestore();
  });

  it('with the SO PIN sets a new user PIN (SO login + C_InitPIN); the old one stops working', async () => {
    const initPin = vi.spyOn(mod.raw, 'C_InitPIN');
    await token.unblockPin({ soPin: soPin(), newPin: 'after-unblock' });
    expect(initPin).toHaveBeenCalledTimes(1);
    initPin.mockRestore();
    expect(await canLogIn(userPin())).toBe(false);
    expect(await canLogIn('after-unblock')).toBe(true);
    // The SO was logged out again: the next user login is not refused for an SO session.
    await token.changePin('after-unblock', userPin());
    expect(await canLogIn(userPin())).toBe(true);
    expect(await canLogIn('after-unblock')).toBe(false);
  });

  it('says which secret was wrong: a wrong SO PIN is a PinIncorrectError with pinType "so", and nothing changes', async () => {
    const err = await token.unblockPin({ soPin: '00000000', newPin: 'never-set' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PinIncorrectError);
    expect(err).toMatchObject({ code: 'ERR_PIN_INCORRECT', pinType: 'so', rvName: 'CKR_PIN_INCORRECT', fn: 'C_Login' });
    expect(String((err as Error).message)).not.toContain('00000000');
    expect(await canLogIn(userPin())).toBe(true);
  });

  it('changePin with a wrong old PIN is a PinIncorrectError for the user PIN and keeps the PIN', async () => {
    await expect(token.changePin('999999', 'not-this-one')).rejects.toMatchObject({ code: 'ERR_PIN_INCORRECT', pinType: 'user' });
    expect(await canLogIn(userPin())).toBe(true);
  });
});
