// The simulated key's own knobs, through the in-memory HID pair with frames built by hand here,
// so the client's tests can rely on them: INIT and its nonce, CHANNEL_BUSY (knob and real),
// INVALID_SEQ, MSG_TIMEOUT, keepalive phases, CANCEL, touch timeout, PIN lockout per power cycle,
// configurable retries, unplugging (also mid-reply), the reply faults, and garbage input.
import { createCipheriv, createECDH, createHash, createDecipheriv } from 'node:crypto';
import { once } from 'node:events';
import { decode, encode } from 'cborg';
import { describe, expect, it } from 'vitest';
import { TokenRemovedError } from '../src/errors/index.js';
import type { HidTransport } from '../src/hid/transport.js';
import { SimulatedAuthenticator, type SimulatedAuthenticatorOptions } from '../native-fixtures/fido/authenticator.js';

const BROADCAST = 0xffffffff;
const CMD = { PING: 0x01, MSG: 0x03, INIT: 0x06, CBOR: 0x10, CANCEL: 0x11, KEEPALIVE: 0x3b, ERROR: 0x3f };

function initFrame(cid: number, cmd: number, payload: Uint8Array, length = payload.length): Uint8Array {
  const f = new Uint8Array(64);
  const v = new DataView(f.buffer);
  v.setUint32(0, cid);
  f[4] = 0x80 | cmd;
  v.setUint16(5, length);
  f.set(payload.subarray(0, 57), 7);
  return f;
}

function contFrame(cid: number, seq: number, data: Uint8Array): Uint8Array {
  const f = new Uint8Array(64);
  new DataView(f.buffer).setUint32(0, cid);
  f[4] = seq;
  f.set(data.subarray(0, 59), 5);
  return f;
}

/** Every frame of one message, correctly numbered. */
function frames(cid: number, cmd: number, payload: Uint8Array): Uint8Array[] {
  const out = [initFrame(cid, cmd, payload)];
  for (let at = 57, seq = 0; at < payload.length; at += 59, seq++) out.push(contFrame(cid, seq, payload.subarray(at)));
  return out;
}

const cidOf = (f: Uint8Array) => new DataView(f.buffer, f.byteOffset).getUint32(0);

interface Reply {
  cmd: number;
  payload: Uint8Array;
  keepalives: number[];
  foreign: number;
  seqs: number[];
}

/** Reads one message for `cid`, noting keepalives and frames for other CIDs on the way. */
async function readReply(host: HidTransport, cid: number, { checkSeq = true } = {}): Promise<Reply> {
  const keepalives: number[] = [];
  const seqs: number[] = [];
  let foreign = 0;
  for (;;) {
    const f = await host.read(3000);
    if (!f) throw new Error('no reply within 3 s');
    if (cidOf(f) !== cid) {
      foreign++;
      continue;
    }
    const cmd = f[4]! & 0x7f;
    if (cmd === CMD.KEEPALIVE) {
      keepalives.push(f[7]!);
      continue;
    }
    const length = (f[5]! << 8) | f[6]!;
    const parts = [f.subarray(7)];
    let have = 57;
    while (have < length) {
      const c = await host.read(3000);
      if (!c) throw new Error('reply cut short');
      if (cidOf(c) !== cid) {
        foreign++;
        continue;
      }
      seqs.push(c[4]!);
      if (checkSeq && c[4] !== seqs.length - 1) throw new Error(`bad SEQ ${c[4]}`);
      parts.push(c.subarray(5));
      have += 59;
    }
    return { cmd, payload: Buffer.concat(parts).subarray(0, length), keepalives, foreign, seqs };
  }
}

async function send(host: HidTransport, reports: Uint8Array[]): Promise<void> {
  for (const r of reports) await host.write(r);
}

async function request(host: HidTransport, cid: number, cmd: number, payload: Uint8Array): Promise<Reply> {
  await send(host, frames(cid, cmd, payload));
  return readReply(host, cid);
}

async function allocate(host: HidTransport, nonce = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8)): Promise<number> {
  const reply = await request(host, BROADCAST, CMD.INIT, nonce);
  expect(reply.cmd).toBe(CMD.INIT);
  return new DataView(reply.payload.buffer, reply.payload.byteOffset).getUint32(8);
}

function setup(options: SimulatedAuthenticatorOptions = {}) {
  const sim = new SimulatedAuthenticator(options);
  const { host } = sim.connect();
  return { sim, host };
}

