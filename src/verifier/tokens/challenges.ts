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
import type { Authenticator } from '../accounts/authenticator.js';
import { checkSecret } from '../accounts/secret-text.js';
import type { VerifierContext } from '../context.js';
import { checkChallengeResponse } from '../credentials/verify-response.js';
import { checkAssertion } from '../credentials/webauthn.js';
import { CredentialNotFoundError, CredentialStateError, InvalidCredentialsError, PasswordRequiredError, RateLimitedError } from '../errors.js';
import { clearCounter, isLocked, settleFailure } from '../policy/lockout.js';
import type { ChallengeMessageFields, ChallengePurpose } from '../protocol.js';
import { challengeMessage } from '../protocol.js';
import { appendAudit, appendAuditBatched } from '../store/audit.js';
import {
  advanceSignCount,
  consumeChallenge,
  consumeFidoChallenge,
  fidoAnswerer,
  insertChallenge,
  insertFidoChallenge,
  lookUpForIssue,
  whyFidoNotConsumed,
  whyNotConsumed,
  type ConsumedChallenge,
} from '../store/challenges.js';
import { budgetOf, countIpFailure, type IpBudget, ipFailures } from '../store/ip-failures.js';
import { canonicalUsername, findUser, type UserRow } from '../store/users.js';
import type { SignatureAlgorithm, SignatureFormat } from '../../algorithms/signature.js';
import { newChallenge, newChallengeId } from './challenge-ids.js';
import { challengePolicyFor, type ChallengePolicy } from './policy.js';

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

/** A security-key login: which keys may answer (none: a discoverable credential), and why. */
export interface FidoChallengeRequest {
  /** Without it, `credentialIds` name the user, or (neither) the key's discoverable credential does. */
  readonly username?: string;
  /** Only these of the user's keys (WebAuthn credential ids, base64url). */
  readonly credentialIds?: readonly string[];
  readonly purpose: ChallengePurpose;
  readonly clientIp: string;
}

/** WebAuthn's request options, as this verifier hands them out. */
export interface IssuedFidoChallenge {
  readonly challengeId: string;
  /** base64url: the bytes go into clientDataJSON. */
  readonly challenge: string;
  readonly rpId: string;
  /** The origin a client without a browser should write into clientDataJSON. */
  readonly origin: string;
  /** The keys that may answer, base64url; empty for a discoverable login. */
  readonly allowCredentialIds: string[];
  /** `required`: the key must be unlocked with its PIN (token-only policy, or a discoverable login). */
  readonly userVerification: 'required' | 'preferred';
  /** Whether the answer must carry the password (false when the user is not known yet). */
  readonly passwordRequired: boolean;
  readonly expiresAt: Date;
}

export interface FidoChallengeResponse {
  readonly challengeId: string;
  /** Optional: the credential names its user; when given, it must be that user. */
  readonly username?: string;
  readonly purpose: ChallengePurpose;
  /** The credential that signed (base64url). */
  readonly credentialId: string;
  readonly authenticatorData: Uint8Array;
  readonly clientDataJSON: string | Uint8Array;
  readonly signature: Uint8Array;
  readonly password?: string;
  readonly clientIp: string;
}

export interface FidoLoginResult extends ChallengeLoginResult {
  /** The key's counter now stored. */
  readonly signCount: number;
  readonly userVerified: boolean;
}

class Refusal extends Error {
  constructor(
    readonly reason: string,
    readonly counted: { table: 'users' | 'token_credentials'; id: string } | undefined = undefined,
    /** Whose the refused answer was, when the request did not say. */
    readonly subject: string | undefined = undefined,
  ) {
    super(reason);
  }
}

