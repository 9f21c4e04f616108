// The load generator for bench/scale.ts and bench/faults.ts, in its own process: CALLERS callers
// log in over HTTP (undici, keep-alive) as users picked at random from the whole seeded
// population (`user<i>`, i < users; every seeded user shares one password, one security token and
// one card key), so each login reads rows from anywhere in the tables, as real traffic does.
// Settings come on stdin as one JSON line (the password, token and key are not for argv); it
// prints one JSON line { ok, errors, ms, p99_ms, answers, successes? } when done. With `timeline`,
// it also prints every `timeline` ms a line { t_ms, at, ok, answers } of that interval (bench:faults).
// With `record`, `successes` counts the 200 answers per user (to find them in the audit log), an
// answer that met a 503 or no answer is sent again (up to 3 times; every try is counted in
// `answers`), and such answers — and one in twenty others — are then replayed once more:
// `replays_accepted` counts replays answered 200.
import { createPrivateKey, sign, type KeyObject } from 'node:crypto';
import { createInterface } from 'node:readline';
import { Pool } from 'undici';

export interface LoadSettings {
  /** One URL, or several: caller i uses urls[i % urls.length]. */
  readonly urls: readonly string[];
  readonly mode: 'password' | 'challenge';
  readonly users: number;
  readonly seconds: number;
  readonly callers: number;
  readonly password: string;
  readonly token: string;
  /** PKCS#8 PEM of the card key every seeded credential holds (challenge mode). */
  readonly keyPem: string;
  /** Print a line per interval of this many ms. */
  readonly timeline?: number;
  /** A request not answered within this many ms counts as a hang (default 30 s). */
  readonly timeoutMs?: number;
  readonly record?: boolean;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const [line] = await (async () => {
  for await (const first of createInterface({ input: process.stdin })) return [first];
  return [''];
})();
const settings = JSON.parse(line!) as LoadSettings;
const key: KeyObject | undefined = settings.mode === 'challenge' ? createPrivateKey(settings.keyPem) : undefined;
const timeoutMs = settings.timeoutMs ?? 30_000;
const pools = settings.urls.map((url) => new Pool(url, { connections: Math.ceil(settings.callers / settings.urls.length), pipelining: 1, headersTimeout: timeoutMs, bodyTimeout: timeoutMs }));

async function post(pool: Pool, path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown>; retryAfter: string | undefined }> {
  const res = await pool.request({ path, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.body.text();
  const retry = res.headers['retry-after'];
  return { status: res.statusCode, json: text ? (JSON.parse(text) as Record<string, unknown>) : {}, retryAfter: typeof retry === 'string' ? retry : undefined };
}

let ok = 0;
let errors = 0;
const answers: Record<string, number> = {};
let interval = { ok: 0, answers: {} as Record<string, number> };
const latencies: number[] = [];
const successes: Record<string, number> = {};
let replaysAccepted = 0;
/** A 503 without Retry-After is counted apart: the promise is a 503 that says when to come back. */
let unavailableWithoutRetryAfter = 0;

function count(status: string): void {
  answers[status] = (answers[status] ?? 0) + 1;
  interval.answers[status] = (interval.answers[status] ?? 0) + 1;
}

/** One login; its answer's status ('timeout' or 'error' when there was none). */
async function login(pool: Pool): Promise<string> {
  const username = `user${Math.floor(Math.random() * settings.users)}`;
  if (settings.mode === 'password') {
    const res = await post(pool, '/v1/login', { username, password: settings.password + settings.token });
    if (res.status === 503 && !res.retryAfter) unavailableWithoutRetryAfter++;
    return String(res.status);
  }
  const credential = { id: `c${username.slice(4)}` };
  const issued = await post(pool, '/v1/challenges', { username, credential, purpose: 'login' });
  if (issued.status !== 201) {
    if (issued.status === 503 && !issued.retryAfter) unavailableWithoutRetryAfter++;
    return String(issued.status);
  }
  const challengeId = issued.json.challengeId as string;
  const signature = sign('sha256', Buffer.from(issued.json.message as string, 'base64'), { key: key!, dsaEncoding: 'ieee-p1363' });
  const body = { username, purpose: 'login', signature: signature.toString('base64'), algorithm: 'ECDSA-SHA256' };
  const answer = () => post(pool, `/v1/challenges/${challengeId}/response`, body).catch(() => ({ status: 0, json: {}, retryAfter: undefined }));
  let answered = await answer();
  let troubled = false;
  for (let retry = 0; settings.record && retry < 3 && (answered.status === 503 || answered.status === 0); retry++) {
    if (answered.status === 503 && !answered.retryAfter) unavailableWithoutRetryAfter++;
    // Counted too: the answer given is what matters, not only the last of the tries.
    count(answered.status === 0 ? 'error' : '503');
    troubled = true;
    await sleep(200);
    answered = await answer();
  }
  if (answered.status === 503 && !answered.retryAfter) unavailableWithoutRetryAfter++;
  if (answered.status === 0) throw new Error('no answer');
  if (answered.status === 200 && settings.record) {
    successes[username] = (successes[username] ?? 0) + 1;
    // The same answer again must be refused: the challenge was consumed once.
    if (troubled || Math.random() < 0.05) if ((await answer()).status === 200) replaysAccepted++;
  }
  return String(answered.status);
}

const start = Date.now();
let until = start + settings.seconds * 1000;
// SIGINT ends the run early: the callers finish their logins in flight and the result is printed.
process.on('SIGINT', () => (until = 0));
const ticker = settings.timeline
  ? setInterval(() => {
      console.log(JSON.stringify({ t_ms: Date.now() - start, at: Date.now(), ...interval }));
      interval = { ok: 0, answers: {} };
    }, settings.timeline)
  : undefined;
await Promise.all(
  Array.from({ length: settings.callers }, async (_, caller) => {
    const pool = pools[caller % pools.length]!;
    while (Date.now() < until) {
      const t = performance.now();
      let status: string;
      try {
        status = await login(pool);
      } catch (err) {
        status = (err as { code?: string }).code === 'UND_ERR_HEADERS_TIMEOUT' || (err as { code?: string }).code === 'UND_ERR_BODY_TIMEOUT' ? 'timeout' : 'error';
      }
      latencies.push(performance.now() - t);
      count(status);
      if (status === '200') {
        ok++;
        interval.ok++;
      } else {
        errors++;
        // A refused connection answers at once: do not spin on it.
        if (status === 'error') await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }),
);
if (ticker) clearInterval(ticker);
const ms = Date.now() - start;
await Promise.all(pools.map((p) => p.close()));
latencies.sort((a, b) => a - b);
console.log(JSON.stringify({ ok, errors, ms, p99_ms: latencies[Math.floor(latencies.length * 0.99)] ?? 0, max_ms: latencies.at(-1) ?? 0, answers, unavailable_without_retry_after: unavailableWithoutRetryAfter, ...(settings.record ? { successes, replays_accepted: replaysAccepted } : {}) }));
