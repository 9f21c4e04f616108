// Runs bench/scale-load.ts in a process of its own (the load must not share the server's event
// loop) and hands back its result line; its interval lines (`timeline`) go to `onLine` as they come.
// `seconds` bounds the run; a `stop` promise may end it sooner (bench:faults: a while after the fault).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LoadSettings } from './scale-load.js';

export interface LoadResult {
  ok: number;
  errors: number;
  ms: number;
  p99_ms: number;
  answers: Record<string, number>;
}

/** One run of the load generator in its own process; it ends early (SIGINT) when `stop` resolves. */
export function runLoad(settings: LoadSettings, onLine: (line: Record<string, unknown>) => void = () => undefined, stop?: Promise<unknown>): Promise<LoadResult> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./scale-load.ts', import.meta.url))], { stdio: ['pipe', 'pipe', 'inherit'] });
  child.stdin.end(`${JSON.stringify(settings)}\n`);
  void stop?.then(() => child.exitCode === null && child.kill('SIGINT'));
  return new Promise((resolve, reject) => {
    let last: Record<string, unknown> | undefined;
    let buffered = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        const line = JSON.parse(buffered.slice(0, nl)) as Record<string, unknown>;
        buffered = buffered.slice(nl + 1);
        if ('t_ms' in line) onLine(line);
        else last = line;
      }
    });
    child.on('error', reject);
    child.on('exit', (code) => (last ? resolve(last as unknown as LoadResult) : reject(new Error(`load generator exited ${code}`))));
  });
}

