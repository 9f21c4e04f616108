// Enrolled hardware-token credentials: enrollment (certificate or bare public key, checked fail
// closed), the lifecycle (disable, enable, block as lost, revoke, delete), and the blocklist kiosks
// poll. Each change commits with its audit entry; blocking also kills the credential's outstanding
// challenges and bumps the blocklist's version in the same transaction.
import { createHash, randomUUID } from 'node:crypto';
import type { VerifierContext } from '../context.js';
import { checkCertificate } from '../credentials/certificate-policy.js';
import { classifyKey } from '../credentials/key-algorithm.js';
import { CredentialExistsError, CredentialNotFoundError, CredentialRefusedError, CredentialStateError, InvalidInputError, UserNotFoundError } from '../errors.js';
import { clearCounter, isLocked } from '../policy/lockout.js';
import { appendAudit } from '../store/audit.js';
import type { SqlExecutor } from '../store/database.js';
import { findUser } from '../store/users.js';
import { userChallengePolicy, type ChallengePolicy } from './policy.js';

export type CredentialStatus = 'active' | 'disabled' | 'blocked' | 'revoked';

export interface CredentialRow {
  readonly id: string;
  readonly user_id: string;
  readonly label: string;
  readonly serial: string | null;
  readonly fingerprint: string;
  readonly spki: Uint8Array;
  readonly certificate: Uint8Array | null;
  readonly key_type: string;
  readonly algorithms: string;
  readonly not_after: number | null;
  readonly status: CredentialStatus;
  readonly status_reason: string;
  readonly failed_logins: number;
  readonly lockouts: number;
  readonly locked_until: number | null;
  readonly in_flight: number;
  readonly in_flight_since: number | null;
  readonly created_at: number;
}

export interface CredentialView {
  readonly id: string;
  readonly username: string;
  readonly label: string;
  readonly serial: string | undefined;
  /** SHA-256 of the DER certificate (of the SPKI for a bare key), lower-case hex. */
  readonly fingerprint: string;
  readonly keyType: string;
  readonly algorithms: string[];
  readonly notAfter: Date | undefined;
  readonly status: CredentialStatus;
  readonly statusReason: string;
  readonly locked: boolean;
  readonly createdAt: Date;
}

/**
 * What enrollment answers: the credential, and the user's own challenge policy at that moment, so
 * the enrolling side can say what a kiosk will need (`password+token`: a kiosk that sends no
 * password is refused until an admin sets `token-only` for the user or for the kiosk's network —
 * a client range's policy overrides this one for addresses inside it).
 */
export interface EnrolledCredential extends CredentialView {
  readonly challengePolicy: ChallengePolicy;
}

export interface EnrollInput {
  readonly username: string;
  /** PEM, or DER bytes: checked against the certificate policy. */
  readonly certificate?: string | Uint8Array;
  /** A bare public key (DER SubjectPublicKeyInfo) instead of a certificate. */
  readonly publicKey?: Uint8Array;
  /** The token's serial number, so a lost token is blocked by serial too. */
  readonly serial?: string;
  readonly label?: string;
}

export interface Blocklist {
  readonly version: number;
  readonly serials: string[];
  readonly certificateFingerprints: string[];
}

export type LifecycleAction = 'disable' | 'enable' | 'block' | 'revoke';

const TRANSITIONS: Record<LifecycleAction, { from: readonly CredentialStatus[]; to: CredentialStatus }> = {
  disable: { from: ['active'], to: 'disabled' },
  enable: { from: ['disabled', 'blocked'], to: 'active' },
  block: { from: ['active', 'disabled'], to: 'blocked' },
  revoke: { from: ['active', 'disabled', 'blocked'], to: 'revoked' },
};

export async function bumpBlocklist(tx: SqlExecutor): Promise<void> {
  await tx.run('UPDATE blocklist_version SET version = version + 1 WHERE id = 1');
}

/** Outstanding challenges of the credential die with its status change. */
export async function killChallenges(tx: SqlExecutor, credentialId: string, now: number): Promise<void> {
  await tx.run('UPDATE challenges SET consumed_at = ? WHERE credential_id = ? AND consumed_at IS NULL', [now, credentialId]);
}

