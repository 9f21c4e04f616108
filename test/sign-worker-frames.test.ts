// The frames a signing worker process and the pool exchange on their pipe: a batch and its answer
// arrive whole and in order however the pipe cuts the bytes — one byte at a time, several frames
// in one read, a frame split across reads — and every field comes back as it was sent.
import { describe, expect, it } from 'vitest';
import { encodeFromWorker, encodeToWorker, FrameReader, type ToWorkerProcess } from '../src/pkcs11/sign-worker-frames.js';
import type { FromWorker } from '../src/pkcs11/sign-workers.js';

const sign: ToWorkerProcess = {
  type: 'sign',
  keys: [
    { handle: '0100000000000000', label: 'p256', id: 'a1b2' },
    { handle: '0200000000000000', label: 'rsa "two" é', id: '' },
  ],
  mechanisms: [{ mechanism: 0x1041 }, { mechanism: 0x43, parameter: { type: 3, hashAlg: 0x250, mgf: 2, saltLen: 32 } as never }],
  layout: Uint32Array.from([0, 0, 32, 64, 1, 1, 5, 256]),
  data: Uint8Array.from([...Array(32).keys()].concat([250, 251, 252, 253, 254])),
};

const done: FromWorker = {
  type: 'done',
  output: Uint8Array.from({ length: 320 }, (_, i) => i & 255),
  lengths: Int32Array.from([64, -1]),
  failures: [{ index: 1, fn: 'C_Sign', rv: 0x150 }],
  elapsedMs: 1.25,
};

/** Feeds `bytes` to a reader in the given chunk sizes (cycled) and returns what it delivered. */
function read<M>(make: (deliver: (m: M) => void) => FrameReader<M>, bytes: Buffer, sizes: number[]): M[] {
  const got: M[] = [];
  const reader = make((m) => got.push(m));
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const size = sizes[i % sizes.length]!;
    reader.push(Buffer.from(bytes.subarray(at, at + size)));
    at += size;
  }
  return got;
}

/** Plain values to compare: typed arrays and Buffers as arrays of numbers. */
function plain(value: unknown): unknown {
  if (ArrayBuffer.isView(value)) return Array.from(value as Uint8Array);
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value;
}

describe('signing-worker frames', () => {
  const toWorker = Buffer.concat([
    encodeToWorker({ type: 'init', init: { modulePath: '/usr/lib/softhsm/libsofthsm2.so', ownProcess: { serial: '1234', label: 'door' } } }),
    encodeToWorker({ type: 'login', userType: 1, pin: '123456' }),
    encodeToWorker(sign),
    encodeToWorker({ type: 'close' }),
  ]);

  for (const sizes of [[toWorker.length], [1], [3, 7, 1000], [5, 2]]) {
    it(`gives the pool's messages whole and in order, read in chunks of ${sizes.join(', ')} bytes`, () => {
      const got = read(FrameReader.toWorker, toWorker, sizes);
      expect(got.map((m) => m.type)).toEqual(['init', 'login', 'sign', 'close']);
      expect(plain(got[0])).toEqual({ type: 'init', init: { modulePath: '/usr/lib/softhsm/libsofthsm2.so', ownProcess: { serial: '1234', label: 'door' } } });
      expect(plain(got[2])).toEqual(plain(sign));
      expect(got[2]!.type === 'sign' && got[2]!.layout).toBeInstanceOf(Uint32Array);
    });
  }

  it("gives a worker's answers whole, with failures, lengths and timing as sent", () => {
    const bytes = Buffer.concat([encodeFromWorker({ type: 'ready', failure: undefined }), encodeFromWorker(done), encodeFromWorker({ type: 'login', failure: { fn: 'C_Login', rv: 0xa0 } })]);
    for (const sizes of [[bytes.length], [1], [13, 64]]) {
      const got = read(FrameReader.fromWorker, bytes, sizes);
      expect(got.map((m) => m.type)).toEqual(['ready', 'done', 'login']);
      expect(plain(got[1])).toEqual(plain(done));
      expect(got[1]!.type === 'done' && got[1]!.lengths).toBeInstanceOf(Int32Array);
      expect(got[2]).toEqual({ type: 'login', failure: { fn: 'C_Login', rv: 0xa0 } });
    }
  });

  it('holds back a frame until all of it has come', () => {
    const frame = encodeFromWorker(done);
    const got: FromWorker[] = [];
    const reader = FrameReader.fromWorker((m) => got.push(m));
    reader.push(frame.subarray(0, frame.length - 1));
    expect(got).toEqual([]);
    reader.push(frame.subarray(frame.length - 1));
    expect(got).toHaveLength(1);
  });
});
