// Secrets — passwords, security tokens, temporary passwords — must be well-formed Unicode. JSON's
// `\ud800` escape gives a JS string a lone surrogate, which UTF-8 cannot encode: hashing turns it
// into U+FFFD, so a password set with U+FFFD would open with any lone surrogate, and any lone
// surrogate with any other. Such a secret is refused, never replaced.
import { InvalidInputError } from '../errors.js';
import { isWellFormed } from '../../util/well-formed.js';


/** Throws InvalidInputError naming `field` (never echoing the value) when `value` holds a lone surrogate. */
export function checkSecret(value: unknown, field: string): void {
  if (typeof value === 'string' && !isWellFormed(value)) {
    throw new InvalidInputError(`${field}: not well-formed Unicode (a lone surrogate)`);
  }
}
