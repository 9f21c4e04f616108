// Challenge-response with an enrolled token. A challenge is 256 random bits, bound to the user,
// the credential and the purpose, and expires (default 60 s). The token signs the canonical
// message (protocol.ts) naming this verifier too. The checks run in this order, each for a reason:
//  1. the client address's failure budget (shared with password logins);
//  2. the challenge is consumed first, atomically — single use even when twenty copies of a
//     response race, on one instance or several sharing PostgreSQL; a failed answer uses it up too;
//  3. it must be unexpired, the user's, and for this purpose;
//  4. the credential must be active (a lost token's challenges died with its blocking) and its
//     certificate still valid; the user active and not frozen;
//  5. the password, when the policy wants one (counted like a login);
//  6. the signature, counted on the credential with the same lockout rules as passwords.
// Every failure answers InvalidCredentialsError; the reason goes to the audit log.
import { randomBytes, randomUUID } from 'node:crypto';
import type { Authenticator } from '../accounts/authenticator.js';
import type { VerifierContext } from '../context.js';
import { checkChallengeResponse } from '../credentials/verify-response.js';
import { InvalidCredentialsError, RateLimitedError } from '../errors.js';
import { isLocked, reserveAttempt, settleFailure, settleSuccess } from '../policy/lockout.js';
import type { ChallengeMessageFields, ChallengePurpose } from '../protocol.js';
import { challengeMessage } from '../protocol.js';
import { appendAudit } from '../store/audit.js';
import { countIpFailure, ipFailures } from '../store/ip-failures.js';
import { findUser } from '../store/users.js';
import type { SignatureAlgorithm, SignatureFormat } from '../../pkcs11/signing.js';
import type { CredentialRow } from './registry.js';
import { challengePolicyFor } from './policy.js';

export type CredentialSelector = { readonly id: string } | { readonly serial: string } | { readonly fingerprint: string };

export interface ChallengeRequest {
  readonly username: string;
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

interface ChallengeRow {
  id: string;
  user_id: string;
  credential_id: string;
  purpose: ChallengePurpose;
  challenge: string;
  expires_at: number;
}

class Refusal extends Error {
  constructor(
    readonly reason: string,
    readonly counted: { table: 'users' | 'token_credentials'; id: string } | undefined = undefined,
  ) {
    super(reason);
  }
}

export class ChallengeService {
  constructor(
    private readonly ctx: VerifierContext,
    private readonly authenticator: Authenticator,
  ) {}

  async #audit(action: string, subject: string, clientIp: string, result: 'success' | 'failure' | 'refused', reason: string, detail: Record<string, string> = {}): Promise<void> {
    await appendAudit(this.ctx.db, { actor: result === 'success' ? subject : 'anonymous', action, subject, clientIp, result, reason, detail }, this.ctx.now());
  }

