// FIDO2 benchmark: getAssertion round trips through the UDP simulator by tokengate's SecurityKey
// and by python-fido2 0.9.1, in the same run, on the same simulated key. `npm run bench:fido --
// --json` prints one JSON object (and nothing else on stdout); without --json, a table.
//
// What is timed is "PIN token reused, no touch wait": one unlock, then signChallenge with
// userPresence false, which a CTAP 2.1 key answers without a touch and without clearing the
// token's permissions (§6.2.2 step 9); every answer must have UV set and UP clear. The key holds
// one PIN token for all its clients, so each client gets a fresh one before each of its rounds,
// outside the timed window.
//
// The simulator runs in a process of its own (native-fixtures/fido/main.ts), so its CPU is not our
// client's and it does not share our event loop; python-fido2 runs in a process started once
// (bench/fido_python_peer.py) that times its rounds itself, driven over stdin/stdout. The clients
// take turns: ROUNDS rounds of ROUND_MS each, the order swapped every round; figures are medians of
// the rounds with min and max. Our CPU per assertion is process.cpuUsage() over our rounds ÷ our
// assertions; the event-loop p99 is the worst of our rounds', next to the worst of our idle loop's
// during python-fido2's rounds (the machine's own noise).
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes, verify } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type * as Tokengate from '../src/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const json = process.argv.includes('--json');
// --dist measures the compiled library (npm run build first) instead of the TypeScript sources:
// tsx compiles with esbuild's keepNames, which costs a little wherever a named closure is created
// per call, so the sources run a little slower than what users get.
const dist = process.argv.includes('--dist');
const { SecurityKey } = (await import(dist ? '../dist/index.js' : '../src/index.js')) as typeof Tokengate;
const ROUNDS = numberArg('--rounds', 5);
const ROUND_MS = numberArg('--round-ms', 1000);
const WARMUP_MS = 1000;
const PIN = '2468-bench';
const RP = 'bench.example.com';
const CLK_TCK = 100; // Linux's USER_HZ, the unit of /proc/PID/stat's utime and stime

const progress = (text: string): void => void process.stderr.write(`${text}\n`);
const challenges = Array.from({ length: 256 }, () => randomBytes(32));

