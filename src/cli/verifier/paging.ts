// Pages of the verifier's listings: the `--limit` check (audit.ts uses it too), and one page of
// users for `user list` and `policy list` — a store of a million users is never read whole.
// `--search` narrows by username (or email, with an @) prefix, `--after` goes on from a username,
// `--limit` (1-1000, default 1000) bounds the page; when there is more, stderr says how to see it,
// so the listing on stdout stays clean for scripts.
import type { Command } from 'commander';
import type { UserView, Verifier } from '../../verifier/index.js';
import { UsageError } from '../exit-codes.js';

export interface UserPageOptions {
  search?: string | undefined;
  after?: string | undefined;
  limit?: string | undefined;
}

const DEFAULT_LIMIT = 1000;

/** A whole number from 1 to 1000 given to `--limit`, or `fallback` when none was. */
export function limitOption(value: string | undefined, fallback: number): number {
  const limit = value === undefined ? fallback : /^\d{1,4}$/.test(value) ? Number(value) : NaN;
  if (!(limit >= 1 && limit <= 1000)) throw new UsageError(`--limit: a whole number from 1 to 1000 (got ${JSON.stringify(value)})`);
  return limit;
}

export function userPageOptions(command: Command): Command {
  return command
    .option('--search <TEXT>', 'users whose username starts with TEXT (with an @: whose email address does)')
    .option('--after <USERNAME>', 'the page after this user')
    .option('--limit <N>', `at most N users (1-1000; ${DEFAULT_LIMIT})`);
}

/** The page the options ask for; a note on stderr names the command that shows the next one. */
export async function userPage(verifier: Verifier, options: UserPageOptions, commandLine: string): Promise<UserView[]> {
  const limit = limitOption(options.limit, DEFAULT_LIMIT);
  const page = await verifier.admin.search({ text: options.search ?? '', after: options.after, limit });
  if (page.next !== undefined) {
    // Usernames need no quoting (validate.ts); the search text is quoted for a POSIX shell.
    const search = options.search ? ` --search '${options.search.replaceAll("'", "'\\''")}'` : '';
    console.error(`more users after ${page.next}: ${commandLine}${search} --after ${page.next}`);
  }
  return page.users;
}
