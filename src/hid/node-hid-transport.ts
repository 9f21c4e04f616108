// A real key through node-hid's async API. Reports are read in 'data' mode — node-hid's own read
// thread — into a ReportQueue, never with read(): one HIDAsync runs its calls one after another,
// so a pending read() would hold back the write of a CANCEL. That thread's failure comes as a
// *string* in the 'error' event and ends the reading; it is what an unplugged key gives, so it
// fails the queue as a removal. hidraw wants the report-ID byte in front of each write (0x00:
// CTAPHID devices have no numbered reports), so 65 bytes go out for each 64-byte report.
import type { EventEmitter } from 'node:events';
import { TokenRemovedError, type TokengateError } from '../errors/index.js';
import { classifyHidError } from './hid-errors.js';
import { loadNodeHid } from './node-hid-loader.js';
import { ReportQueue } from './report-queue.js';
import { HID_REPORT_SIZE, removalNotice, type HidOpenOptions, type HidTransport } from './transport.js';

/** The part of node-hid's HIDAsync used here (tests put a fake behind it). */
export interface HidAsyncDevice extends EventEmitter {
  write(values: number[] | Buffer): Promise<number>;
  close(): Promise<void>;
}

/**
 * Opens the HID device at `path` (a hidraw node on Linux, hidapi's path elsewhere), as listed by
 * `listFidoDevices()`. Rejects with TokenNotPresentError (nothing there), DeviceAccessDeniedError
 * (with the udev or Administrator fix), DeviceIoError, or ModuleLoadError (node-hid not loadable).
 */
export async function openNodeHidTransport(path: string, options: HidOpenOptions = {}): Promise<HidTransport> {
  const hid = await loadNodeHid();
  let device: HidAsyncDevice;
  try {
    device = await hid.HIDAsync.open(path);
  } catch (err) {
    throw classifyHidError(err, path, 'open');
  }
  return nodeHidTransport(path, device, options);
}

/** Internal: the transport around an open device. */
export function nodeHidTransport(path: string, device: HidAsyncDevice, options: HidOpenOptions = {}): HidTransport {
  const queue = new ReportQueue();
  const noticeRemoval = removalNotice(path, options.onRemoved);
  let closed = false;
  let closing: Promise<void> | undefined;

  const fail = (error: TokengateError) => {
    queue.fail(error);
    if (error instanceof TokenRemovedError) noticeRemoval();
  };
  // Listened to first: an 'error' with no listener would be thrown from node-hid's callback.
  device.on('error', (raw: unknown) => fail(classifyHidError(raw, path, 'read')));
  device.on('data', (data: Buffer) => queue.push(toReport(data)));

  const transport: HidTransport = {
    path,
    get closed() {
      return closed;
    },
    async write(report) {
      queue.assertWritable(path, report, closed);
      const out = Buffer.alloc(HID_REPORT_SIZE + 1); // out[0] = 0: the report ID
      out.set(report, 1);
      try {
        await device.write(out);
      } catch (err) {
        const error = classifyHidError(err, path, 'write');
        if (error instanceof TokenRemovedError) fail(error);
        throw error;
      }
    },
    read(timeoutMs) {
      return queue.read(timeoutMs);
    },
    close() {
      if (closing) return closing;
      closed = true;
      queue.end();
      // A key already gone fails its close too; there is nothing left to release then.
      closing = device.close().catch(() => undefined);
      return closing;
    },
    async [Symbol.asyncDispose]() {
      await transport.close();
    },
  };
  return transport;
}

/**
 * One CTAPHID report from what the read thread gave: 64 bytes from hidraw and Windows (which drop
 * report ID 0); a leading report ID where a platform left it on; zeros after a short report.
 */
function toReport(data: Buffer): Uint8Array {
  const report = new Uint8Array(HID_REPORT_SIZE);
  const bytes = data.length === HID_REPORT_SIZE + 1 && data[0] === 0 ? data.subarray(1) : data;
  report.set(bytes.subarray(0, HID_REPORT_SIZE));
  return report;
}
