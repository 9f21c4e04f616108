// What the verifier's operations share: the store, the server secret, the hasher, the policies
// and the mail queue. Built once by `Verifier.open`; internal.
import type { PasswordHasher } from './accounts/passwords.js';
import type { CertificatePolicy } from './credentials/certificate-policy.js';
import type { RelyingParty } from './credentials/webauthn.js';
import type { RangePolicyCache } from './tokens/policy.js';
import type { MailDelivery } from './mail/delivery.js';
import type { MailContent } from './mail/messages.js';
import { sealMailBody } from './mail/seal.js';
import type { LockoutPolicy } from './policy/lockout.js';
import type { ServerSecret } from './server-secret.js';
import type { Database, SqlExecutor } from './store/database.js';
import { enqueueMail } from './store/mail-outbox.js';

export interface IpLimitPolicy {
  /** Failed logins one client address may have in a window before it must wait. */
  readonly failures: number;
  readonly windowMs: number;
}

export interface VerifierContext {
  readonly db: Database;
  readonly secret: ServerSecret;
  readonly hasher: PasswordHasher;
  readonly lockout: LockoutPolicy;
  readonly ipLimit: IpLimitPolicy;
  readonly tokenLength: number;
  readonly tokenMaxAgeMs: number;
  readonly delivery: MailDelivery;
  readonly now: () => number;
  /** Names this verifier in every challenge message, so a signature for another is useless here. */
  readonly verifierId: string;
  readonly certificatePolicy: CertificatePolicy;
  readonly challengeTtlMs: number;
  /** The challenge policy per client range, cached for a second (tokens/policy.ts). */
  readonly rangePolicies: RangePolicyCache;
  /** The relying party security keys are enrolled for (credentials/webauthn.ts). */
  readonly fido: RelyingParty;
}

/** Queues a mail inside the caller's transaction, its body sealed. */
export function queueMail(ctx: VerifierContext, tx: SqlExecutor, to: string, mail: MailContent): Promise<string> {
  return enqueueMail(tx, { to, subject: mail.subject, sealedBody: sealMailBody(ctx.secret, mail.text) }, ctx.now());
}