// Used or expired challenges are kept an hour (for "replayed" vs "unknown" in the audit), then
// purged by the housekeeping run (housekeeping.ts), not here on a login's way.
export class ChallengeService {
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
    const candidate = { id: newChallengeId(now), purpose: request.purpose, challenge: newChallenge(), expiresAt: now + ctx.challengeTtlMs, createdAt: now };
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
    // Before the challenge is consumed: malformed input leaves it answerable.
    checkSecret(response.password, 'password');
    return this.#settled(`challenge.${response.purpose}`, response, (action) => this.#respond(action, response));
  }

  /** Runs an answer; a refusal is settled (counted where it says, audited) and answered generically. */
  async #settled<T>(action: string, response: { username?: string | undefined; clientIp: string }, answer: (action: string) => Promise<T>): Promise<T> {
    try {
      return await answer(action);
    } catch (err) {
      if (!(err instanceof Refusal)) throw err;
      const { ctx } = this;
      if (err.counted) {
        const counted = err.counted;
        await ctx.db.relaxed.transaction((tx) => settleFailure(tx, ctx.db.relaxed.forUpdate, counted.table, counted.id, ctx.lockout, ctx.now()));
      }
      return this.#fail(action, response.username ?? err.subject ?? 'unknown', response.clientIp, err.reason);
    }
  }

  /**
   * Steps 3–6 (see the top of the file) on a consumed challenge, shared by cards and security
   * keys; returns the challenge policy that applied.
   */
  async #checkAnswerer(action: string, found: ConsumedChallenge, response: { username?: string | undefined; purpose: ChallengePurpose; password?: string | undefined; clientIp: string }): Promise<ChallengePolicy> {
    const { ctx } = this;
    const now = ctx.now();
    const refuse = (reason: string) => new Refusal(reason, undefined, found.username);
    if (found.expires_at <= now) throw refuse('challenge_expired');
    if (found.user_id !== found.challenge_user_id || (response.username !== undefined && found.username !== canonicalUsername(response.username))) throw refuse('wrong_user');
    if (found.purpose !== response.purpose) throw refuse('wrong_purpose');
    const policy = await challengePolicyFor(ctx, found, response.clientIp, ctx.rangePolicies);
    if (policy === 'password+token' && response.password === undefined) {
      // Not counted on the address or the user: nothing was guessed. The challenge is spent anyway.
      await this.#audit(action, found.username, response.clientIp, 'refused', 'password_missing');
      throw new PasswordRequiredError();
    }
    if (found.active !== 1) throw refuse('deactivated');
    if (found.frozen === 1) throw refuse('frozen');
    if (found.status !== 'active') throw refuse(`credential_${found.status}`);
    if (found.not_after !== null && found.not_after < now) throw refuse('certificate_expired');
    if (isLocked(found, now)) throw refuse('credential_locked');
    // A security key whose counter did not grow waits for the helpdesk (possibly cloned).
    if (found.flagged_at !== null) throw refuse('credential_flagged');
    if (policy === 'password+token' && response.password !== undefined) {
      // Counted on the user like any password check; it throws InvalidCredentialsError itself.
      await this.authenticator.checkPassword(action, { username: found.username, password: response.password, clientIp: response.clientIp });
    }
    return policy;
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
    await this.#checkAnswerer(action, found, response);

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

  /**
   * A challenge for a security key (WebAuthn): bound to the user when one is named (or the keys
   * named belong to one), and to the credential when exactly one may answer. Refusals as for
   * cards: an unknown or inactive user the generic answer, a missing or blocked key said plainly.
   */
  async issueFido(request: FidoChallengeRequest): Promise<IssuedFidoChallenge> {
    const { ctx } = this;
    const action = 'challenge.issue';
    const db = ctx.db.relaxed;
    const now = ctx.now();
    const wanted = request.credentialIds;
    let user: UserRow | undefined;
    let keys: Array<{ id: string; fido_credential_id: string; status: string }> = [];
    if (request.username !== undefined) {
      user = await findUser(db, canonicalUsername(request.username));
      if (user) keys = await db.all("SELECT id, fido_credential_id, status FROM token_credentials WHERE user_id = ? AND kind = 'fido' ORDER BY created_at", [user.id]);
      if (wanted) keys = keys.filter((k) => wanted.includes(k.fido_credential_id));
    } else if (wanted && wanted.length > 0) {
      // The keys name their user; keys of several users name none.
      const rows = await Promise.all(wanted.map((id) => db.get<{ id: string; fido_credential_id: string; status: string; username: string }>(
        "SELECT c.id, c.fido_credential_id, c.status, u.username FROM token_credentials c JOIN users u ON u.id = c.user_id WHERE c.fido_credential_id = ? AND c.kind = 'fido'",
        [id],
      )));
      const owners = new Set(rows.flatMap((r) => (r ? [r.username] : [])));
      if (owners.size === 1) {
        user = await findUser(db, [...owners][0]!);
        keys = rows.flatMap((r) => (r ? [r] : []));
      }
    }
    await this.#budget(action, request.username ?? 'unknown', request.clientIp);
    const subject = user?.username ?? request.username ?? 'unknown';
    const discoverable = request.username === undefined && !(wanted && wanted.length > 0);
    if (!discoverable) {
      if (request.username !== undefined && (!user || user.active !== 1 || user.frozen === 1)) {
        return this.#fail(action, subject, request.clientIp, !user ? 'unknown_user' : user.active !== 1 ? 'deactivated' : 'frozen');
      }
      if (!user || keys.length === 0) {
        await this.#fail(action, subject, request.clientIp, 'credential_unknown', false);
        throw new CredentialNotFoundError('this security key is not enrolled');
      }
      if (user.active !== 1 || user.frozen === 1) return this.#fail(action, subject, request.clientIp, user.active !== 1 ? 'deactivated' : 'frozen');
    }
    const active = keys.filter((k) => k.status === 'active');
    if (!discoverable && active.length === 0) {
      await this.#fail(action, subject, request.clientIp, `credential_${keys[0]!.status}`, false);
      throw new CredentialStateError(`this security key is ${keys[0]!.status}`);
    }
    const policy = user ? await challengePolicyFor(ctx, user, request.clientIp, ctx.rangePolicies) : undefined;
    const challenge = { id: newChallengeId(now), challenge: newChallenge(), expiresAt: now + ctx.challengeTtlMs };
    await insertFidoChallenge(db, {
      ...challenge,
      ceremony: 'get',
      userId: user?.id ?? null,
      credentialId: active.length === 1 ? active[0]!.id : null,
      purpose: request.purpose,
      createdAt: now,
    });
    return {
      challengeId: challenge.id,
      challenge: challenge.challenge,
      rpId: ctx.fido.rpId,
      origin: ctx.fido.origins[0]!,
      allowCredentialIds: active.map((k) => k.fido_credential_id),
      userVerification: this.#userVerificationRequired(policy) ? 'required' : 'preferred',
      passwordRequired: policy === 'password+token',
      expiresAt: new Date(challenge.expiresAt),
    };
  }

  /**
   * User verification (the key's PIN) is required when the configuration says so, when the
   * token alone must do (token-only: the PIN is the second factor, as a card's is), and when the
   * user was unknown at issue (a discoverable login, no password asked for).
   */
  #userVerificationRequired(policy: ChallengePolicy | undefined): boolean {
    return this.ctx.fido.requireUserVerification || policy !== 'password+token';
  }

  /**
   * Answers a security-key challenge. After the steps cards share (consumed once, the address's
   * budget, the user, purpose, policy, account and credential state, the password), the WebAuthn
   * checks (credentials/webauthn.ts), and last the sign counter: it must grow (unless the key
   * counts nothing: 0 and 0). One that does not is refused as a possible cloned key, audited,
   * and the credential flagged for the helpdesk — compared and stored in one statement, so
   * racing answers never move it back.
   */
  async respondFido(response: FidoChallengeResponse): Promise<FidoLoginResult> {
    checkSecret(response.password, 'password');
    return this.#settled(`challenge.${response.purpose}`, response, (action) => this.#respondFido(action, response));
  }

  async #respondFido(action: string, response: FidoChallengeResponse): Promise<FidoLoginResult> {
    const { ctx } = this;
    const db = ctx.db.relaxed;
    const now = ctx.now();
    // Consumed first, like a card's; the credential that signed (with its user and the address's
    // budget) names whose answer it was, also for the audit of a replay.
    const issued = await consumeFidoChallenge(db, response.challengeId, 'get', now);
    const key = await fidoAnswerer(db, response.credentialId, response.clientIp);
    const subject = key?.username ?? response.username ?? 'unknown';
    await this.#budget(action, subject, response.clientIp, key && budgetOf(key, ctx.ipLimit.windowMs, now));
    if (!issued) throw new Refusal(await whyFidoNotConsumed(db, response.challengeId), undefined, subject);
    if (!key) throw new Refusal('credential_unknown');
    if (issued.credential_id !== null && issued.credential_id !== key.credential_id) throw new Refusal('wrong_credential', undefined, key.username);
    const found: ConsumedChallenge = { ...key, challenge_user_id: issued.user_id ?? key.user_id, purpose: issued.purpose, challenge: issued.challenge, expires_at: issued.expires_at };
    const policy = await this.#checkAnswerer(action, found, response);
    const check = await checkAssertion(ctx.fido, {
      credentialId: response.credentialId,
      cosePublicKey: key.cose_public_key,
      challenge: issued.challenge,
      requireUserVerification: this.#userVerificationRequired(issued.user_id === null ? undefined : policy),
      authenticatorData: response.authenticatorData,
      clientDataJSON: response.clientDataJSON,
      signature: response.signature,
    });
    // Only a signature that fails counts on the credential: the other checks fail for anyone's
    // answer and must not let a stranger lock a user's key.
    if (!check.ok) throw new Refusal(check.reason, check.reason === 'bad_signature' ? { table: 'token_credentials', id: key.credential_id } : undefined, key.username);
    const audit = { actor: key.username, action, subject: key.username, clientIp: response.clientIp, result: 'success' as const, reason: 'ok', detail: { credential: key.credential_id, signCount: String(check.signCount) } };
    const advanced = await db.transaction(async (tx) => {
      if (!(await advanceSignCount(tx, key.credential_id, check.signCount))) {
        await tx.run('UPDATE token_credentials SET flagged_at = ?, flag_reason = ? WHERE id = ? AND flagged_at IS NULL', [now, 'counter_not_increased', key.credential_id]);
        await appendAudit(tx, { actor: 'verifier', action: 'credential.flag', subject: key.username, result: 'success', reason: 'counter_not_increased', detail: { credential: key.credential_id, stored: String(key.sign_count), received: String(check.signCount) } }, now);
        return false;
      }
      if (key.failed_logins !== 0 || key.in_flight !== 0) await clearCounter(tx, 'token_credentials', key.credential_id);
      await appendAudit(tx, audit, now);
      return true;
    });
    if (!advanced) throw new Refusal('counter_not_increased', undefined, key.username);
    return { userId: key.user_id, username: key.username, credentialId: key.credential_id, purpose: issued.purpose, signCount: check.signCount, userVerified: check.userVerified };
  }
}

