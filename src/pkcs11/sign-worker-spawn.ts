// Starts a signing worker — a thread of this process, or a process of its own — behind one
// interface, so the pool's batching (sign-workers.ts) does not care which. Either runs the built
// .js next to this file, or the .ts source through tsx.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { encodeToWorker, FrameReader } from './sign-worker-frames.js';
import type { FromWorker, ToWorker, WorkerInit } from './sign-workers.js';

/** What the pool needs of a worker, thread or process. */
export interface WorkerHandle {
  postMessage(message: ToWorker, transfer?: ArrayBuffer[]): void;
  onMessage(listener: (message: FromWorker) => void): void;
  onError(listener: (err: Error) => void): void;
  onExit(listener: () => void): void;
  /** Whether it keeps this process alive. */
  ref(): void;
  unref(): void;
  terminate(): void;
}

interface TsxManifest {
  exports: { './esm/api': { import: { default: string } } };
}

function entry(name: string): { path: string; built: boolean } {
  const js = fileURLToPath(new URL(`./${name}.js`, import.meta.url));
  if (existsSync(js)) return { path: js, built: true };
  return { path: fileURLToPath(new URL(`./${name}.ts`, import.meta.url)), built: false };
}

function threadWorker(init: WorkerInit): Worker {
  const { path, built } = entry('sign-worker-thread');
  if (built) return new Worker(path, { workerData: init });
  // Running from the TypeScript sources (tsx, vitest). On Node 20 a worker does not inherit the
  // parent's module hooks and `--import tsx` in execArgv does not reach a worker's entry, so a
  // one-line bootstrap loads the entry through tsx's tsImport (found via tsx's export map).
  const ts = pathToFileURL(path).href;
  const require = createRequire(import.meta.url);
  const manifest = require.resolve('tsx/package.json');
  const exports = (JSON.parse(readFileSync(manifest, 'utf8')) as TsxManifest).exports['./esm/api'].import.default;
  const api = new URL(exports, pathToFileURL(manifest)).href;
  const bootstrap = `import(${JSON.stringify(api)}).then((tsx) => tsx.tsImport(${JSON.stringify(ts)}, ${JSON.stringify(ts)}))`;
  return new Worker(bootstrap, { eval: true, workerData: init });
}

export function spawnThread(init: WorkerInit): WorkerHandle {
  const worker = threadWorker(init);
  return {
    postMessage: (message, transfer = []) => worker.postMessage(message, transfer),
    onMessage: (listener) => void worker.on('message', listener),
    onError: (listener) => void worker.on('error', listener),
    onExit: (listener) => void worker.on('exit', listener),
    ref: () => worker.ref(),
    unref: () => worker.unref(),
    terminate: () => void worker.terminate(),
  };
}

/** The pool's environment minus this CLI's secrets: a PIN in TOKENGATE_PIN stays out of the child's environ. */
function childEnvironment(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^TOKENGATE_.*(PIN|PUK)/u.test(name)));
}

export function spawnProcess(init: WorkerInit): WorkerHandle {
  const { path, built } = entry('sign-worker-process');
  // One pipe, fd 3 in the child, carrying length-prefixed frames (sign-worker-frames.ts) both
  // ways; the child ends when it closes.
  const child: ChildProcess = spawn(process.execPath, [...(built ? [] : ['--import', 'tsx']), path], {
    env: childEnvironment(),
    stdio: ['ignore', 'inherit', 'inherit', 'pipe'],
  });
  const pipe = child.stdio[3] as Socket;
  const listeners: Array<(message: FromWorker) => void> = [];
  const reader = FrameReader.fromWorker((message) => {
    for (const listener of listeners) listener(message);
  });
  pipe.on('data', (chunk: Buffer) => reader.push(chunk));
  // A write to a process that has just died fails here; its 'exit' tells the pool.
  pipe.on('error', () => undefined);
  pipe.write(encodeToWorker({ type: 'init', init }));
  return {
    postMessage: (message) => void pipe.write(encodeToWorker(message)),
    onMessage: (listener) => void listeners.push(listener),
    onError: (listener) => void child.on('error', listener),
    onExit: (listener) => void child.on('exit', listener),
    ref: () => {
      child.ref();
      pipe.ref();
    },
    unref: () => {
      child.unref();
      pipe.unref();
    },
    terminate: () => void child.kill(),
  };
}
