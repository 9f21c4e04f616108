// Two ends of a virtual HID cable in one process: the host end is a HidTransport for the FIDO
// client; the device end is what an authenticator (the simulator in native-fixtures/fido/) sees.
// Unplugging makes the host end fail as node-hid does when a key is pulled out: TokenRemovedError
// on the next (or the waiting) read and on every write.
import { InvalidArgumentError, TokenRemovedError } from '../errors/index.js';
import { ReportQueue } from './report-queue.js';
import { HID_REPORT_SIZE, removalNotice, type HidOpenOptions, type HidTransport } from './transport.js';

/** The authenticator's side of the cable. */
export interface HidDeviceEnd {
  /** Called with each report the host writes (a copy, HID_REPORT_SIZE bytes). */
  onReport(listener: (report: Uint8Array) => void): void;
  /** Sends one report to the host. Ignored once unplugged or closed. */
  send(report: Uint8Array): void;
  /** Pulls the key out: the host end fails with TokenRemovedError from now on. */
  unplug(): void;
  readonly unplugged: boolean;
}

export interface MemoryHidPair {
  readonly host: HidTransport;
  readonly device: HidDeviceEnd;
}

export function createMemoryHidPair(name = 'sim', options: HidOpenOptions = {}): MemoryHidPair {
  const path = `memory:${name}`;
  const noticeRemoval = removalNotice(path, options.onRemoved);
  const queue = new ReportQueue();
  const listeners: ((report: Uint8Array) => void)[] = [];
  let unplugged = false;
  let closed = false;
  const removed = () => new TokenRemovedError(`the security key at ${path} was removed`);

  const host: HidTransport = {
    path,
    get closed() {
      return closed;
    },
    async write(report) {
      queue.assertWritable(path, report, closed);
      const copy = Uint8Array.from(report);
      // Delivered on a later turn, as a real device's answer would be.
      queueMicrotask(() => {
        if (!unplugged && !closed) for (const listener of listeners) listener(copy);
      });
    },
    read(timeoutMs) {
      return queue.read(timeoutMs);
    },
    async close() {
      closed = true;
      queue.end();
    },
    async [Symbol.asyncDispose]() {
      await host.close();
    },
  };

  const device: HidDeviceEnd = {
    onReport(listener) {
      listeners.push(listener);
    },
    send(report) {
      checkReport(report);
      if (!unplugged && !closed) queue.push(Uint8Array.from(report));
    },
    unplug() {
      if (unplugged) return;
      unplugged = true;
      queue.fail(removed());
      noticeRemoval();
    },
    get unplugged() {
      return unplugged;
    },
  };
  return { host, device };
}

function checkReport(report: Uint8Array): void {
  if (report.length !== HID_REPORT_SIZE) {
    throw new InvalidArgumentError(`a HID report is ${HID_REPORT_SIZE} bytes, not ${report.length}`);
  }
}
