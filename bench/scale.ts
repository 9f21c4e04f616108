// Cost as the verifier's data grows: for each store (SQLite, then a private PostgreSQL) and size
// (1,000, 100,000 and 1,000,000 users by default; `--sizes 1000,100000` for a quicker run), a fresh
// store is seeded in bulk (bench/scale-seed.ts: every user with a security token and a card, ten
// audit rows per user — 10,000,000 at a million), then measured over HTTP and in process:
// password + token logins/s and challenge logins/s (bench/scale-load.ts, users picked at random
// from all of them; every size of a store is kept and served at once, and the rounds interleave
// the sizes — the machine is shared, so each size must see the same moments; medians of three),
// the console's user search and audit query p99 (random prefixes and filters, first and second
// pages; the median of three interleaved rounds too), and the store's growth per login in bytes.
// `npm run bench:scale -- --json` prints one line per store and size; the chart of login rates
// against size is written as an SVG (`--svg PATH`, default docs/bench-scale.svg) and its path printed;
// `--chart-from FILE` draws it again from an earlier run's JSON lines.
import { generateKeyPairSync } from 'node:crypto';
import BetterSqlite3 from 'better-sqlite3';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startPostgres, type PostgresServer } from '../native-fixtures/postgres/server.js';
import { PasswordHasher } from '../src/verifier/accounts/passwords.js';
import { hashSecurityToken } from '../src/verifier/accounts/security-token.js';
import { buildVerifierServer } from '../src/verifier/http/server.js';
import { ServerSecret } from '../src/verifier/server-secret.js';
import { Verifier } from '../src/verifier/verifier.js';
import { scaleChart } from './scale-chart.js';
import { runLoad } from './load-runner.js';
import type { LoadSettings } from './scale-load.js';
import { seedPostgres, seedSqlite, type SeedSpec } from './scale-seed.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const option = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const SIZES = (option('--sizes') ?? '1000,100000,1000000').split(',').map(Number);
const STORES = (option('--stores') ?? 'sqlite,postgres').split(',') as Array<'sqlite' | 'postgres'>;
const SVG = option('--svg') ?? fileURLToPath(new URL('../docs/bench-scale.svg', import.meta.url));
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
// Rounds per size, interleaved across the sizes; the median is kept.
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CALLERS = 16;
const QUERIES = 200;
const AUDIT_PER_USER = 10;
const PASSWORD = 'correct horse battery staple';
const TOKEN = 'BenchToken0123456789abcd';

const p99 = (samples: number[]) => [...samples].sort((a, b) => a - b)[Math.floor(samples.length * 0.99)] ?? 0;
const round1 = (n: number) => Math.round(n * 10) / 10;
const pick = (n: number) => Math.floor(Math.random() * n);

async function timed(samples: number[], query: () => Promise<unknown>): Promise<void> {
  const t = performance.now();
  await query();
  samples.push(performance.now() - t);
}

/** The console's queries: user search (prefixes of random users, by name and by email, two pages) and the audit log's filters (two pages each). */
async function queryP99(verifier: Verifier, users: number, now: number): Promise<{ search: number; audit: Record<string, number> }> {
  const search: number[] = [];
  for (let q = 0; q < QUERIES; q++) {
    const name = `user${pick(users)}`;
    const text = q % 4 === 3 ? `${name}@` : name.slice(0, 4 + pick(name.length - 3));
    let page: Awaited<ReturnType<Verifier['admin']['search']>> | undefined;
    await timed(search, async () => (page = await verifier.admin.search({ text, limit: 25 })));
    if (page?.next) await timed(search, () => verifier.admin.search({ text, after: page!.next, limit: 25 }));
  }
  const reasons = ['bad_password', 'bad_token', 'locked', 'ok'];
  const filters: Record<string, () => Parameters<Verifier['audit']>[0]> = {
    user: () => ({ subject: `user${pick(users)}` }),
    reason: () => ({ reason: reasons[pick(reasons.length)] }),
    time_range: () => {
      const since = now - pick(400) * 86_400_000;
      return { since, until: since + 86_400_000 };
    },
    reason_and_time: () => {
      const since = now - pick(400) * 86_400_000;
      return { reason: 'bad_token', since, until: since + 7 * 86_400_000 };
    },
  };
  const audit: Record<string, number> = {};
  for (const [name, filter] of Object.entries(filters)) {
    const samples: number[] = [];
    for (let q = 0; q < QUERIES / 2; q++) {
      const query = { ...filter(), newestFirst: true, limit: 51 };
      let first: Awaited<ReturnType<Verifier['audit']>> = [];
      await timed(samples, async () => (first = await verifier.audit(query)));
      if (first.length === 51) await timed(samples, () => verifier.audit({ ...query, before: first[49]!.id }));
    }
    audit[name] = round1(p99(samples));
  }
  return { search: round1(p99(search)), audit };
}

