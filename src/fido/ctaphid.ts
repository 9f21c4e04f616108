// One CTAPHID channel on one HID transport: channel allocation, one request at a time, answers
// reassembled from frames on our channel only (hidraw is shared: other channels' frames are not
// ours), keepalives, CHANNEL_BUSY retried with back-off, deadlines on every wait, and cancel —
// an aborted request sends CTAPHID_CANCEL and drains to the key's answer (CTAP2_ERR_KEEPALIVE_CANCEL),
// because a request abandoned without it leaves a real key busy until it is re-plugged.
import { randomBytes } from 'node:crypto';
import {
  CtapHidError,
  DeviceBusyError,
  DeviceTimeoutError,
  FidoProtocolError,
  OperationCancelledError,
  TokengateError,
  UserPresenceTimeoutError,
} from '../errors/index.js';
import type { HidTransport } from '../hid/transport.js';
import { BROADCAST_CID, CAPABILITY, CTAPHID, CTAPHID_ERR_CHANNEL_BUSY, ctapHidErrorName } from './constants.js';
import { encodeFrames, frameCid, Reassembler, type CtapHidMessage } from './frames.js';

export interface CtapHidDeviceVersion {
  protocol: number;
  major: number;
  minor: number;
  build: number;
}

export interface TransactOptions {
  /** Aborting sends CTAPHID_CANCEL and waits for the key to give up; then OperationCancelledError. */
  signal?: AbortSignal | undefined;
  /** How long the key may take in all, touch included (default 30 s); then UserPresenceTimeoutError. */
  timeoutMs?: number | undefined;
  /** Each keepalive's status: 1 processing, 2 waiting for a touch. */
  onKeepalive?: ((status: number) => void) | undefined;
}

export interface ConnectionOptions {
  /** A key that sends nothing at all for this long is not answering (default 3 s). */
  silenceMs?: number;
  /** CHANNEL_BUSY answers retried before DeviceBusyError (default 8, back-off from 10 ms doubling). */
  busyRetries?: number;
}

/** Reads wait at most this long at a time, so an abort is noticed promptly. */
const READ_SLICE_MS = 50;
const CANCEL_DRAIN_MS = 2_000;
const DEFAULT_TIMEOUT_MS = 30_000;

export class CtapHidConnection implements AsyncDisposable {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly reassembler = new Reassembler();

  private constructor(
    readonly transport: HidTransport,
    readonly cid: number,
    readonly capabilities: number,
    readonly version: CtapHidDeviceVersion,
    private readonly silenceMs: number,
    private readonly busyRetries: number,
  ) {}

  /** Allocates a channel (INIT on the broadcast channel with a fresh nonce). */
  static async open(transport: HidTransport, options: ConnectionOptions = {}): Promise<CtapHidConnection> {
    const silenceMs = options.silenceMs ?? 3_000;
    const nonce = randomBytes(8);
    for (const frame of encodeFrames(BROADCAST_CID, CTAPHID.INIT, nonce)) await transport.write(frame);
    const reassembler = new Reassembler();
    const deadline = Date.now() + silenceMs;
    for (;;) {
      const report = await transport.read(deadline - Date.now());
      if (!report) throw new DeviceTimeoutError(`the security key at ${transport.path} did not answer CTAPHID_INIT`);
      if (frameCid(report) !== BROADCAST_CID) continue;
      const message = reassembler.push(report);
      if (!message) continue;
      if (message.cmd === CTAPHID.ERROR) throw hidError(message, 'CTAPHID_INIT');
      // Another program's INIT answer on a shared device, or a stale one: not ours.
      if (message.cmd !== CTAPHID.INIT || message.payload.length < 17 || !nonce.equals(message.payload.subarray(0, 8))) continue;
      const p = message.payload;
      const cid = new DataView(p.buffer, p.byteOffset).getUint32(8);
      if (cid === BROADCAST_CID || cid === 0) throw new FidoProtocolError(`the security key allocated the reserved channel ${cid}`);
      const version = { protocol: p[12]!, major: p[13]!, minor: p[14]!, build: p[15]! };
      return new CtapHidConnection(transport, cid, p[16]!, version, silenceMs, options.busyRetries ?? 8);
    }
  }

  get supportsCbor(): boolean {
    return (this.capabilities & CAPABILITY.CBOR) !== 0;
  }
  /** False when the key says it does not speak CTAP1/U2F over CTAPHID_MSG (the NMSG bit). */
  get supportsMsg(): boolean {
    return (this.capabilities & CAPABILITY.NMSG) === 0;
  }
  get supportsWink(): boolean {
    return (this.capabilities & CAPABILITY.WINK) !== 0;
  }

