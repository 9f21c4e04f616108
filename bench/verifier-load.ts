// The load generator for bench/verifier.ts, in its own process so it does not share the
// server's event loop: CONCURRENCY callers log in over HTTP for the given time, then it prints
// one JSON line { ok, errors, ms, latencies_ms_p99, cpu_ms }. Arguments: URL, a JSON array of
// request bodies, seconds, callers. node:http with keep-alive: the
// client's own CPU comes out of the same two cores the server hashes on, so it is kept lean.
import { Agent, request } from 'node:http';

const [url, bodiesJson, seconds, concurrency] = process.argv.slice(2) as [string, string, string, string];
// Caller i logs in as user i (modulo the users given).
const payloads = (JSON.parse(bodiesJson) as string[]).map((b) => Buffer.from(b));
const target = new URL(url);
const agent = new Agent({ keepAlive: true, maxSockets: Number(concurrency) });

function login(payload: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: target.hostname, port: target.port, path: target.pathname, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': payload.length } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const cpuBefore = process.cpuUsage();
const start = Date.now();
const until = start + Number(seconds) * 1000;
let ok = 0;
let errors = 0;
const latencies: number[] = [];
await Promise.all(
  Array.from({ length: Number(concurrency) }, async (_, caller) => {
    const payload = payloads[caller % payloads.length]!;
    while (Date.now() < until) {
      const t = performance.now();
      try {
        if ((await login(payload)) === 200) ok++;
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
agent.destroy();
console.log(JSON.stringify({ ok, errors, ms: Date.now() - start, latencies_ms_p99: latencies[Math.floor(latencies.length * 0.99)] ?? 0, cpu_ms: (cpu.user + cpu.system) / 1000 }));
