// Reports that arrive on their own (node-hid's 'data' events, UDP datagrams, the in-memory pair)
// wait here until `read()` takes them, so a CANCEL written during a long wait is never stuck
// behind a read. One waiter at a time: CTAPHID is one request per channel, read in order.
import { DeviceIoError, InvalidArgumentError, TokenRemovedError, type TokengateError } from '../errors/index.js';
import { HID_REPORT_SIZE } from './transport.js';

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

  /** What every transport's write checks first: the report's size, a closed transport, a device gone. */
  assertWritable(path: string, report: Uint8Array, closed: boolean): void {
    if (report.length !== HID_REPORT_SIZE) throw new InvalidArgumentError(`a HID report is ${HID_REPORT_SIZE} bytes, not ${report.length}`);
    if (closed) throw new TokenRemovedError(`the transport to ${path} is closed`);
    if (this.failure) throw this.failure; // the key is gone: no write can reach it
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