const cbor = (command: number, params?: Map<unknown, unknown>) => Uint8Array.from([command, ...(params ? encode(params) : [])]);
const status = (r: Reply) => r.payload[0];
const errorCode = (r: Reply) => (r.cmd === CMD.ERROR ? r.payload[0] : undefined);

const makeCredential = () =>
  cbor(
    0x01,
    new Map<number, unknown>([
      [1, new Uint8Array(32).fill(7)],
      [2, new Map([['id', 'example.com']])],
      [3, new Map([['id', Uint8Array.of(1, 2, 3)]])],
      [4, [new Map<string, unknown>([['alg', -7], ['type', 'public-key']])]],
    ]),
  );

// A platform's half of PIN protocol 1, written here from CTAP 2.1 §6.5.6 (not the simulator's).
async function pinToken(host: HidTransport, cid: number, pin: string): Promise<{ status: number; token?: Buffer }> {
  const ka = await request(host, cid, CMD.CBOR, cbor(0x06, new Map([[1, 1], [2, 0x02]])));
  const cose = (decode(ka.payload.subarray(1), { useMaps: true }) as Map<number, Map<number, Uint8Array>>).get(1)!;
  const ecdh = createECDH('prime256v1');
  const ours = ecdh.generateKeys();
  const z = ecdh.computeSecret(Buffer.concat([Buffer.of(4), cose.get(-2)!, cose.get(-3)!]));
  const secret = createHash('sha256').update(z).digest();
  const aes = (enc: boolean, data: Buffer) => {
    const c = enc ? createCipheriv('aes-256-cbc', secret, Buffer.alloc(16)) : createDecipheriv('aes-256-cbc', secret, Buffer.alloc(16));
    c.setAutoPadding(false);
    return Buffer.concat([c.update(data), c.final()]);
  };
  const keyAgreement = new Map<number, unknown>([[1, 2], [3, -25], [-1, 1], [-2, ours.subarray(1, 33)], [-3, ours.subarray(33)]]);
  const pinHashEnc = aes(true, createHash('sha256').update(pin).digest().subarray(0, 16));
  const r = await request(host, cid, CMD.CBOR, cbor(0x06, new Map<number, unknown>([[1, 1], [2, 0x05], [3, keyAgreement], [6, pinHashEnc]])));
  if (status(r) !== 0) return { status: status(r)! };
  const enc = (decode(r.payload.subarray(1), { useMaps: true }) as Map<number, Uint8Array>).get(2)!;
  return { status: 0, token: aes(false, Buffer.from(enc)) };
}

async function pinRetries(host: HidTransport, cid: number): Promise<[number, boolean]> {
  const r = await request(host, cid, CMD.CBOR, cbor(0x06, new Map([[1, 1], [2, 0x01]])));
  const m = decode(r.payload.subarray(1), { useMaps: true }) as Map<number, number | boolean>;
  return [m.get(3) as number, m.get(4) as boolean];
}

