// Challenge-response with an enrolled token. A challenge is 256 random bits, bound to the user,
// the credential and the purpose, and expires (default 60 s). The token signs the canonical
// message (protocol.ts) naming this verifier too. The checks run in this order, each for a reason:
//  1. the challenge is consumed first, atomically — single use even when twenty copies of a
//     response race, on one instance or several sharing PostgreSQL; a failed answer uses it up too;
//  2. the client address's failure budget (shared with password logins), read in the same round
//     trip: an address over budget is refused before any signature of its is checked;
//  3. it must be unexpired, the user's, and for this purpose;
//  4. a password must have come when the policy wants one — decided here, before anything
//     secret or stateful is looked at, because this one refusal is said plainly (below);
//  5. the credential must be active (a lost token's challenges died with its blocking) and its
//     certificate still valid; the user active and not frozen;
//  6. the password, when the policy wants one (counted like a login);
//  7. the signature, counted on the credential with the same lockout rules as passwords.
// Every failure answers InvalidCredentialsError, except a missing password: PasswordRequiredError
// (its class says why that tells nothing new). The reason goes to the audit log.
import { randomBytes, randomUUID } from 'node:crypto';
import type { Authenticator } from '../accounts/authenticator.js';
import { checkSecret } from '../accounts/secret-text.js';
import type { VerifierContext } from '../context.js';
import { checkChallengeResponse } from '../credentials/verify-response.js';
import { CredentialNotFoundError, CredentialStateError, InvalidCredentialsError, PasswordRequiredError, RateLimitedError } from '../errors.js';
import { clearCounter, isLocked, settleFailure } from '../policy/lockout.js';
import type { ChallengeMessageFields, ChallengePurpose } from '../protocol.js';
import { challengeMessage } from '../protocol.js';
import { appendAudit, appendAuditBatched } from '../store/audit.js';
import { consumeChallenge, insertChallenge, lookUpForIssue, purgeChallenges, whyNotConsumed } from '../store/challenges.js';
import { budgetOf, countIpFailure, type IpBudget, ipFailures } from '../store/ip-failures.js';
import { canonicalUsername } from '../store/users.js';
import type { SignatureAlgorithm, SignatureFormat } from '../../algorithms/signature.js';
import { challengePolicyFor } from './policy.js';

export type CredentialSelector = { readonly id: string } | { readonly serial: string } | { readonly fingerprint: string };

export interface ChallengeRequest {
  /** Optional: without it, the credential (by serial or fingerprint) names its user. */
  readonly username?: string;
  readonly credential: CredentialSelector;
  readonly purpose: ChallengePurpose;
  readonly clientIp: string;
}

export interface IssuedChallenge {
  readonly challengeId: string;
  /** The fields of the message to sign; `message` is their canonical bytes. */
  readonly fields: ChallengeMessageFields & { challenge: string };
  readonly message: Buffer;
  readonly expiresAt: Date;
  /** Whether the answer must carry the user's password too (the policy for this user and address). */
  readonly passwordRequired: boolean;
}

export interface ChallengeResponse {
  readonly challengeId: string;
  readonly username: string;
  readonly purpose: ChallengePurpose;
  readonly signature: Uint8Array;
  readonly algorithm: SignatureAlgorithm;
  readonly format?: SignatureFormat;
  readonly password?: string;
  readonly clientIp: string;
}

export interface ChallengeLoginResult {
  readonly userId: string;
  readonly username: string;
  readonly credentialId: string;
  readonly purpose: ChallengePurpose;
}

class Refusal extends Error {
  constructor(
    readonly reason: string,
    readonly counted: { table: 'users' | 'token_credentials'; id: string } | undefined = undefined,
  ) {
    super(reason);
  }
}

/** Used or expired challenges are kept this long (for "replayed" vs "unknown" in the audit), then purged. */
const KEEP_SPENT_MS = 3_600_000;

export class ChallengeService {
  #lastPurge = 0;

  constructor(
    private readonly ctx: VerifierContext,
    private readonly authenticator: Authenticator,
  ) {}

