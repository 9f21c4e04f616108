// CPU time per thread of this process, from Linux's /proc/self/task/<tid>/schedstat (ns on a CPU,
// ns waiting for one): where a bench's CPU goes — the event loop, libuv's pool, workers, V8's
// helpers — which process.cpuUsage() lumps together.
import { readdirSync, readFileSync } from 'node:fs';

export interface ThreadTimes {
  readonly cpu: number;
  readonly wait: number;
  readonly name: string;
}

/** Every thread of this process now, by thread id. */
export function threadTimes(): Map<string, ThreadTimes> {
  const out = new Map<string, ThreadTimes>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const [cpu, wait] = readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ').map(Number);
      out.set(tid, { cpu: cpu!, wait: wait!, name: readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() });
    } catch {
      // The thread ended meanwhile.
    }
  }
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

/** CPU ns of every thread of the given processes (children of this one: signing-worker processes). */
export function processTimes(pids: Iterable<number>): Map<string, ThreadTimes> {
  const out = new Map<string, ThreadTimes>();
  for (const pid of pids) {
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue; // it ended meanwhile
    }
    for (const tid of tids) {
      try {
        const [cpu, wait] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ').map(Number);
        out.set(`${pid}/${tid}`, { cpu: cpu!, wait: wait!, name: readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim() });
      } catch {
        // The thread ended meanwhile.
      }
    }
  }
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