describe('the simulated key on the in-memory pair', () => {
  it('answers INIT with the nonce, a new channel and its capabilities; INIT on a channel resyncs it', async () => {
    const { host, sim } = setup();
    const nonce = Uint8Array.of(9, 8, 7, 6, 5, 4, 3, 2);
    const reply = await request(host, BROADCAST, CMD.INIT, nonce);
    expect(reply.payload.length).toBe(17);
    expect([...reply.payload.subarray(0, 8)]).toEqual([...nonce]);
    const cid = new DataView(reply.payload.buffer, reply.payload.byteOffset).getUint32(8);
    expect(cid).not.toBe(BROADCAST);
    expect(cid).not.toBe(0);
    expect([...reply.payload.subarray(12)]).toEqual([2, 1, 2, 3, 0x05]);
    expect(await allocate(host)).not.toBe(cid);
    const again = await request(host, cid, CMD.INIT, nonce);
    expect(new DataView(again.payload.buffer, again.payload.byteOffset).getUint32(8)).toBe(cid);
    expect(sim.channels).toBe(2);
  });

  it('sends a wrong INIT nonce once when told to', async () => {
    const { host, sim } = setup({ faults: { wrongNonceNext: 1 } });
    const nonce = Uint8Array.of(1, 1, 2, 3, 5, 8, 13, 21);
    const bad = await request(host, BROADCAST, CMD.INIT, nonce);
    expect([...bad.payload.subarray(0, 8)]).not.toEqual([...nonce]);
    const good = await request(host, BROADCAST, CMD.INIT, nonce);
    expect([...good.payload.subarray(0, 8)]).toEqual([...nonce]);
    expect(sim.faults.wrongNonceNext).toBe(0);
  });

  it('answers CHANNEL_BUSY for the next N requests when told to, then serves again', async () => {
    const { host, sim } = setup();
    const cid = await allocate(host);
    sim.faults.busyNext = 2;
    expect(errorCode(await request(host, cid, CMD.CBOR, cbor(0x04)))).toBe(0x06);
    expect(errorCode(await request(host, cid, CMD.PING, Uint8Array.of(1)))).toBe(0x06);
    const info = await request(host, cid, CMD.CBOR, cbor(0x04));
    expect(status(info)).toBe(0);
  });

  it('is busy for other channels while one waits for a touch; CANCEL ends the wait with 0x2D', async () => {
    const { host, sim } = setup({ touch: 'manual', keepaliveIntervalMs: 20 });
    const a = await allocate(host);
    const b = await allocate(host);
    const upNeeded = once(sim, 'up-needed');
    await send(host, frames(a, CMD.CBOR, makeCredential()));
    await upNeeded;
    await send(host, frames(b, CMD.PING, Uint8Array.of(42)));
    // A's keepalives and B's error share the wire; read until B's answer.
    expect(errorCode(await readReply(host, b))).toBe(0x06);
    await host.write(initFrame(a, CMD.CANCEL, new Uint8Array(0)));
    const cancelled = await readReply(host, a);
    expect(cancelled.cmd).toBe(CMD.CBOR);
    expect([...cancelled.payload]).toEqual([0x2d]);
    expect(sim.credentials).toEqual([]);
    expect([...(await request(host, b, CMD.PING, Uint8Array.of(42))).payload]).toEqual([42]);
  });

  it('says PROCESSING only, then UPNEEDED, and signs after the touch', async () => {
    const { host, sim } = setup({ touch: 'manual', keepaliveIntervalMs: 10, processingMs: 60 });
    const cid = await allocate(host);
    sim.once('up-needed', () => sim.touch());
    await send(host, frames(cid, CMD.CBOR, makeCredential()));
    const reply = await readReply(host, cid);
    expect(status(reply)).toBe(0);
    const firstUp = reply.keepalives.indexOf(2);
    expect(firstUp).toBeGreaterThan(0);
    expect(reply.keepalives.slice(0, firstUp).every((s) => s === 1)).toBe(true);
    expect(reply.keepalives.slice(firstUp).every((s) => s === 2)).toBe(true);
    expect(sim.credentials).toHaveLength(1);
  });

  it('times out with USER_ACTION_TIMEOUT when nobody touches', async () => {
    const { host } = setup({ touch: 'never', touchTimeoutMs: 60, keepaliveIntervalMs: 20 });
    const cid = await allocate(host);
    const reply = await request(host, cid, CMD.CBOR, makeCredential());
    expect([...reply.payload]).toEqual([0x2f]);
    expect(reply.keepalives[0]).toBe(2);
  });

  it('answers INVALID_SEQ to a bad continuation, MSG_TIMEOUT to a missing one, and ignores a stray one', async () => {
    const { host } = setup({ messageTimeoutMs: 40 });
    const cid = await allocate(host);
    const payload = new Uint8Array(100).fill(5);
    await send(host, [initFrame(cid, CMD.PING, payload), contFrame(cid, 1, payload.subarray(57))]);
    expect(errorCode(await readReply(host, cid))).toBe(0x04);
    await host.write(initFrame(cid, CMD.PING, payload));
    expect(errorCode(await readReply(host, cid))).toBe(0x05);
    await host.write(contFrame(cid, 0, payload)); // no message under way: ignored
    const echo = await request(host, cid, CMD.PING, payload);
    expect(echo.cmd).toBe(CMD.PING);
    expect([...echo.payload]).toEqual([...payload]);
  });

  it('answers INVALID_CHANNEL, INVALID_CMD and INVALID_LEN where they belong', async () => {
    const { host } = setup();
    const cid = await allocate(host);
    expect(errorCode(await request(host, 0x01020304, CMD.CBOR, cbor(0x04)))).toBe(0x0b);
    expect(errorCode(await request(host, BROADCAST, CMD.PING, Uint8Array.of(1)))).toBe(0x0b);
    expect(errorCode(await request(host, cid, 0x55, Uint8Array.of(1)))).toBe(0x01);
    expect(errorCode(await request(host, cid, CMD.INIT, Uint8Array.of(1, 2, 3)))).toBe(0x03);
    await host.write(initFrame(cid, CMD.PING, new Uint8Array(0), 7610));
    expect(errorCode(await readReply(host, cid))).toBe(0x03);
    const biggest = new Uint8Array(7609).map((_, i) => i & 0xff);
    expect([...(await request(host, cid, CMD.PING, biggest)).payload]).toEqual([...biggest]);
  });

  it('refuses a request whose CBOR is not canonical with INVALID_CBOR', async () => {
    const { host } = setup();
    const cid = await allocate(host);
    // {2: …, 1: …}: keys out of order.
    const unsorted = Uint8Array.from([0x01, 0xa2, 0x02, 0x01, 0x01, 0x01]);
    expect([...(await request(host, cid, CMD.CBOR, unsorted)).payload]).toEqual([0x12]);
  });

  it('blocks PIN tokens after 3 wrong PINs in a power cycle; powerCycle() drops channels and clears it', async () => {
    const { host, sim } = setup({ pin: '1234' });
    let cid = await allocate(host);
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await pinToken(host, cid, '9999')).status);
    expect(statuses).toEqual([0x31, 0x31, 0x34, 0x34]);
    expect(await pinRetries(host, cid)).toEqual([5, true]);
    expect((await pinToken(host, cid, '1234')).status).toBe(0x34);
    sim.powerCycle();
    expect(sim.powerCycles).toBe(1);
    expect(errorCode(await request(host, cid, CMD.CBOR, cbor(0x04)))).toBe(0x0b);
    cid = await allocate(host);
    expect(await pinRetries(host, cid)).toEqual([5, false]);
    const ok = await pinToken(host, cid, '1234');
    expect(ok.status).toBe(0);
    expect(ok.token).toHaveLength(32);
    expect(sim.retriesLeft).toBe(8);
  });

  it('has configurable retries: with 2, the second wrong PIN blocks it for good', async () => {
    const { host, sim } = setup({ pin: '1234', retries: 2 });
    const cid = await allocate(host);
    expect(await pinRetries(host, cid)).toEqual([2, false]);
    expect((await pinToken(host, cid, '0000')).status).toBe(0x31);
    expect((await pinToken(host, cid, '0000')).status).toBe(0x32);
    sim.powerCycle();
    const again = await allocate(host);
    expect((await pinToken(host, again, '1234')).status).toBe(0x32);
    expect(sim.retriesLeft).toBe(0);
  });

  it('unplugs: the host end fails with TokenRemovedError; plug() gives a new pair and power cycle', async () => {
    const { host, sim } = setup();
    await allocate(host);
    const pending = host.read(3000);
    sim.unplug();
    await expect(pending).rejects.toBeInstanceOf(TokenRemovedError);
    await expect(host.write(initFrame(BROADCAST, CMD.INIT, new Uint8Array(8)))).rejects.toBeInstanceOf(TokenRemovedError);
    const { host: replugged } = sim.plug();
    expect(sim.powerCycles).toBe(1);
    expect(await allocate(replugged)).toBeGreaterThan(0);
  });

  it('unplugs mid-reply after N reports when told to', async () => {
    const { host, sim } = setup();
    const cid = await allocate(host);
    sim.faults.unplugAfterReports = 2;
    await send(host, frames(cid, CMD.CBOR, cbor(0x04)));
    const first = await host.read(3000);
    expect(first![4]).toBe(0x80 | CMD.CBOR);
    expect((await host.read(3000))![4]).toBe(0);
    await expect(host.read(3000)).rejects.toBeInstanceOf(TokenRemovedError);
    expect(sim.unplugged).toBe(true);
  });

  it('interleaves frames for another CID into a reply when told to', async () => {
    const { host, sim } = setup();
    const cid = await allocate(host);
    sim.faults.foreignFramesNext = 1;
    const info = await request(host, cid, CMD.CBOR, cbor(0x04));
    expect(status(info)).toBe(0);
    expect(info.foreign).toBe(1 + info.seqs.length);
    expect((decode(info.payload.subarray(1), { useMaps: true }) as Map<number, unknown>).get(1)).toContain('FIDO_2_1');
  });

  it('puts a wrong sequence number into the next multi-frame reply when told to', async () => {
    const { host, sim } = setup();
    const cid = await allocate(host);
    sim.faults.badSequenceNext = 1;
    await send(host, frames(cid, CMD.CBOR, cbor(0x04)));
    const bad = await readReply(host, cid, { checkSeq: false });
    expect(bad.seqs[0]).toBe(1);
    expect(bad.seqs.length).toBeGreaterThan(0);
    const good = await request(host, cid, CMD.CBOR, cbor(0x04)); // readReply checks each SEQ
    expect(good.seqs).toEqual(bad.seqs.map((_, i) => i));
  });

  it('finds resident credentials without an allowList: numberOfCredentials, then getNextAssertion', async () => {
    const { host, sim } = setup({ touch: 'auto', touchDelayMs: 0 });
    const cid = await allocate(host);
    for (const user of [1, 2]) {
      const params = new Map<number, unknown>([
        [1, new Uint8Array(32)],
        [2, new Map([['id', 'example.com']])],
        [3, new Map<string, unknown>([['id', Uint8Array.of(user)], ['name', `user${user}`]])],
        [4, [new Map<string, unknown>([['alg', -8], ['type', 'public-key']])]],
        [7, new Map([['rk', true]])],
      ]);
      const made = await request(host, cid, CMD.CBOR, cbor(0x01, params));
      expect(status(made)).toBe(0);
      expect(made.keepalives).toContain(2); // UPNEEDED, even with an instant touch
    }
    const first = await request(host, cid, CMD.CBOR, cbor(0x02, new Map<number, unknown>([[1, 'example.com'], [2, new Uint8Array(32).fill(1)]])));
    const a = decode(first.payload.subarray(1), { useMaps: true }) as Map<number, unknown>;
    expect(status(first)).toBe(0);
    expect(a.get(5)).toBe(2);
    expect((a.get(4) as Map<string, Uint8Array>).get('id')).toEqual(Uint8Array.of(2)); // newest first
    const next = await request(host, cid, CMD.CBOR, cbor(0x08));
    const b = decode(next.payload.subarray(1), { useMaps: true }) as Map<number, unknown>;
    expect((b.get(4) as Map<string, Uint8Array>).get('id')).toEqual(Uint8Array.of(1));
    expect(b.has(5)).toBe(false);
    expect([...(await request(host, cid, CMD.CBOR, cbor(0x08))).payload]).toEqual([0x30]);
    expect(sim.counter).toBe(2);
  });

  it('resets within the window after power-up (PIN and credentials gone), and only then', async () => {
    const { host, sim } = setup({ pin: '1234', touchDelayMs: 0 });
    const cid = await allocate(host);
    expect([...(await request(host, cid, CMD.CBOR, cbor(0x07))).payload]).toEqual([0x00]);
    expect(sim.pinSet).toBe(false);
    const late = setup({ pin: '1234', resetWindowMs: -1 });
    const lateCid = await allocate(late.host);
    expect([...(await request(late.host, lateCid, CMD.CBOR, cbor(0x07))).payload]).toEqual([0x30]);
    expect(late.sim.pinSet).toBe(true);
  });

  it('answers any garbage with CTAPHID frames, never an exception, and keeps working', async () => {
    const { host, sim } = setup({ messageTimeoutMs: 20 });
    let seed = 12345;
    const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
    const cid = await allocate(host);
    for (let i = 0; i < 400; i++) {
      const r = new Uint8Array(64).map(rand);
      if (i % 3 === 0) new DataView(r.buffer).setUint32(0, cid); // on our channel too
      if (i % 7 === 0) r[4] = 0x80 | CMD.CBOR;
      await host.write(r);
    }
    // A half-assembled garbage message may still hold the key (until MSG_TIMEOUT): retry INIT.
    const nonce = Uint8Array.of(4, 4, 4, 4, 4, 4, 4, 4);
    let again: Reply | undefined;
    for (let attempt = 0; attempt < 50 && again?.cmd !== CMD.INIT; attempt++) {
      again = await request(host, BROADCAST, CMD.INIT, nonce);
    }
    expect(again?.cmd).toBe(CMD.INIT);
    expect([...again!.payload.subarray(0, 8)]).toEqual([...nonce]);
    expect(sim.unplugged).toBe(false);
  });
});
