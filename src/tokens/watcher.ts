// One watcher over both kinds of token: the PKCS#11 modules' slots and the FIDO keys on HID,
// each arrival handed out as something to open as a HardwareToken. A key's removal seen by its own
// transport (a failed read or write) reaches the watcher at once, so a kiosk resets without
// waiting for the next poll.
import { EventEmitter } from 'node:events';
import { SecurityKey } from '../fido/security-key.js';
import type { HidDeviceSource } from '../hid/devices.js';
import type { HidTransport } from '../hid/transport.js';
import { FidoDeviceWatcher, type WatchedFidoDevice } from '../hid/watcher.js';
import type { Pkcs11Module } from '../pkcs11/module.js';
import type { TokenWatcher } from '../pkcs11/watcher.js';
import type { TokenInfo } from '../pkcs11/token.js';
import type { TokengateError } from '../errors/index.js';
import { FidoHardwareToken } from './fido-hardware-token.js';
import type { HardwareToken, HardwareTokenIdentity } from './hardware-token.js';
import { Pkcs11HardwareToken } from './pkcs11-hardware-token.js';

export interface HardwareTokenWatchOptions {
  /** The PKCS#11 modules whose tokens to watch (none: keys only). */
  modules?: Pkcs11Module[];
  /** Watch FIDO keys for this relying party (absent: cards only). */
  fido?: {
    rpId: string;
    /** Where the present keys come from (default: node-hid). */
    source?: HidDeviceSource;
    /** How a listed key is opened (default: by its path, node-hid or udp:). */
    openTransport?: (device: WatchedFidoDevice, onRemoved: () => void) => Promise<HidTransport>;
  };
  /** Time between polls in milliseconds (default 500). */
  intervalMs?: number;
  signal?: AbortSignal;
  /** `inserted` for what is already there, at the first poll. */
  emitInitial?: boolean;
  unref?: boolean;
}

export interface HardwareTokenArrival {
  readonly identity: HardwareTokenIdentity;
  /** Opens it as a HardwareToken; the caller owns it (`await using`). */
  open(): Promise<HardwareToken>;
}

export interface HardwareTokenWatcherEvents {
  inserted: [arrival: HardwareTokenArrival];
  removed: [identity: HardwareTokenIdentity];
  /** A card's label or PIN state changed in its slot. */
  changed: [identity: HardwareTokenIdentity];
  error: [error: TokengateError];
  close: [];
}

type Closable = { close(): void; on(event: 'error', listener: (e: TokengateError) => void): unknown };

export class HardwareTokenWatcher extends EventEmitter<HardwareTokenWatcherEvents> implements AsyncDisposable, Disposable {
  private readonly parts: Closable[] = [];
  private closedFlag = false;
  private readonly fidoWatcher: FidoDeviceWatcher | undefined;

  constructor(options: HardwareTokenWatchOptions) {
    super();
    const common = {
      ...(options.intervalMs === undefined ? {} : { intervalMs: options.intervalMs }),
      ...(options.emitInitial === undefined ? {} : { emitInitial: options.emitInitial }),
      ...(options.unref === undefined ? {} : { unref: options.unref }),
    };
    for (const module of options.modules ?? []) this.watchModule(module, module.watch(common));
    if (options.fido) {
      const fido = options.fido;
      const watcher = new FidoDeviceWatcher({ ...common, ...(fido.source ? { source: fido.source } : {}) });
      this.fidoWatcher = watcher;
      this.adopt(watcher);
      watcher.on('inserted', (device) => this.emit('inserted', this.keyArrival(device, fido)));
      watcher.on('removed', (device) => this.emit('removed', keyIdentity(device)));
    }
    options.signal?.addEventListener('abort', () => this.close(), { once: true });
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  close(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    for (const part of this.parts) part.close();
    this.emit('close');
  }

  [Symbol.dispose](): void {
    this.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }

  private adopt(part: Closable): void {
    this.parts.push(part);
    part.on('error', (err) => {
      if (this.listenerCount('error') > 0) this.emit('error', err);
    });
  }

  private watchModule(module: Pkcs11Module, watcher: TokenWatcher): void {
    this.adopt(watcher);
    const identity = (t: TokenInfo): HardwareTokenIdentity => ({ kind: 'pkcs11', label: t.label, serial: t.serial, path: module.path });
    watcher.on('inserted', (t) => this.emit('inserted', { identity: identity(t), open: async () => new Pkcs11HardwareToken(module.token({ serial: t.serial })) }));
    watcher.on('removed', (t) => this.emit('removed', identity(t)));
    watcher.on('changed', (t) => this.emit('changed', identity(t)));
  }

  private keyArrival(device: WatchedFidoDevice, fido: NonNullable<HardwareTokenWatchOptions['fido']>): HardwareTokenArrival {
    const onRemoved = () => {
      this.fidoWatcher?.noteRemoved(device.path, device.instance);
    };
    return {
      identity: keyIdentity(device),
      open: async () => {
        const transport = fido.openTransport ? await fido.openTransport(device, onRemoved) : undefined;
        const key = await SecurityKey.open(transport ?? device.path, { onRemoved });
        return new FidoHardwareToken(key, { rpId: fido.rpId, label: device.displayName, instance: device.instance });
      },
    };
  }
}

function keyIdentity(device: WatchedFidoDevice): HardwareTokenIdentity {
  return { kind: 'fido', label: device.displayName, serial: device.serialNumber ?? '', path: device.path, instance: device.instance };
}