async function storeBytes(store: 'sqlite' | 'postgres', location: string): Promise<number> {
  if (store === 'sqlite') {
    // The pages in use once the WAL is copied back (the WAL file itself is reused, not shrunk).
    const db = new BetterSqlite3(location);
    try {
      db.pragma('wal_checkpoint(TRUNCATE)');
      const pages = Number(db.pragma('page_count', { simple: true })) - Number(db.pragma('freelist_count', { simple: true }));
      return pages * Number(db.pragma('page_size', { simple: true }));
    } finally {
      db.close();
    }
  }
  const client = new pg.Client({ connectionString: location });
  await client.connect();
  try {
    return Number((await client.query<{ n: string }>('SELECT pg_database_size(current_database()) AS n')).rows[0]!.n);
  } finally {
    await client.end();
  }
}

async function freshPostgresDatabase(server: PostgresServer, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: server.url });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${name}`);
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  return server.url.replace(/\/[^/]*$/, `/${name}`);
}

interface Line {
  bench: 'scale';
  store: 'sqlite' | 'postgres';
  users: number;
  audit_rows: number;
  seed_s: number;
  password_token_logins_per_s: number;
  challenge_logins_per_s: number;
  admin_search_p99_ms: number;
  audit_query_p99_ms: number;
  audit_query_p99_ms_by_filter: Record<string, number>;
  db_bytes_per_login: number;
  errors: number;
  /** Each interleaved round's rate, of which the medians above. */
  rounds: { password_token_logins_per_s: number[]; challenge_logins_per_s: number[] };
}

/** A seeded store of one size, served: what the interleaved rounds run against. */
interface Served {
  readonly users: number;
  readonly auditRows: number;
  readonly seedS: number;
  readonly location: string;
  readonly now: number;
  readonly verifier: Verifier;
  readonly url: string;
  close(): Promise<void>;
}

async function seedAndServe(store: 'sqlite' | 'postgres', location: string, dir: string, users: number, key: { pem: string; spki: Buffer }): Promise<Served> {
  const secret = ServerSecret.generate();
  const options = { database: location, secret, mail: { from: 'bench@localhost', transport: { kind: 'outbox' as const, dir: join(dir, 'outbox') } } };
  // Migrate, learn how the registry stores the card key, then close for the bulk load.
  let template: { key_type: string; algorithms: string };
  {
    await using verifier = await Verifier.open(options);
    await verifier.admin.create('bench', { username: 'template', email: 'template@example.test', password: PASSWORD });
    const enrolled = await verifier.credentials.enroll('bench', { username: 'template', publicKey: key.spki });
    template = { key_type: enrolled.keyType, algorithms: enrolled.algorithms.join(' ') };
    await verifier.admin.delete('bench', 'template');
  }
  const now = Date.now();
  const spec: SeedSpec = {
    users,
    auditRows: users * AUDIT_PER_USER,
    passwordHash: await new PasswordHasher().hash(PASSWORD),
    tokenHash: hashSecurityToken(secret, TOKEN),
    spki: key.spki,
    keyType: template.key_type,
    algorithms: template.algorithms,
    now,
  };
  const seedStart = performance.now();
  await (store === 'sqlite' ? seedSqlite(location, spec) : seedPostgres(location, spec));
  const seedS = (performance.now() - seedStart) / 1000;
  if (!json) console.error(`${store} ${users.toLocaleString('en')} users, ${spec.auditRows.toLocaleString('en')} audit rows: seeded in ${seedS.toFixed(1)} s`);
  const verifier = await Verifier.open(options);
  const app = await buildVerifierServer(verifier);
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    users,
    auditRows: spec.auditRows,
    seedS,
    location,
    now,
    verifier,
    url,
    async close() {
      await app.close();
      await verifier.close();
    },
  };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

/**
 * Every size of one store, measured in interleaved rounds (1k, 100k, 1M, 1k, …) so that each size
 * sees the same moments of the shared machine's load; the median round of each is kept.
 */
async function measureAll(store: 'sqlite' | 'postgres', served: readonly Served[], key: { pem: string }): Promise<Line[]> {
  const load = (s: Served, mode: LoadSettings['mode'], seconds: number) => runLoad({ urls: [s.url], mode, users: s.users, seconds, callers: CALLERS, password: PASSWORD, token: TOKEN, keyPem: key.pem });
  // A short warm-up of each kind first: the first size must not pay for the JIT and the caches.
  for (const s of served) for (const mode of ['password', 'challenge'] as const) await load(s, mode, 1);
  const rates = new Map(served.map((s) => [s, { password: [] as number[], challenge: [] as number[], logins: 0, errors: 0, bytes: 0 }]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const s of served) {
      const r = rates.get(s)!;
      const before = await storeBytes(store, s.location);
      for (const mode of ['password', 'challenge'] as const) {
        const result = await load(s, mode, SECONDS);
        r[mode].push(result.ok / (result.ms / 1000));
        r.logins += result.ok;
        r.errors += result.errors;
      }
      r.bytes += (await storeBytes(store, s.location)) - before;
    }
  }
  // The queries' p99 too, in interleaved rounds; the median round of each kept.
  const queryRounds = new Map(served.map((s) => [s, [] as Array<Awaited<ReturnType<typeof queryP99>>>]));
  for (let round = 0; round < ROUNDS; round++) for (const s of served) queryRounds.get(s)!.push(await queryP99(s.verifier, s.users, s.now));
  const lines: Line[] = [];
  for (const s of served) {
    const r = rates.get(s)!;
    const measured = queryRounds.get(s)!;
    const queries = {
      search: median(measured.map((q) => q.search)),
      audit: Object.fromEntries(Object.keys(measured[0]!.audit).map((name) => [name, median(measured.map((q) => q.audit[name]!))])),
    };
    lines.push({
      bench: 'scale',
      store,
      users: s.users,
      audit_rows: s.auditRows,
      seed_s: round1(s.seedS),
      password_token_logins_per_s: round1(median(r.password)),
      challenge_logins_per_s: round1(median(r.challenge)),
      admin_search_p99_ms: queries.search,
      audit_query_p99_ms: Math.max(...Object.values(queries.audit)),
      audit_query_p99_ms_by_filter: queries.audit,
      db_bytes_per_login: Math.round(r.bytes / Math.max(1, r.logins)),
      errors: r.errors,
      rounds: { password_token_logins_per_s: r.password.map(Math.round), challenge_logins_per_s: r.challenge.map(Math.round) },
    });
  }
  return lines;
}

// `--chart-from FILE`: only the chart, drawn again from the JSON lines of an earlier run.
const chartFrom = option('--chart-from');
if (chartFrom) {
  writeFileSync(SVG, scaleChart(readFileSync(chartFrom, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Line)));
  console.error(`chart: ${SVG}`);
  process.exit(0);
}

const dir = mkdtempSync(join(tmpdir(), 'tokengate-bench-scale-'));
const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const key = { pem: pair.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), spki: pair.publicKey.export({ format: 'der', type: 'spki' }) };
const lines: Line[] = [];
let server: PostgresServer | undefined;
try {
  for (const store of STORES) {
    if (store === 'postgres') server = await startPostgres();
    const served: Served[] = [];
    try {
      for (const users of SIZES) {
        const location = store === 'sqlite' ? join(dir, `scale-${users}.sqlite`) : await freshPostgresDatabase(server!, `scale_${users}`);
        served.push(await seedAndServe(store, location, dir, users, key));
      }
      for (const line of await measureAll(store, served, key)) {
        lines.push(line);
        if (json) console.log(JSON.stringify(line));
        else
          console.log(
            `${store} ${line.users.toLocaleString('en')} users / ${line.audit_rows.toLocaleString('en')} audit rows (seeded in ${line.seed_s} s): password+token ${line.password_token_logins_per_s}/s, challenge ${line.challenge_logins_per_s}/s (medians of ${JSON.stringify(line.rounds)}), user search p99 ${line.admin_search_p99_ms} ms, audit p99 ${line.audit_query_p99_ms} ms ${JSON.stringify(line.audit_query_p99_ms_by_filter)}, ${line.db_bytes_per_login} bytes per login, errors ${line.errors}`,
          );
      }
    } finally {
      for (const s of served) await s.close();
      // Each store's files go once measured: a million users take gigabytes.
      for (const s of served) if (store === 'sqlite') for (const f of ['', '-wal', '-shm']) rmSync(`${s.location}${f}`, { force: true });
    }
    await server?.stop();
    server = undefined;
  }
  writeFileSync(SVG, scaleChart(lines));
  console.error(`chart: ${SVG}`);
} finally {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
}
