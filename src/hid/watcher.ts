// Notices security keys arriving and leaving. hidapi has no hotplug events, so the device list is
// polled and diffed by path (and vendor, product and serial: another key on the same path is a
// removal and an insertion); a transport that sees its key go (a failed read or write) reports it
// through `noteRemoved`, so the removal is known at once instead of at the next poll. Either way a
// removal is one `removed` event. Each appearance gets a new `instance` number: hidraw reuses
// paths, and a key plugged in again is a new power cycle (its PIN_AUTH_BLOCKED is over), which the
// FIDO layer must not mistake for the key it had. No `changed` event: nothing a key reports here
// changes while it stays plugged in. Same options and events as the PKCS#11 TokenWatcher.
import { EventEmitter } from 'node:events';
import { eventsUntilClosed } from '../util/event-iteration.js';
import { DeviceIoError, InvalidArgumentError, TokengateError } from '../errors/index.js';
import { nodeHidDeviceSource, type FidoDeviceInfo, type HidDeviceSource } from './devices.js';

/** A key as the watcher saw it: one appearance of it. */
export interface WatchedFidoDevice extends FidoDeviceInfo {
  /**
   * This appearance's number in this watcher, from 1 up. A key unplugged and plugged in again, even
   * on the same path, has a new one.
   */
  readonly instance: number;
}

export type FidoDeviceEvent =
  | { type: 'inserted'; device: WatchedFidoDevice }
  /** `noticedBy`: the poll found it gone, or a transport's failed I/O reported it (`noteRemoved`). */
  | { type: 'removed'; device: WatchedFidoDevice; noticedBy: 'poll' | 'io' };

export interface FidoWatchOptions {
  /** Time between polls in milliseconds, at least 10; default 500. */
  intervalMs?: number;
  /** Stops the watcher when aborted. */
  signal?: AbortSignal;
  /** Emit `inserted` for the keys already present, at the first poll. */
  emitInitial?: boolean;
  /** Let the process exit while only the watcher is running. */
  unref?: boolean;
  /** Where the present keys come from; default node-hid's device list. */
  source?: HidDeviceSource;
}

export interface FidoDeviceWatcherEvents {
  inserted: [device: WatchedFidoDevice];
  removed: [device: WatchedFidoDevice, noticedBy: 'poll' | 'io'];
  /** Every event above, as one union: what the async iterator yields. */
  event: [event: FidoDeviceEvent];
  /**
   * Listing the devices failed; the watcher keeps polling (unless node-hid cannot be loaded at all:
   * then it closes). With no listener and no iterator running, the failure is skipped.
   */
  error: [error: TokengateError];
  /** The watcher stopped: `close()`, its signal, or an iterator leaving its loop. */
  close: [];
}

const DEFAULT_WATCH_INTERVAL_MS = 500;
const MIN_WATCH_INTERVAL_MS = 10;
/**
 * Polls a path reported gone by `noteRemoved` may stay listed before it counts as a key plugged in
 * again: the list can lag the failed read by a moment, and that is not a new key.
 */
const NOTED_GONE_GRACE_POLLS = 2;

const identity = (d: FidoDeviceInfo) => JSON.stringify([d.vendorId, d.productId, d.serialNumber ?? '']);

/**
 * Watches the FIDO keys plugged in. Listen with `on('inserted' | 'removed' | 'error', …)` or
 * iterate with `for await (const event of watcher)`; stop it with `close()`, `await using`, or the
 * `signal` option. A stopped watcher holds no timer. Open a key so its failures reach the watcher:
 * `openHidTransport(d.path, { onRemoved: () => watcher.noteRemoved(d.path, d.instance) })`.
 */
export class FidoDeviceWatcher extends EventEmitter<FidoDeviceWatcherEvents> implements AsyncDisposable, Disposable, AsyncIterable<FidoDeviceEvent> {
  readonly intervalMs: number;
  /** Settles once the first poll has listed the keys (without `emitInitial`: the baseline), or at close. */
  readonly ready: Promise<void>;
  readonly #source: HidDeviceSource;
  readonly #stop = new AbortController();
  readonly #unref: boolean;
  readonly #known = new Map<string, WatchedFidoDevice>();
  /** Paths `noteRemoved` took out, and for how many polls since they have still been listed. */
  readonly #notedGone = new Map<string, { identity: string; polls: number }>();
  #baselined: boolean;
  #instances = 0;
  #timer: NodeJS.Timeout | undefined;
  #polling: Promise<unknown> = Promise.resolve();
  #markReady!: () => void;

