// Organisation-wide trusted IP ranges (inside them the password alone is enough).
import type { SqlExecutor } from './database.js';

export interface TrustedRangeRow {
  readonly cidr: string;
  readonly description: string;
}

export function trustedRanges(db: SqlExecutor): Promise<TrustedRangeRow[]> {
  return db.all<TrustedRangeRow>('SELECT cidr, description FROM trusted_ip_ranges ORDER BY cidr');
}

export async function addTrustedRange(db: SqlExecutor, cidr: string, description: string, now = Date.now()): Promise<void> {
  await db.run('INSERT INTO trusted_ip_ranges (cidr, description, created_at) VALUES (?, ?, ?) ON CONFLICT (cidr) DO UPDATE SET description = excluded.description', [
    cidr,
    description,
    now,
  ]);
}

export async function removeTrustedRange(db: SqlExecutor, cidr: string): Promise<boolean> {
  return (await db.run('DELETE FROM trusted_ip_ranges WHERE cidr = ?', [cidr])).changes === 1;
}
