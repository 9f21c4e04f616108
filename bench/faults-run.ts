// Faults under load, for bench:faults and test/verifier-faults.test.ts: two verifier instances
// (bench/faults-instance.ts, processes of their own) share a private PostgreSQL seeded with users
// who each hold a card; challenge logins run against both (bench/scale-load.ts) and token resets
// queue mail to a real SMTP peer while one fault is made: PostgreSQL restarted (fast shutdown,
// started again), or one instance killed with SIGKILL and started again. Afterwards: what every
// request was answered, how long answers were not all 200s, how long throughput took to come back
// to 0.9 of before, replays accepted (a challenge consumed twice), logins answered 200 that the
// audit log lacks, and queued mails never delivered or delivered twice.
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { freePort, startPostgres, type PostgresServer } from '../native-fixtures/postgres/server.js';
import { PasswordHasher } from '../src/verifier/accounts/passwords.js';
import { hashSecurityToken } from '../src/verifier/accounts/security-token.js';
import { ServerSecret } from '../src/verifier/server-secret.js';
import { Verifier } from '../src/verifier/verifier.js';
import { startSmtpPeer, type SmtpPeer } from '../test/helpers/smtp.js';
import type { InstanceSettings } from './faults-instance.js';
import { runLoad } from './load-runner.js';
import { seedPostgres } from './scale-seed.js';

export type FaultKind = 'postgres-restart' | 'instance-kill';

export interface FaultOptions {
  readonly users: number;
  readonly callers: number;
  /** Seconds of load before the fault, and after it ends. */
  readonly beforeS: number;
  readonly afterS: number;
  /** Token resets (each a queued mail) per second during the run. */
  readonly mailsPerS: number;
}

export interface FaultResult {
  readonly bench: 'faults';
  readonly fault: FaultKind;
  readonly outage_s: number;
  readonly answers: Record<string, number>;
  readonly recovery_s: number | null;
  readonly double_consumes: number;
  readonly lost_logins: number;
  readonly lost_mails: number;
  readonly duplicate_mails: number;
  readonly unavailable_without_retry_after: number;
  readonly slowest_answer_ms: number;
  readonly baseline_logins_per_s: number;
}

const TICK_MS = 250;
/** The promise: throughput back to 0.9 of before within this many seconds of the fault's end. */
export const RECOVERY_LIMIT_S = 10;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One verifier process; `start` waits until it listens. */
class Instance {
  #child: ChildProcess | undefined;
  constructor(private readonly settings: InstanceSettings) {}

  get url(): string {
    return `http://127.0.0.1:${this.settings.port}`;
  }

  async start(): Promise<void> {
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./faults-instance.ts', import.meta.url))], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.#child = child;
    child.stdin.end(`${JSON.stringify(this.settings)}\n`);
    const lines = createInterface({ input: child.stdout });
    const exited = once(child, 'exit').then(() => Promise.reject(new Error('verifier instance exited during start-up')));
    await Promise.race([once(lines, 'line'), exited]);
    exited.catch(() => undefined);
  }

  async kill(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}

export class FaultRig {
  private constructor(
    readonly server: PostgresServer,
    readonly smtp: SmtpPeer,
    readonly instances: readonly [Instance, Instance],
    private readonly apiKey: string,
    private readonly key: { pem: string },
    private readonly secrets: { password: string; token: string },
    private readonly options: FaultOptions,
  ) {}

