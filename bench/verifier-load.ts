// The load generator for bench/verifier.ts, in its own process so it does not share the
// server's event loop: CONCURRENCY callers log in over HTTP for the given time, then it prints
// one JSON line { ok, errors, ms, latencies_ms_p99, cpu_ms }. Arguments: URL, a JSON array of
// request bodies, seconds, callers.
// Its CPU comes out of the same two cores the server hashes on (the issue counts it in "the rest"
// that must stay under a tenth of the hash), so it is kept lean: one keep-alive socket per caller
// writing a request prepared once, and reading only what it needs of each answer — the status and
// Content-Length — where node:http's client costs several times that per request.
import { connect, type Socket } from 'node:net';

const [url, bodiesJson, seconds, concurrency] = process.argv.slice(2) as [string, string, string, string];
const target = new URL(url);
const HEADER_END = Buffer.from('\r\n\r\n');

/** The whole request, bytes ready to write: caller i logs in as user i (modulo the users given). */
const requests = (JSON.parse(bodiesJson) as string[]).map((body) => {
  const payload = Buffer.from(body);
  const head = `POST ${target.pathname} HTTP/1.1\r\nHost: ${target.host}\r\nContent-Type: application/json\r\nContent-Length: ${payload.length}\r\nConnection: keep-alive\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), payload]);
});

/** One caller's connection: sends a request, resolves with the answer's status once its body is in. */
class Caller {
  readonly #socket: Socket;
  #buffer: Buffer = Buffer.alloc(0);
  #waiting: { resolve(status: number): void; reject(err: Error): void } | undefined;

  constructor() {
    this.#socket = connect({ host: target.hostname, port: Number(target.port), noDelay: true });
    this.#socket.on('data', (chunk: Buffer) => {
      this.#buffer = this.#buffer.length ? Buffer.concat([this.#buffer, chunk]) : chunk;
      this.#parse();
    });
    this.#socket.on('error', (err) => this.#fail(err));
    this.#socket.on('close', () => this.#fail(new Error('connection closed')));
  }

  send(request: Buffer): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject };
      this.#socket.write(request);
    });
  }

  close(): void {
    this.#socket.destroy();
  }

  #parse(): void {
    const end = this.#buffer.indexOf(HEADER_END);
    if (end < 0 || !this.#waiting) return;
    const head = this.#buffer.toString('latin1', 0, end);
    const status = Number(head.slice(9, 12));
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
    const total = end + HEADER_END.length + length;
    if (this.#buffer.length < total) return;
    this.#buffer = this.#buffer.subarray(total);
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting.resolve(status);
  }

  #fail(err: Error): void {
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.reject(err);
  }
}

const cpuBefore = process.cpuUsage();
const start = Date.now();
const until = start + Number(seconds) * 1000;
let ok = 0;
let errors = 0;
const latencies: number[] = [];
const callers: Caller[] = [];
await Promise.all(
  Array.from({ length: Number(concurrency) }, async (_, i) => {
    const request = requests[i % requests.length]!;
    let caller = new Caller();
    callers.push(caller);
    while (Date.now() < until) {
      const t = performance.now();
      try {
        if ((await caller.send(request)) === 200) ok++;
        else errors++;
      } catch {
        errors++;
        caller.close();
        callers.push((caller = new Caller()));
      }
      latencies.push(performance.now() - t);
    }
  }),
);
const cpu = process.cpuUsage(cpuBefore);
for (const caller of callers) caller.close();
latencies.sort((a, b) => a - b);
console.log(JSON.stringify({ ok, errors, ms: Date.now() - start, latencies_ms_p99: latencies[Math.floor(latencies.length * 0.99)] ?? 0, cpu_ms: (cpu.user + cpu.system) / 1000 }));
