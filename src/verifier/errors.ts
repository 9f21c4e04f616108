// The verifier's errors: a stable `code` and the HTTP status the server answers with. Messages are
// built from fixed text and identifiers only, never from a password, token or key.

export type VerifierErrorCode =
  | 'ERR_INVALID_CREDENTIALS'
  | 'ERR_PASSWORD_REQUIRED'
  | 'ERR_RATE_LIMITED'
  | 'ERR_INVALID_INPUT'
  | 'ERR_USER_EXISTS'
  | 'ERR_USER_NOT_FOUND'
  | 'ERR_NO_SECURITY_TOKEN'
  | 'ERR_SECURITY_TOKEN_NOT_FOUND'
  | 'ERR_UNAUTHORIZED'
  | 'ERR_FORBIDDEN'
  | 'ERR_CREDENTIAL_REFUSED'
  | 'ERR_CREDENTIAL_EXISTS'
  | 'ERR_CREDENTIAL_NOT_FOUND'
  | 'ERR_CREDENTIAL_STATE'
  | 'ERR_VERIFIER_REFUSED'
  | 'ERR_VERIFIER_UNREACHABLE'
  | 'ERR_INVALID_VERIFIER_URL';

export abstract class VerifierError extends Error {
  abstract readonly code: VerifierErrorCode;
  abstract readonly status: number;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * The one answer to every failed login, whatever failed: the reason is audited, never told (it
 * would tell an attacker which part of a guess was right).
 */
export class InvalidCredentialsError extends VerifierError {
  readonly code = 'ERR_INVALID_CREDENTIALS';
  readonly status = 401;
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
  readonly code = 'ERR_PASSWORD_REQUIRED';
  readonly status = 401;
  constructor() {
    super(
      "this user's challenge policy is password+token and no password was sent: send the password, or have an admin set token-only for the user (tokengate verifier policy set USERNAME token-only) or for the client's network (tokengate verifier policy range CIDR token-only)",
    );
  }
}

/** Too many failures from one client address: it waits, the users it tried are not locked. */
export class RateLimitedError extends VerifierError {
  readonly code = 'ERR_RATE_LIMITED';
  readonly status = 429;
  constructor(readonly retryAfterSeconds: number) {
    super('too many failed attempts from this address; try again later');
  }
}

export class InvalidInputError extends VerifierError {
  readonly code = 'ERR_INVALID_INPUT';
  readonly status = 400;
}

export class UserExistsError extends VerifierError {
  readonly code = 'ERR_USER_EXISTS';
  readonly status = 409;
}

export class UserNotFoundError extends VerifierError {
  readonly code = 'ERR_USER_NOT_FOUND';
  readonly status = 404;
}

/** A user restricted to login IP ranges has no security token to reset or create. */
export class NoSecurityTokenError extends VerifierError {
  readonly code = 'ERR_NO_SECURITY_TOKEN';
  readonly status = 409;
}

export class SecurityTokenNotFoundError extends VerifierError {
  readonly code = 'ERR_SECURITY_TOKEN_NOT_FOUND';
  readonly status = 404;
}

/** No API key, or one that is unknown or revoked. */
export class UnauthorizedError extends VerifierError {
  readonly code = 'ERR_UNAUTHORIZED';
  readonly status = 401;
}

/** An API key without the scope the route needs. */
export class ForbiddenError extends VerifierError {
  readonly code = 'ERR_FORBIDDEN';
  readonly status = 403;
}

/** A certificate or key that fails the enrollment checks; `reason` is the audit reason code. */
export class CredentialRefusedError extends VerifierError {
  readonly code = 'ERR_CREDENTIAL_REFUSED';
  readonly status = 422;
  constructor(
    readonly reason: string,
    detail: string,
  ) {
    super(`credential refused (${reason}): ${detail}`);
  }
}

/** The token (its serial or key) is enrolled already, by this user or another. */
export class CredentialExistsError extends VerifierError {
  readonly code = 'ERR_CREDENTIAL_EXISTS';
  readonly status = 409;
}

export class CredentialNotFoundError extends VerifierError {
  readonly code = 'ERR_CREDENTIAL_NOT_FOUND';
  readonly status = 404;
}

/** A lifecycle step the credential's state does not allow (a revoked credential stays revoked). */
export class CredentialStateError extends VerifierError {
  readonly code = 'ERR_CREDENTIAL_STATE';
  readonly status = 409;
}

/** The verifier answered a client request with an error; `remoteCode` is its code. */
export class VerifierRefusedError extends VerifierError {
  readonly code = 'ERR_VERIFIER_REFUSED';
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
  readonly code = 'ERR_INVALID_VERIFIER_URL';
  readonly status = 400;
}

/** The verifier could not be reached (network, timeout, or not a verifier answering). */
export class VerifierUnreachableError extends VerifierError {
  readonly code = 'ERR_VERIFIER_UNREACHABLE';
  readonly status = 502;
}
