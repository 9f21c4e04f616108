// The verifier as a library: `Verifier.open()` connects the store (SQLite file or PostgreSQL URL),
// brings the schema up to date and starts mail delivery; its parts do the work. The HTTP server
// (http/) and the CLI are thin layers over this.
import { ApiKeys } from './access/api-keys.js';
import { WebSessions } from './access/web-sessions.js';
import { AccountAdmin } from './accounts/admin.js';
import { Authenticator, type LoginRequest, type LoginResult } from './accounts/authenticator.js';
import { Organisation } from './accounts/organisation.js';
import { OWASP_ARGON2ID, PasswordHasher, type Argon2Cost } from './accounts/passwords.js';
import { DEFAULT_TOKEN_LENGTH, MAX_TOKEN_LENGTH, MIN_TOKEN_LENGTH } from './accounts/security-token.js';
import { SelfService } from './accounts/self-service.js';
import type { IpLimitPolicy, VerifierContext } from './context.js';
import { Housekeeping, type Purged } from './housekeeping.js';
import { MailDelivery } from './mail/delivery.js';
import { createMailSender, type MailTransportConfig } from './mail/transport.js';
import { checkLockoutPolicy, DEFAULT_LOCKOUT, type LockoutPolicy } from './policy/lockout.js';
import type { ServerSecret } from './server-secret.js';
import type { CertificatePolicy } from './credentials/certificate-policy.js';
import { relyingParty, type RelyingParty, type RelyingPartyOptions } from './credentials/webauthn.js';
import { ChallengeService } from './tokens/challenges.js';
import { RangePolicyCache } from './tokens/policy.js';
import { CredentialRegistry } from './tokens/registry.js';
import { TemporaryPasswords } from './tokens/temporary-passwords.js';
import { loginTimeline, queryAudit, type AuditQuery, type AuditRecord, type LoginCounts } from './store/audit.js';
import type { Database } from './store/database.js';
import { StoreMailQueue } from './store/mail-outbox.js';
import { migrate } from './store/migrations.js';
import { PostgresDatabase } from './store/postgres.js';
import { SqliteDatabase } from './store/sqlite.js';
import type { VerifierWarning } from './store/sqlite-file.js';
import { InvalidInputError } from './errors.js';

export type { VerifierWarning } from './store/sqlite-file.js';

export interface VerifierOptions {
  /** A SQLite file path (the embedded default), or a `postgres://` URL shared by several instances. */
  readonly database: string;
  /** Keys the token hashes and seals queued mails; kept outside the database. */
  readonly secret: ServerSecret;
  readonly mail: { readonly from: string; readonly transport: MailTransportConfig; readonly pollMs?: number; readonly retryBaseMs?: number; readonly leaseMs?: number };
  /** Characters per security token, fixed per deployment (default 24). */
  readonly tokenLength?: number;
  readonly argon2?: Argon2Cost;
  readonly lockout?: Partial<LockoutPolicy>;
  readonly ipLimit?: Partial<IpLimitPolicy>;
  /** After this many days a token's owner is reminded to reset it (default 365). */
  readonly tokenMaxAgeDays?: number;
  /** Names this verifier in challenge messages (default `tokengate-verifier`): use one per deployment. */
  readonly verifierId?: string;
  /** Trust anchors, intermediates and CRLs for enrolled certificates; none = no chain required. */
  readonly certificatePolicy?: CertificatePolicy;
  /** How long a challenge may be answered (default 60 s). */
  readonly challengeTtlMs?: number;
  /**
   * Security keys (FIDO2/WebAuthn): the relying-party id credentials are bound to (default
   * `localhost`; it cannot change once keys are enrolled), the origins clientDataJSON may name
   * (default `https://<rpId>`), and whether every login needs user verification (default: only
   * where the challenge policy is token-only).
   */
  readonly fido?: RelyingPartyOptions;
  /**
   * How long audit entries are kept (ms), e.g. 400 days; default: for ever. Older ones are deleted
   * in small batches by the housekeeping run (housekeeping.ts), never in a login's way.
   */
  readonly auditRetentionMs?: number;
  /** How long spent and expired challenges are kept, to tell a replay from an unknown one (default 1 hour). */
  readonly challengeRetentionMs?: number;
  /** Time between housekeeping runs (default 1 minute). */
  readonly housekeepingIntervalMs?: number;
  /** Mail delivery failures (SMTP error lines; never a secret). */
  readonly onMailError?: (error: Error) => void;
  /** What the operator should fix, e.g. a database file others can read (default: process.emitWarning). */
  readonly onWarning?: (warning: VerifierWarning) => void;
  /** The clock, for tests. */
  readonly now?: () => number;
}

