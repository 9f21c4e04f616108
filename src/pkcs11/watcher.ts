// Notices tokens arriving, leaving and changing by polling the slot list and each token's info,
// keyed by serial (slot numbers move). Polling, because C_WaitForSlotEvent is a blocking call on
// the JS thread in pkcs11js and many modules (SoftHSM among them) do not support it at all.
//
// What a module reports is what the watcher can see. SoftHSM 2.6 reads its token directory once,
// at C_Initialize: a token made by another process appears only after a re-initialisation, while
// one made in this process (C_InitToken) appears at once. Token info is re-read from the token's
// file whenever that file changed, so another process's wrong PIN (COUNT_LOW) shows; a token whose
// directory was deleted (`softhsm2-util --delete-token`) stays in the slot list but its info fails
// with CKR_GENERAL_ERROR from then on. The same CKR_GENERAL_ERROR comes, now and then, from a read
// that meets another process rewriting the token file; so a listed token that cannot be read is
// reported removed only when it is still unreadable at the next poll.
import { EventEmitter } from 'node:events';
import { eventsUntilClosed } from '../util/event-iteration.js';
import { call, type RawPkcs11 } from './binding.js';
import { InvalidArgumentError, Pkcs11Error, TokengateError } from './errors.js';
import { readTokenInfo, type TokenInfo } from './token-info.js';

export type TokenEvent =
  | { type: 'inserted'; token: TokenInfo }
  /** `token` is the information last seen before the token went. */
  | { type: 'removed'; token: TokenInfo }
  | { type: 'changed'; token: TokenInfo; previous: TokenInfo };

export interface WatchOptions {
  /** Time between polls in milliseconds, at least 10; default 500. */
  intervalMs?: number;
  /** Stops the watcher when aborted. */
  signal?: AbortSignal;
  /** Emit `inserted` for the tokens already present, at the first poll (a kiosk starting up wants them). */
  emitInitial?: boolean;
  /** Let the process exit while only the watcher is running. */
  unref?: boolean;
}

export interface TokenWatcherEvents {
  inserted: [token: TokenInfo];
  /**
   * The token's information as last seen. A token gone from the slot list is removed at the next
   * poll; one still listed but unreadable, when it is still unreadable at the poll after.
   */
  removed: [token: TokenInfo];
  /** Same serial, different label, flags or PIN status. */
  changed: [token: TokenInfo, previous: TokenInfo];
  /** Every event above, as one union: what the async iterator yields. */
  event: [event: TokenEvent];
  /**
   * A poll failed (the module itself, not one token); the watcher keeps polling. With no listener
   * and no iterator running, the failure is skipped rather than thrown from a timer.
   */
  error: [error: TokengateError];
  /** The watcher stopped: `close()`, its signal, its module closing, or an iterator leaving its loop. */
  close: [];
}

const DEFAULT_WATCH_INTERVAL_MS = 500;
const MIN_WATCH_INTERVAL_MS = 10;

/** What a change is made of: not the session counts, which move with every session opened. */
function fingerprint(t: TokenInfo): string {
  return JSON.stringify([t.label, t.flags, t.pinStatus, t.soPinStatus, t.model, t.hardwareVersion, t.firmwareVersion]);
}

// The token is not there: it went between the slot list and the read, or its reader went.
const ABSENT = new Set(['CKR_TOKEN_NOT_PRESENT', 'CKR_DEVICE_REMOVED', 'CKR_SLOT_ID_INVALID']);
// The slot says a token is there but its info cannot be read: gone (a deleted SoftHSM token) or
// busy for a moment (another process writing it). Given one more poll before it counts as removed.
const UNREADABLE = new Set(['CKR_GENERAL_ERROR', 'CKR_DEVICE_ERROR', 'CKR_TOKEN_NOT_RECOGNIZED']);
/** Consecutive polls a known token may stay unreadable in its slot before it is reported removed. */
const UNREADABLE_GRACE_POLLS = 1;

interface Seen {
  info: TokenInfo;
  /** The slot it was read from (hex of the handle): only to tell whose slot turned unreadable. */
  slot: string;
  /** Polls in a row it has been carried over unread. */
  misses: number;
}

interface Observation {
  tokens: Map<string, Seen>;
  unreadableSlots: Set<string>;
}

function observe(lib: RawPkcs11): Observation {
  const tokens = new Map<string, Seen>();
  const unreadableSlots = new Set<string>();
  for (const handle of call(lib, 'C_GetSlotList', true)) {
    const slot = handle.toString('hex');
    let info: TokenInfo;
    try {
      info = readTokenInfo(lib, handle);
    } catch (err) {
      const rvName = err instanceof TokengateError ? err.rvName : undefined;
      if (rvName !== undefined && ABSENT.has(rvName)) continue;
      if (rvName !== undefined && UNREADABLE.has(rvName)) {
        unreadableSlots.add(slot);
        continue;
      }
      throw err;
    }
    // Uninitialised tokens (SoftHSM's free slot, a blank card) have no serial to know them by.
    if (info.serial !== '') tokens.set(info.serial, { info, slot, misses: 0 });
  }
  return { tokens, unreadableSlots };
}

