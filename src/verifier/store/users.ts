// The users table: account state, the password hash and the consecutive-failure counter.
import type { SqlExecutor } from './database.js';
import { IP_BUDGET_COLUMNS, type IpBudgetColumns } from './ip-failures.js';

export interface UserRow {
  readonly id: string;
  readonly username: string;
  readonly email: string;
  readonly password_hash: string;
  readonly active: number;
  readonly frozen: number;
  readonly login_ip_ranges: string;
  readonly failed_logins: number;
  readonly lockouts: number;
  readonly locked_until: number | null;
  /** Attempts that hold a slot and have not settled yet (policy/lockout.ts). */
  readonly in_flight: number;
  readonly in_flight_since: number | null;
  /** `token-only` or `password+token` for challenge logins (tokens/policy.ts). */
  readonly challenge_policy: string;
  readonly password_changed_at: number;
  readonly created_at: number;
}

export interface NewUser {
  readonly id: string;
  readonly username: string;
  readonly email: string;
  readonly passwordHash: string;
  readonly loginIpRanges: readonly string[];
  readonly now: number;
}

/** Usernames are compared case-insensitively (passwords and tokens are not). */
export function canonicalUsername(username: string): string {
  return username.normalize('NFC').toLowerCase();
}

export async function insertUser(db: SqlExecutor, user: NewUser): Promise<boolean> {
  const { changes } = await db.run(
    `INSERT INTO users (id, username, email, password_hash, login_ip_ranges, password_changed_at, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (username) DO NOTHING`,
    [user.id, canonicalUsername(user.username), user.email, user.passwordHash, JSON.stringify(user.loginIpRanges), user.now, user.now],
  );
  return changes === 1;
}

export function findUser(db: SqlExecutor, username: string, forUpdate = ''): Promise<UserRow | undefined> {
  return db.get<UserRow>(`SELECT * FROM users WHERE username = ?${forUpdate}`, [canonicalUsername(username)]);
}

/**
 * The user (undefined when unknown) and the failure budget of `clientIp`, in one read: a login
 * wants both, and each statement costs it more than the rows do.
 */
export async function findUserAndBudget(db: SqlExecutor, username: string, clientIp: string): Promise<{ user: UserRow | undefined; budget: IpBudgetColumns }> {
  const row = await db.get<IpBudgetColumns & Partial<Record<keyof UserRow, unknown>>>(
    `SELECT ${IP_BUDGET_COLUMNS}, u.* FROM (SELECT 1 AS one) AS one LEFT JOIN users u ON u.username = ?`,
    [clientIp, clientIp, canonicalUsername(username)],
  );
  const { ip_window_start, ip_failures, ...user } = row!;
  return { user: user.id === null || user.id === undefined ? undefined : (user as UserRow), budget: { ip_window_start, ip_failures } };
}

type UserField =
  | 'email'
  | 'password_hash'
  | 'active'
  | 'frozen'
  | 'login_ip_ranges'
  | 'failed_logins'
  | 'lockouts'
  | 'locked_until'
  | 'in_flight'
  | 'in_flight_since'
  | 'challenge_policy'
  | 'password_changed_at';

export async function updateUser(db: SqlExecutor, id: string, fields: Partial<Record<UserField, string | number | null>>): Promise<void> {
  const names = Object.keys(fields) as UserField[];
  if (names.length === 0) return;
  await db.run(`UPDATE users SET ${names.map((n) => `${n} = ?`).join(', ')} WHERE id = ?`, [...names.map((n) => fields[n] ?? null), id]);
}

export async function deleteUser(db: SqlExecutor, id: string): Promise<void> {
  await db.run('DELETE FROM users WHERE id = ?', [id]);
}

export function loginIpRanges(user: UserRow): string[] {
  return JSON.parse(user.login_ip_ranges) as string[];
}
