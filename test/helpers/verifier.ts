// The verifier's tests run on both stores: SQLite (a fresh file per test) and a real PostgreSQL
// server started for the file (a fresh database per test). Mail goes to a real SMTP peer.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { startPostgres, type PostgresServer } from '../../native-fixtures/postgres/server.js';
import { ServerSecret } from '../../src/verifier/server-secret.js';
import { Verifier, type VerifierOptions } from '../../src/verifier/verifier.js';
import { startSmtpPeer, type SmtpPeer } from './smtp.js';

export type EngineName = 'sqlite' | 'postgres';
export const ENGINES: readonly EngineName[] = ['sqlite', 'postgres'];

export interface StoreEngines {
  /** A new, empty database of that engine: a file path or a postgres:// URL. */
  newDatabase(engine: EngineName): Promise<string>;
}

/** Registers the file's set-up: PostgreSQL is started only when `engines` includes it. */
export function useStoreEngines(engines: readonly EngineName[] = ENGINES): StoreEngines {
  let server: PostgresServer | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'tokengate-verifier-'));
  let n = 0;
  beforeAll(async () => {
    if (engines.includes('postgres')) server = await startPostgres();
  }, 90_000);
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    async newDatabase(engine) {
      n++;
      if (engine === 'sqlite') return join(dir, `verifier-${n}.sqlite`);
      if (!server) throw new Error('PostgreSQL not started');
      const name = `verifier_${process.pid}_${n}`;
      const client = new pg.Client({ connectionString: server.url });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      return server.url.replace(/\/[^/]*$/, `/${name}`);
    },
  };
}

const secrets = new Map<string, ServerSecret>();

/** One server secret per database, so a verifier reopened on it reads what the last one sealed. */
export function secretOf(database: string): ServerSecret {
  let secret = secrets.get(database);
  if (!secret) secrets.set(database, (secret = ServerSecret.generate()));
  return secret;
}

export function testVerifierOptions(database: string, smtp: SmtpPeer, overrides: Partial<VerifierOptions> = {}): VerifierOptions {
  return {
    database,
    secret: secretOf(database),
    mail: { from: 'verifier@example.test', transport: { kind: 'smtp', host: '127.0.0.1', port: smtp.port }, retryBaseMs: 50, pollMs: 100 },
    ...overrides,
  };
}

/** The security token in a mail sent by the verifier (24 characters unless told otherwise). */
export function tokenIn(text: string, name?: string): string {
  const pattern = name ? new RegExp(`Security token "${name}": ([A-Za-z0-9]+)`) : /Security token(?: "[^"]+")?: ([A-Za-z0-9]+)/;
  const match = pattern.exec(text);
  if (!match) throw new Error('no security token in the mail');
  return match[1]!;
}

export async function openVerifier(database: string, smtp: SmtpPeer, overrides: Partial<VerifierOptions> = {}): Promise<Verifier> {
  return Verifier.open(testVerifierOptions(database, smtp, overrides));
}

export interface VerifierStack {
  /** The SMTP peer every verifier of the file mails to. */
  readonly smtp: SmtpPeer;
  /** A fresh database on `engine` (a SQLite file, or a PostgreSQL database). */
  newDatabase(engine: EngineName): Promise<string>;
}

/**
 * The verifier tests' set-up in one call: an SMTP peer for the file, and the store engines
 * (PostgreSQL started only when asked for), both stopped after the file's tests.
 */
export function useVerifierStack(engines: readonly EngineName[] = ENGINES): VerifierStack {
  const stores = useStoreEngines(engines);
  let smtp: SmtpPeer | undefined;
  beforeAll(async () => {
    smtp = await startSmtpPeer();
  });
  afterAll(async () => {
    await smtp?.stop();
  });
  return {
    get smtp(): SmtpPeer {
      if (!smtp) throw new Error('SMTP peer not started');
      return smtp;
    },
    newDatabase: (engine) => stores.newDatabase(engine),
  };
}
