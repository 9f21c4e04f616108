// The load generator for bench/challenges.ts, in its own process: each caller owns a P-256 key
// (node:crypto) enrolled for its own user, and loops challenge → sign → response over HTTP.
// Prints its public keys first (one JSON line), waits for "go" on stdin, then runs and prints
// { ok, errors, ms, p99_ms, cpu_ms }.
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { createInterface } from 'node:readline';
import { Pool } from 'undici';

const [url, seconds, callers] = process.argv.slice(2) as [string, string, string];
// undici rather than node:http's client: the load generator shares the machine's two cores with
// the server, and node:http's client costs about twice the CPU per request.
const pool = new Pool(url, { connections: Number(callers), pipelining: 1 });
const keys: KeyObject[] = [];
const spkis: string[] = [];
for (let i = 0; i < Number(callers); i++) {
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  keys.push(pair.privateKey);
  spkis.push(pair.publicKey.export({ format: 'der', type: 'spki' }).toString('base64'));
}
console.log(JSON.stringify({ spkis }));

async function post(path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await pool.request({ path, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
}

const go = await new Promise<{ credentials: string[] }>((resolve) => createInterface({ input: process.stdin }).once('line', (line) => resolve(JSON.parse(line) as { credentials: string[] })));
const cpuBefore = process.cpuUsage();
const start = Date.now();
const until = start + Number(seconds) * 1000;
let ok = 0;
let errors = 0;
const latencies: number[] = [];
await Promise.all(
  keys.map(async (key, i) => {
    const username = `user${i}`;
    const credential = { id: go.credentials[i]! };
    while (Date.now() < until) {
      const t = performance.now();
      try {
        const issued = await post('/v1/challenges', { username, credential, purpose: 'login' });
        if (issued.status !== 201) throw new Error(String(issued.status));
        const signature = sign('sha256', Buffer.from(issued.json.message as string, 'base64'), { key, dsaEncoding: 'ieee-p1363' });
        const answered = await post(`/v1/challenges/${issued.json.challengeId as string}/response`, { username, purpose: 'login', signature: signature.toString('base64'), algorithm: 'ECDSA-SHA256' });
        if (answered.status === 200) ok++;
        else errors++;
      } catch {
        errors++;
      }
      latencies.push(performance.now() - t);
    }
  }),
);
const cpu = process.cpuUsage(cpuBefore);
latencies.sort((a, b) => a - b);
await pool.close();
console.log(JSON.stringify({ ok, errors, ms: Date.now() - start, p99_ms: latencies[Math.floor(latencies.length * 0.99)] ?? 0, cpu_ms: (cpu.user + cpu.system) / 1000 }));
process.exit(0);