export class CredentialRegistry {
  constructor(private readonly ctx: VerifierContext) {}

  #view(row: CredentialRow, username: string): CredentialView {
    return {
      id: row.id,
      username,
      label: row.label,
      serial: row.serial ?? undefined,
      fingerprint: row.fingerprint,
      keyType: row.key_type,
      algorithms: row.algorithms.split(' '),
      notAfter: row.not_after === null ? undefined : new Date(row.not_after),
      status: row.status,
      statusReason: row.status_reason,
      locked: isLocked(row, this.ctx.now()),
      createdAt: new Date(row.created_at),
    };
  }

  async enroll(actor: string, input: EnrollInput): Promise<EnrolledCredential> {
    const { ctx } = this;
    const now = ctx.now();
    let key: { spki: Buffer; fingerprint: string; keyType: string; algorithms: readonly string[]; notAfter: number | null; certificate: Buffer | null; subject?: string };
    if (input.certificate !== undefined) {
      const check = await checkCertificate(input.certificate, ctx.certificatePolicy, new Date(now));
      if (!check.ok) {
        await appendAudit(ctx.db, { actor, action: 'credential.enroll', subject: input.username, result: 'refused', reason: check.reason }, now);
        throw new CredentialRefusedError(check.reason, check.detail);
      }
      const a = check.accepted;
      key = { spki: a.spki, fingerprint: a.fingerprint, keyType: a.keyType, algorithms: a.algorithms, notAfter: a.notAfter.getTime(), certificate: Buffer.from(a.certificate.rawData), subject: a.subject };
    } else if (input.publicKey !== undefined) {
      const info = classifyKey(input.publicKey);
      if ('refusal' in info) {
        await appendAudit(ctx.db, { actor, action: 'credential.enroll', subject: input.username, result: 'refused', reason: info.refusal }, now);
        throw new CredentialRefusedError(info.refusal, 'the public key type or size is not accepted');
      }
      const spki = Buffer.from(input.publicKey);
      key = { spki, fingerprint: createHash('sha256').update(spki).digest('hex'), keyType: info.keyType, algorithms: info.algorithms, notAfter: null, certificate: null };
    } else {
      throw new InvalidInputError('a certificate or a public key is required');
    }
    if (input.serial !== undefined && !/^[\x21-\x7e]{1,64}$/.test(input.serial)) throw new InvalidInputError('serial: 1 to 64 printable characters');
    const label = (input.label ?? key.subject ?? 'token').slice(0, 100);
    return ctx.db.transaction(async (tx) => {
      const user = await findUser(tx, input.username, ctx.db.forUpdate);
      if (!user) throw new UserNotFoundError('no such user');
      // One token, one user: the same key (under any certificate) or serial is enrolled once.
      const keyFingerprint = createHash('sha256').update(key.spki).digest('hex');
      const clash = await tx.get<{ id: string }>('SELECT id FROM token_credentials WHERE fingerprint = ? OR key_fingerprint = ? OR (serial IS NOT NULL AND serial = ?)', [
        key.fingerprint,
        keyFingerprint,
        input.serial ?? null,
      ]);
      if (clash) throw new CredentialExistsError('this token is enrolled already');
      const id = randomUUID();
      await tx.run(
        `INSERT INTO token_credentials (id, user_id, label, serial, fingerprint, key_fingerprint, spki, certificate, key_type, algorithms, not_after, status, status_reason, status_changed_at, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', 'enrolled', ?, ?)`,
        [id, user.id, label, input.serial ?? null, key.fingerprint, keyFingerprint, key.spki, key.certificate, key.keyType, key.algorithms.join(' '), key.notAfter, now, now],
      );
      await appendAudit(tx, { actor, action: 'credential.enroll', subject: user.username, result: 'success', reason: 'ok', detail: { credential: id, fingerprint: key.fingerprint } }, now);
      const row = (await tx.get<CredentialRow>('SELECT * FROM token_credentials WHERE id = ?', [id]))!;
      return { ...this.#view(row, user.username), challengePolicy: userChallengePolicy(user) };
    });
  }

  async list(username: string): Promise<CredentialView[]> {
    const user = await findUser(this.ctx.db, username);
    if (!user) throw new UserNotFoundError('no such user');
    const rows = await this.ctx.db.all<CredentialRow>('SELECT * FROM token_credentials WHERE user_id = ? ORDER BY created_at', [user.id]);
    return rows.map((r) => this.#view(r, user.username));
  }

  async get(id: string): Promise<CredentialView> {
    const row = await this.ctx.db.get<CredentialRow & { username: string }>(
      'SELECT c.*, u.username FROM token_credentials c JOIN users u ON u.id = c.user_id WHERE c.id = ?',
      [id],
    );
    if (!row) throw new CredentialNotFoundError('no such credential');
    return this.#view(row, row.username);
  }

  /** disable (reversible), enable, block (lost: immediate), revoke (permanent). */
  async apply(actor: string, id: string, action: LifecycleAction, reason: string = action): Promise<void> {
    const { ctx } = this;
    const now = ctx.now();
    await ctx.db.transaction(async (tx) => {
      const row = await tx.get<CredentialRow & { username: string }>(
        `SELECT c.*, u.username FROM token_credentials c JOIN users u ON u.id = c.user_id WHERE c.id = ?${ctx.db.forUpdate === '' ? '' : ' FOR UPDATE OF c'}`,
        [id],
      );
      if (!row) throw new CredentialNotFoundError('no such credential');
      const transition = TRANSITIONS[action];
      if (!transition.from.includes(row.status)) throw new CredentialStateError(`a ${row.status} credential cannot be ${action}d`);
      await tx.run('UPDATE token_credentials SET status = ?, status_reason = ?, status_changed_at = ? WHERE id = ?', [transition.to, reason.slice(0, 200), now, id]);
      if (transition.to !== 'active') await killChallenges(tx, id, now);
      const listed = (s: CredentialStatus) => s === 'blocked' || s === 'revoked';
      if (listed(row.status) !== listed(transition.to)) await bumpBlocklist(tx);
      await appendAudit(tx, { actor, action: `credential.${action}`, subject: row.username, result: 'success', reason: reason.slice(0, 100), detail: { credential: id } }, now);
    });
  }

  /** Clears the credential's failure count and lock. */
  async unlock(actor: string, id: string): Promise<void> {
    const view = await this.get(id);
    await this.ctx.db.transaction(async (tx) => {
      await clearCounter(tx, 'token_credentials', id);
      await appendAudit(tx, { actor, action: 'credential.unlock', subject: view.username, result: 'success', reason: 'ok', detail: { credential: id } }, this.ctx.now());
    });
  }

  /** Deletes the credential; the audit log keeps its history. */
  async delete(actor: string, id: string): Promise<void> {
    const { ctx } = this;
    await ctx.db.transaction(async (tx) => {
      const row = await tx.get<CredentialRow & { username: string }>('SELECT c.*, u.username FROM token_credentials c JOIN users u ON u.id = c.user_id WHERE c.id = ?', [id]);
      if (!row) throw new CredentialNotFoundError('no such credential');
      await tx.run('DELETE FROM token_credentials WHERE id = ?', [id]);
      if (row.status === 'blocked' || row.status === 'revoked') await bumpBlocklist(tx);
      await appendAudit(tx, { actor, action: 'credential.delete', subject: row.username, result: 'success', reason: 'ok', detail: { credential: id, fingerprint: row.fingerprint } }, ctx.now());
    });
  }

  /** Serials and fingerprints of blocked and revoked tokens, with a version for cheap polling. */
  async blocklist(): Promise<Blocklist> {
    return this.ctx.db.transaction(async (tx) => {
      const version = (await tx.get<{ version: number }>('SELECT version FROM blocklist_version WHERE id = 1'))?.version ?? 0;
      const rows = await tx.all<{ serial: string | null; fingerprint: string }>("SELECT serial, fingerprint FROM token_credentials WHERE status IN ('blocked', 'revoked') ORDER BY fingerprint");
      return {
        version: Number(version),
        serials: rows.flatMap((r) => (r.serial ? [r.serial] : [])).sort(),
        certificateFingerprints: rows.map((r) => r.fingerprint),
      };
    });
  }
}
