// The shared engine: PostgreSQL through a `pg` pool. BIGINT columns (milliseconds since the epoch)
// come back as numbers, not strings; `?` placeholders become `$n`. Waits are bounded (connection
// and statement timeouts), and a server that is away is a StoreUnavailableError (HTTP 503 with
// Retry-After); the pool drops broken connections and makes new ones once the server is back.
import pg from 'pg';
import { StoreUnavailableError, VerifierError } from '../errors.js';
import type { Database, RunResult, SqlExecutor, SqlValue } from './database.js';
import { PipelinedClients } from './postgres-pipeline.js';

type Params = readonly SqlValue[];

const INT8 = 20;
const int8 = (value: string) => Number(value);
const types = {
  getTypeParser: ((oid: number, format?: string) => (oid === INT8 ? int8 : pg.types.getTypeParser(oid, format as 'text'))) as typeof pg.types.getTypeParser,
};

/** `?` to `$1`, `$2`, …; the schema's SQL never has a `?` inside a string literal. */
function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

function values(params: Params): unknown[] {
  return params.map((p) => (p instanceof Uint8Array && !Buffer.isBuffer(p) ? Buffer.from(p) : p));
}

// Every statement is prepared once per connection, under a name: PostgreSQL then skips parsing and
// planning it again, which is most of its work for our small statements (~40% more challenge
// logins per second). The texts are the code's own, a fixed set.
const statementNames = new Map<string, { name: string; text: string }>();
let nextName = 0;

function prepared(sql: string, params: Params): pg.QueryConfig {
  let statement = statementNames.get(sql);
  if (!statement) statementNames.set(sql, (statement = { name: `tg${nextName++}`, text: numbered(sql) }));
  return { name: statement.name, text: statement.text, values: values(params) };
}

/** Pipelined connections of a relaxed view: a few, so one slow statement holds up few others. */
const PIPELINED_CONNECTIONS = 4;

/** "cached plan must not change result type": a table changed (another instance migrated it). */
const STALE_PLAN = '0A000';

// How long anything may wait on PostgreSQL: a connection (from the pool, or a new one) within
// CONNECT_TIMEOUT_MS, a statement within STATEMENT_TIMEOUT_MS (the server cancels it; the client
// gives up a second later should the server not answer at all). A request that needs the store
// while it is away is answered 503 within these bounds, never left hanging.
export const CONNECT_TIMEOUT_MS = 2000;
export const STATEMENT_TIMEOUT_MS = 5000;

/**
 * SQLSTATEs that mean the server is away or going (not that the statement was wrong): connection
 * exceptions (class 08), shutting down or starting up (57P01-57P03), cancelled by the statement
 * timeout (57014), no connection slot left (53300).
 */
function unavailableState(code: string): boolean {
  return code.startsWith('08') || ['57P01', '57P02', '57P03', '57014', '53300'].includes(code);
}

/**
 * The error a caller gets: StoreUnavailableError when PostgreSQL could not be reached or answer —
 * a server error of the kinds above, or any failure of the driver's own (a refused or lost
 * connection, a timeout), which are not server errors at all; the statement's own errors as they are.
 */
export function translated(err: unknown): unknown {
  // A server error by its SQLSTATE, not its class: pipelined connections may hand it over as
  // another object than pg.DatabaseError. No SQLSTATE class starts with E, and Node's own error
  // codes all do: EPIPE, five letters too, is a lost connection, not a statement's error.
  const sqlState = (err as { code?: unknown } | undefined)?.code;
  if (err instanceof pg.DatabaseError || (typeof sqlState === 'string' && /^[0-9A-DF-Z][0-9A-Z]{4}$/.test(sqlState))) {
    return unavailableState(typeof sqlState === 'string' ? sqlState : '') ? new StoreUnavailableError(err) : err;
  }
  // Our own errors (a transaction's body refusing its input, say) and programming errors pass as they are.
  return err instanceof VerifierError || err instanceof TypeError || err instanceof RangeError ? err : new StoreUnavailableError(err);
}

/** The pool, a pooled client inside a transaction, or the pipelined connections. */
interface Queryable {
  query(config: pg.QueryConfig): Promise<pg.QueryResult>;
}

