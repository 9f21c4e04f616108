// Switching a SQLite file to WAL takes an exclusive lock for a moment, and SQLite may answer
// SQLITE_BUSY at once — without waiting out the busy timeout — when another process is opening
// the same fresh file. WAL is a property of the file, so whoever wins sets it for everyone: the
// others retry briefly, then find it already set.
import type Database from 'better-sqlite3';

const ATTEMPTS = 100;
const PAUSE_MS = 20;

export function enableWal(db: Database.Database): void {
  for (let attempt = 1; ; attempt++) {
    try {
      db.pragma('journal_mode = WAL');
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== 'SQLITE_BUSY' || attempt >= ATTEMPTS) throw err;
      // A constructor cannot await: a short synchronous pause, only on this rare path.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, PAUSE_MS);
    }
  }
}