  /** One request and its answer's payload; requests on one connection run one after another. */
  transact(cmd: number, payload: Uint8Array, options: TransactOptions = {}): Promise<Uint8Array> {
    const run = this.queue.then(() => this.exchange(cmd, payload, options));
    this.queue = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    await this.transport.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private async exchange(cmd: number, payload: Uint8Array, options: TransactOptions): Promise<Uint8Array> {
    const { signal } = options;
    if (signal?.aborted) throw cancelled();
    const deadline = Date.now() + (options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    for (let attempt = 0; ; attempt++) {
      await this.send(cmd, payload);
      const answer = await this.receive(cmd, deadline, options);
      if (answer.cmd !== CTAPHID.ERROR || answer.payload[0] !== CTAPHID_ERR_CHANNEL_BUSY) {
        if (answer.cmd === CTAPHID.ERROR) throw hidError(answer, commandName(cmd));
        return answer.payload;
      }
      // Another program holds the key: wait and ask again, a little longer each time.
      if (attempt >= this.busyRetries || Date.now() >= deadline) {
        throw new DeviceBusyError(`the security key at ${this.transport.path} stayed busy with another program`, {
          ctap: { status: CTAPHID_ERR_CHANNEL_BUSY, statusName: ctapHidErrorName(CTAPHID_ERR_CHANNEL_BUSY), command: commandName(cmd) },
        });
      }
      await delay(Math.min(10 * 2 ** attempt, 500), signal);
    }
  }

  private async send(cmd: number, payload: Uint8Array): Promise<void> {
    // Left-overs of an earlier answer that went wrong must not be read as part of this one.
    while (await this.transport.read(0)) {
      /* dropped */
    }
    this.reassembler.reset();
    for (const frame of encodeFrames(this.cid, cmd, payload)) await this.transport.write(frame);
  }

  /** The answer to `cmd` (or an ERROR frame), skipping keepalives and other channels' frames. */
  private async receive(cmd: number, deadline: number, options: TransactOptions): Promise<CtapHidMessage> {
    let lastHeard = Date.now();
    for (;;) {
      if (options.signal?.aborted) return this.cancel(cmd);
      const now = Date.now();
      if (now >= deadline) {
        // Give up the way an abort does, so the key is not left waiting for a touch.
        await this.cancel(cmd).catch(() => undefined);
        throw new UserPresenceTimeoutError(`the security key at ${this.transport.path} was not touched in time`);
      }
      if (now - lastHeard >= this.silenceMs) {
        throw new DeviceTimeoutError(`the security key at ${this.transport.path} stopped answering ${commandName(cmd)}`);
      }
      const report = await this.transport.read(Math.min(READ_SLICE_MS, deadline - now, this.silenceMs - (now - lastHeard)));
      if (!report || frameCid(report) !== this.cid) continue;
      lastHeard = Date.now();
      const message = this.reassembler.push(report);
      if (!message) continue;
      if (message.cmd === CTAPHID.KEEPALIVE) {
        options.onKeepalive?.(message.payload[0] ?? 0);
        continue;
      }
      if (message.cmd !== cmd && message.cmd !== CTAPHID.ERROR) {
        throw new FidoProtocolError(`the security key answered ${commandName(message.cmd)} to ${commandName(cmd)}`);
      }
      return message;
    }
  }

  /** Sends CTAPHID_CANCEL and drains to the key's answer; then OperationCancelledError. */
  private async cancel(cmd: number): Promise<never> {
    await this.transport.write(encodeFrames(this.cid, CTAPHID.CANCEL, new Uint8Array(0))[0]!);
    const deadline = Date.now() + CANCEL_DRAIN_MS;
    while (Date.now() < deadline) {
      const report = await this.transport.read(Math.min(READ_SLICE_MS, deadline - Date.now()));
      if (!report || frameCid(report) !== this.cid) continue;
      let message: CtapHidMessage | undefined;
      try {
        message = this.reassembler.push(report);
      } catch {
        continue;
      }
      if (message && message.cmd !== CTAPHID.KEEPALIVE && (message.cmd === cmd || message.cmd === CTAPHID.ERROR)) break;
    }
    throw cancelled();
  }
}

function cancelled(): OperationCancelledError {
  return new OperationCancelledError('the operation was cancelled; the security key was told');
}

function hidError(message: CtapHidMessage, command: string): TokengateError {
  const status = message.payload[0] ?? 0x7f;
  const statusName = ctapHidErrorName(status);
  return new CtapHidError(`the security key refused ${command}: ${statusName}`, { ctap: { status, statusName, command } });
}

const COMMAND_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(CTAPHID).map(([name, value]) => [value, `CTAPHID_${name}`]),
);
function commandName(cmd: number): string {
  return COMMAND_NAMES[cmd] ?? `CTAPHID command 0x${cmd.toString(16)}`;
}

function delay(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(cancelled());
    const onAbort = () => {
      clearTimeout(timer);
      reject(cancelled());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