export const DEFAULT_IP_LIMIT: IpLimitPolicy = { failures: 50, windowMs: 15 * 60_000 };

/** Node's own channel (printed on stderr unless the process says otherwise), for callers that pass none. */
function emitWarning(warning: VerifierWarning): void {
  process.emitWarning(warning.message, { type: 'SecurityWarning', code: warning.code });
}

/** The store a location names: a `postgres://` URL, or an SQLite file path. */
export function openDatabase(location: string, onWarning: (warning: VerifierWarning) => void = emitWarning): Database {
  return /^postgres(ql)?:\/\//.test(location) ? PostgresDatabase.open(location) : SqliteDatabase.open(location, onWarning);
}

export class Verifier implements AsyncDisposable {
  readonly admin: AccountAdmin;
  readonly selfService: SelfService;
  readonly organisation: Organisation;
  readonly apiKeys: ApiKeys;
  /** Enrolled hardware tokens: enrollment, lifecycle, the blocklist. */
  readonly credentials: CredentialRegistry;
  /** Challenge-response logins with an enrolled token. */
  readonly challenges: ChallengeService;
  /** Stand-ins for a lost token while a new one is on its way. */
  readonly temporaryPasswords: TemporaryPasswords;
  /** Sessions of the web pages (a user's, or an API key's in the console). */
  readonly webSessions: WebSessions;
  readonly #authenticator: Authenticator;
  readonly #ctx: VerifierContext;
  readonly #mailQueue: StoreMailQueue;
  readonly #housekeeping: Housekeeping;
  #closed = false;

