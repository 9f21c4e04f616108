// Reports that arrive on their own (node-hid's 'data' events, UDP datagrams, the in-memory pair)
// wait here until `read()` takes them, so a CANCEL written during a long wait is never stuck
// behind a read. One waiter at a time: CTAPHID is one request per channel, read in order.
import { DeviceIoError, type TokengateError } from '../errors/index.js';

export class ReportQueue {
  private readonly reports: Uint8Array[] = [];
  private waiter: ((report: Uint8Array | undefined) => void) | undefined;
  private failure: TokengateError | undefined;
  private ended = false;

  push(report: Uint8Array): void {
    if (this.ended) return;
    if (this.waiter) {
      const wake = this.waiter;
      this.waiter = undefined;
      wake(report);
    } else {
      this.reports.push(report);
    }
  }

  /** Every later read rejects with `error` (the device is gone or broken); a waiting read too. */
  fail(error: TokengateError): void {
    if (this.failure || this.ended) return;
    this.failure = error;
    this.wakeWaiter();
  }

  /** Closed: a waiting read and every later one resolve `undefined`. */
  end(): void {
    this.ended = true;
    this.reports.length = 0;
    this.wakeWaiter();
  }

  get failed(): TokengateError | undefined {
    return this.failure;
  }

  read(timeoutMs: number): Promise<Uint8Array | undefined> {
    const queued = this.reports.shift();
    if (queued) return Promise.resolve(queued);
    if (this.failure) return Promise.reject(this.failure);
    if (this.ended || timeoutMs <= 0) return Promise.resolve(undefined);
    if (this.waiter) return Promise.reject(new DeviceIoError('one read at a time on a HID transport'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        resolve(undefined);
      }, timeoutMs);
      this.waiter = (report) => {
        clearTimeout(timer);
        if (report === undefined && this.failure) reject(this.failure);
        else resolve(report);
      };
    });
  }

  private wakeWaiter(): void {
    const wake = this.waiter;
    this.waiter = undefined;
    wake?.(undefined);
  }
}
