// A signing worker thread (sign-worker-loop.ts does the work): shares the pool's process, its
// initialised library and its login; never sees a PIN.
import { parentPort, workerData } from 'node:worker_threads';
import { serveSigning } from './sign-worker-loop.js';
import type { ToWorker, WorkerInit } from './sign-workers.js';

const port = parentPort!;
serveSigning(
  {
    post: (message, transfer) => port.postMessage(message, transfer),
    onMessage: (handler) => port.on('message', (message: ToWorker) => handler(message)),
    end: () => port.close(),
  },
  workerData as WorkerInit,
);
