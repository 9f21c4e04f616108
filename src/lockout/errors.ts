// The lockout layer's own error; a locked PIN is the PKCS#11 layer's PinLockedError either way,
// so callers handle a card's lock and the host's lock alike.
import { TokengateError } from '../pkcs11/errors.js';

/** The next wrong PIN would lock the token, and the caller did not pass `allowFinalTry: true`. */
export class FinalTryRefusedError extends TokengateError {
  override readonly code = 'ERR_FINAL_TRY_REFUSED';
}

/** The token's serial or one of its certificates is on the blocklist. */
export class TokenBlockedError extends TokengateError {
  override readonly code = 'ERR_TOKEN_BLOCKED';
}
