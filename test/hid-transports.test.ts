// The transports behind HidTransport. node-hid for real where this machine allows it (it has no
// HID devices: the list is empty, a missing path fails typed), and its wiring — 'data' events into
// the queue, the 'error' event's string as removal, the report-ID byte, close — against a fake
// HIDAsync. UDP for real, against a peer socket in this process. Every wait has a deadline.
import { createSocket, type Socket } from 'node:dgram';
import { EventEmitter, once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { fidoDevicesIn, listFidoDevices, openHidTransport } from '../src/hid/devices.js';
import { nodeHidTransport, openNodeHidTransport, type HidAsyncDevice } from '../src/hid/node-hid-transport.js';
import { HID_REPORT_SIZE } from '../src/hid/transport.js';
import { openUdpTransport, parseUdpPath } from '../src/hid/udp-transport.js';
import { fidoDisplayName } from '../src/hid/vendors.js';
import { TokengateError } from '../src/index.js';

const report = (first: number) => {
  const r = new Uint8Array(HID_REPORT_SIZE);
  r[0] = first;
  return r;
};
/** The error a promise rejects with (fails the test if it resolves). */
async function rejection(p: Promise<unknown>): Promise<TokengateError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TokengateError);
  return err as TokengateError;
}

describe('node-hid on this machine', () => {
  it('lists no FIDO device (there is no HID device here)', async () => {
    expect(await listFidoDevices()).toEqual([]);
  });

  it('opening a path with nothing behind it fails with TokenNotPresentError', async () => {
    const err = await rejection(openNodeHidTransport('/dev/hidraw-tokengate-missing'));
    expect(err.code).toBe('ERR_TOKEN_NOT_PRESENT');
    expect((await rejection(openHidTransport('/dev/hidraw-tokengate-missing'))).code).toBe('ERR_TOKEN_NOT_PRESENT');
  });

  it('an in-memory key is not opened by path', async () => {
    expect((await rejection(openHidTransport('memory:sim'))).code).toBe('ERR_INVALID_ARGUMENT');
  });
});

describe('FIDO devices among hidapi entries', () => {
  const entry = { release: 0x0512, interface: 0 };
  it('are picked by usage page 0xF1D0 / usage 0x01, not by vendor, once per path', () => {
    const found = fidoDevicesIn([
      { ...entry, path: '/dev/hidraw0', vendorId: 0x1050, productId: 0x0407, usagePage: 0x0001, usage: 0x06, product: 'YubiKey OTP+FIDO+CCID' }, // its keyboard
      { ...entry, path: '/dev/hidraw1', vendorId: 0x1050, productId: 0x0407, usagePage: 0xf1d0, usage: 0x01, manufacturer: 'Yubico', product: 'YubiKey OTP+FIDO+CCID', serialNumber: '' },
      { ...entry, path: '/dev/hidraw1', vendorId: 0x1050, productId: 0x0407, usagePage: 0xf1d0, usage: 0x01 }, // a second collection
      { ...entry, path: '/dev/hidraw2', vendorId: 0xabcd, productId: 0x0001, usagePage: 0xf1d0, usage: 0x01 }, // unknown maker
      { ...entry, path: '/dev/hidraw3', vendorId: 0x20a0, productId: 0x42b2, usagePage: 0xf1d0, usage: 0x02 }, // not CTAPHID
    ]);
    expect(found).toEqual([
      { path: '/dev/hidraw1', vendorId: 0x1050, productId: 0x0407, manufacturer: 'Yubico', product: 'YubiKey OTP+FIDO+CCID', displayName: 'Yubico YubiKey OTP+FIDO+CCID', transport: 'hid' },
      { path: '/dev/hidraw2', vendorId: 0xabcd, productId: 0x0001, displayName: 'FIDO security key', transport: 'hid' },
    ]);
  });

  it('get a display name from the product string and the vendor table', () => {
    expect(fidoDisplayName(0x1050, 'Security Key NFC by Yubico')).toBe('Security Key NFC by Yubico');
    expect(fidoDisplayName(0x20a0, 'Nitrokey 3')).toBe('Nitrokey 3');
    expect(fidoDisplayName(0x096e, 'ePass FIDO', 'FT')).toBe('Feitian ePass FIDO');
    expect(fidoDisplayName(0x349e)).toBe('Token2 security key');
    expect(fidoDisplayName(0x1209, 'Solo 2 Security Key')).toBe('Solo 2 Security Key');
    expect(fidoDisplayName(0xabcd, 'Key', 'Acme')).toBe('Acme Key');
  });
});

