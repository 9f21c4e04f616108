// The one place a PIN, SO PIN or PUK goes to a token (C_Login of every user type, C_SetPIN's old
// PIN or PUK). Before it goes: the token's own counter (its flags) or the host's guard may refuse
// a locked secret or a last try the caller did not allow; the guard counts the attempt up front.
// After: the count is settled, and a wrong secret says how many tries are left where anyone knows,
// or — when it used the last one — becomes PinLockedError.
import { FinalTryRefusedError, PinIncorrectError, PinLockedError } from './errors.js';
import type { LoginGuardTicket, PinSecret } from './login-guard.js';
import { secretName, tokenCountedStatus } from './pin-state.js';
import type { Token, TokenInfo } from './token.js';

export interface SecretAttempt {
  readonly token: Token;
  readonly secret: PinSecret;
  readonly allowFinalTry: boolean;
  /** The token's information, read once for this attempt. */
  readonly info: TokenInfo;
}

/** Refuses, before anything is sent, what the token's own counter forbids. */
function refuseByTokenFlags(info: TokenInfo, secret: PinSecret, allowFinalTry: boolean): void {
  const { pinStatus } = tokenCountedStatus(info, secret);
  const what = secretName(secret);
  if (pinStatus === 'locked') throw new PinLockedError(`the ${what} is locked; it must be unblocked`, { pinType: secret });
  if (pinStatus === 'finalTry' && !allowFinalTry) {
    throw new FinalTryRefusedError(`one try is left: a wrong ${what} now locks it (pass allowFinalTry to spend it)`, { pinType: secret });
  }
}

/** Tries left after this wrong secret: the fewer of the guard's count and what the token's flags say now. */
function retriesLeftAfter(attempt: SecretAttempt, ticket: LoginGuardTicket | undefined): number | undefined {
  let own: number | undefined;
  try {
    own = tokenCountedStatus(attempt.token.info(), attempt.secret).retriesLeft;
  } catch {
    own = undefined; // the token vanished right after its answer
  }
  if (!ticket) return own;
  return own === undefined ? ticket.retriesLeftIfWrong : Math.min(own, ticket.retriesLeftIfWrong);
}

function explainIncorrect(err: PinIncorrectError, attempt: SecretAttempt, ticket: LoginGuardTicket | undefined): Error {
  const what = secretName(attempt.secret);
  const retriesLeft = retriesLeftAfter(attempt, ticket);
  if (retriesLeft === 0) {
    return new PinLockedError(`wrong ${what} — the ${what} is now locked; it must be unblocked`, {
      pinType: attempt.secret,
      lockedNow: true,
      cause: err,
      failure: err.failure,
    });
  }
  const left =
    retriesLeft === undefined ? ` (the token does not say how many tries are left)` : retriesLeft === 1 ? ' — 1 try left: the next wrong one locks it' : ` — ${retriesLeft} tries left`;
  return new PinIncorrectError(`wrong ${what}${left}`, {
    pinType: attempt.secret,
    retriesLeft,
    finalTry: retriesLeft === 1,
    cause: err,
    failure: err.failure,
  });
}

/**
 * Sends a secret with `send` (which makes the C_ call) under the token's counter: the guard's when
 * the host counts for this token, else the token's own flags.
 */
export async function sendSecret<T>(attempt: SecretAttempt, send: () => T | Promise<T>): Promise<T> {
  const { token, secret, allowFinalTry } = attempt;
  // The token's own flags first (nothing is counted for a refusal): a host-counted token that
  // locks after all (a TPM) is refused here too — the stricter of the two counters wins.
  refuseByTokenFlags(attempt.info, secret, allowFinalTry);
  const guard = token.loginGuard;
  const ticket = guard ? await guard.begin({ ...token.guardIdentity, secret, allowFinalTry }) : undefined;
  let result: T;
  try {
    result = await send();
  } catch (err) {
    if (err instanceof PinIncorrectError) {
      ticket?.incorrect();
      throw explainIncorrect(err, attempt, ticket);
    }
    ticket?.undecided();
    // The token's CKR_PIN_LOCKED, said of the secret that was sent.
    if (err instanceof PinLockedError) {
      throw new PinLockedError(`the ${secretName(secret)} is locked; it must be unblocked`, { pinType: secret, cause: err, failure: err.failure });
    }
    throw err;
  }
  ticket?.accepted();
  return result;
}
