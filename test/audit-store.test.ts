// Audit entries appended together (logins, outside any transaction) are stored together, in one
// multi-row INSERT per 32, each caller answered once its row is stored — on both stores.
import { describe, expect, it } from 'vitest';
import { migrate } from '../src/verifier/store/migrations.js';
import { appendAudit, appendAuditBatched, queryAudit } from '../src/verifier/store/audit.js';
import { openDatabase } from '../src/verifier/verifier.js';
import { ENGINES, useStoreEngines } from './helpers/verifier.js';

const engines = useStoreEngines();

describe.each(ENGINES)('batched audit entries on %s', (engine) => {
  it('seventy entries appended at once are all stored, in call order, by the time each caller hears back', async () => {
    const db = openDatabase(await engines.newDatabase(engine));
    try {
      await migrate(db);
      const entries = Array.from({ length: 70 }, (_, i) => ({ actor: 'anonymous', action: 'challenge.login', subject: `user${i % 7}`, clientIp: '192.0.2.1', result: 'failure' as const, reason: `reason-${i}` }));
      const stored = entries.map(async (entry, i) => {
        await appendAuditBatched(db.relaxed, entry, 1_000 + i);
        // Answered only once stored: this caller's own row can be read back at once.
        return (await queryAudit(db, { subject: entry.subject, limit: 1000 })).some((e) => e.reason === entry.reason);
      });
      expect(await Promise.all(stored)).toEqual(entries.map(() => true));
      const all = await queryAudit(db, { action: 'challenge.login', limit: 1000 });
      expect(all.map((e) => e.reason)).toEqual(entries.map((e) => e.reason));
      expect(all.map((e) => e.at.getTime())).toEqual(entries.map((_, i) => 1_000 + i));
      // Entries appended one by one afterwards still follow them.
      await appendAudit(db, { actor: 'admin', action: 'challenge.login', result: 'success', reason: 'after' }, 5_000);
      expect((await queryAudit(db, { action: 'challenge.login', limit: 1000 })).at(-1)?.reason).toBe('after');
    } finally {
      await db.close();
    }
  });
});