/**
 * Watches one module's tokens. Listen with `on('inserted' | 'removed' | 'changed' | 'error', …)`
 * or iterate with `for await (const event of watcher)`; stop it with `close()`, `await using`, or
 * the `signal` option. A stopped watcher holds no timer.
 */
export class TokenWatcher extends EventEmitter<TokenWatcherEvents> implements AsyncDisposable, Disposable, AsyncIterable<TokenEvent> {
  readonly intervalMs: number;
  readonly #lib: () => RawPkcs11;
  readonly #stop = new AbortController();
  readonly #unref: boolean;
  #known: Map<string, Seen>;
  #timer: NodeJS.Timeout | undefined;

  /** Internal: use `Pkcs11Module.watch()`. */
  constructor(lib: () => RawPkcs11, options: WatchOptions = {}) {
    super();
    const intervalMs = options.intervalMs ?? DEFAULT_WATCH_INTERVAL_MS;
    if (!Number.isFinite(intervalMs) || intervalMs < MIN_WATCH_INTERVAL_MS) {
      throw new InvalidArgumentError(`intervalMs must be a number of milliseconds, at least ${MIN_WATCH_INTERVAL_MS}`);
    }
    this.intervalMs = intervalMs;
    this.#lib = lib;
    this.#unref = options.unref === true;
    // Without emitInitial, the tokens present now are the baseline: only differences are events.
    this.#known = options.emitInitial ? new Map() : observe(lib()).tokens;
    if (options.signal?.aborted) {
      this.#stop.abort();
      return;
    }
    options.signal?.addEventListener('abort', () => this.close(), { once: true, signal: this.#stop.signal });
    // The first poll runs on a later tick, so listeners added right after watch() hear emitInitial.
    this.#schedule(0);
  }

  /** True once the watcher has stopped; it never starts again. */
  get closed(): boolean {
    return this.#stop.signal.aborted;
  }

  #schedule(delay: number): void {
    this.#timer = setTimeout(() => {
      try {
        this.poll();
      } finally {
        // Scheduled even when a listener threw, so one bad listener does not end the watching.
        if (!this.closed) this.#schedule(this.intervalMs);
      }
    }, delay);
    if (this.#unref) this.#timer.unref();
  }

  /**
   * Compares the tokens present now with the last poll, emits what changed, and returns it. The
   * timer calls it; calling it directly is a poll out of turn. A module failure is emitted as
   * `error` (and returns no events); a closed module closes the watcher.
   */
  poll(): TokenEvent[] {
    if (this.closed) return [];
    let seen: Observation;
    try {
      seen = observe(this.#lib());
    } catch (err) {
      const error = err instanceof TokengateError ? err : new Pkcs11Error('polling the token list failed', { cause: err });
      // A closed (or finalized) module will not come back: the watcher ends with it.
      if (error.code === 'ERR_MODULE_CLOSED') this.close();
      // EventEmitter throws an unheard 'error'; from a timer that would end the process.
      else if (this.listenerCount('error') > 0) this.emit('error', error);
      return [];
    }
    const now = seen.tokens;
    const events: TokenEvent[] = [];
    for (const [serial, previous] of this.#known) {
      if (now.has(serial)) continue;
      if (seen.unreadableSlots.has(previous.slot) && previous.misses < UNREADABLE_GRACE_POLLS) {
        now.set(serial, { ...previous, misses: previous.misses + 1 }); // still there, as far as we know
      } else {
        events.push({ type: 'removed', token: previous.info });
      }
    }
    for (const [serial, { info }] of now) {
      const previous = this.#known.get(serial)?.info;
      if (!previous) events.push({ type: 'inserted', token: info });
      else if (fingerprint(previous) !== fingerprint(info)) events.push({ type: 'changed', token: info, previous });
    }
    this.#known = now;
    for (const event of events) {
      if (event.type === 'changed') this.emit('changed', event.token, event.previous);
      else this.emit(event.type, event.token);
      this.emit('event', event);
    }
    return events;
  }

  /** Events until the watcher closes; leaving the loop closes it (src/util/event-iteration.ts). */
  [Symbol.asyncIterator](): AsyncGenerator<TokenEvent, void, undefined> {
    return eventsUntilClosed<TokenEvent>(this, this.#stop.signal);
  }

  /** Stops polling now; idempotent. */
  close(): void {
    if (this.closed) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#stop.abort();
    this.emit('close');
  }

  [Symbol.dispose](): void {
    this.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }
}
