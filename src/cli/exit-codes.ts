// The exit codes a script can branch on, one per outcome that matters.
import { TokengateError } from '../index.js';
import { VerifierError } from '../client/index.js';

export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  pinIncorrect: 3,
  pinLocked: 4,
  tokenNotPresent: 5,
  tokenBlocked: 6,
  verificationFailed: 7,
  verifierUnreachable: 8,
  /** A security key that refuses every PIN until it is unplugged and plugged in again. */
  pinAuthBlocked: 9,
} as const;

/** A mistake in how the command was called: exit 2, with the explanation. */
export class UsageError extends TypeError {
  readonly code = 'ERR_USAGE';
}

export function exitCodeFor(err: unknown): number {
  if (err instanceof UsageError) return EXIT.usage;
  const code = err instanceof TokengateError || err instanceof VerifierError ? err.code : undefined;
  switch (code) {
    case 'ERR_PIN_INCORRECT':
      return EXIT.pinIncorrect;
    // Refused before the token saw it, and nothing was counted: a mistake in the call.
    case 'ERR_PIN_LENGTH':
      return EXIT.usage;
    case 'ERR_PIN_LOCKED':
      return EXIT.pinLocked;
    case 'ERR_FINAL_TRY_REFUSED':
    case 'ERR_INVALID_VERIFIER_URL':
      return EXIT.usage;
    case 'ERR_TOKEN_NOT_PRESENT':
    case 'ERR_TOKEN_REMOVED':
      return EXIT.tokenNotPresent;
    case 'ERR_TOKEN_BLOCKED':
      return EXIT.tokenBlocked;
    case 'ERR_VERIFIER_UNREACHABLE':
      return EXIT.verifierUnreachable;
    case 'ERR_PIN_AUTH_BLOCKED':
      return EXIT.pinAuthBlocked;
    // A new PIN the key's rules refuse: nothing was counted.
    case 'ERR_PIN_POLICY':
      return EXIT.usage;
    default:
      return EXIT.failure;
  }
}
