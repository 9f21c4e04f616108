// The load generator for bench/challenges.ts, in its own process: each caller owns a P-256 key
// (node:crypto) enrolled for its own user, and loops challenge → sign → response over HTTP
// (keep-alive, one connection each). Prints its public keys first (one JSON line); then, for each
// round line on stdin ({ url, credentials, seconds }), runs and prints { ok, errors, ms, p99_ms,
// cpu_ms }. Ends with stdin.
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { createInterface } from 'node:readline';
import { Pool } from 'undici';

interface Round {
  readonly url: string;
  readonly credentials: readonly string[];
  readonly seconds: number;
}

const callers = Number(process.argv[2]);
const keys: KeyObject[] = [];
const spkis: string[] = [];
for (let i = 0; i < callers; i++) {
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  keys.push(pair.privateKey);
  spkis.push(pair.publicKey.export({ format: 'der', type: 'spki' }).toString('base64'));
}
console.log(JSON.stringify({ spkis }));

async function round({ url, credentials, seconds }: Round): Promise<Record<string, number>> {
  // undici rather than node:http's client: the load generator shares the machine's two cores
  // with the server, and node:http's client costs about twice the CPU per request.
  const pool = new Pool(url, { connections: callers, pipelining: 1 });
  const post = async (path: string, body: unknown) => {
    const res = await pool.request({ path, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
  };
  const cpuBefore = process.cpuUsage();
  const start = Date.now();
  const until = start + seconds * 1000;
  let ok = 0;
  let errors = 0;
  const latencies: number[] = [];
  await Promise.all(
    keys.map(async (key, i) => {
      const username = `user${i}`;
      const credential = { id: credentials[i]! };
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
  const ms = Date.now() - start;
  await pool.close();
  latencies.sort((a, b) => a - b);
  return { ok, errors, ms, p99_ms: latencies[Math.floor(latencies.length * 0.99)] ?? 0, cpu_ms: (cpu.user + cpu.system) / 1000 };
}

for await (const line of createInterface({ input: process.stdin })) console.log(JSON.stringify(await round(JSON.parse(line) as Round)));