  constructor(options: FidoWatchOptions = {}) {
    super();
    const intervalMs = options.intervalMs ?? DEFAULT_WATCH_INTERVAL_MS;
    if (!Number.isFinite(intervalMs) || intervalMs < MIN_WATCH_INTERVAL_MS) {
      throw new InvalidArgumentError(`intervalMs must be a number of milliseconds, at least ${MIN_WATCH_INTERVAL_MS}`);
    }
    this.intervalMs = intervalMs;
    this.#source = options.source ?? nodeHidDeviceSource;
    this.#unref = options.unref === true;
    // With emitInitial there is no silent baseline: the first poll reports what it finds.
    this.#baselined = options.emitInitial === true;
    this.ready = new Promise((resolve) => (this.#markReady = resolve));
    if (options.signal?.aborted) {
      this.close();
      return;
    }
    options.signal?.addEventListener('abort', () => this.close(), { once: true, signal: this.#stop.signal });
    // The first poll runs on a later tick, so listeners added right after construction hear it.
    this.#schedule(0);
  }

  /** True once the watcher has stopped; it never starts again. */
  get closed(): boolean {
    return this.#stop.signal.aborted;
  }

  /** The keys present as of the last poll (or `noteRemoved`). */
  get devices(): WatchedFidoDevice[] {
    return [...this.#known.values()];
  }

  #schedule(delay: number): void {
    this.#timer = setTimeout(() => {
      // A listener's throw is rethrown (as TokenWatcher's is), but the watching goes on.
      void this.poll().finally(() => {
        if (!this.closed) this.#schedule(this.intervalMs);
      });
    }, delay);
    if (this.#unref) this.#timer.unref();
  }

  /**
   * Lists the keys, emits what changed since the last poll, and returns it. The timer calls it; a
   * direct call is a poll out of turn (polls never overlap). A failed listing is emitted as `error`.
   */
  poll(): Promise<FidoDeviceEvent[]> {
    const run = this.#polling.then(() => this.#pollOnce());
    this.#polling = run.catch(() => undefined);
    return run;
  }

  async #pollOnce(): Promise<FidoDeviceEvent[]> {
    if (this.closed) return [];
    let listed: FidoDeviceInfo[];
    try {
      listed = await this.#source.list();
    } catch (err) {
      const error = err instanceof TokengateError ? err : new DeviceIoError('listing the security keys failed', { cause: err });
      if (this.closed) return [];
      // EventEmitter throws an unheard 'error'; from a timer that would end the process.
      if (this.listenerCount('error') > 0) this.emit('error', error);
      // node-hid that cannot be loaded will not load at the next poll either.
      if (error.code === 'ERR_MODULE_LOAD') this.close();
      return [];
    }
    if (this.closed) return [];
    const now = new Map<string, FidoDeviceInfo>();
    for (const d of listed) if (!now.has(d.path)) now.set(d.path, d);

    if (!this.#baselined) {
      for (const d of now.values()) this.#known.set(d.path, this.#appearance(d));
      this.#baselined = true;
      this.#markReady();
      return [];
    }
    const events: FidoDeviceEvent[] = [];
    for (const [path, known] of this.#known) {
      const d = now.get(path);
      if (d && identity(d) === identity(known)) continue;
      this.#known.delete(path);
      events.push({ type: 'removed', device: known, noticedBy: 'poll' });
    }
    for (const [path, noted] of this.#notedGone) {
      const d = now.get(path);
      if (d && identity(d) === noted.identity && ++noted.polls < NOTED_GONE_GRACE_POLLS) continue;
      this.#notedGone.delete(path); // gone from the list, another key there, or listed too long to be a lag
    }
    for (const [path, d] of now) {
      if (this.#known.has(path) || this.#notedGone.has(path)) continue;
      const device = this.#appearance(d);
      this.#known.set(path, device);
      events.push({ type: 'inserted', device });
    }
    this.#markReady();
    for (const event of events) {
      if (event.type === 'removed') this.emit('removed', event.device, event.noticedBy);
      else this.emit('inserted', event.device);
      this.emit('event', event);
    }
    return events;
  }

  #appearance(d: FidoDeviceInfo): WatchedFidoDevice {
    return { ...d, instance: ++this.#instances };
  }

  /**
   * A transport found the key at `path` gone (pass the `instance` it was opened for, so a late
   * report about an earlier appearance leaves a new key on the same path alone). Emits `removed`
   * now, unless that appearance is already known gone; the poll that follows does not report it
   * again. Returns whether this call was the one that removed it.
   */
  noteRemoved(path: string, instance?: number): boolean {
    const known = this.#known.get(path);
    if (this.closed || !known || (instance !== undefined && known.instance !== instance)) return false;
    this.#known.delete(path);
    this.#notedGone.set(path, { identity: identity(known), polls: 0 });
    const event: FidoDeviceEvent = { type: 'removed', device: known, noticedBy: 'io' };
    this.emit('removed', known, 'io');
    this.emit('event', event);
    return true;
  }

  /** Events until the watcher closes; leaving the loop closes it (src/util/event-iteration.ts). */
  [Symbol.asyncIterator](): AsyncGenerator<FidoDeviceEvent, void, undefined> {
    return eventsUntilClosed<FidoDeviceEvent>(this, this.#stop.signal);
  }

  /** Stops polling now; idempotent. */
  close(): void {
    if (this.closed) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#stop.abort();
    this.#markReady();
    this.emit('close');
  }

  [Symbol.dispose](): void {
    this.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }
}