class PostgresExecutor implements SqlExecutor {
  constructor(protected readonly client: Queryable) {}

  protected async query(sql: string, params: Params): Promise<pg.QueryResult> {
    try {
      return await this.client.query(prepared(sql, params));
    } catch (err) {
      // Outside a transaction, prepare it again under a new name; inside one, the transaction
      // has failed already and its caller decides.
      if ((err as { code?: string }).code !== STALE_PLAN || !(this.client instanceof pg.Pool || this.client instanceof PipelinedClients)) throw translated(err);
      statementNames.delete(sql);
      return this.client.query(prepared(sql, params)).catch((again: unknown) => Promise.reject(translated(again)));
    }
  }

  async all<T>(sql: string, params: Params = []): Promise<T[]> {
    return (await this.query(sql, params)).rows as T[];
  }

  async get<T>(sql: string, params: Params = []): Promise<T | undefined> {
    return (await this.all<T>(sql, params))[0];
  }

  async run(sql: string, params: Params = []): Promise<RunResult> {
    const result = await this.query(sql, params);
    return { changes: result.rowCount ?? 0 };
  }
}

export class PostgresDatabase extends PostgresExecutor implements Database {
  readonly dialect = 'postgres' as const;
  readonly forUpdate = ' FOR UPDATE';
  readonly #pool: pg.Pool;
  readonly #url: string;
  readonly #maxConnections: number;
  readonly #isRelaxed: boolean;
  readonly #pipelined: PipelinedClients | undefined;
  #relaxed: PostgresDatabase | undefined;
  #closed = false;

  private constructor(url: string, maxConnections: number, relaxed: boolean) {
    // Relaxed connections commit without waiting for the WAL flush (synchronous_commit = off).
    const settings = [`-c statement_timeout=${STATEMENT_TIMEOUT_MS}`, ...(relaxed ? ['-c synchronous_commit=off'] : [])];
    const config = {
      connectionString: url,
      types,
      options: settings.join(' '),
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      query_timeout: STATEMENT_TIMEOUT_MS + 1000,
      keepAlive: true,
    };
    const pool = new pg.Pool({ ...config, max: maxConnections });
    // An idle client losing its server must not crash the process; the next query reconnects.
    pool.on('error', () => {});
    // The relaxed view's statements outside transactions (the logins') go pipelined (postgres-pipeline.ts).
    const pipelined = relaxed ? new PipelinedClients(config, PIPELINED_CONNECTIONS) : undefined;
    super(pipelined ?? pool);
    this.#pipelined = pipelined;
    this.#pool = pool;
    this.#url = url;
    this.#maxConnections = maxConnections;
    this.#isRelaxed = relaxed;
  }

  /** `url`: `postgres://user@host:port/database`. */
  static open(url: string, options: { maxConnections?: number } = {}): PostgresDatabase {
    return new PostgresDatabase(url, options.maxConnections ?? 10, false);
  }

  /** A second pool whose commits do not wait for the disk (see Database.relaxed). */
  get relaxed(): Database {
    if (this.#isRelaxed) return this;
    return (this.#relaxed ??= new PostgresDatabase(this.#url, this.#maxConnections, true));
  }

  async transaction<T>(body: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect().catch((err: unknown) => Promise.reject(translated(err)));
    // The server ending the connection between two statements (a shutdown) is an 'error' event on
    // the client: kept from crashing the process, it fails the next statement, which answers 503.
    let broken: unknown;
    const onError = (err: Error) => (broken ??= err);
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      const result = await body(new PostgresExecutor(client));
      await client.query('COMMIT');
      return result;
    } catch (err) {
      const error = translated(err);
      if (error instanceof StoreUnavailableError) broken = err;
      else await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      client.off('error', onError);
      // A connection that failed is not given back to the pool for the next caller to meet.
      client.release(broken instanceof Error ? broken : broken === undefined ? undefined : true);
    }
  }

  async exec(script: string): Promise<void> {
    await this.#pool.query(script).catch((err: unknown) => Promise.reject(translated(err)));
  }

  /** Closes the pool, and the relaxed one with it. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#relaxed?.close();
    await this.#pipelined?.end();
    await this.#pool.end();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
