// Notices tokens arriving, leaving and changing by polling the slot list and each token's info,
// keyed by serial (slot numbers move). Polling, because C_WaitForSlotEvent is a blocking call on
// the JS thread in pkcs11js and many modules (SoftHSM among them) do not support it at all.
import { EventEmitter, on } from 'node:events';
import type { RawPkcs11 } from './binding.js';
import { TokengateError } from './errors.js';
import { presentTokens } from './select.js';
import type { TokenInfo } from './token.js';

export type TokenEvent =
  | { type: 'inserted'; token: TokenInfo }
  | { type: 'removed'; token: TokenInfo }
  | { type: 'changed'; token: TokenInfo; previous: TokenInfo };

export interface WatchOptions {
  /** Time between polls; default 500 ms. */
  intervalMs?: number;
  /** Stops the watcher when aborted. */
  signal?: AbortSignal;
  /** Emit `inserted` for the tokens already present at the first poll (a kiosk starting up wants them). */
  emitInitial?: boolean;
  /** Let the process exit while only the watcher is running. */
  unref?: boolean;
}

export interface TokenWatcherEvents {
  inserted: [token: TokenInfo];
  removed: [token: TokenInfo];
  changed: [token: TokenInfo, previous: TokenInfo];
  /** Every event above, as one union: what the async iterator yields. */
  event: [event: TokenEvent];
  /** A poll failed (the module itself, not a token); the watcher keeps polling. Unheard, it is skipped. */
  error: [error: unknown];
}

/** What a change is made of: not the session counts, which move with every session opened. */
function fingerprint(t: TokenInfo): string {
  return JSON.stringify([t.label, t.flags, t.pinStatus, t.soPinStatus, t.model, t.firmwareVersion]);
}

function snapshot(lib: RawPkcs11): Map<string, TokenInfo> {
  // Uninitialised tokens (SoftHSM's free slot, a blank card) have no serial to know them by.
  return new Map(presentTokens(lib).filter(({ info }) => info.serial !== '').map(({ info }) => [info.serial, info]));
}

export class TokenWatcher extends EventEmitter<TokenWatcherEvents> implements AsyncDisposable, AsyncIterable<TokenEvent> {
  readonly intervalMs: number;
  readonly #lib: () => RawPkcs11;
  readonly #stop = new AbortController();
  readonly #unref: boolean;
  #known: Map<string, TokenInfo>;
  #timer: NodeJS.Timeout | undefined;

  /** Internal: use `Pkcs11Module.watch()`. */
  constructor(lib: () => RawPkcs11, options: WatchOptions = {}) {
    super();
    this.intervalMs = Math.max(10, options.intervalMs ?? 500);
    this.#lib = lib;
    this.#unref = options.unref === true;
    this.#known = options.emitInitial ? new Map() : snapshot(lib());
    if (options.signal) {
      if (options.signal.aborted) this.#stop.abort();
      else options.signal.addEventListener('abort', () => this.close(), { once: true, signal: this.#stop.signal });
    }
    // The first poll runs on the next tick, so listeners added right after watch() hear emitInitial.
    if (!this.#stop.signal.aborted) this.#schedule(0);
  }

  get closed(): boolean {
    return this.#stop.signal.aborted;
  }

  #schedule(delay: number): void {
    this.#timer = setTimeout(() => {
      this.poll();
      if (!this.closed) this.#schedule(this.intervalMs);
    }, delay);
    if (this.#unref) this.#timer.unref();
  }

  /** Compares the tokens present now with the last poll, emits what changed, and returns it. */
  poll(): TokenEvent[] {
    if (this.closed) return [];
    let now: Map<string, TokenInfo>;
    try {
      now = snapshot(this.#lib());
    } catch (err) {
      // A closed module will not come back: the watcher ends with it.
      if (err instanceof TokengateError && err.code === 'ERR_MODULE_CLOSED') this.close();
      // EventEmitter throws an unheard 'error'; from a timer that would end the process.
      else if (this.listenerCount('error') > 0) this.emit('error', err);
      return [];
    }
    const events: TokenEvent[] = [];
    for (const [serial, previous] of this.#known) {
      if (!now.has(serial)) events.push({ type: 'removed', token: previous });
    }
    for (const [serial, token] of now) {
      const previous = this.#known.get(serial);
      if (!previous) events.push({ type: 'inserted', token });
      else if (fingerprint(previous) !== fingerprint(token)) events.push({ type: 'changed', token, previous });
    }
    this.#known = now;
    for (const event of events) {
      if (event.type === 'changed') this.emit('changed', event.token, event.previous);
      else this.emit(event.type, event.token);
      this.emit('event', event);
    }
    return events;
  }

  /** Events until the watcher closes: `for await (const event of module.watch()) …`. */
  async *[Symbol.asyncIterator](): AsyncIterator<TokenEvent> {
    if (this.closed) return;
    try {
      for await (const [event] of on(this, 'event', { signal: this.#stop.signal })) yield event as TokenEvent;
    } catch (err) {
      if (!this.closed) throw err; // the abort that ends iteration is not an error
    }
  }

  close(): void {
    if (this.closed) return;
    clearTimeout(this.#timer);
    this.#stop.abort();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }
}
