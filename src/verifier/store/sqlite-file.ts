// The SQLite file holds password hashes and token HMACs, and so do its -wal and -shm companions:
// they are for the owner alone (0600). A missing database file is created 0600 before SQLite opens
// it (SQLite gives the companions the database file's mode, and the umask can only narrow it); an
// existing file with a wider mode is left as it is — the operator chose it — and reported.
import { chmodSync, closeSync, openSync, statSync } from 'node:fs';

/** Something the operator should fix; never a secret, never fatal. */
export interface VerifierWarning {
  readonly code: 'WARN_DATABASE_MODE';
  readonly message: string;
}

const OWNER_ONLY = 0o600;
const COMPANIONS = ['-wal', '-shm'] as const;

function errnoOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}

/** Creates `path` (0600) when it does not exist; a warning when an existing one is open to others. */
export function prepareDatabaseFile(path: string): VerifierWarning | undefined {
  try {
    // wx: create only; a file another process created a moment ago is that process's to set up.
    closeSync(openSync(path, 'wx', OWNER_ONLY));
    return undefined;
  } catch (err) {
    if (errnoOf(err) !== 'EEXIST') throw err;
  }
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) === 0) return undefined;
  return {
    code: 'WARN_DATABASE_MODE',
    message: `the verifier database ${path} has mode ${mode.toString(8).padStart(4, '0')}: it holds password hashes, make it 0600 (chmod 600)`,
  };
}

/** Narrows the -wal and -shm files to the owner, if they exist (left over from a wider file). */
export function restrictCompanions(path: string): void {
  for (const suffix of COMPANIONS) {
    try {
      const mode = statSync(path + suffix).mode & 0o777;
      if (mode & 0o077) chmodSync(path + suffix, mode & 0o700);
    } catch (err) {
      if (errnoOf(err) !== 'ENOENT') throw err;
    }
  }
}
