// A signing worker in a process of its own (sign-worker-loop.ts does the work), for
// SessionPoolOptions.workerProcesses. Its first message says what to load (never a PIN: that comes
// later, in a `login` message the pool counts); it ends when the pool closes it or goes away.
import { serveSigning } from './sign-worker-loop.js';
import type { ToWorker, WorkerInit } from './sign-workers.js';

process.once('message', (init: WorkerInit) => {
  serveSigning(
    {
      // The IPC channel copies (advanced serialization): nothing to transfer.
      post: (message) => void process.send!(message),
      onMessage: (handler) => process.on('message', (message: ToWorker) => handler(message)),
      end: () => process.disconnect(),
    },
    init,
  );
});
// The pool's process ended without closing us: so do we.
process.once('disconnect', () => process.exit(0));
