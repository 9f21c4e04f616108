// What a card's own PIN flags make login do. SoftHSM never sets FINAL_TRY or LOCKED (it has no
// retry counter), so here the token's flag word is overlaid on SoftHSM's real answer; the real
// card path is proven on the emulated PIV card.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { PinIncorrectError, Pkcs11Module, type Token } from '../src/index.js';
import { pkcs11js } from '../src/pkcs11/native.js';
import { useSoftHsm } from './helpers/softhsm.js';

const hsm = useSoftHsm({ tokens: [{ label: 'flagged', keys: [] }] });
let mod: Pkcs11Module;
let token: Token;

beforeAll(async () => {
  mod = await Pkcs11Module.load(hsm.current.modulePath);
  token = mod.token({ label: 'flagged' });
});
afterAll(async () => {
  await mod?.close();
});
afterEach(() => {
  vi.restoreAllMocks();
});

/** Makes the token report `extra` flags on top of what SoftHSM says. */
function overlayFlags(extra: number): ReturnType<typeof vi.spyOn> {
  const real = mod.raw.C_GetTokenInfo.bind(mod.raw);
  return vi.spyOn(mod.raw, 'C_GetTokenInfo').mockImplementation((slot) => {
    const info = real(slot);
    return { ...info, flags: (info.flags | extra) >>> 0 };
  });
}

describe('login and the token\'s PIN flags', () => {
  it('refuses the final try unless allowed, without sending the PIN', async () => {
    overlayFlags(pkcs11js.CKF_USER_PIN_FINAL_TRY);
    const login = vi.spyOn(mod.raw, 'C_Login');
    await using session = await token.openSession();
    await expect(session.login(hsm.current.tokens[0]!.userPin)).rejects.toMatchObject({ code: 'ERR_FINAL_TRY_REFUSED' });
    expect(login).not.toHaveBeenCalled();
    await session.login(hsm.current.tokens[0]!.userPin, { allowFinalTry: true });
    expect(login).toHaveBeenCalledTimes(1);
    expect(await session.isLoggedIn()).toBe(true);
  });

  it('reports a wrong PIN on the final try with finalTry and one retry left', async () => {
    overlayFlags(pkcs11js.CKF_USER_PIN_FINAL_TRY);
    await using session = await token.openSession();
    const err = await session.login('999999', { allowFinalTry: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PinIncorrectError);
    expect(err).toMatchObject({ code: 'ERR_PIN_INCORRECT', finalTry: true, retriesLeft: 1 });
    vi.restoreAllMocks();
    await session.login(hsm.current.tokens[0]!.userPin); // clears SoftHSM's COUNT_LOW
  });

  it('refuses a locked PIN before sending it, even with allowFinalTry', async () => {
    overlayFlags(pkcs11js.CKF_USER_PIN_LOCKED);
    const login = vi.spyOn(mod.raw, 'C_Login');
    await using session = await token.openSession();
    await expect(session.login(hsm.current.tokens[0]!.userPin, { allowFinalTry: true })).rejects.toMatchObject({ code: 'ERR_PIN_LOCKED' });
    expect(login).not.toHaveBeenCalled();
  });

  it('the SO PIN\'s flags guard an SO login the same way', async () => {
    overlayFlags(pkcs11js.CKF_SO_PIN_FINAL_TRY);
    await using session = await token.openSession({ write: true });
    await expect(session.login(hsm.current.tokens[0]!.soPin, { userType: 'so' })).rejects.toMatchObject({ code: 'ERR_FINAL_TRY_REFUSED' });
    // The user PIN is not affected by the SO PIN's state.
    await session.login(hsm.current.tokens[0]!.userPin);
  });

  it('with the host counting too, a token that refuses by its own flags costs no host try', async () => {
    expect(token.pinCountedBy).toBe('host');
    await using session = await token.openSession();
    overlayFlags(pkcs11js.CKF_USER_PIN_LOCKED);
    await expect(session.login(hsm.current.tokens[0]!.userPin, { allowFinalTry: true })).rejects.toMatchObject({ code: 'ERR_PIN_LOCKED' });
    vi.restoreAllMocks();
    overlayFlags(pkcs11js.CKF_USER_PIN_FINAL_TRY);
    await expect(session.login(hsm.current.tokens[0]!.userPin)).rejects.toMatchObject({ code: 'ERR_FINAL_TRY_REFUSED' });
    vi.restoreAllMocks();
    expect(token.pinState().failures).toBe(0);
  });
});
