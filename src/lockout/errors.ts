// The lockout layer's own errors. A locked PIN and a refused final try are the PKCS#11 layer's
// PinLockedError and FinalTryRefusedError either way, so callers handle a card's lock and the
// host's lock alike.
import { TokengateError } from '../pkcs11/errors.js';


/** The token's serial or one of its certificates is on the blocklist. */
export class TokenBlockedError extends TokengateError {
  override readonly code = 'ERR_TOKEN_BLOCKED';
}
