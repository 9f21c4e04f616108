// One error base and one union of codes: `switch (err.code)` narrows to the class and its fields,
// for the token library's errors and the verifier's alike; the verifier's are tokengate errors too.
import { describe, expect, it } from 'vitest';
import { PinIncorrectError, PinLockedError, TokengateError, TokenBlockedError, type TokenLibraryError } from '../src/index.js';
import { RateLimitedError, VerifierError, type VerifierLibraryError } from '../src/verifier/index.js';
import { VerifierRefusedError } from '../src/client/index.js';

/** Compiles only if each case narrows to its class (tsc runs over the tests). */
function explain(err: TokenLibraryError | VerifierLibraryError): string {
  switch (err.code) {
    case 'ERR_PIN_INCORRECT':
      return `wrong ${err.pinType}, ${String(err.retriesLeft)} left`;
    case 'ERR_PIN_LOCKED':
      return `locked${err.lockedNow ? ' now' : ''}`;
    case 'ERR_RATE_LIMITED':
      return `retry in ${err.retryAfterSeconds} s`;
    case 'ERR_VERIFIER_REFUSED':
      return `refused: ${err.remoteCode}`;
    default:
      return err.code;
  }
}

describe('one error base, one union of codes', () => {
  it('narrows on the code to the class\'s fields, on both sides', () => {
    expect(explain(new PinIncorrectError('wrong PIN', { retriesLeft: 2 }))).toBe('wrong user, 2 left');
    expect(explain(new PinLockedError('locked', { lockedNow: true }))).toBe('locked now');
    expect(explain(new TokenBlockedError('blocked'))).toBe('ERR_TOKEN_BLOCKED');
    const limited = new RateLimitedError(30);
    expect(explain(limited)).toBe('retry in 30 s');
    expect(explain(new VerifierRefusedError(409, 'ERR_CREDENTIAL_STATE', 'blocked'))).toBe('refused: ERR_CREDENTIAL_STATE');
  });

  it('makes every verifier error a TokengateError with a stable code and the class\'s name, and no HTTP status', () => {
    const limited = new RateLimitedError(30);
    expect(limited).toBeInstanceOf(VerifierError);
    expect(limited).toBeInstanceOf(TokengateError);
    expect(limited).toMatchObject({ code: 'ERR_RATE_LIMITED', name: 'RateLimitedError' });
    expect(limited).not.toHaveProperty('status');
  });
});