  static async start(options: FaultOptions): Promise<FaultRig> {
    const server = await startPostgres();
    const smtp = await startSmtpPeer();
    try {
      const secretHex = randomBytes(32).toString('hex');
      const secret = ServerSecret.from(Buffer.from(secretHex, 'hex'));
      const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const spki = pair.publicKey.export({ format: 'der', type: 'spki' });
      const password = 'correct horse battery staple';
      const token = 'FaultsToken0123456789abc';
      let apiKey: string;
      let template: { keyType: string; algorithms: string };
      {
        // Migrates, makes the admin key the mail load uses, and shows how a card key is stored.
        await using verifier = await Verifier.open({ database: server.url, secret, mail: { from: 'faults@localhost', transport: { kind: 'smtp', host: '127.0.0.1', port: smtp.port } } });
        apiKey = (await verifier.apiKeys.create('bench', 'faults', ['admin'])).key;
        await verifier.admin.create('bench', { username: 'template', email: 'template@example.test', password });
        const enrolled = await verifier.credentials.enroll('bench', { username: 'template', publicKey: spki });
        template = { keyType: enrolled.keyType, algorithms: enrolled.algorithms.join(' ') };
        await verifier.admin.delete('bench', 'template');
      }
      await seedPostgres(server.url, {
        users: options.users,
        auditRows: options.users,
        passwordHash: await new PasswordHasher().hash(password),
        tokenHash: hashSecurityToken(secret, token),
        spki,
        keyType: template.keyType,
        algorithms: template.algorithms,
        now: Date.now(),
      });
      const instances = [
        new Instance({ database: server.url, secretHex, smtpPort: smtp.port, port: await freePort() }),
        new Instance({ database: server.url, secretHex, smtpPort: smtp.port, port: await freePort() }),
      ] as const;
      await Promise.all(instances.map((i) => i.start()));
      return new FaultRig(server, smtp, instances, apiKey, { pem: pair.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString() }, { password, token }, options);
    } catch (err) {
      await smtp.stop();
      await server.stop();
      throw err;
    }
  }

  async #query<T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> {
    const client = new pg.Client({ connectionString: this.server.url });
    await client.connect();
    try {
      return (await client.query<T>(sql, params)).rows;
    } finally {
      await client.end();
    }
  }