  private constructor(ctx: VerifierContext, mailQueue: StoreMailQueue, housekeeping: Housekeeping) {
    this.#ctx = ctx;
    this.#mailQueue = mailQueue;
    this.#housekeeping = housekeeping;
    this.#authenticator = new Authenticator(ctx);
    this.admin = new AccountAdmin(ctx);
    this.selfService = new SelfService(ctx, this.#authenticator);
    this.organisation = new Organisation(ctx);
    this.apiKeys = new ApiKeys(ctx);
    this.credentials = new CredentialRegistry(ctx);
    this.challenges = new ChallengeService(ctx, this.#authenticator);
    this.temporaryPasswords = new TemporaryPasswords(ctx, this.#authenticator);
    this.webSessions = new WebSessions(ctx, this.#authenticator, this.apiKeys, this.challenges);
  }

  static async open(options: VerifierOptions): Promise<Verifier> {
    const tokenLength = options.tokenLength ?? DEFAULT_TOKEN_LENGTH;
    if (!Number.isInteger(tokenLength) || tokenLength < MIN_TOKEN_LENGTH || tokenLength > MAX_TOKEN_LENGTH) {
      throw new InvalidInputError(`tokenLength must be ${MIN_TOKEN_LENGTH}..${MAX_TOKEN_LENGTH}`);
    }
    const lockout = checkLockoutPolicy({ ...DEFAULT_LOCKOUT, ...options.lockout });
    const fido = relyingParty(options.fido);
    if ('invalid' in fido) throw new InvalidInputError(`fido: ${fido.invalid}`);
    const hasher = new PasswordHasher(options.argon2 ?? OWASP_ARGON2ID);
    const db = openDatabase(options.database, options.onWarning);
    try {
      await migrate(db);
    } catch (err) {
      await db.close();
      throw err;
    }
    const queue = new StoreMailQueue(db);
    const delivery = new MailDelivery({
      queue,
      sender: createMailSender(options.mail.transport),
      secret: options.secret,
      from: options.mail.from,
      ...(options.mail.pollMs === undefined ? {} : { pollMs: options.mail.pollMs }),
      ...(options.mail.retryBaseMs === undefined ? {} : { retryBaseMs: options.mail.retryBaseMs }),
      ...(options.mail.leaseMs === undefined ? {} : { leaseMs: options.mail.leaseMs }),
      ...(options.onMailError ? { onError: options.onMailError } : {}),
      now: options.now ?? Date.now,
    });
    const ctx: VerifierContext = {
      db,
      secret: options.secret,
      hasher,
      lockout,
      ipLimit: { ...DEFAULT_IP_LIMIT, ...options.ipLimit },
      tokenLength,
      tokenMaxAgeMs: (options.tokenMaxAgeDays ?? 365) * 86_400_000,
      delivery,
      now: options.now ?? Date.now,
      verifierId: options.verifierId ?? 'tokengate-verifier',
      certificatePolicy: options.certificatePolicy ?? {},
      challengeTtlMs: options.challengeTtlMs ?? 60_000,
      rangePolicies: new RangePolicyCache(),
      fido,
    };
    for (const [name, ms] of Object.entries({ auditRetentionMs: options.auditRetentionMs, challengeRetentionMs: options.challengeRetentionMs, housekeepingIntervalMs: options.housekeepingIntervalMs })) {
      if (ms !== undefined && !(Number.isFinite(ms) && ms > 0)) throw new InvalidInputError(`${name} must be a positive number of milliseconds`);
    }
    const housekeeping = new Housekeeping(db, ctx.now, {
      auditRetentionMs: options.auditRetentionMs,
      ...(options.challengeRetentionMs === undefined ? {} : { challengeRetentionMs: options.challengeRetentionMs }),
      ...(options.housekeepingIntervalMs === undefined ? {} : { intervalMs: options.housekeepingIntervalMs }),
    });
    delivery.kick();
    return new Verifier(ctx, queue, housekeeping);
  }

  get tokenLength(): number {
    return this.#ctx.tokenLength;
  }

  get lockoutPolicy(): LockoutPolicy {
    return this.#ctx.lockout;
  }

  /** The WebAuthn relying party security keys are bound to: its id, name, the origins it serves (fixed for the verifier's life). */
  get relyingParty(): RelyingParty {
    return this.#ctx.fido;
  }

  /**
   * Counters for monitoring: argon2id verifications so far (real and dummy), and of those the
   * dummy ones (refusals that checked no password: unknown, locked, deactivated … users).
   */
  stats(): { passwordVerifications: number; dummyVerifications: number } {
    return { passwordVerifications: this.#ctx.hasher.verifications, dummyVerifications: this.#ctx.hasher.dummyVerifications };
  }

  /** Throws InvalidCredentialsError (one message for every reason) or RateLimitedError. */
  login(request: LoginRequest): Promise<LoginResult> {
    return this.#authenticator.login(request);
  }

  audit(query?: AuditQuery): Promise<AuditRecord[]> {
    return queryAudit(this.#ctx.db, query);
  }

  /** Successful and failed logins per bucket of `bucketMs`, from `since` to `until` (ms since the epoch). */
  loginTimeline(range: { since: number; until: number; bucketMs: number }): Promise<LoginCounts[]> {
    return loginTimeline(this.#ctx.db, range);
  }

  /** The verifier's clock (ms since the epoch): what its sessions and logs count time by. */
  now(): number {
    return this.#ctx.now();
  }

  /** Delivers what is due now and resolves when done (mails due later stay queued). */
  async deliverMail(): Promise<void> {
    this.#ctx.delivery.kick();
    await this.#ctx.delivery.idle();
  }

  pendingMail(): Promise<number> {
    return this.#mailQueue.pending();
  }

  /** A housekeeping run now (it also runs every minute by itself): the rows purged, per table. */
  housekeep(): Promise<Purged> {
    return this.#housekeeping.run();
  }

  /** A round trip to the store, for health checks. */
  async ping(): Promise<void> {
    await this.#ctx.db.get('SELECT 1 AS one');
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#housekeeping.close();
    await this.#ctx.delivery.close();
    await this.#ctx.db.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