  async #budget(action: string, username: string, clientIp: string): Promise<void> {
    const { ctx } = this;
    const budget = await ipFailures(ctx.db, clientIp, ctx.ipLimit.windowMs, ctx.now());
    if (budget.failures >= ctx.ipLimit.failures) {
      await this.#audit(action, username, clientIp, 'refused', 'ip_rate_limited');
      throw new RateLimitedError(Math.max(1, Math.ceil((budget.windowEnds - ctx.now()) / 1000)));
    }
  }

  async #fail(action: string, username: string, clientIp: string, reason: string): Promise<never> {
    await countIpFailure(this.ctx.db, clientIp, this.ctx.ipLimit.windowMs, this.ctx.now());
    await this.#audit(action, username, clientIp, 'failure', reason);
    throw new InvalidCredentialsError();
  }

  async issue(request: ChallengeRequest): Promise<IssuedChallenge> {
    const { ctx } = this;
    const action = 'challenge.issue';
    await this.#budget(action, request.username, request.clientIp);
    const user = await findUser(ctx.db, request.username);
    if (!user || user.active !== 1 || user.frozen === 1) return this.#fail(action, request.username, request.clientIp, !user ? 'unknown_user' : user.active !== 1 ? 'deactivated' : 'frozen');
    const selector = request.credential;
    const [column, value] = 'id' in selector ? ['id', selector.id] : 'serial' in selector ? ['serial', selector.serial] : ['fingerprint', selector.fingerprint];
    const credential = await ctx.db.get<CredentialRow>(`SELECT * FROM token_credentials WHERE ${column} = ? AND user_id = ?`, [value, user.id]);
    if (!credential) return this.#fail(action, user.username, request.clientIp, 'credential_unknown');
    if (credential.status !== 'active') return this.#fail(action, user.username, request.clientIp, `credential_${credential.status}`);
    const challenge = randomBytes(32).toString('base64url');
    const id = randomUUID();
    const now = ctx.now();
    const expiresAt = now + ctx.challengeTtlMs;
    await ctx.db.run('INSERT INTO challenges (id, user_id, credential_id, purpose, challenge, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)', [
      id,
      user.id,
      credential.id,
      request.purpose,
      challenge,
      expiresAt,
      now,
    ]);
    const fields = { verifierId: ctx.verifierId, purpose: request.purpose, username: user.username, credentialId: credential.id, challenge };
    return {
      challengeId: id,
      fields,
      message: challengeMessage(fields),
      expiresAt: new Date(expiresAt),
      passwordRequired: (await challengePolicyFor(ctx, user, request.clientIp)) === 'password+token',
    };
  }

  async respond(response: ChallengeResponse): Promise<ChallengeLoginResult> {
    const action = `challenge.${response.purpose}`;
    await this.#budget(action, response.username, response.clientIp);
    try {
      return await this.#respond(action, response);
    } catch (err) {
      if (!(err instanceof Refusal)) throw err;
      const { ctx } = this;
      if (err.counted) {
        const counted = err.counted;
        await ctx.db.transaction((tx) => settleFailure(tx, ctx.db.forUpdate, counted.table, counted.id, ctx.lockout, ctx.now()));
      }
      return this.#fail(action, response.username, response.clientIp, err.reason);
    }
  }

  async #respond(action: string, response: ChallengeResponse): Promise<ChallengeLoginResult> {
    const { ctx } = this;
    const now = ctx.now();
    const challenge = await ctx.db.get<ChallengeRow>('SELECT id, user_id, credential_id, purpose, challenge, expires_at FROM challenges WHERE id = ?', [response.challengeId]);
    if (!challenge) throw new Refusal('challenge_unknown');
    // Single use, decided by the database: of any number of concurrent answers, one gets here.
    const consumed = await ctx.db.run('UPDATE challenges SET consumed_at = ? WHERE id = ? AND consumed_at IS NULL', [now, challenge.id]);
    if (consumed.changes !== 1) {
      // Used up already — by an earlier answer, or by the credential's blocking, disabling or revocation.
      const status = (await ctx.db.get<{ status: string }>('SELECT status FROM token_credentials WHERE id = ?', [challenge.credential_id]))?.status;
      throw new Refusal(status && status !== 'active' ? `credential_${status}` : 'challenge_replayed');
    }
    if (challenge.expires_at <= now) throw new Refusal('challenge_expired');
    const user = await findUser(ctx.db, response.username);
    if (!user || user.id !== challenge.user_id) throw new Refusal('wrong_user');
    if (challenge.purpose !== response.purpose) throw new Refusal('wrong_purpose');
    if (user.active !== 1) throw new Refusal('deactivated');
    if (user.frozen === 1) throw new Refusal('frozen');
    const credential = await ctx.db.get<CredentialRow>('SELECT * FROM token_credentials WHERE id = ?', [challenge.credential_id]);
    if (!credential) throw new Refusal('credential_unknown');
    if (credential.status !== 'active') throw new Refusal(`credential_${credential.status}`);
    if (credential.not_after !== null && credential.not_after < now) throw new Refusal('certificate_expired');
    if (isLocked(credential, now)) throw new Refusal('credential_locked');

    if ((await challengePolicyFor(ctx, user, response.clientIp)) === 'password+token') {
      if (response.password === undefined) throw new Refusal('password_missing');
      // Counted on the user like any password check; it throws InvalidCredentialsError itself.
      await this.authenticator.checkPassword(action, { username: user.username, password: response.password, clientIp: response.clientIp });
    }

    const reservation = await reserveAttempt<CredentialRow>(ctx.db, 'token_credentials', credential.id, ctx.lockout, ctx.now);
    if (reservation.kind !== 'counted') throw new Refusal(reservation.kind === 'locked' ? 'credential_locked' : 'credential_busy');
    const check = checkChallengeResponse({
      publicKey: credential.spki,
      message: { verifierId: ctx.verifierId, purpose: challenge.purpose, username: user.username, credentialId: credential.id, challenge: challenge.challenge },
      signature: response.signature,
      algorithm: response.algorithm,
      ...(response.format ? { format: response.format } : {}),
    });
    if (!check.ok) throw new Refusal(check.reason, { table: 'token_credentials', id: credential.id });
    await ctx.db.transaction(async (tx) => {
      await settleSuccess(tx, ctx.db.forUpdate, 'token_credentials', credential.id);
      await appendAudit(tx, { actor: user.username, action, subject: user.username, clientIp: response.clientIp, result: 'success', reason: 'ok', detail: { credential: credential.id } }, now);
    });
    return { userId: user.id, username: user.username, credentialId: credential.id, purpose: challenge.purpose };
  }
}