/** A stand-in for node-hid's HIDAsync: records writes, emits what the test says. */
class FakeHidAsync extends EventEmitter implements HidAsyncDevice {
  writes: Buffer[] = [];
  closes = 0;
  writeFailure: unknown;
  async write(values: number[] | Buffer): Promise<number> {
    if (this.writeFailure) throw this.writeFailure;
    this.writes.push(Buffer.from(values));
    return values.length;
  }
  async close(): Promise<void> {
    this.closes++;
    this.removeAllListeners();
  }
}

describe('the node-hid transport (against a fake HIDAsync)', () => {
  it("reads in 'data' mode: reports that came while nobody read are queued, and a write is never behind a read", async () => {
    const device = new FakeHidAsync();
    const t = nodeHidTransport('/dev/hidraw9', device);
    expect(device.listenerCount('data')).toBe(1);
    device.emit('data', Buffer.from(report(1)));
    device.emit('data', Buffer.from(report(2)));
    expect((await t.read(1000))?.[0]).toBe(1);
    expect((await t.read(1000))?.[0]).toBe(2);
    const pending = t.read(5000);
    await t.write(report(0x11)); // CANCEL goes out while the read waits
    expect(device.writes).toHaveLength(1);
    device.emit('data', Buffer.from(report(3)));
    expect((await pending)?.[0]).toBe(3);
    expect(await t.read(10)).toBeUndefined(); // a timeout is undefined, not an empty report
  });

  it('writes 65 bytes: the report-ID byte 0x00, then the report', async () => {
    const device = new FakeHidAsync();
    const t = nodeHidTransport('/dev/hidraw9', device);
    const r = report(0xff);
    r[63] = 0xab;
    await t.write(r);
    expect(device.writes[0]!.length).toBe(65);
    expect(device.writes[0]![0]).toBe(0);
    expect(Uint8Array.from(device.writes[0]!.subarray(1))).toEqual(r);
    expect((await rejection(t.write(new Uint8Array(65)))).code).toBe('ERR_INVALID_ARGUMENT');
  });

  it("the 'error' event's string is a removal: the waiting read and every write fail, onRemoved is told once", async () => {
    const device = new FakeHidAsync();
    const told: string[] = [];
    const t = nodeHidTransport('/dev/hidraw9', device, { onRemoved: (p) => told.push(p) });
    const pending = t.read(5000);
    device.emit('error', 'could not read from HID device: hid_read_timeout: unexpected poll error (device disconnected)');
    expect((await rejection(pending)).code).toBe('ERR_TOKEN_REMOVED');
    expect((await rejection(t.read(10))).code).toBe('ERR_TOKEN_REMOVED');
    expect((await rejection(t.write(report(1)))).code).toBe('ERR_TOKEN_REMOVED');
    expect(device.writes).toEqual([]);
    expect(told).toEqual(['/dev/hidraw9']);
  });

  it('a failed write is classified; a removal fails the reads too', async () => {
    const device = new FakeHidAsync();
    const told: string[] = [];
    const t = nodeHidTransport('/dev/hidraw9', device, { onRemoved: (p) => told.push(p) });
    device.writeFailure = new Error('Cannot write to hid device: Invalid argument');
    expect((await rejection(t.write(report(1)))).code).toBe('ERR_DEVICE_IO');
    device.writeFailure = new Error('Cannot write to hid device: No such device');
    expect((await rejection(t.write(report(1)))).code).toBe('ERR_TOKEN_REMOVED');
    expect((await rejection(t.read(10))).code).toBe('ERR_TOKEN_REMOVED');
    expect(told).toEqual(['/dev/hidraw9']);
  });

  it('close is idempotent, ends a waiting read with undefined, and closes the device once', async () => {
    const device = new FakeHidAsync();
    const t = nodeHidTransport('/dev/hidraw9', device);
    const pending = t.read(5000);
    await Promise.all([t.close(), t.close()]);
    await t[Symbol.asyncDispose]();
    expect(await pending).toBeUndefined();
    expect(t.closed).toBe(true);
    expect(device.closes).toBe(1);
    expect((await rejection(t.write(report(1)))).code).toBe('ERR_TOKEN_REMOVED');
  });
});

