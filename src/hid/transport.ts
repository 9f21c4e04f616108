// The one thing the FIDO layer needs from a HID device: write one 64-byte report, read one with a
// deadline, close. node-hid is behind it in production (node-hid-transport.ts); an in-memory pair
// (memory-transport.ts) and UDP on loopback (udp-transport.ts) put the simulated authenticator of
// native-fixtures/fido/ behind it in tests. Reports carry no report-ID byte here: a transport that
// needs one (node-hid on hidraw) adds it itself.

/** Bytes in one CTAPHID report, in and out. */
export const HID_REPORT_SIZE = 64;

export interface HidTransport extends AsyncDisposable {
  /** Where the device is: a hidraw path, `udp:HOST:PORT`, or `memory:NAME`. */
  readonly path: string;
  /**
   * Sends one report of exactly HID_REPORT_SIZE bytes.
   * Rejects with TokenRemovedError (device gone), DeviceAccessDeniedError or DeviceIoError.
   */
  write(report: Uint8Array): Promise<void>;
  /**
   * The next report from the device (HID_REPORT_SIZE bytes), or `undefined` when none came within
   * `timeoutMs`. Reports that arrived while nobody was reading are queued, never lost. Rejects as
   * `write` does; a read already waiting when the transport closes resolves `undefined`.
   */
  read(timeoutMs: number): Promise<Uint8Array | undefined>;
  /** Idempotent; pending reads resolve `undefined`. */
  close(): Promise<void>;
  readonly closed: boolean;
}

/** How a transport is opened, whichever is behind it. */
export interface HidOpenOptions {
  /**
   * Called once, at once, when the transport learns that the device went (a failed read or write,
   * an unreachable peer): hand it to `FidoDeviceWatcher.noteRemoved` so the watcher does not wait
   * for its next poll. Exceptions it throws are not the transport's: they are rethrown on a later turn.
   */
  onRemoved?: (path: string) => void;
}

/** The `onRemoved` hook, called at most once, and never into the caller's I/O path. */
export function removalNotice(path: string, onRemoved: ((path: string) => void) | undefined): () => void {
  let told = false;
  return () => {
    if (told || !onRemoved) return;
    told = true;
    try {
      onRemoved(path);
    } catch (err) {
      queueMicrotask(() => {
        throw err;
      });
    }
  };
}
