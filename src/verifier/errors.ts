// The verifier's errors, subclasses of tokengate's one error base with a stable `code`. Messages are
// built from fixed text and identifiers only, never from a password, token or key.
import { TokengateError, type VerifierErrorCode } from '../errors/index.js';

export type { VerifierErrorCode } from '../errors/index.js';

/**
 * The verifier's errors are tokengate's errors: one base class, one union of codes. The HTTP
 * status each code answers with is the HTTP layer's business (http/errors.ts), not the error's.
 */
export abstract class VerifierError extends TokengateError {
  abstract override readonly code: VerifierErrorCode;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? {} : { cause: options.cause });
  }
}

/**
 * The one answer to every failed login, whatever failed: the reason is audited, never told (it
 * would tell an attacker which part of a guess was right).
 */
export class InvalidCredentialsError extends VerifierError {
  override readonly code = 'ERR_INVALID_CREDENTIALS';
  constructor() {
    super('invalid username, password, security token; or user locked out');
  }
}

/**
 * A challenge login refused because the policy for this user and client address is
 * `password+token` and the answer carried no password. Said plainly, unlike every other login
 * failure: it tells only what the challenge's `passwordRequired` already told whoever asked for
 * it, and it is decided before anything secret or stateful (signature, password, lock, account
 * state) is looked at, so it reveals nothing about them. A kiosk's admin needs to hear it: the fix
 * is a policy (`tokengate verifier policy …`), not a better PIN.
 */
export class PasswordRequiredError extends VerifierError {
  override readonly code = 'ERR_PASSWORD_REQUIRED';
  constructor() {
    super(
      "this user's challenge policy is password+token and no password was sent: send the password, or have an admin set token-only for the user (tokengate verifier policy set USERNAME token-only) or for the client's network (tokengate verifier policy range CIDR token-only)",
    );
  }
}

/** Too many failures from one client address: it waits, the users it tried are not locked. */
export class RateLimitedError extends VerifierError {
  override readonly code = 'ERR_RATE_LIMITED';
  constructor(readonly retryAfterSeconds: number) {
    super('too many failed attempts from this address; try again later');
  }
}

/**
 * The store could not be reached or did not answer in time (PostgreSQL restarting, a connection
 * lost, a statement past its timeout; SQLite's lock held past its wait): nothing was decided on
 * this request's behalf that the caller must know of — a login is answered as a success only once
 * its audit entry is stored — so the same request may simply be sent again after a moment.
 */
export class StoreUnavailableError extends VerifierError {
  override readonly code = 'ERR_STORE_UNAVAILABLE';
  readonly retryAfterSeconds = 1;
  constructor(cause: unknown) {
    super('the verifier cannot reach its store just now; try again in a moment', { cause });
  }
}

export class InvalidInputError extends VerifierError {
  override readonly code = 'ERR_INVALID_INPUT';
}

export class UserExistsError extends VerifierError {
  override readonly code = 'ERR_USER_EXISTS';
}

export class UserNotFoundError extends VerifierError {
  override readonly code = 'ERR_USER_NOT_FOUND';
}

/** A user restricted to login IP ranges has no security token to reset or create. */
export class NoSecurityTokenError extends VerifierError {
  override readonly code = 'ERR_NO_SECURITY_TOKEN';
}

export class SecurityTokenNotFoundError extends VerifierError {
  override readonly code = 'ERR_SECURITY_TOKEN_NOT_FOUND';
}

/** No API key, or one that is unknown or revoked. */
export class UnauthorizedError extends VerifierError {
  override readonly code = 'ERR_UNAUTHORIZED';
}

/** An API key without the scope the route needs. */
export class ForbiddenError extends VerifierError {
  override readonly code = 'ERR_FORBIDDEN';
}

/** A certificate or key that fails the enrollment checks; `reason` is the audit reason code. */
export class CredentialRefusedError extends VerifierError {
  override readonly code = 'ERR_CREDENTIAL_REFUSED';
  constructor(
    readonly reason: string,
    detail: string,
  ) {
    super(`credential refused (${reason}): ${detail}`);
  }
}

/** The token (its serial or key) is enrolled already, by this user or another. */
export class CredentialExistsError extends VerifierError {
  override readonly code = 'ERR_CREDENTIAL_EXISTS';
}

export class CredentialNotFoundError extends VerifierError {
  override readonly code = 'ERR_CREDENTIAL_NOT_FOUND';
}

/** A lifecycle step the credential's state does not allow (a revoked credential stays revoked). */
export class CredentialStateError extends VerifierError {
  override readonly code = 'ERR_CREDENTIAL_STATE';
}

/** The verifier answered a client request with an error; `remoteCode` is its code. */
export class VerifierRefusedError extends VerifierError {
  override readonly code = 'ERR_VERIFIER_REFUSED';
  constructor(
    readonly status: number,
    readonly remoteCode: string,
    message: string,
  ) {
    super(`the verifier refused (${status} ${remoteCode}): ${message}`);
  }
}

/** A VerifierClient given something that is not an http:// or https:// URL; the message says the fix. */
export class InvalidVerifierUrlError extends VerifierError {
  override readonly code = 'ERR_INVALID_VERIFIER_URL';
}

/**
 * A security key opened for one relying party (`FidoHardwareToken.rpId`) and a verifier that
 * speaks for another: refused before the key is unlocked or touched, so no PIN or touch is spent.
 * The fix is the client's configuration (its rpId), not the user's.
 */
export class RelyingPartyMismatchError extends VerifierError {
  override readonly code = 'ERR_RELYING_PARTY_MISMATCH';
  constructor(
    readonly verifierRpId: string,
    readonly tokenRpId: string,
  ) {
    super(`the verifier's relying party is ${verifierRpId} but this security key was opened for ${tokenRpId}: open it with rpId ${verifierRpId}`);
  }
}

/** The verifier could not be reached (network, timeout, or not a verifier answering). */
export class VerifierUnreachableError extends VerifierError {
  override readonly code = 'ERR_VERIFIER_UNREACHABLE';
}

/** Every error of the verifier and its client, as one union: `switch (err.code)` narrows to the class. */
export type VerifierLibraryError =
  | InvalidCredentialsError
  | PasswordRequiredError
  | RateLimitedError
  | InvalidInputError
  | UserExistsError
  | UserNotFoundError
  | NoSecurityTokenError
  | SecurityTokenNotFoundError
  | UnauthorizedError
  | ForbiddenError
  | CredentialRefusedError
  | CredentialExistsError
  | CredentialNotFoundError
  | CredentialStateError
  | VerifierRefusedError
  | InvalidVerifierUrlError
  | RelyingPartyMismatchError
  | VerifierUnreachableError;
