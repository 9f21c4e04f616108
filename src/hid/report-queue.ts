// Reports that arrive on their own (node-hid's 'data' events, UDP datagrams, the in-memory pair)
// wait here until `read()` takes them, so a CANCEL written during a long wait is never stuck
// behind a read. One waiter at a time: CTAPHID is one request per channel, read in order.
import { DeviceIoError, InvalidArgumentError, TokenRemovedError, type TokengateError } from '../errors/index.js';
import { HID_REPORT_SIZE } from './transport.js';

const TIMER_SLICE_MS = 50;

export class ReportQueue {
  private readonly reports: Uint8Array[] = [];
  private waiter: ((report: Uint8Array | undefined) => void) | undefined;
  /** When the waiting read gives up (performance.now() time). */
  private waiterDeadline = 0;
  // One timer for all reads, left armed when a report ends a wait: a request's answer comes as
  // several reports, each ending a wait of its own, and a timer set and cleared per report cost
  // more than everything else done per report. When it fires it ends a read that is past its
  // deadline, or re-arms for the read waiting then, or, with none waiting, stops. It is never set
  // for more than TIMER_SLICE_MS, so one left armed keeps the event loop up no longer than that.
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerAt = 0;
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
    this.stopTimer();
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
      this.waiter = (report) => {
        if (report === undefined && this.failure) reject(this.failure);
        else resolve(report);
      };
      const deadline = performance.now() + timeoutMs;
      this.waiterDeadline = deadline;
      // A timer already due by this read's deadline serves it (it re-arms when it fires early).
      if (this.timer === undefined || this.timerAt > deadline) this.armTimer(timeoutMs);
    });
  }

  private armTimer(ms: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    const slice = Math.min(ms, TIMER_SLICE_MS);
    this.timerAt = performance.now() + slice;
    this.timer = setTimeout(this.onTimer, slice);
  }

  private stopTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    const wake = this.waiter;
    if (!wake) return;
    const left = this.waiterDeadline - performance.now();
    // Timers may fire a little before their time by performance.now(): within a millisecond is due.
    if (left > 1) return this.armTimer(left);
    this.waiter = undefined;
    wake(undefined);
  };

  private wakeWaiter(): void {
    const wake = this.waiter;
    this.waiter = undefined;
    wake?.(undefined);
  }
}
