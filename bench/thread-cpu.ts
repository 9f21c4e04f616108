// CPU time per thread of this process (or of its children), from Linux's
// /proc/<pid>/task/<tid>/schedstat (ns on a CPU, ns waiting for one): where a bench's CPU goes — the event loop, libuv's pool, workers, V8's
// helpers — which process.cpuUsage() lumps together.
import { readdirSync, readFileSync } from 'node:fs';

export interface ThreadTimes {
  readonly cpu: number;
  readonly wait: number;
  readonly name: string;
}

/** Every thread under `/proc/<process>/task` now, keyed by `prefix` + thread id. */
function tasks(process: string, prefix: string, out: Map<string, ThreadTimes>): void {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${process}/task`);
  } catch {
    return; // the process ended meanwhile
  }
  for (const tid of tids) {
    try {
      const [cpu, wait] = readFileSync(`/proc/${process}/task/${tid}/schedstat`, 'utf8').split(' ').map(Number);
      out.set(prefix + tid, { cpu: cpu!, wait: wait!, name: readFileSync(`/proc/${process}/task/${tid}/comm`, 'utf8').trim() });
    } catch {
      // The thread ended meanwhile.
    }
  }
}

/** Every thread of this process now, by thread id. */
export function threadTimes(): Map<string, ThreadTimes> {
  const out = new Map<string, ThreadTimes>();
  tasks('self', '', out);
  return out;
}

/** CPU ns between two readings: the main thread (the event loop) and all the others. */
export function mainAndOthers(before: Map<string, ThreadTimes>, after: Map<string, ThreadTimes>): { main: number; others: number } {
  let main = 0;
  let others = 0;
  for (const [tid, t] of after) {
    const spent = t.cpu - (before.get(tid)?.cpu ?? 0);
    if (tid === String(process.pid)) main += spent;
    else others += spent;
  }
  return { main, others };
}

/** Every thread of the given processes (children of this one: signing-worker processes), by `pid/tid`. */
export function processTimes(pids: Iterable<number>): Map<string, ThreadTimes> {
  const out = new Map<string, ThreadTimes>();
  for (const pid of pids) tasks(String(pid), `${pid}/`, out);
  return out;
}

/** This process's children now, by pid (Linux: /proc/<pid>/task/<tid>/children). */
export function childPids(): number[] {
  const pids: number[] = [];
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      for (const pid of readFileSync(`/proc/self/task/${tid}/children`, 'utf8').trim().split(/\s+/u)) if (pid) pids.push(Number(pid));
    } catch {
      // The thread ended meanwhile.
    }
  }
  return pids;
}
