// A signing worker in a process of its own (sign-worker-loop.ts does the work), for
// SessionPoolOptions.workerProcesses. It talks to the pool over one pipe, fd 3, in frames
// (sign-worker-frames.ts). Its first message says what to load (never a PIN: that comes later,
// in a `login` message the pool counts); it ends when the pool closes it or goes away.
import { Socket } from 'node:net';
import { serveSigning } from './sign-worker-loop.js';
import { encodeFromWorker, FrameReader } from './sign-worker-frames.js';
import type { ToWorker } from './sign-workers.js';

const pipe = new Socket({ fd: 3, readable: true, writable: true });
let handler: ((message: ToWorker) => void) | undefined;
const reader = FrameReader.toWorker((message) => {
  if (message.type !== 'init') return handler?.(message);
  serveSigning(
    {
      // Frames are copies: nothing to transfer.
      post: (reply) => void pipe.write(encodeFromWorker(reply)),
      onMessage: (h) => (handler = h),
      // After `close`: the pipe's end lets this process exit once the last answer is written.
      end: () => void pipe.end(),
    },
    message.init,
  );
});
pipe.on('data', (chunk: Buffer) => reader.push(chunk));
// The pool's process ended without closing us (its end of the pipe is gone): so do we.
pipe.on('end', () => process.exit(0));
pipe.on('error', () => process.exit(0));
