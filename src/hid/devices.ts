// Which HID devices are FIDO security keys, and opening one by its path. A key is known by the HID
// usage page 0xF1D0 with usage 0x01 (CTAPHID), as libfido2 does: a vendor list would miss new keys
// and take in a YubiKey's keyboard (OTP) interface. hidapi lists one entry per top-level
// collection, so the same path can come twice; it is listed once. The device list comes from a
// HidDeviceSource, so the watcher can be driven by a fake list, or by simulated keys, in tests.
import type { Device } from 'node-hid';
import { DeviceIoError, InvalidArgumentError } from '../errors/index.js';
import { loadNodeHid } from './node-hid-loader.js';
import { openNodeHidTransport } from './node-hid-transport.js';
import type { HidOpenOptions, HidTransport } from './transport.js';
import { openUdpTransport, udpKeyAnswers } from './udp-transport.js';
import { fidoDisplayName } from './vendors.js';

/** The FIDO HID usage page (FIDO Alliance) and its CTAPHID usage. */
export const FIDO_USAGE_PAGE = 0xf1d0;
export const FIDO_USAGE = 0x01;

export interface FidoDeviceInfo {
  /** What `openHidTransport` takes: a hidraw node, hidapi's path, `udp:HOST:PORT` or `memory:NAME`. */
  readonly path: string;
  readonly vendorId: number;
  readonly productId: number;
  readonly manufacturer?: string;
  readonly product?: string;
  readonly serialNumber?: string;
  /** A name to show a person, e.g. "Yubico YubiKey OTP+FIDO+CCID". */
  readonly displayName: string;
  readonly transport: 'hid' | 'udp' | 'memory';
}

/** Where a watcher gets the present keys from. */
export interface HidDeviceSource {
  list(): Promise<FidoDeviceInfo[]>;
}

/** The FIDO keys plugged in now, through node-hid (loaded at the first call). */
export async function listFidoDevices(): Promise<FidoDeviceInfo[]> {
  const hid = await loadNodeHid();
  let devices: Device[];
  try {
    devices = await hid.devicesAsync();
  } catch (err) {
    throw new DeviceIoError('listing the HID devices failed', { cause: err });
  }
  return fidoDevicesIn(devices);
}

/** The FIDO interfaces among hidapi's entries, one per path. */
export function fidoDevicesIn(devices: readonly Device[]): FidoDeviceInfo[] {
  const byPath = new Map<string, FidoDeviceInfo>();
  for (const d of devices) {
    if (d.usagePage !== FIDO_USAGE_PAGE || d.usage !== FIDO_USAGE || !d.path || byPath.has(d.path)) continue;
    byPath.set(d.path, {
      path: d.path,
      vendorId: d.vendorId,
      productId: d.productId,
      ...(present(d.manufacturer) && { manufacturer: d.manufacturer }),
      ...(present(d.product) && { product: d.product }),
      ...(present(d.serialNumber) && { serialNumber: d.serialNumber }),
      displayName: fidoDisplayName(d.vendorId, d.product, d.manufacturer),
      transport: 'hid',
    });
  }
  return [...byPath.values()];
}

function present(text: string | undefined): text is string {
  return text !== undefined && text.trim() !== '';
}

/** node-hid's list of FIDO keys: the default source. */
export const nodeHidDeviceSource: HidDeviceSource = { list: listFidoDevices };

/**
 * Only the key at `path`: a HID path while node-hid lists it, or a simulated key on `udp:HOST:PORT`
 * while its port answers (the simulator closes it when "unplugged"), so a watcher sees either
 * come and go.
 */
export function singleFidoDeviceSource(path: string): HidDeviceSource {
  if (path.startsWith('udp:')) {
    const info: FidoDeviceInfo = { path, vendorId: 0, productId: 0, displayName: `security key at ${path}`, transport: 'udp' };
    return { list: async () => ((await udpKeyAnswers(path)) ? [info] : []) };
  }
  return { list: async () => (await listFidoDevices()).filter((d) => d.path === path) };
}

/**
 * Opens the key at `path`: `udp:HOST:PORT` is a simulated key on a socket, anything else a HID
 * device through node-hid. (An in-memory pair is made with `createMemoryHidPair`, not opened.)
 */
export function openHidTransport(path: string, options: HidOpenOptions = {}): Promise<HidTransport> {
  if (path.startsWith('udp:')) return openUdpTransport(path, options);
  if (path.startsWith('memory:')) {
    return Promise.reject(new InvalidArgumentError('an in-memory key has no path to open: use the host end of createMemoryHidPair()'));
  }
  return openNodeHidTransport(path, options);
}
