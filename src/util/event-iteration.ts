// The async iteration both watchers offer (`for await (const event of watcher)`): their 'event'
// events until the watcher closes. The loop owns the watcher: leaving it (break, return, a throw)
// closes it, and a failure emitted as 'error' is thrown out of the loop (and closes it too).
import { on, type EventEmitter } from 'node:events';

export interface ClosableEmitter extends EventEmitter {
  readonly closed: boolean;
  close(): void;
}

export async function* eventsUntilClosed<T>(watcher: ClosableEmitter, stop: AbortSignal): AsyncGenerator<T, void, undefined> {
  if (watcher.closed) return;
  try {
    for await (const [event] of on(watcher, 'event', { signal: stop })) yield event as T;
  } catch (err) {
    if (!watcher.closed) throw err; // the abort that ends iteration is not an error
  } finally {
    watcher.close();
  }
}
