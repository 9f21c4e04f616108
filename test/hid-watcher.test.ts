// FidoDeviceWatcher driven by a fake device source (and, at the end, by a UDP transport whose peer
// goes). Waits are on the events themselves, with deadlines; "nothing more happened" is checked
// after polls run out of turn with `poll()`, which queues behind the timer's, never by sleeping.
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { FidoDeviceInfo, HidDeviceSource } from '../src/hid/devices.js';
import { HID_REPORT_SIZE } from '../src/hid/transport.js';
import { openUdpTransport, udpKeyAnswers } from '../src/hid/udp-transport.js';
import { singleFidoDeviceSource } from '../src/hid/devices.js';
import { CtapHidConnection } from '../src/fido/ctaphid.js';
import { SimulatedAuthenticator } from '../native-fixtures/fido/authenticator.js';
import { FidoDeviceWatcher, type FidoDeviceEvent, type WatchedFidoDevice } from '../src/hid/watcher.js';
import { DeviceIoError, ModuleLoadError, type TokengateError } from '../src/index.js';

const deadline = () => AbortSignal.timeout(5_000);

class FakeSource implements HidDeviceSource {
  devices: FidoDeviceInfo[] = [];
  calls = 0;
  failure: unknown;
  async list(): Promise<FidoDeviceInfo[]> {
    this.calls++;
    if (this.failure) throw this.failure;
    return this.devices.map((d) => ({ ...d }));
  }
}

const key = (path: string, serialNumber = 'S1'): FidoDeviceInfo => ({
  path,
  vendorId: 0x1050,
  productId: 0x0407,
  serialNumber,
  displayName: 'Yubico YubiKey',
  transport: 'hid',
});

function record(watcher: FidoDeviceWatcher): FidoDeviceEvent[] {
  const seen: FidoDeviceEvent[] = [];
  watcher.on('event', (e) => seen.push(e));
  return seen;
}
const summary = (events: FidoDeviceEvent[]) =>
  events.map((e) => (e.type === 'removed' ? `removed ${e.device.path}#${e.device.instance} by ${e.noticedBy}` : `inserted ${e.device.path}#${e.device.instance}`));
/** Timers that keep the process alive (unref'd ones are not counted). */
const refTimers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

