// CTAPHID framing (CTAP 2.1 §11.2.4): a message is one INIT packet — CID(4, big-endian) ‖ CMD|0x80
// ‖ BCNT(2) ‖ 57 bytes — and up to 128 CONT packets — CID(4) ‖ SEQ(0..0x7F) ‖ 59 bytes. Pure
// functions and one reassembler, so the property tests can throw any bytes at them.
import { FidoProtocolError, InvalidArgumentError } from '../errors/index.js';
import { HID_REPORT_SIZE } from '../hid/transport.js';

const INIT_DATA = HID_REPORT_SIZE - 7;
const CONT_DATA = HID_REPORT_SIZE - 5;
/** The largest message CTAPHID can carry: 57 + 128 × 59. */
export const MAX_MESSAGE_SIZE = INIT_DATA + 128 * CONT_DATA;

export function encodeFrames(cid: number, cmd: number, payload: Uint8Array): Uint8Array[] {
  if (payload.length > MAX_MESSAGE_SIZE) {
    throw new InvalidArgumentError(`a CTAPHID message holds at most ${MAX_MESSAGE_SIZE} bytes, not ${payload.length}`);
  }
  const frames: Uint8Array[] = [];
  const first = new Uint8Array(HID_REPORT_SIZE);
  const view = new DataView(first.buffer);
  view.setUint32(0, cid);
  first[4] = 0x80 | cmd;
  view.setUint16(5, payload.length);
  first.set(payload.subarray(0, INIT_DATA), 7);
  frames.push(first);
  for (let offset = INIT_DATA, seq = 0; offset < payload.length; offset += CONT_DATA, seq++) {
    const cont = new Uint8Array(HID_REPORT_SIZE);
    new DataView(cont.buffer).setUint32(0, cid);
    cont[4] = seq;
    cont.set(payload.subarray(offset, offset + CONT_DATA), 5);
    frames.push(cont);
  }
  return frames;
}

export function frameCid(report: Uint8Array): number {
  return new DataView(report.buffer, report.byteOffset, report.byteLength).getUint32(0);
}

export interface CtapHidMessage {
  cmd: number;
  payload: Uint8Array;
}

/**
 * Collects one message on one channel. `push` returns the message when complete, `undefined` while
 * more frames are due; frames for other channels are the caller's to drop before pushing.
 * Throws FidoProtocolError for a frame that breaks the rules (CONT first, wrong sequence, a length
 * beyond the maximum, a short report); the reassembler is then reset.
 */
export class Reassembler {
  private cmd = 0;
  private buffer: Uint8Array | undefined;
  private filled = 0;
  private nextSeq = 0;

  constructor(private readonly maxSize = MAX_MESSAGE_SIZE) {}

  get inProgress(): boolean {
    return this.buffer !== undefined;
  }

  reset(): void {
    this.buffer = undefined;
    this.filled = 0;
    this.nextSeq = 0;
  }

  push(report: Uint8Array): CtapHidMessage | undefined {
    if (report.length !== HID_REPORT_SIZE) return this.fail(`a report of ${report.length} bytes`);
    const type = report[4]!;
    if (type & 0x80) {
      // An INIT frame starts a message; one in the middle of another is the key's protocol error.
      if (this.buffer) return this.fail('a new message before the last one was complete');
      const length = (report[5]! << 8) | report[6]!;
      if (length > this.maxSize) return this.fail(`a message of ${length} bytes (at most ${this.maxSize})`);
      this.cmd = type & 0x7f;
      this.buffer = new Uint8Array(length);
      const take = Math.min(length, INIT_DATA);
      this.buffer.set(report.subarray(7, 7 + take));
      this.filled = take;
      this.nextSeq = 0;
    } else {
      if (!this.buffer) return this.fail('a continuation frame with no message started');
      if (type !== this.nextSeq) return this.fail(`continuation ${type} where ${this.nextSeq} was due`);
      const take = Math.min(this.buffer.length - this.filled, CONT_DATA);
      this.buffer.set(report.subarray(5, 5 + take), this.filled);
      this.filled += take;
      this.nextSeq++;
    }
    if (this.filled < this.buffer.length) return undefined;
    const message = { cmd: this.cmd, payload: this.buffer };
    this.reset();
    return message;
  }

  private fail(what: string): never {
    this.reset();
    throw new FidoProtocolError(`the security key sent ${what}`);
  }
}
