// Unblocking a user PIN, one operation with two strategies, because tokens come in two families:
// - cards (OpenSC): C_SetPIN(PUK, new PIN) in a read-write session nobody is logged in to, which
//   OpenSC turns into RESET RETRY COUNTER when OPENSC_CONF sets
//   `user_pin_unblock_style = set_pin_in_unlogged_session`;
// - HSM-like tokens (SoftHSM): the security officer logs in and sets a new user PIN (C_InitPIN).
// Which one applies follows from the secret the caller holds; a module that supports neither gets
// a clear UnblockNotSupportedError instead of a bare CKR.
import { call } from './binding.js';
import { InvalidArgumentError, PinLockedError, SessionReadOnlyError, TokengateError, UnblockNotSupportedError } from './errors.js';
import { sendSecret } from './pin-attempt.js';
import { noteOwnChange } from './token-changes.js';
import { forgetLogin } from './login-state.js';
import { checkPin, pinValue, type Pin } from '../util/pin.js';
import type { Token } from './token.js';

export type UnblockPinOptions =
  | { puk: string | Pin; newPin: string | Pin; soPin?: undefined; allowFinalTry?: boolean }
  | { soPin: string | Pin; newPin: string | Pin; puk?: undefined; allowFinalTry?: boolean };

/** The strategy an unblock with these options takes. */
export function unblockStrategy(options: UnblockPinOptions): 'puk' | 'so' {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('unblocking needs { puk, newPin } or { soPin, newPin }');
  const hasPuk = options.puk !== undefined;
  const hasSoPin = options.soPin !== undefined;
  if (hasPuk === hasSoPin) throw new InvalidArgumentError('give exactly one of puk (cards) or soPin (HSM-like tokens) to unblock a PIN');
  return hasPuk ? 'puk' : 'so';
}

// How a module says "not this way": OpenSC with unblock style `none` answers a PUK in an unlogged
// session as if it were the (locked) user PIN; a PIV card has no SO login at all.
const PUK_UNSUPPORTED = new Set(['CKR_FUNCTION_NOT_SUPPORTED', 'CKR_USER_PIN_NOT_INITIALIZED']);
const SO_UNSUPPORTED = new Set(['CKR_GENERAL_ERROR', 'CKR_FUNCTION_NOT_SUPPORTED', 'CKR_USER_TYPE_INVALID', 'CKR_FUNCTION_FAILED']);

/** Unblocks with the PUK: C_SetPIN in a read-write session that is not logged in. */
export async function unblockWithPuk(token: Token, puk: string | Pin, newPin: string | Pin, allowFinalTry = false): Promise<void> {
  const info = token.info();
  // PIV PUKs are 8 bytes; the token's PIN range is the only bound PKCS#11 gives for either.
  const pukValue = pinValue(checkPin(puk, { min: 1, max: info.pinLength.max }, 'PUK'));
  const newValue = pinValue(checkPin(newPin, info.pinLength, 'new PIN'));
  await using session = await token.openSession({ write: true });
  await session.exclusive(async (lib, handle) => {
    try {
      // A wrong PUK counts on the PUK's own counter (the card's, or the guard's for a host-counted token).
      await sendSecret({ token, secret: 'puk', allowFinalTry, info }, () => call(lib, 'C_SetPIN', handle, pukValue, newValue));
    } catch (err) {
      if (err instanceof PinLockedError && !err.lockedNow && err.rv !== undefined) {
        throw new PinLockedError(
          'the PUK was refused as locked: the PUK itself is blocked, or the module does not unblock in an unlogged session (OpenSC: user_pin_unblock_style = set_pin_in_unlogged_session)',
          { pinType: 'puk', cause: err, failure: err.failure },
        );
      }
      if (err instanceof TokengateError && err.rvName !== undefined && PUK_UNSUPPORTED.has(err.rvName)) {
        throw new UnblockNotSupportedError(
          'this module does not unblock with a PUK in an unlogged session (OpenSC: set user_pin_unblock_style = set_pin_in_unlogged_session in OPENSC_CONF)',
          { cause: err, failure: err.failure },
        );
      }
      throw err;
    }
  });
  forgetLogin(token.module.path, token.serial);
  token.loginGuard?.reset(token.guardIdentity, 'user');
  noteOwnChange(token);
}

/** Unblocks as the security officer: SO login in a read-write session, then C_InitPIN. */
export async function unblockWithSoPin(token: Token, soPin: string | Pin, newPin: string | Pin, allowFinalTry = false): Promise<void> {
  const next = checkPin(newPin, token.info().pinLength, 'new PIN');
  await using session = await token.openSession({ write: true });
  try {
    await session.login(soPin, { userType: 'so', allowFinalTry });
  } catch (err) {
    if (err instanceof SessionReadOnlyError && err.rvName === 'CKR_SESSION_READ_ONLY_EXISTS') {
      throw new SessionReadOnlyError(
        `an SO login needs every read-only session with "${token.label}" closed first (CKR_SESSION_READ_ONLY_EXISTS): close yours (await using ends them), then unblock`,
        { cause: err, failure: err.failure },
      );
    }
    if (err instanceof TokengateError && err.rvName !== undefined && SO_UNSUPPORTED.has(err.rvName)) {
      throw new UnblockNotSupportedError('this token has no SO login that can set the user PIN (PIV cards: unblock with the PUK)', {
        cause: err,
        failure: err.failure,
      });
    }
    throw err;
  }
  try {
    await session.initUserPin(next);
  } finally {
    await session.logout();
  }
}

/** Unblocks (or resets) the user PIN with the PUK or the SO PIN, whichever the caller holds. */
export async function unblockPin(token: Token, options: UnblockPinOptions): Promise<void> {
  const strategy = unblockStrategy(options);
  const allowFinalTry = options.allowFinalTry === true;
  if (strategy === 'puk') return unblockWithPuk(token, options.puk!, options.newPin, allowFinalTry);
  // The SO login is counted on the SO PIN's own counter; C_InitPIN starts the user's count again.
  return unblockWithSoPin(token, options.soPin!, options.newPin, allowFinalTry);
}