  /** Token resets through the admin API, alternating instances, until `stop` resolves. */
  async #mailLoad(stop: Promise<unknown>): Promise<void> {
    let done = false;
    void stop.then(() => (done = true));
    for (let n = 0; !done; n++) {
      const instance = this.instances[n % 2]!;
      const user = `user${n % this.options.users}`;
      await fetch(`${instance.url}/v1/admin/users/${user}/security-tokens`, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: `m${n}` }),
        signal: AbortSignal.timeout(10_000),
      }).catch(() => undefined);
      await sleep(1000 / this.options.mailsPerS);
    }
  }

  async run(fault: FaultKind): Promise<FaultResult> {
    const { beforeS, afterS, callers, users } = this.options;
    const started = Date.now();
    // Ticks on this process's clock, from `started` (the load generator's own start is later).
    const ticks: Array<{ t_ms: number; ok: number; answers: Record<string, number> }> = [];
    let firstTick: () => void = () => undefined;
    const loadRunning = new Promise<void>((resolve) => (firstTick = resolve));
    let baselineFrom = 0;
    let faultStart = 0;
    let faultEnd = 0;
    // The load goes on, however long the fault takes (a minute at most), for afterS after the
    // fault's end and then until the rate is back — or, when it is not, until a recovery within
    // the promised RECOVERY_LIMIT_S could no longer be seen. A process started again is cold (its
    // JIT, its connections) and may take seconds to reach 0.9 of a warm rate; a shorter watch
    // took that for never.
    const seconds = beforeS + afterS + RECOVERY_LIMIT_S + 60;
    let stopNow: () => void = () => undefined;
    const stopLoad = new Promise<void>((resolve) => (stopNow = resolve));
    const load = runLoad(
      { urls: this.instances.map((i) => i.url), mode: 'challenge', users, seconds, callers, password: this.secrets.password, token: this.secrets.token, keyPem: this.key.pem, timeline: TICK_MS, timeoutMs: 15_000, record: true },
      (line) => {
        const tick = line as { at: number; ok: number; answers: Record<string, number> };
        ticks.push({ t_ms: tick.at - started, ok: tick.ok, answers: tick.answers });
        firstTick();
        if (faultEnd === 0) return;
        const sinceEnd = tick.at - started - faultEnd;
        const recovered = () => this.#timing(ticks, baselineFrom, faultStart, faultEnd).recovery_s !== null;
        if (sinceEnd >= afterS * 1000 && (sinceEnd >= (RECOVERY_LIMIT_S + 1) * 1000 + TICK_MS || recovered())) stopNow();
      },
      stopLoad,
    );
    const mails = this.#mailLoad(load);
    await Promise.race([loadRunning, load]);
    baselineFrom = Date.now() - started;
    await sleep(beforeS * 1000);
    faultStart = Date.now() - started;
    if (fault === 'postgres-restart') await this.server.restart();
    else {
      await this.instances[0].kill();
      await sleep(500);
      await this.instances[0].start();
    }
    faultEnd = Date.now() - started;
    const result = (await load) as unknown as { answers: Record<string, number>; successes: Record<string, number>; replays_accepted: number; unavailable_without_retry_after: number; max_ms: number };
    await mails;
    return {
      bench: 'faults',
      fault,
      ...this.#timing(ticks, baselineFrom, faultStart, faultEnd),
      answers: result.answers,
      double_consumes: result.replays_accepted,
      lost_logins: await this.#lostLogins(started, result.successes),
      ...(await this.#mailOutcome(started)),
      unavailable_without_retry_after: result.unavailable_without_retry_after,
      slowest_answer_ms: Math.round(result.max_ms),
    };
  }

  /** Outage: from the first interval with an answer other than 200 to the end of the last; recovery: from the fault's end until a second at ≥ 0.9 of the rate before (its median interval). */
  #timing(ticks: ReadonlyArray<{ t_ms: number; ok: number; answers: Record<string, number> }>, baselineFrom: number, faultStart: number, faultEnd: number) {
    const perS = (tick: { ok: number }) => (tick.ok * 1000) / TICK_MS;
    // The first half second of load is its warm-up.
    const before = ticks.filter((t) => t.t_ms > baselineFrom + 500 && t.t_ms <= faultStart);
    // The median interval, not the mean: on two shared cores one fast burst before the fault would
    // otherwise set a bar that the same steady rate cannot reach after it.
    const beforeRates = before.map(perS).sort((a, b) => a - b);
    const baseline = beforeRates.length ? beforeRates[Math.floor(beforeRates.length / 2)]! : 0;
    const troubled = ticks.filter((t) => t.t_ms > faultStart && Object.keys(t.answers).some((status) => status !== '200'));
    const outage = troubled.length ? (troubled.at(-1)!.t_ms - (troubled[0]!.t_ms - TICK_MS)) / 1000 : 0;
    const window = 1000 / TICK_MS;
    let recovery: number | null = null;
    for (let i = 0; i + window <= ticks.length; i++) {
      if (ticks[i]!.t_ms - TICK_MS < faultEnd) continue;
      const rate = ticks.slice(i, i + window).reduce((n, t) => n + perS(t), 0) / window;
      if (rate >= 0.9 * baseline) {
        recovery = Math.max(0, ticks[i]!.t_ms - TICK_MS - faultEnd) / 1000;
        break;
      }
    }
    return { outage_s: Math.round(outage * 100) / 100, recovery_s: recovery === null ? null : Math.round(recovery * 100) / 100, baseline_logins_per_s: Math.round(baseline) };
  }

  /** Logins answered 200 whose success the audit log does not have, per user. */
  async #lostLogins(since: number, successes: Record<string, number>): Promise<number> {
    const rows = await this.#query<{ subject: string; n: string }>(
      "SELECT subject, COUNT(*) AS n FROM audit_log WHERE action = 'challenge.login' AND result = 'success' AND at >= $1 GROUP BY subject",
      [since - 1000],
    );
    const audited = new Map(rows.map((r) => [r.subject, Number(r.n)]));
    return Object.entries(successes).reduce((lost, [user, n]) => lost + Math.max(0, n - (audited.get(user) ?? 0)), 0);
  }

  /** Mails queued since `since`: waits until every one was sent (30 s at most), then compares with what the SMTP peer received. */
  async #mailOutcome(since: number): Promise<{ lost_mails: number; duplicate_mails: number }> {
    const deadline = Date.now() + 30_000;
    while ((await this.#query<{ n: string }>('SELECT COUNT(*) AS n FROM mail_outbox WHERE sent_at IS NULL'))[0]!.n !== '0' && Date.now() < deadline) await sleep(250);
    // A mail recorded as sent may still be on its way into the peer's parser.
    await sleep(500);
    const queued = await this.#query<{ id: string }>('SELECT id FROM mail_outbox WHERE created_at >= $1', [since - 1000]);
    const received = new Map<string, number>();
    for (const mail of this.smtp.received) received.set(mail.messageId, (received.get(mail.messageId) ?? 0) + 1);
    let lost = 0;
    let duplicates = 0;
    for (const { id } of queued) {
      const n = received.get(`<${id}@tokengate>`) ?? 0;
      if (n === 0) lost++;
      if (n > 1) duplicates += n - 1;
    }
    return { lost_mails: lost, duplicate_mails: duplicates };
  }

  async stop(): Promise<void> {
    await Promise.all(this.instances.map((i) => i.stop()));
    await this.smtp.stop();
    await this.server.stop();
  }
}