function numberArg(flag: string, fallback: number): number {
  const at = process.argv.indexOf(flag);
  if (at < 0) return fallback;
  const value = Number(process.argv[at + 1]);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${flag} wants a whole number`);
  return value;
}

/** Waits for the next line of `lines`, or fails if `child` exits first. */
function nextLine(lines: Interface, child: ChildProcess, who: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`${who} exited (${code}) before answering`));
    child.once('exit', onExit);
    lines.once('line', (line) => {
      child.off('exit', onExit);
      resolve(line);
    });
  });
}

/** CPU seconds (user + system) the process `pid` has used so far, from /proc. */
function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime, stime
}

// The simulator, on its own.
const sim = spawn(process.execPath, ['--import', 'tsx', 'native-fixtures/fido/main.ts', '--udp', '127.0.0.1:0'], {
  cwd: root,
  env: { ...process.env, FIDO_SIM_PIN: PIN },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const simLines = createInterface({ input: sim.stdout! });
const listening = /udp:127\.0\.0\.1:(\d+)/.exec(await nextLine(simLines, sim, 'fido-sim'));
if (!listening) throw new Error('fido-sim did not say where it listens');
const port = Number(listening[1]);
let python: ChildProcess | undefined;

try {
  // Our client: unlocked once, one credential, then unlocked again for the silent assertions.
  const key = await SecurityKey.open(`udp:127.0.0.1:${port}`);
  await key.unlock(PIN, { rpId: RP });
  const credential = await key.enroll({ rpId: RP, user: { id: 'bench-user' } });
  const credentialIds = [credential.credentialId];
  const sign = (i: number) => key.signChallenge({ rpId: RP, challenge: challenges[i & 255]!, credentialIds, userPresence: false });
  const checked = (a: Tokengate.FidoAssertion): void => {
    if (!a.userVerified || a.userPresent) throw new Error('tokengate: an assertion without UV or with UP: the PIN token was not used as it should be');
  };
  await key.unlock(PIN, { rpId: RP });
  const first = await sign(0);
  checked(first);
  const signed = Buffer.concat([first.authenticatorData, createHash('sha256').update(first.clientDataJSON).digest()]);
  if (!verify('sha256', signed, credential.publicKey, first.signature)) throw new Error('tokengate: the assertion does not verify');

  // python-fido2, started once, told the credential.
  python = spawn('/usr/bin/python3', [join(root, 'bench/fido_python_peer.py'), String(port), RP, Buffer.from(credential.credentialId).toString('hex')], {
    env: { ...process.env, FIDO_SIM_PIN: PIN },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const pyLines = createInterface({ input: python.stdout! });
  if (!JSON.parse(await nextLine(pyLines, python, 'the python-fido2 peer')).ready) throw new Error('the python-fido2 peer is not ready');

  interface Window {
    count: number;
    seconds: number;
    cpuSeconds: number;
    simCpuSeconds: number;
  }

  /**
   * Event-loop delay (p99 and max, ms) of each timed round of ours, and, as the control, of our
   * idle loop during python-fido2's rounds: what the machine's other load does to a loop that has
   * nothing to do.
   */
  const loopDelays: Array<{ p99: number; max: number }> = [];
  const idleLoopDelays: Array<{ p99: number; max: number }> = [];

  async function libRound(ms: number, timed: boolean): Promise<Window> {
    await key.unlock(PIN, { rpId: RP }); // python-fido2 took the key's token over meanwhile
    const sim0 = processCpuSeconds(sim.pid!);
    // A monitor per round: one re-enabled after a pause records the pause as one long delay.
    const delay = timed ? monitorEventLoopDelay({ resolution: 1 }) : undefined;
    delay?.enable();
    const cpu0 = process.cpuUsage();
    const start = performance.now();
    const end = start + ms;
    let count = 0;
    while (performance.now() < end) checked(await sign(count++));
    const seconds = (performance.now() - start) / 1000;
    const cpu = process.cpuUsage(cpu0);
    if (delay) {
      delay.disable();
      loopDelays.push({ p99: delay.percentile(99) / 1e6, max: delay.max / 1e6 });
    }
    return { count, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, simCpuSeconds: processCpuSeconds(sim.pid!) - sim0 };
  }

  async function pythonRound(ms: number, timed: boolean): Promise<Window> {
    const sim0 = processCpuSeconds(sim.pid!);
    const answer = nextLine(pyLines, python!, 'the python-fido2 peer');
    python!.stdin!.write(`${JSON.stringify({ round_ms: ms })}\n`);
    const idle = timed ? monitorEventLoopDelay({ resolution: 1 }) : undefined;
    idle?.enable();
    const r = JSON.parse(await answer) as { count: number; elapsed_s: number; cpu_s: number };
    if (idle) {
      idle.disable();
      idleLoopDelays.push({ p99: idle.percentile(99) / 1e6, max: idle.max / 1e6 });
    }
    return { count: r.count, seconds: r.elapsed_s, cpuSeconds: r.cpu_s, simCpuSeconds: processCpuSeconds(sim.pid!) - sim0 };
  }

  progress(`warm-up: ${WARMUP_MS} ms each`);
  await libRound(WARMUP_MS, false);
  await pythonRound(WARMUP_MS, false);

  const lib: Window[] = [];
  const py: Window[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const libFirst = round % 2 === 1;
    progress(`round ${round}/${ROUNDS}: ${libFirst ? 'tokengate, python-fido2' : 'python-fido2, tokengate'} (${ROUND_MS} ms each)`);
    if (libFirst) lib.push(await libRound(ROUND_MS, true));
    py.push(await pythonRound(ROUND_MS, true));
    if (!libFirst) lib.push(await libRound(ROUND_MS, true));
  }
  python.stdin!.write(`${JSON.stringify({ quit: true })}\n`);
  await key.close();

  const rates = (ws: Window[]) => ws.map((w) => w.count / w.seconds);
  const perAssertionUs = (ws: Window[], pick: (w: Window) => number) =>
    (ws.reduce((s, w) => s + pick(w), 0) / ws.reduce((s, w) => s + w.count, 0)) * 1e6;
  const libRates = rates(lib);
  const pyRates = rates(py);
  const result = {
    lib_per_s: Math.round(median(libRates)),
    python_fido2_per_s: Math.round(median(pyRates)),
    lib_vs_python_fido2: round(median(libRates) / median(pyRates), 3),
    lib_per_s_min: Math.round(Math.min(...libRates)),
    lib_per_s_max: Math.round(Math.max(...libRates)),
    python_fido2_per_s_min: Math.round(Math.min(...pyRates)),
    python_fido2_per_s_max: Math.round(Math.max(...pyRates)),
    lib_per_s_rounds: libRates.map((r) => Math.round(r)),
    python_fido2_per_s_rounds: pyRates.map((r) => Math.round(r)),
    lib_cpu_us_per_assertion: round(perAssertionUs(lib, (w) => w.cpuSeconds), 1),
    python_fido2_cpu_us_per_assertion: round(perAssertionUs(py, (w) => w.cpuSeconds), 1),
    // The simulator's CPU while each client ran (from /proc, 10 ms ticks): the same work for both.
    sim_cpu_us_per_assertion_lib: round(perAssertionUs(lib, (w) => w.simCpuSeconds), 1),
    sim_cpu_us_per_assertion_python_fido2: round(perAssertionUs(py, (w) => w.simCpuSeconds), 1),
    // The worst round's. Node records whole timer intervals, so with a 1 ms resolution an idle
    // loop already reads about 1.1 ms: the figure is conservative.
    event_loop_p99_ms: round(Math.max(...loopDelays.map((d) => d.p99)), 2),
    event_loop_max_ms: round(Math.max(...loopDelays.map((d) => d.max)), 2),
    event_loop_idle_p99_ms: round(Math.max(...idleLoopDelays.map((d) => d.p99)), 2),
    lib_assertions: lib.reduce((s, w) => s + w.count, 0),
    python_fido2_assertions: py.reduce((s, w) => s + w.count, 0),
    rounds: ROUNDS,
    round_ms: ROUND_MS,
    pin_protocol: key.pinProtocol,
    lib_build: dist ? 'dist' : 'src',
  };
  if (json) console.log(JSON.stringify(result));
  else printTable(result);
} finally {
  python?.stdin?.end();
  python?.kill('SIGTERM');
  sim.kill('SIGTERM');
  await once(sim, 'exit');
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

function printTable(r: Record<string, unknown> & { rounds: number; round_ms: number; lib_build: string }): void {
  const rows: Array<[string, string, string, string, string, string]> = [
    ['client', 'assertions/s', 'min', 'max', 'client CPU µs/a', 'sim CPU µs/a'],
    ['tokengate', String(r.lib_per_s), String(r.lib_per_s_min), String(r.lib_per_s_max), String(r.lib_cpu_us_per_assertion), String(r.sim_cpu_us_per_assertion_lib)],
    [
      'python-fido2',
      String(r.python_fido2_per_s),
      String(r.python_fido2_per_s_min),
      String(r.python_fido2_per_s_max),
      String(r.python_fido2_cpu_us_per_assertion),
      String(r.sim_cpu_us_per_assertion_python_fido2),
    ],
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  for (const row of rows) console.log(row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '));
  console.log(`\ntokengate ÷ python-fido2 (medians): ${String(r.lib_vs_python_fido2)}   event-loop p99 ${String(r.event_loop_p99_ms)} ms (worst round; max ${String(r.event_loop_max_ms)} ms; idle control ${String(r.event_loop_idle_p99_ms)} ms)`);
  console.log(
    `getAssertion up=false with a reused PIN token (protocol ${String(r.pin_protocol)}), UDP simulator in its own process; ` +
      `${r.rounds} interleaved rounds of ${r.round_ms} ms; library build: ${r.lib_build}`,
  );
}
