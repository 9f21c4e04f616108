// API keys for the admin, helpdesk and audit routes. A key is shown once, when created; the store
// keeps its keyed hash. Keys look like `tgk_<id>_<secret>`, so a leaked one is easy to grep for.
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import type { VerifierContext } from '../context.js';
import { ForbiddenError, InvalidInputError, UnauthorizedError } from '../errors.js';
import { appendAudit } from '../store/audit.js';

export const API_KEY_SCOPES = ['admin', 'helpdesk', 'audit'] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

export interface ApiKeyInfo {
  readonly id: string;
  readonly label: string;
  readonly scopes: ApiKeyScope[];
  readonly createdAt: Date;
  readonly revoked: boolean;
}

interface ApiKeyRow {
  id: string;
  label: string;
  scopes: string;
  created_at: number;
  revoked_at: number | null;
}

function info(row: ApiKeyRow): ApiKeyInfo {
  return { id: row.id, label: row.label, scopes: row.scopes.split(' ') as ApiKeyScope[], createdAt: new Date(row.created_at), revoked: row.revoked_at !== null };
}

export class ApiKeys {
  constructor(private readonly ctx: VerifierContext) {}

  #hash(key: string): Buffer {
    return createHmac('sha256', this.ctx.secret.key('api-key-hash')).update(key, 'utf8').digest();
  }

  /** Returns the key itself: the only time it exists outside its holder's hands. */
  async create(actor: string, label: string, scopes: readonly ApiKeyScope[]): Promise<{ key: string; info: ApiKeyInfo }> {
    if (scopes.length === 0 || scopes.some((s) => !API_KEY_SCOPES.includes(s))) throw new InvalidInputError(`scopes: one or more of ${API_KEY_SCOPES.join(', ')}`);
    const id = randomUUID().replace(/-/g, '').slice(0, 16);
    const key = `tgk_${id}_${randomBytes(32).toString('base64url')}`;
    const row: ApiKeyRow = { id, label: label.slice(0, 100), scopes: [...new Set(scopes)].join(' '), created_at: this.ctx.now(), revoked_at: null };
    await this.ctx.db.transaction(async (tx) => {
      await tx.run('INSERT INTO api_keys (id, key_hash, label, scopes, created_at) VALUES (?, ?, ?, ?, ?)', [row.id, this.#hash(key), row.label, row.scopes, row.created_at]);
      await appendAudit(tx, { actor, action: 'api-key.create', subject: id, result: 'success', reason: 'ok', detail: { scopes: row.scopes } }, this.ctx.now());
    });
    return { key, info: info(row) };
  }

  /** The key's holder, if the key is known, unrevoked and has `scope`. */
  async authenticate(key: string | undefined, scope: ApiKeyScope): Promise<ApiKeyInfo> {
    const found = await this.identify(key, scope);
    if (!found.scopes.includes(scope)) throw new ForbiddenError(`this API key lacks the ${scope} scope`);
    return found;
  }

  /** The key's holder, whatever its scopes, if the key is known and unrevoked (the console's sign-in). */
  async identify(key: string | undefined, scope: ApiKeyScope | 'SCOPE' = 'SCOPE'): Promise<ApiKeyInfo> {
    const makeOne = `make one with: tokengate verifier api-key create --label NAME --scope ${scope}`;
    if (!key) throw new UnauthorizedError(`an API key is required (Authorization: Bearer tgk_…); ${makeOne}`);
    // A malformed key is answered like an unknown one: to its holder both mean "not a key we issued".
    const row = /^tgk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/.test(key)
      ? // Looked up by hash: the comparison happens inside the index, on values an attacker cannot choose.
        await this.ctx.db.get<ApiKeyRow>('SELECT id, label, scopes, created_at, revoked_at FROM api_keys WHERE key_hash = ?', [this.#hash(key)])
      : undefined;
    if (!row || row.revoked_at !== null) throw new UnauthorizedError(`the API key was not accepted (unknown or revoked); ${makeOne}`);
    return info(row);
  }

  /** The key by id, if it is unrevoked: a console session lives as long as its key. */
  async byId(id: string): Promise<ApiKeyInfo | undefined> {
    const row = await this.ctx.db.get<ApiKeyRow>('SELECT id, label, scopes, created_at, revoked_at FROM api_keys WHERE id = ?', [id]);
    return row && row.revoked_at === null ? info(row) : undefined;
  }

  async list(): Promise<ApiKeyInfo[]> {
    return (await this.ctx.db.all<ApiKeyRow>('SELECT id, label, scopes, created_at, revoked_at FROM api_keys ORDER BY created_at')).map(info);
  }

  async revoke(actor: string, id: string): Promise<boolean> {
    return this.ctx.db.transaction(async (tx) => {
      const { changes } = await tx.run('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL', [this.ctx.now(), id]);
      await appendAudit(tx, { actor, action: 'api-key.revoke', subject: id, result: changes === 1 ? 'success' : 'failure', reason: changes === 1 ? 'ok' : 'not_found' }, this.ctx.now());
      return changes === 1;
    });
  }
}
