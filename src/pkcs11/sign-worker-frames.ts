// The wire format between the session pool and a signing worker in a process of its own
// (sign-worker-spawn.ts, sign-worker-process.ts): length-prefixed frames on one pipe, in order.
// A batch and its answer are mostly bytes (inputs, layout, signatures), so they travel as bytes:
// Node's IPC channel with advanced serialization ran V8's serializer, a JS frame parser and a
// host-object hook per message, a measurable share of the event loop's time per batch. The rare
// messages (ready, login, close) are JSON. A thread gets the same messages as objects through
// postMessage and never sees this format.
//
// frame   = u32 body length, body
// body    = u8 kind, then per kind:
//   JSON  (0): the message, UTF-8 JSON
//   SIGN  (1): u32 header length, header (UTF-8 JSON: keys, mechanisms), u32 items,
//              items × 4 u32 layout, input bytes
//   DONE  (2): u32 items, items × i32 lengths, f64 elapsedMs, u32 failures length,
//              failures (UTF-8 JSON), output bytes
import type { BatchDone, FromWorker, ToWorker, WorkerInit } from './sign-workers.js';

/** What a worker process reads: its first message says what to load (a thread's is its workerData). */
export type ToWorkerProcess = ToWorker | { type: 'init'; init: WorkerInit };

const JSON_KIND = 0;
const SIGN_KIND = 1;
const DONE_KIND = 2;

function jsonFrame(message: unknown): Buffer {
  const json = Buffer.from(JSON.stringify(message), 'utf8');
  const frame = Buffer.allocUnsafe(5 + json.length);
  frame.writeUInt32LE(1 + json.length, 0);
  frame[4] = JSON_KIND;
  json.copy(frame, 5);
  return frame;
}

/** The pool's message to a worker process, as one frame. */
export function encodeToWorker(message: ToWorkerProcess): Buffer {
  if (message.type !== 'sign') return jsonFrame(message);
  const header = Buffer.from(JSON.stringify({ keys: message.keys, mechanisms: message.mechanisms }), 'utf8');
  const items = message.layout.length / 4;
  const size = 1 + 4 + header.length + 4 + message.layout.length * 4 + message.data.length;
  const frame = Buffer.allocUnsafe(4 + size);
  let at = frame.writeUInt32LE(size, 0);
  frame[at++] = SIGN_KIND;
  at = frame.writeUInt32LE(header.length, at);
  at += header.copy(frame, at);
  at = frame.writeUInt32LE(items, at);
  for (let i = 0; i < message.layout.length; i++) at = frame.writeUInt32LE(message.layout[i]!, at);
  frame.set(message.data, at);
  return frame;
}

/** A worker process's message to the pool, as one frame. */
export function encodeFromWorker(message: FromWorker): Buffer {
  if (message.type !== 'done') return jsonFrame(message);
  const failures = Buffer.from(JSON.stringify(message.failures), 'utf8');
  const items = message.lengths.length;
  const size = 1 + 4 + items * 4 + 8 + 4 + failures.length + message.output.length;
  const frame = Buffer.allocUnsafe(4 + size);
  let at = frame.writeUInt32LE(size, 0);
  frame[at++] = DONE_KIND;
  at = frame.writeUInt32LE(items, at);
  for (let i = 0; i < items; i++) at = frame.writeInt32LE(message.lengths[i]!, at);
  at = frame.writeDoubleLE(message.elapsedMs, at);
  at = frame.writeUInt32LE(failures.length, at);
  at += failures.copy(frame, at);
  frame.set(message.output, at);
  return frame;
}

function decodeSign(body: Buffer): ToWorkerProcess {
  let at = 1;
  const headerLength = body.readUInt32LE(at);
  at += 4;
  const header = JSON.parse(body.toString('utf8', at, at + headerLength)) as Pick<Extract<ToWorker, { type: 'sign' }>, 'keys' | 'mechanisms'>;
  at += headerLength;
  const items = body.readUInt32LE(at);
  at += 4;
  const layout = new Uint32Array(items * 4);
  for (let i = 0; i < layout.length; i++, at += 4) layout[i] = body.readUInt32LE(at);
  return { type: 'sign', keys: header.keys, mechanisms: header.mechanisms, layout, data: body.subarray(at) };
}

function decodeDone(body: Buffer): BatchDone {
  let at = 1;
  const items = body.readUInt32LE(at);
  at += 4;
  const lengths = new Int32Array(items);
  for (let i = 0; i < items; i++, at += 4) lengths[i] = body.readInt32LE(at);
  const elapsedMs = body.readDoubleLE(at);
  at += 8;
  const failuresLength = body.readUInt32LE(at);
  at += 4;
  const failures = JSON.parse(body.toString('utf8', at, at + failuresLength)) as BatchDone['failures'];
  at += failuresLength;
  return { type: 'done', output: body.subarray(at), lengths, failures, elapsedMs };
}

/**
 * Cuts a byte stream into frames and decodes each. Pipe reads do not keep frame boundaries: a
 * chunk may hold several frames, or part of one.
 */
export class FrameReader<Message> {
  #pending: Buffer | undefined;
  readonly #decode: (body: Buffer) => Message;
  readonly #deliver: (message: Message) => void;

  private constructor(decode: (body: Buffer) => Message, deliver: (message: Message) => void) {
    this.#decode = decode;
    this.#deliver = deliver;
  }

  /** Reads what a worker process sends the pool. */
  static fromWorker(deliver: (message: FromWorker) => void): FrameReader<FromWorker> {
    return new FrameReader((body) => (body[0] === DONE_KIND ? decodeDone(body) : (JSON.parse(body.toString('utf8', 1)) as FromWorker)), deliver);
  }

  /** Reads what the pool sends a worker process. */
  static toWorker(deliver: (message: ToWorkerProcess) => void): FrameReader<ToWorkerProcess> {
    return new FrameReader((body) => (body[0] === SIGN_KIND ? decodeSign(body) : (JSON.parse(body.toString('utf8', 1)) as ToWorkerProcess)), deliver);
  }

  push(chunk: Buffer): void {
    let data = this.#pending ? Buffer.concat([this.#pending, chunk]) : chunk;
    while (data.length >= 4) {
      const end = 4 + data.readUInt32LE(0);
      if (data.length < end) break;
      // Decoded views share the chunk's memory: the chunk is not reused once read.
      this.#deliver(this.#decode(data.subarray(4, end)));
      data = data.subarray(end);
    }
    this.#pending = data.length > 0 ? data : undefined;
  }
}
