// The button: how long the key says PROCESSING, then UPNEEDED every keepalive interval until a
// touch (automatic after a delay, `touch()` from the test, or never → USER_ACTION_TIMEOUT), and
// what CANCEL does to the wait. A client that prompts on PROCESSING, or that leaves a request
// waiting, shows up against this.
import { CtapStatusError, Keepalive, Status } from './constants.js';
import type { Transaction } from './ctaphid.js';

export type TouchMode = 'auto' | 'manual' | 'never';

export interface PresenceOptions {
  touch: TouchMode;
  touchDelayMs: number;
  touchTimeoutMs: number;
  keepaliveIntervalMs: number;
  processingMs: number;
}

/** The transaction was abandoned (resync, power cycle, unplug): nobody gets a reply. */
export class Dropped extends Error {}

export class Presence {
  private waiter: (() => void) | undefined;
  private earlyTouch = false;
  private inRequest = false;
  /** A touch with no CBOR request waiting, kept for the next U2F presence check. */
  private latched = false;

  constructor(
    private readonly options: PresenceOptions,
    private readonly events: { upNeeded(): void; touched(): void },
  ) {}

  get waiting(): boolean {
    return this.waiter !== undefined;
  }

  /** Presses the button. True when a CBOR request was waiting for it (or about to). */
  touch(): boolean {
    if (this.waiter) {
      const wake = this.waiter;
      this.waiter = undefined;
      wake();
      return true;
    }
    if (this.inRequest) {
      this.earlyTouch = true;
      return true;
    }
    this.latched = true;
    return false;
  }

  /** U2F's check: succeeds when the user is present now, never waits (the host polls). */
  async u2fPresent(): Promise<boolean> {
    if (this.latched) {
      this.latched = false;
      return true;
    }
    if (this.options.touch !== 'auto') return false;
    if (this.options.touchDelayMs > 0) await delay(this.options.touchDelayMs);
    return true;
  }

  /** Waits for the touch a CTAP2 command needs, sending keepalives on the way. */
  async wait(tx: Transaction): Promise<void> {
    const { keepaliveIntervalMs, processingMs } = this.options;
    this.inRequest = true;
    this.earlyTouch = false;
    const timers: NodeJS.Timeout[] = [];
    const later = (ms: number, fn: () => void) => {
      const t = setTimeout(fn, ms);
      timers.push(t);
      return t;
    };
    try {
      return await new Promise<void>((resolve, reject) => {
        let settled = false;
        const done = (error?: Error) => {
          if (settled) return;
          settled = true;
          this.waiter = undefined;
          tx.cancelled.removeEventListener('abort', onCancel);
          tx.dropped.removeEventListener('abort', onDrop);
          if (error) reject(error);
          else resolve();
        };
        const onCancel = () => done(statusError(Status.KEEPALIVE_CANCEL));
        const onDrop = () => done(new Dropped());
        if (tx.dropped.aborted) return onDrop();
        if (tx.cancelled.aborted) return onCancel();
        tx.cancelled.addEventListener('abort', onCancel);
        tx.dropped.addEventListener('abort', onDrop);

        let keepalive: NodeJS.Timeout | undefined;
        const beat = (status: number) => {
          if (settled) return;
          tx.keepalive(status);
          keepalive = later(keepaliveIntervalMs, () => beat(status));
        };
        const upNeeded = () => {
          if (settled) return;
          if (keepalive) clearTimeout(keepalive);
          beat(Keepalive.UPNEEDED);
          this.waiter = () => {
            this.events.touched();
            done();
          };
          this.events.upNeeded();
          if (this.earlyTouch) {
            this.touch();
            return;
          }
          if (this.options.touch === 'auto') later(this.options.touchDelayMs, () => this.waiter && this.touch());
          else later(this.options.touchTimeoutMs, () => done(statusError(Status.USER_ACTION_TIMEOUT)));
        };
        if (processingMs > 0) {
          beat(Keepalive.PROCESSING);
          later(processingMs, upNeeded);
        } else {
          upNeeded();
        }
      });
    } finally {
      for (const t of timers) clearTimeout(t);
      this.inRequest = false;
      this.earlyTouch = false;
    }
  }
}

const statusError = (status: number): Error => new CtapStatusError(status);

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