describe('FidoDeviceWatcher', () => {
  it('with emitInitial, reports the keys present as inserted, each with its own instance', async () => {
    const source = new FakeSource();
    source.devices = [key('/dev/hidraw1'), key('/dev/hidraw2', 'S2')];
    await using watcher = new FidoDeviceWatcher({ source, intervalMs: 20, emitInitial: true });
    const seen = record(watcher);
    await once(watcher, 'inserted', { signal: deadline() });
    expect(summary(seen)).toEqual(['inserted /dev/hidraw1#1', 'inserted /dev/hidraw2#2']);
    expect(watcher.devices.map((d) => d.path)).toEqual(['/dev/hidraw1', '/dev/hidraw2']);
  });

  it('without emitInitial, the keys present are the baseline; a key plugged in later is inserted', async () => {
    const source = new FakeSource();
    source.devices = [key('/dev/hidraw1')];
    await using watcher = new FidoDeviceWatcher({ source, intervalMs: 20 });
    const seen = record(watcher);
    await watcher.ready;
    expect(seen).toEqual([]);
    source.devices.push(key('/dev/hidraw2', 'S2'));
    const [device] = (await once(watcher, 'inserted', { signal: deadline() })) as [WatchedFidoDevice];
    expect(device).toMatchObject({ path: '/dev/hidraw2', serialNumber: 'S2', instance: 2, displayName: 'Yubico YubiKey' });
    expect(summary(seen)).toEqual(['inserted /dev/hidraw2#2']);
  });

  it('sees a key pulled out at the next poll', async () => {
    const source = new FakeSource();
    source.devices = [key('/dev/hidraw1')];
    await using watcher = new FidoDeviceWatcher({ source, intervalMs: 20 });
    await watcher.ready;
    source.devices = [];
    const [device, noticedBy] = await once(watcher, 'removed', { signal: deadline() });
    expect(device).toMatchObject({ path: '/dev/hidraw1', instance: 1 });
    expect(noticedBy).toBe('poll');
  });

  it('a removal noticed by failed I/O is one event, however many polls follow, and the same path back is a new instance', async () => {
    const source = new FakeSource();
    source.devices = [key('/dev/hidraw1')];
    await using watcher = new FidoDeviceWatcher({ source, intervalMs: 60_000 }); // polls run by hand: the grace is counted in polls
    const seen = record(watcher);
    await watcher.ready;
    expect(watcher.noteRemoved('/dev/hidraw1', 1)).toBe(true);
    expect(watcher.noteRemoved('/dev/hidraw1', 1)).toBe(false); // the write's failure after the read's
    expect(summary(seen)).toEqual(['removed /dev/hidraw1#1 by io']);
    await watcher.poll(); // the list lags the failed read: still listed, not a new key
    source.devices = [];
    await watcher.poll();
    await watcher.poll();
    expect(summary(seen)).toEqual(['removed /dev/hidraw1#1 by io']);
    source.devices = [key('/dev/hidraw1')]; // plugged in again: a new power cycle
    expect(summary(await watcher.poll())).toEqual(['inserted /dev/hidraw1#2']);
    expect(summary(seen)).toEqual(['removed /dev/hidraw1#1 by io', 'inserted /dev/hidraw1#2']);
  });

  it('a key re-plugged faster than the list noticed is inserted again once it has stayed listed', async () => {
    const source = new FakeSource();
    source.devices = [key('/dev/hidraw1')];
    await using watcher = new FidoDeviceWatcher({ source, intervalMs: 60_000 });
    const seen = record(watcher);
    await watcher.ready;
    watcher.noteRemoved('/dev/hidraw1');
    expect(await watcher.poll()).toEqual([]);
    expect(summary(await watcher.poll())).toEqual(['inserted /dev/hidraw1#2']);
    expect(summary(seen)).toEqual(['removed /dev/hidraw1#1 by io', 'inserted /dev/hidraw1#2']);
  });

  it('a late report about an earlier appearance leaves the new key on that path alone', async () => {
    const source = new FakeSource();
    source.devices = [key('/dev/hidraw1')];
    await using watcher = new FidoDeviceWatcher({ source, intervalMs: 60_000 });
    await watcher.ready;
    source.devices = [];
    await watcher.poll();
    source.devices = [key('/dev/hidraw1')];
    expect(summary(await watcher.poll())).toEqual(['inserted /dev/hidraw1#2']);
    expect(watcher.noteRemoved('/dev/hidraw1', 1)).toBe(false);
    expect(watcher.devices.map((d) => d.instance)).toEqual([2]);
    expect(watcher.noteRemoved('/dev/hidraw-unknown')).toBe(false);
  });

  it('another key on the same path is a removal and an insertion', async () => {
    const source = new FakeSource();
    source.devices = [key('/dev/hidraw1', 'S1')];
    await using watcher = new FidoDeviceWatcher({ source, intervalMs: 60_000 });
    await watcher.ready;
    source.devices = [key('/dev/hidraw1', 'S2')];
    expect(summary(await watcher.poll())).toEqual(['removed /dev/hidraw1#1 by poll', 'inserted /dev/hidraw1#2']);
  });

  it('a failed listing is an error event and the polling goes on; node-hid that cannot load closes it', async () => {
    const source = new FakeSource();
    await using watcher = new FidoDeviceWatcher({ source, intervalMs: 20 });
    await watcher.ready;
    source.failure = new Error('hidapi not initialized');
    const [error] = (await once(watcher, 'error', { signal: deadline() })) as [TokengateError];
    expect(error).toBeInstanceOf(DeviceIoError);
    source.failure = undefined;
    source.devices = [key('/dev/hidraw1')];
    await once(watcher, 'inserted', { signal: deadline() });
    source.failure = new ModuleLoadError('node-hid could not be loaded');
    let closes = 0;
    watcher.on('close', () => closes++);
    const [fatal] = (await once(watcher, 'error', { signal: deadline() })) as [TokengateError];
    expect(fatal.code).toBe('ERR_MODULE_LOAD');
    expect(watcher.closed).toBe(true); // closed right after the error was heard
    expect(closes).toBe(1);
  });

  it('stops polling when its signal aborts, and holds no timer after', async () => {
    const source = new FakeSource();
    const controller = new AbortController();
    const before = refTimers();
    const watcher = new FidoDeviceWatcher({ source, intervalMs: 20, signal: controller.signal });
    await watcher.ready;
    await watcher.poll(); // queued behind the timer's poll, which has scheduled the next by then
    expect(refTimers()).toBe(before + 1);
    const closed = once(watcher, 'close', { signal: deadline() });
    controller.abort();
    await closed;
    expect(watcher.closed).toBe(true);
    expect(refTimers()).toBe(before);
    const calls = source.calls;
    expect(await watcher.poll()).toEqual([]);
    expect(source.calls).toBe(calls);
    expect(new FidoDeviceWatcher({ source, signal: AbortSignal.abort() }).closed).toBe(true);
  });

  it('unref lets the process exit while it runs', async () => {
    const before = refTimers();
    await using watcher = new FidoDeviceWatcher({ source: new FakeSource(), intervalMs: 20, unref: true });
    await watcher.ready;
    await watcher.poll();
    expect(refTimers()).toBe(before);
  });

  it('yields events to for await, and leaving the loop closes it', async () => {
    const source = new FakeSource();
    source.devices = [key('/dev/hidraw1')];
    const watcher = new FidoDeviceWatcher({ source, intervalMs: 20, emitInitial: true });
    const timer = setTimeout(() => watcher.close(), 5_000);
    const types: string[] = [];
    for await (const event of watcher) {
      types.push(`${event.type} ${event.device.path}`);
      if (event.type === 'inserted') source.devices = [];
      else break;
    }
    clearTimeout(timer);
    expect(types).toEqual(['inserted /dev/hidraw1', 'removed /dev/hidraw1']);
    expect(watcher.closed).toBe(true);
  });

  it('refuses an interval under 10 ms, or not a number', () => {
    for (const intervalMs of [5, 0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new FidoDeviceWatcher({ source: new FakeSource(), intervalMs }), String(intervalMs)).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }),
      );
    }
  });

  it('hears a transport whose key went (a UDP peer gone) at once, and the poll after does not report it again', async () => {
    const peer = createSocket('udp4');
    peer.bind(0, '127.0.0.1');
    await once(peer, 'listening', { signal: deadline() });
    const path = `udp:127.0.0.1:${peer.address().port}`;
    const source = new FakeSource();
    source.devices = [{ ...key(path), transport: 'udp' }];
    await using watcher = new FidoDeviceWatcher({ source, intervalMs: 60_000, emitInitial: true });
    const seen = record(watcher);
    const [device] = (await once(watcher, 'inserted', { signal: deadline() })) as [WatchedFidoDevice];
    await using t = await openUdpTransport(device.path, { onRemoved: (p) => watcher.noteRemoved(p, device.instance) });
    peer.close();
    const removed = once(watcher, 'removed', { signal: deadline() });
    await t.write(new Uint8Array(HID_REPORT_SIZE));
    await expect(t.read(5_000)).rejects.toMatchObject({ code: 'ERR_TOKEN_REMOVED' });
    expect((await removed)[1]).toBe('io');
    source.devices = [];
    await watcher.poll();
    expect(summary(seen)).toEqual([`inserted ${path}#1`, `removed ${path}#1 by io`]);
  });

  it('over singleFidoDeviceSource, sees the simulator on UDP pulled out (its port closes) and plugged back in (a new instance)', async () => {
    const sim = new SimulatedAuthenticator();
    const path = `udp:127.0.0.1:${(await sim.serveUdp()).port}`;
    try {
      await expect(udpKeyAnswers(path)).resolves.toBe(true);
      await using watcher = new FidoDeviceWatcher({ source: singleFidoDeviceSource(path), intervalMs: 20, emitInitial: true });
      const seen = record(watcher);
      await once(watcher, 'inserted', { signal: deadline() });
      sim.unplug();
      await once(watcher, 'removed', { signal: deadline() });
      await expect(udpKeyAnswers(path)).resolves.toBe(false);
      sim.plug();
      await sim.udpSettled();
      await once(watcher, 'inserted', { signal: deadline() });
      // The key answers on its old port again, as the same path.
      await using transport = await openUdpTransport(path);
      expect((await CtapHidConnection.open(transport)).cid).toBeGreaterThan(0);
      expect(summary(seen)).toEqual([`inserted ${path}#1`, `removed ${path}#1 by poll`, `inserted ${path}#2`]);
    } finally {
      await sim.close();
    }
  });
});

