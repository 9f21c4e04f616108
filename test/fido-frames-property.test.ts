// Property tests of what a security key can send us: any byte sequence through the frame
// reassembler and the strict CBOR decoder gives a typed error or a valid message — never a crash
// of another kind, a hang, or memory beyond the CTAPHID maximum. 10,000 cases each.
import fc from 'fast-check';
import { encode } from 'cborg';
import { describe, expect, it } from 'vitest';
import { FidoProtocolError } from '../src/index.js';
import { decodeCanonical } from '../src/fido/cbor.js';
import { encodeFrames, MAX_MESSAGE_SIZE, Reassembler } from '../src/fido/frames.js';

const RUNS = 10_000;
const report = fc.uint8Array({ minLength: 64, maxLength: 64 });

describe('CTAPHID reassembly of arbitrary reports', () => {
  it('gives a message within the maximum size, or a FidoProtocolError, for any reports', () => {
    fc.assert(
      fc.property(fc.array(report, { maxLength: 12 }), (reports) => {
        const r = new Reassembler();
        for (const rep of reports) {
          try {
            const m = r.push(rep);
            if (m) expect(m.payload.length).toBeLessThanOrEqual(MAX_MESSAGE_SIZE);
          } catch (err) {
            expect(err).toBeInstanceOf(FidoProtocolError);
          }
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('reassembles exactly what was framed, for any payload up to the maximum', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xfffffffe }), fc.integer({ min: 0, max: 0x7f }), fc.uint8Array({ maxLength: MAX_MESSAGE_SIZE }), (cid, cmd, payload) => {
        const r = new Reassembler();
        const frames = encodeFrames(cid, cmd, payload);
        let message;
        for (const [i, f] of frames.entries()) {
          message = r.push(f);
          if (i < frames.length - 1) expect(message).toBeUndefined();
        }
        expect(message?.cmd).toBe(cmd);
        expect(Buffer.from(message!.payload).equals(Buffer.from(payload))).toBe(true);
      }),
      { numRuns: 2_000 },
    );
  });

  it('refuses a continuation out of sequence, and a frame of the wrong size', () => {
    const payload = new Uint8Array(200).fill(7);
    const frames = encodeFrames(1, 0x10, payload);
    const r = new Reassembler();
    r.push(frames[0]!);
    expect(() => r.push(frames[2]!)).toThrow(FidoProtocolError);
    expect(() => new Reassembler().push(new Uint8Array(63))).toThrow(FidoProtocolError);
  });
});

describe('strict CBOR decoding of arbitrary bytes', () => {
  it('gives a value whose canonical encoding is the input, or a FidoProtocolError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 96 }), (bytes) => {
        try {
          const value = decodeCanonical(bytes, 'a fuzzed answer');
          expect(Buffer.from(encode(value)).equals(Buffer.from(bytes))).toBe(true);
        } catch (err) {
          expect(err).toBeInstanceOf(FidoProtocolError);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('accepts canonical CTAP2-shaped maps, and refuses them with keys out of order or integers not minimal', () => {
    const ctapMap = fc.dictionary(fc.integer({ min: 1, max: 20 }).map(String), fc.oneof(fc.integer(), fc.uint8Array({ maxLength: 40 }), fc.string()));
    fc.assert(
      fc.property(ctapMap, (dict) => {
        const map = new Map(Object.entries(dict).map(([k, v]) => [Number(k), v]));
        const bytes = encode(map);
        expect(decodeCanonical(bytes, 'a map')).toBeInstanceOf(Map);
      }),
      { numRuns: 2_000 },
    );
    // {2: 1, 1: 1} — keys out of canonical order.
    expect(() => decodeCanonical(Uint8Array.of(0xa2, 0x02, 0x01, 0x01, 0x01), 'a map')).toThrow(FidoProtocolError);
    // 1 encoded in two bytes.
    expect(() => decodeCanonical(Uint8Array.of(0x18, 0x01), 'an integer')).toThrow(FidoProtocolError);
    // A duplicate key, an indefinite-length map, undefined, a tag.
    for (const bad of [[0xa2, 0x01, 0x01, 0x01, 0x02], [0xbf, 0x01, 0x01, 0xff], [0xf7], [0xc1, 0x01]]) {
      expect(() => decodeCanonical(Uint8Array.from(bad), 'an answer')).toThrow(FidoProtocolError);
    }
  });
});