  async #audit(action: string, subject: string, clientIp: string, result: 'success' | 'failure' | 'refused', reason: string, detail: Record<string, string> = {}): Promise<void> {
    await appendAuditBatched(this.ctx.db.relaxed, { actor: result === 'success' ? subject : 'anonymous', action, subject, clientIp, result, reason, detail }, this.ctx.now());
  }

  /** Refuses (429) when the address has used up its failure budget; reads it unless given. */
  async #budget(action: string, username: string, clientIp: string, known?: IpBudget): Promise<void> {
    const { ctx } = this;
    const budget = known ?? (await ipFailures(ctx.db.relaxed, clientIp, ctx.ipLimit.windowMs, ctx.now()));
    if (budget.failures >= ctx.ipLimit.failures) {
      await this.#audit(action, username, clientIp, 'refused', 'ip_rate_limited');
      throw new RateLimitedError(Math.max(1, Math.ceil((budget.windowEnds - ctx.now()) / 1000)));
    }
  }

  /** Counts and audits a failure, then answers generically (or lets the caller say more). */
  async #fail(action: string, username: string, clientIp: string, reason: string, generic = true): Promise<never> {
    await countIpFailure(this.ctx.db.relaxed, clientIp, this.ctx.ipLimit.windowMs, this.ctx.now());
    await this.#audit(action, username, clientIp, 'failure', reason);
    if (generic) throw new InvalidCredentialsError();
    return undefined as never;
  }

  async issue(request: ChallengeRequest): Promise<IssuedChallenge> {
    const { ctx } = this;
    const action = 'challenge.issue';
    const now = ctx.now();
    const selector = request.credential;
    const column = 'id' in selector ? 'id' : 'serial' in selector ? 'serial' : 'fingerprint';
    const value = 'id' in selector ? selector.id : 'serial' in selector ? selector.serial : selector.fingerprint;
    // Once a minute per instance, spent challenges go: the table holds the last hour, not history.
    if (now - this.#lastPurge > 60_000) {
      this.#lastPurge = now;
      await purgeChallenges(ctx.db.relaxed, now - KEEP_SPENT_MS);
    }
    const candidate = { id: randomUUID(), purpose: request.purpose, challenge: randomBytes(32).toString('base64url'), expiresAt: now + ctx.challengeTtlMs, createdAt: now };
    // The credential, its user and the address's failure budget in one read (which, on
    // PostgreSQL, also stores the challenge when they allow it); without a username (a kiosk
    // knows only the token), the credential says whose it is.
    const found = await lookUpForIssue(
      ctx.db.relaxed,
      { username: request.username === undefined ? undefined : canonicalUsername(request.username), column, value, clientIp: request.clientIp },
      candidate,
      { windowMs: ctx.ipLimit.windowMs, limit: ctx.ipLimit.failures },
    );
    await this.#budget(action, request.username ?? 'unknown', request.clientIp, found && budgetOf(found, ctx.ipLimit.windowMs, now));
    const subject = found?.username ?? request.username ?? `credential:${value}`;
    if (!found && request.username === undefined) {
      await this.#fail(action, subject, request.clientIp, 'credential_unknown', false);
      throw new CredentialNotFoundError('this token is not enrolled');
    }
    if (!found || found.active !== 1 || found.frozen === 1) return this.#fail(action, subject, request.clientIp, !found ? 'unknown_user' : found.active !== 1 ? 'deactivated' : 'frozen');
    const user = found;
    if (!found.credential_id) {
      await this.#fail(action, subject, request.clientIp, 'credential_unknown', false);
      throw new CredentialNotFoundError('this token is not enrolled');
    }
    // Said plainly: the holder of a blocked token should hear it is blocked and see the helpdesk.
    if (found.credential_status !== 'active') {
      await this.#fail(action, subject, request.clientIp, `credential_${found.credential_status}`, false);
      throw new CredentialStateError(`this token is ${found.credential_status}`);
    }
    if (!found.issued) await insertChallenge(ctx.db.relaxed, { ...candidate, userId: user.id, credentialId: found.credential_id });
    const fields = { verifierId: ctx.verifierId, purpose: request.purpose, username: user.username, credentialId: found.credential_id, challenge: candidate.challenge };
    return {
      challengeId: candidate.id,
      fields,
      message: challengeMessage(fields),
      expiresAt: new Date(candidate.expiresAt),
      passwordRequired: (await challengePolicyFor(ctx, user, request.clientIp, ctx.rangePolicies)) === 'password+token',
    };
  }

  async respond(response: ChallengeResponse): Promise<ChallengeLoginResult> {
    const action = `challenge.${response.purpose}`;
    // Before the challenge is consumed: malformed input leaves it answerable.
    checkSecret(response.password, 'password');
    try {
      return await this.#respond(action, response);
    } catch (err) {
      if (!(err instanceof Refusal)) throw err;
      const { ctx } = this;
      if (err.counted) {
        const counted = err.counted;
        await ctx.db.relaxed.transaction((tx) => settleFailure(tx, ctx.db.relaxed.forUpdate, counted.table, counted.id, ctx.lockout, ctx.now()));
      }
      return this.#fail(action, response.username, response.clientIp, err.reason);
    }
  }

  async #respond(action: string, response: ChallengeResponse): Promise<ChallengeLoginResult> {
    const { ctx } = this;
    const db = ctx.db.relaxed;
    const now = ctx.now();
    // Single use, decided by the database: of any number of concurrent answers, one gets a row.
    // The address's budget comes with it; an address over budget has burnt the challenge, which
    // was single-use anyway, and no signature of its is checked.
    const found = await consumeChallenge(db, response.challengeId, response.clientIp, now);
    if (!found) {
      await this.#budget(action, response.username, response.clientIp);
      throw new Refusal(await whyNotConsumed(db, response.challengeId));
    }
    await this.#budget(action, response.username, response.clientIp, budgetOf(found, ctx.ipLimit.windowMs, now));
    if (found.expires_at <= now) throw new Refusal('challenge_expired');
    if (found.user_id !== found.challenge_user_id || found.username !== canonicalUsername(response.username)) throw new Refusal('wrong_user');
    if (found.purpose !== response.purpose) throw new Refusal('wrong_purpose');
    const passwordWanted = (await challengePolicyFor(ctx, found, response.clientIp, ctx.rangePolicies)) === 'password+token';
    if (passwordWanted && response.password === undefined) {
      // Not counted on the address or the user: nothing was guessed. The challenge is spent anyway.
      await this.#audit(action, found.username, response.clientIp, 'refused', 'password_missing');
      throw new PasswordRequiredError();
    }
    if (found.active !== 1) throw new Refusal('deactivated');
    if (found.frozen === 1) throw new Refusal('frozen');
    if (found.status !== 'active') throw new Refusal(`credential_${found.status}`);
    if (found.not_after !== null && found.not_after < now) throw new Refusal('certificate_expired');
    if (isLocked(found, now)) throw new Refusal('credential_locked');

    if (passwordWanted && response.password !== undefined) {
      // Counted on the user like any password check; it throws InvalidCredentialsError itself.
      await this.authenticator.checkPassword(action, { username: found.username, password: response.password, clientIp: response.clientIp });
    }

    // A signature check costs microseconds, not an argon2 hash: it is counted after it runs
    // (a failure locks at the threshold), not reserved before like a password attempt.
    const check = await checkChallengeResponse({
      publicKey: found.spki,
      message: { verifierId: ctx.verifierId, purpose: found.purpose, username: found.username, credentialId: found.credential_id, challenge: found.challenge },
      signature: response.signature,
      algorithm: response.algorithm,
      ...(response.format ? { format: response.format } : {}),
    });
    if (!check.ok) throw new Refusal(check.reason, { table: 'token_credentials', id: found.credential_id });
    const audit = { actor: found.username, action, subject: found.username, clientIp: response.clientIp, result: 'success' as const, reason: 'ok', detail: { credential: found.credential_id } };
    if (found.failed_logins === 0 && found.in_flight === 0) await appendAuditBatched(db, audit, now);
    else {
      await db.transaction(async (tx) => {
        await clearCounter(tx, 'token_credentials', found.credential_id);
        await appendAudit(tx, audit, now);
      });
    }
    return { userId: found.user_id, username: found.username, credentialId: found.credential_id, purpose: found.purpose };
  }
}

