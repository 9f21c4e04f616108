// Retention on both stores, with small data: the housekeeping run drops audit entries older than
// the operator's retention (and keeps the rest), and spent challenges after theirs; deletes go in
// batches with the store free between them (a read queued mid-purge is answered before the purge
// ends); `--audit-retention 400d` reaches the library as milliseconds, and bad durations are refused.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { verifierConfig } from '../src/cli/verifier/config.js';
import { UsageError } from '../src/cli/exit-codes.js';
import { appendAudit } from '../src/verifier/store/audit.js';
import type { Database } from '../src/verifier/store/database.js';
import { migrate } from '../src/verifier/store/migrations.js';
import { deleteOlderThan } from '../src/verifier/store/retention.js';
import { openDatabase } from '../src/verifier/verifier.js';
import { ENGINES, openVerifier, useVerifierStack } from './helpers/verifier.js';

const stack = useVerifierStack();
const DAY = 86_400_000;

async function count(db: Database, table: string): Promise<number> {
  return Number((await db.get<{ n: number | string }>(`SELECT COUNT(*) AS n FROM ${table}`))!.n);
}

async function seedAudit(db: Database, rows: number, at: (i: number) => number): Promise<void> {
  await db.transaction(async (tx) => {
    for (let i = 0; i < rows; i++) await appendAudit(tx, { actor: 'seed', action: 'login', subject: `user-${i % 7}`, result: 'success', reason: 'ok' }, at(i));
  });
}

describe.each(ENGINES)('retention on %s', (engine) => {
  it('drops audit entries older than the retention and spent challenges older than theirs, keeping the rest', async () => {
    const location = await stack.newDatabase(engine);
    let clock = Date.UTC(2026, 0, 1);
    await using verifier = await openVerifier(location, stack.smtp, { now: () => clock, auditRetentionMs: 400 * DAY, challengeRetentionMs: 3_600_000 });
    await using db = openDatabase(location);
    await seedAudit(db, 300, (i) => clock - 500 * DAY + i * DAY);
    const before = await count(db, 'audit_log');
    // Users and a challenge: the challenge is spent an hour after it expired.
    await db.run("INSERT INTO users (id, username, email, password_hash, password_changed_at, created_at) VALUES ('u1', 'ann', 'ann@example.test', 'x', 0, 0)");
    await db.run("INSERT INTO token_credentials (id, user_id, label, fingerprint, key_fingerprint, spki, key_type, algorithms, status, status_reason, status_changed_at, created_at) VALUES ('c1', 'u1', 'card', 'f', 'k', ?, 'ec-p256', '[]', 'active', 'enrolled', 0, 0)", [new Uint8Array([1])]);
    for (const [id, expires] of [['old', clock - 2 * 3_600_000], ['recent', clock - 60_000]] as const) {
      await db.run("INSERT INTO challenges (id, user_id, credential_id, purpose, challenge, expires_at, created_at) VALUES (?, 'u1', 'c1', 'login', 'x', ?, 0)", [id, expires]);
    }
    await db.run("INSERT INTO fido_challenges (id, ceremony, purpose, challenge, expires_at, created_at) VALUES ('f-old', 'get', 'login', 'x', ?, 0)", [clock - 2 * 3_600_000]);

    const purged = await verifier.housekeep();
    // Entries 0..100 are older than 400 days (day -500 … day -400 exclusive).
    expect(purged).toEqual({ challenges: 1, fido_challenges: 1, audit_log: 100 });
    expect(await count(db, 'audit_log')).toBe(before - 100);
    const oldest = await verifier.audit({ limit: 1 });
    expect(oldest[0]!.at.getTime()).toBeGreaterThanOrEqual(clock - 400 * DAY);
    expect((await db.all<{ id: string }>('SELECT id FROM challenges')).map((r) => r.id)).toEqual(['recent']);
    // A day later, one more day's entry goes.
    clock += DAY;
    expect((await verifier.housekeep()).audit_log).toBe(1);
  });

  it('deletes in batches, answering what was queued meanwhile before the purge ends', async () => {
    await using db = openDatabase(await stack.newDatabase(engine));
    await migrate(db);
    await seedAudit(db, 2000, (i) => i);
    await seedAudit(db, 10, () => 10_000);
    const batches: number[] = [];
    let done = false;
    // A target of 0 ms halves the batches down to the smallest (16 rows).
    const purge = deleteOlderThan(db.relaxed, 'audit_log', 5000, { batch: 64, targetMs: 0, onBatch: (rows) => batches.push(rows) }).finally(() => (done = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(await count(db, 'audit_log')).toBeGreaterThan(10);
    expect(done).toBe(false);
    expect(await purge).toBe(2000);
    expect(batches.slice(0, 3)).toEqual([64, 32, 16]);
    expect(new Set(batches.slice(2, -1))).toEqual(new Set([16]));
    expect(batches.reduce((a, b) => a + b, 0)).toBe(2000);
    expect(await count(db, 'audit_log')).toBe(10);
  });
});

describe('--audit-retention', () => {
  const env = { TOKENGATE_STATE_DIR: mkdtempSync(join(tmpdir(), 'tokengate-retention-')) };
  const config = (value: string) => verifierConfig({ 'audit-retention': value }, env).verifier;

  it('takes days, hours, minutes or seconds and gives the library milliseconds; none means for ever', () => {
    expect(config('400d').auditRetentionMs).toBe(400 * DAY);
    expect(config('36h').auditRetentionMs).toBe(36 * 3_600_000);
    expect(config('90m').auditRetentionMs).toBe(90 * 60_000);
    expect(config('7200').auditRetentionMs).toBe(7_200_000);
    expect(verifierConfig({}, env).verifier).not.toHaveProperty('auditRetentionMs');
  });

  it('refuses what is not a duration, or under an hour', () => {
    for (const bad of ['400 days', '-1d', '30m', 'forever', '']) expect(() => config(bad), bad).toThrow(UsageError);
  });
});
