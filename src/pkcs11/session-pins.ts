// A session's PIN management functions: the SO setting the user PIN (C_InitPIN), and changing a
// PIN (C_SetPIN), whose check of the old PIN counts like a login (sendSecret).
import { call } from './binding.js';
import { CKS_RW_SO_FUNCTIONS } from './constants.js';
import { NotLoggedInError, SessionReadOnlyError } from './errors.js';
import type { PinSecret } from './login-guard.js';
import { forgetLogin } from './login-state.js';
import { sendSecret } from './pin-attempt.js';
import { checkPin, pinValue, type Pin } from '../util/pin.js';
import type { Session } from './session.js';
import { noteOwnChange } from './token-changes.js';

/** Sets the user PIN as the security officer (C_InitPIN): first set-up, or the SO's way to unblock. */
export async function initUserPin(s: Session, newPin: string | Pin): Promise<void> {
  const value = pinValue(checkPin(newPin, s.token.info().pinLength, 'new PIN'));
  if (!s.readWrite) throw new SessionReadOnlyError('the SO sets the user PIN in a read-write session');
  await s.exclusive((lib, session) => {
    if (call(lib, 'C_GetSessionInfo', session).state !== CKS_RW_SO_FUNCTIONS) {
      throw new NotLoggedInError('log in as the SO ({ userType: "so" }) to set the user PIN');
    }
    call(lib, 'C_InitPIN', session, value);
    forgetLogin(s.token.module.path, s.token.serial);
    // A new user PIN: whatever the host counted against the old one is over.
    s.token.loginGuard?.reset(s.token.guardIdentity, 'user');
    noteOwnChange(s.token);
  });
}

/**
 * Changes the PIN of whoever is logged in on this session (the SO's when the SO is, else the
 * user's), old to new, in a read-write session (C_SetPIN). On a session nobody is logged in to,
 * the user logs in with the old PIN first and out again after: OpenSC, set up to unblock with a
 * PUK, reads C_SetPIN in an unlogged session as "PUK, new PIN", and would spend a PUK try.
 */
export async function changePin(s: Session, oldPin: string | Pin, newPin: string | Pin, options: { allowFinalTry?: boolean }): Promise<void> {
  const info = s.token.info();
  const current = checkPin(oldPin, info.pinLength, 'current PIN');
  const next = pinValue(checkPin(newPin, info.pinLength, 'new PIN'));
  if (!s.readWrite) throw new SessionReadOnlyError('a PIN is changed in a read-write session');
  const allowFinalTry = options.allowFinalTry === true;
  const loggedIn = await s.isLoggedIn();
  if (!loggedIn) await s.login(current, { allowFinalTry });
  try {
    await s.exclusive(async (lib, session) => {
      const { state } = call(lib, 'C_GetSessionInfo', session);
      // C_SetPIN checks the old PIN itself: a wrong one counts like a wrong login.
      const secret: PinSecret = state === CKS_RW_SO_FUNCTIONS ? 'so' : 'user';
      await sendSecret({ token: s.token, secret, allowFinalTry, info }, () => call(lib, 'C_SetPIN', session, pinValue(current), next));
      forgetLogin(s.token.module.path, s.token.serial);
      noteOwnChange(s.token);
    });
  } finally {
    if (!loggedIn) await s.logout().catch(() => undefined);
  }
}
