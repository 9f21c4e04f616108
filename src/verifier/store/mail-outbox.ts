// The mail queue in the store: a mail is queued in the same transaction as the change that causes
// it (a reset and its new token commit together or not at all) and delivered after commit.
import { randomUUID } from 'node:crypto';
import type { MailQueue, NewMail, QueuedMail } from '../mail/queue.js';
import type { Database, SqlExecutor } from './database.js';

interface OutboxRow {
  id: string;
  to_address: string;
  subject: string;
  sealed_body: Uint8Array | null;
  attempts: number;
}

export async function enqueueMail(db: SqlExecutor, mail: NewMail, now = Date.now()): Promise<string> {
  const id = randomUUID();
  await db.run('INSERT INTO mail_outbox (id, to_address, subject, sealed_body, due_at, created_at) VALUES (?, ?, ?, ?, ?, ?)', [
    id,
    mail.to,
    mail.subject,
    mail.sealedBody,
    now,
    now,
  ]);
  return id;
}

export class StoreMailQueue implements MailQueue {
  constructor(private readonly db: Database) {}

  claimDue(now: Date, limit: number, leaseMs: number): Promise<QueuedMail[]> {
    // PostgreSQL: instances skip each other's claimed rows; SQLite's write lock already serialises.
    const skipLocked = this.db.dialect === 'postgres' ? ' FOR UPDATE SKIP LOCKED' : '';
    const at = now.getTime();
    return this.db.transaction(async (tx) => {
      const rows = await tx.all<OutboxRow>(
        `SELECT id, to_address, subject, sealed_body, attempts FROM mail_outbox
         WHERE sent_at IS NULL AND due_at <= ? AND (lease_until IS NULL OR lease_until <= ?)
         ORDER BY due_at LIMIT ?${skipLocked}`,
        [at, at, Math.max(1, Math.floor(limit))],
      );
      for (const row of rows) await tx.run('UPDATE mail_outbox SET lease_until = ? WHERE id = ?', [at + leaseMs, row.id]);
      return rows.map((r) => ({ id: r.id, to: r.to_address, subject: r.subject, sealedBody: r.sealed_body ?? new Uint8Array(), attempts: r.attempts }));
    });
  }

  async markSent(id: string, at: Date): Promise<void> {
    await this.db.run('UPDATE mail_outbox SET sent_at = ?, sealed_body = NULL, lease_until = NULL, attempts = attempts + 1 WHERE id = ?', [at.getTime(), id]);
  }

  async markFailed(id: string, reason: string, retryAt: Date): Promise<void> {
    await this.db.run('UPDATE mail_outbox SET due_at = ?, last_error = ?, lease_until = NULL, attempts = attempts + 1 WHERE id = ?', [
      retryAt.getTime(),
      reason.slice(0, 500),
      id,
    ]);
  }

  /** Mails not yet delivered (for health checks and tests). */
  async pending(): Promise<number> {
    const row = await this.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM mail_outbox WHERE sent_at IS NULL');
    return Number(row?.n ?? 0);
  }
}
