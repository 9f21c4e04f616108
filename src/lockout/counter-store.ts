// Consecutive PIN failures per token, in SQLite so several processes share them and they survive
// restarts. An attempt is counted BEFORE the PIN goes to the token and settled after: a process
// killed between the token's answer and the write can never lose a failure. Beside the counts, a
// generation per token that grows whenever a process sets one of its PINs anew, so other processes
// holding the token open can tell (software tokens read their files once, at C_Initialize).
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { enableWal } from '../util/sqlite-wal.js';

// Loaded when the first counter is opened, not when the package is imported: an application that
// only verifies signatures, or whose tokens count their own tries, never loads SQLite.
const require = createRequire(import.meta.url);
let sqlite: typeof Database | undefined;
function openDatabase(path: string): Database.Database {
  sqlite ??= require('better-sqlite3') as typeof Database;
  return new sqlite(path);
}

export interface CounterKey {
  module: string;
  serial: string;
  userType: string;
}

export interface CounterState {
  failures: number;
  locked: boolean;
  lastFailureAt: number | undefined;
}

export type BeginResult =
  | { kind: 'locked'; state: CounterState }
  | { kind: 'finalTry'; state: CounterState }
  | { kind: 'counted'; state: CounterState };

interface Row {
  failures: number;
  locked: number;
  last_failure_at: number | null;
}

export class CounterStore {
  readonly #db: Database.Database;

  constructor(stateDir: string) {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    this.#db = openDatabase(join(stateDir, 'pin-counters.sqlite'));
    // Other processes may hold the write lock for a moment; wait rather than fail.
    this.#db.pragma('busy_timeout = 10000');
    enableWal(this.#db);
    this.#db.exec(`CREATE TABLE IF NOT EXISTS pin_counters (
      module TEXT NOT NULL, serial TEXT NOT NULL, user_type TEXT NOT NULL,
      failures INTEGER NOT NULL DEFAULT 0, locked INTEGER NOT NULL DEFAULT 0, last_failure_at INTEGER,
      PRIMARY KEY (module, serial, user_type))`);
    this.#db.exec(`CREATE TABLE IF NOT EXISTS pin_changes (
      module TEXT NOT NULL, serial TEXT NOT NULL, generation INTEGER NOT NULL, changed_at INTEGER NOT NULL,
      PRIMARY KEY (module, serial))`);
  }

  /** Notes that a PIN of this token was set anew; returns the token's new generation. */
  recordChange(module: string, serial: string, now: number): number {
    const row = this.#db
      .prepare(
        `INSERT INTO pin_changes (module, serial, generation, changed_at) VALUES (?, ?, 1, ?)
         ON CONFLICT (module, serial) DO UPDATE SET generation = generation + 1, changed_at = excluded.changed_at
         RETURNING generation`,
      )
      .get(module, serial, now) as { generation: number };
    return row.generation;
  }

  lastChange(module: string, serial: string): { generation: number; changedAt: number } | undefined {
    const row = this.#db.prepare('SELECT generation, changed_at FROM pin_changes WHERE module = ? AND serial = ?').get(module, serial) as
      | { generation: number; changed_at: number }
      | undefined;
    return row && { generation: row.generation, changedAt: row.changed_at };
  }

  #read(key: CounterKey): CounterState {
    const row = this.#db
      .prepare('SELECT failures, locked, last_failure_at FROM pin_counters WHERE module = ? AND serial = ? AND user_type = ?')
      .get(key.module, key.serial, key.userType) as Row | undefined;
    return { failures: row?.failures ?? 0, locked: row?.locked === 1, lastFailureAt: row?.last_failure_at ?? undefined };
  }

  state(key: CounterKey): CounterState {
    return this.#read(key);
  }

  /**
   * Counts an attempt as a failure up front, unless the PIN is locked or this would be the final
   * try the caller did not allow. One IMMEDIATE transaction: concurrent processes queue on it, so
   * no more than `maxFailures` attempts ever reach the token.
   */
  begin(key: CounterKey, maxFailures: number, allowFinalTry: boolean, now: number): BeginResult {
    return this.#db
      .transaction((): BeginResult => {
        const state = this.#read(key);
        if (state.locked || state.failures >= maxFailures) return { kind: 'locked', state: { ...state, locked: true } };
        if (state.failures === maxFailures - 1 && !allowFinalTry) return { kind: 'finalTry', state };
        const failures = state.failures + 1;
        this.#db
          .prepare(
            `INSERT INTO pin_counters (module, serial, user_type, failures, locked, last_failure_at) VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT (module, serial, user_type) DO UPDATE SET failures = excluded.failures, locked = excluded.locked, last_failure_at = excluded.last_failure_at`,
          )
          .run(key.module, key.serial, key.userType, failures, failures >= maxFailures ? 1 : 0, now);
        return { kind: 'counted', state: { failures, locked: failures >= maxFailures, lastFailureAt: now } };
      })
      .immediate();
  }

  /** The token did not judge the PIN (it was removed, an I/O error): take the counted attempt back. */
  revert(key: CounterKey, maxFailures: number): void {
    this.#db
      .transaction(() => {
        const state = this.#read(key);
        const failures = Math.max(0, state.failures - 1);
        this.#db
          .prepare('UPDATE pin_counters SET failures = ?, locked = ? WHERE module = ? AND serial = ? AND user_type = ?')
          .run(failures, failures >= maxFailures ? 1 : 0, key.module, key.serial, key.userType);
      })
      .immediate();
  }

  /** A correct PIN, or an unblock: the count starts again. */
  reset(key: CounterKey): void {
    this.#db.prepare('DELETE FROM pin_counters WHERE module = ? AND serial = ? AND user_type = ?').run(key.module, key.serial, key.userType);
  }

  close(): void {
    this.#db.close();
  }
}