describe('the UDP transport', () => {
  const sockets: Socket[] = [];
  afterEach(() => {
    for (const s of sockets.splice(0)) s.close();
  });

  /** A peer that answers each datagram with the same bytes, first byte + 1. */
  async function echoPeer(): Promise<{ path: string; peer: Socket }> {
    const peer = createSocket('udp4');
    sockets.push(peer);
    peer.on('message', (msg, from) => {
      msg[0] = (msg[0]! + 1) & 0xff;
      peer.send(msg, from.port, from.address);
    });
    peer.bind(0, '127.0.0.1');
    await once(peer, 'listening', { signal: AbortSignal.timeout(5000) });
    return { path: `udp:127.0.0.1:${peer.address().port}`, peer };
  }

  it('sends each report as one 64-byte datagram and reads the answer', async () => {
    const { path } = await echoPeer();
    await using t = await openHidTransport(path);
    expect(t.path).toBe(path);
    await t.write(report(7));
    const answer = await t.read(5000);
    expect(answer?.length).toBe(64);
    expect(answer?.[0]).toBe(8);
    expect(await t.read(10)).toBeUndefined();
  });

  it('a peer that has gone (ICMP port unreachable, ECONNREFUSED) is a removal', async () => {
    const { path, peer } = await echoPeer();
    const told: string[] = [];
    const t = await openUdpTransport(path, { onRemoved: (p) => told.push(p) });
    sockets.splice(sockets.indexOf(peer), 1);
    peer.close();
    await t.write(report(1)); // goes out; the refusal comes back
    expect((await rejection(t.read(5000))).code).toBe('ERR_TOKEN_REMOVED');
    expect((await rejection(t.write(report(2)))).code).toBe('ERR_TOKEN_REMOVED');
    expect(told).toEqual([path]);
    await t.close();
    await t.close();
    expect(t.closed).toBe(true);
  });

  it('datagrams of another size are no reports', async () => {
    const { path, peer } = await echoPeer();
    peer.removeAllListeners('message');
    peer.on('message', (_msg, from) => {
      peer.send(Buffer.alloc(10, 1), from.port, from.address);
      peer.send(Buffer.alloc(65, 2), from.port, from.address);
      peer.send(Buffer.alloc(64, 3), from.port, from.address);
    });
    await using t = await openUdpTransport(path);
    await t.write(report(1));
    expect((await t.read(5000))?.[0]).toBe(3);
  });

  it('takes udp:HOST:PORT only', () => {
    expect(parseUdpPath('udp:127.0.0.1:8111')).toEqual({ host: '127.0.0.1', port: 8111 });
    expect(parseUdpPath('udp:[::1]:8111')).toEqual({ host: '::1', port: 8111 });
    for (const bad of ['udp:127.0.0.1', 'udp:host:0', 'udp:host:70000', 'tcp:host:1', 'udp::1:80']) {
      expect(() => parseUdpPath(bad), bad).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    }
  });
});
