// A simulated FIDO2 security key for tests: real CTAPHID framing, real CTAP2 and clientPIN
// crypto, served over the in-memory HID pair or UDP on loopback (so python-fido2 and libfido2 can
// check it too). It exists because this machine has no USB and no uhid; the fault knobs exist
// because the client's error handling is only tested if a key misbehaves on request.
import { EventEmitter } from 'node:events';
import { createMemoryHidPair, type HidDeviceEnd, type MemoryHidPair } from '../../src/hid/memory-transport.js';
import type { CborMap, NonCanonicalKind } from './cbor.js';
import { ClientPin } from './client-pin.js';
import { Alg, Capability, Cmd } from './constants.js';
import { Ctap2 } from './ctap2.js';
import { CtapHid, type HidFaults, type Peer, type Transaction } from './ctaphid.js';
import { coseKey, type CredentialAlg, type StoredCredential } from './credentials.js';
import { Presence, type TouchMode } from './presence.js';
import { handleU2f } from './u2f.js';
import { serveUdp, type PluggableUdpServer, type UdpServer } from './udp.js';
import type { ProtocolVersion } from './pin-protocol.js';

export interface SimulatedAuthenticatorOptions {
  /** A PIN already set (none by default: clientPin false until setPIN). */
  pin?: string;
  /** PIN retries in all (8). */
  retries?: number;
  /** Consecutive wrong PINs per power cycle before PIN_AUTH_BLOCKED (3). */
  retriesPerPowerCycle?: number;
  /** PIN/UV auth protocols in getInfo order ([2, 1]). */
  pinProtocols?: ProtocolVersion[];
  /** CTAP 2.1 permission tokens (clientPIN 0x09, options.pinUvAuthToken); false: a CTAP 2.0 key. */
  pinUvAuthToken?: boolean;
  /** No CBOR capability: a U2F-only key. */
  ctap1Only?: boolean;
  touch?: TouchMode;
  /** 'auto': how long after UPNEEDED the touch comes (10 ms). */
  touchDelayMs?: number;
  /** 'manual'/'never': USER_ACTION_TIMEOUT after this long without a touch (30 s). */
  touchTimeoutMs?: number;
  keepaliveIntervalMs?: number;
  /** PROCESSING-only keepalives for this long before UPNEEDED (0). */
  processingMs?: number;
  attestation?: 'packed' | 'none';
  algorithms?: CredentialAlg[];
  residentKeys?: boolean;
  counter?: 'global' | 'per-credential';
  aaguid?: Uint8Array;
  maxMsgSize?: number;
  /** authenticatorReset only this long after power-up (10 s, as real keys). */
  resetWindowMs?: number;
  /** CTAPHID reassembly: MSG_TIMEOUT when a continuation is this late (500 ms). */
  messageTimeoutMs?: number;
  firstCid?: number;
  faults?: Partial<SimulatedFaults>;
}

export interface SimulatedFaults extends HidFaults {
  nonCanonicalNext: number;
  nonCanonicalKind: NonCanonicalKind;
  processingMs: number;
}

export interface RequestRecord {
  cid: number;
  /** The CTAPHID command (0x10 CBOR, 0x03 MSG, 0x06 INIT…). */
  hidCommand: number;
  /** For CBOR: the CTAP2 command byte and its decoded parameters. */
  command?: number;
  params?: CborMap | undefined;
  payload: Uint8Array;
}

export interface CredentialInfo {
  id: Uint8Array;
  rpId: string | undefined;
  rpIdHash: Uint8Array;
  userId: Uint8Array | undefined;
  alg: CredentialAlg;
  resident: boolean;
  signCount: number;
  publicKey: CborMap;
}

/** All done; a failure is kept for whoever asks (udpSettled), never an unhandled rejection. */
function settle(steps: Promise<void>[]): Promise<void> {
  const all = Promise.all(steps).then(() => undefined);
  all.catch(() => undefined);
  return all;
}

const DEFAULT_AAGUID = Uint8Array.from(Buffer.from('746f6b656e67617465000073696d0001', 'hex'));

export class SimulatedAuthenticator extends EventEmitter {
  readonly faults: SimulatedFaults;
  private readonly pinState: ClientPin;
  private readonly presence: Presence;
  private readonly hid: CtapHid;
  private readonly ctap2: Ctap2;
  private readonly devices = new Set<HidDeviceEnd>();
  private readonly servers = new Set<PluggableUdpServer>();
  /** The UDP ports' last pull or plug, done: what `udpSettled()` waits for. */
  private udpChange: Promise<void> = Promise.resolve();
  private readonly counterMode: 'global' | 'per-credential';
  private store: StoredCredential[] = [];
  private globalCounter = 0;
  private powerUpAt = Date.now();
  private cycles = 0;
  private pulled = false;
  private memoryPeers = 0;
  private readonly log: RequestRecord[] = [];

  constructor(options: SimulatedAuthenticatorOptions = {}) {
    super();
    this.faults = {
      busyNext: 0,
      foreignFramesNext: 0,
      badSequenceNext: 0,
      wrongNonceNext: 0,
      unplugAfterReports: undefined,
      nonCanonicalNext: 0,
      nonCanonicalKind: 'unsorted',
      processingMs: options.processingMs ?? 0,
      ...options.faults,
    };
    const permissionsToken = options.pinUvAuthToken ?? true;
    const pinProtocols = options.pinProtocols ?? [2, 1];
    this.counterMode = options.counter ?? 'global';
    this.pinState = new ClientPin({
      pin: options.pin,
      retries: options.retries ?? 8,
      retriesPerPowerCycle: options.retriesPerPowerCycle ?? 3,
      protocols: pinProtocols,
      permissionsToken,
    });
    const faults = this.faults;
    this.presence = new Presence(
      {
        touch: options.touch ?? 'auto',
        touchDelayMs: options.touchDelayMs ?? 10,
        touchTimeoutMs: options.touchTimeoutMs ?? 30_000,
        keepaliveIntervalMs: options.keepaliveIntervalMs ?? 100,
        get processingMs() {
          return faults.processingMs;
        },
      },
      { upNeeded: () => this.emit('up-needed'), touched: () => this.emit('touched') },
    );
    // The state the command handlers share, read and written through this object.
    const sim = this;
    const state = {
      settings: {
        aaguid: options.aaguid ?? DEFAULT_AAGUID,
        algorithms: options.algorithms ?? [Alg.ES256, Alg.EdDSA],
        pinProtocols,
        permissionsToken,
        residentKeys: options.residentKeys ?? true,
        attestation: options.attestation ?? 'packed',
        counter: this.counterMode,
        maxMsgSize: options.maxMsgSize ?? 1200,
        resetWindowMs: options.resetWindowMs ?? 10_000,
        firmwareVersion: 0x010203,
      },
      faults,
      pin: this.pinState,
      presence: this.presence,
      get credentials() {
        return sim.store;
      },
      set credentials(list: StoredCredential[]) {
        sim.store = list;
      },
      get globalCounter() {
        return sim.globalCounter;
      },
      set globalCounter(n: number) {
        sim.globalCounter = n;
      },
      get powerUpAt() {
        return sim.powerUpAt;
      },
      get counterMode() {
        return sim.counterMode;
      },
      record: (command: number, params: CborMap | undefined) => {
        const last = this.log.at(-1);
        if (last && last.hidCommand === Cmd.CBOR) Object.assign(last, { command, params });
      },
    };
    this.ctap2 = new Ctap2(state);
    const ctap1Only = options.ctap1Only ?? false;
    this.hid = new CtapHid({
      capabilities: ctap1Only ? Capability.WINK : Capability.WINK | Capability.CBOR,
      version: [1, 2, 3],
      firstCid: options.firstCid ?? 0x5a000001,
      messageTimeoutMs: options.messageTimeoutMs ?? 500,
      faults,
      run: (tx) => this.run(tx, state),
      seen: ({ cid, cmd, payload }) => {
        const record: RequestRecord = { cid, hidCommand: cmd, payload };
        this.log.push(record);
        if (this.log.length > 200) this.log.shift();
        this.emit('request', record);
      },
      unplug: () => this.unplug(),
    });
  }

  private async run(tx: Transaction, state: Parameters<typeof handleU2f>[1]): Promise<Uint8Array> {
    if (tx.cmd === Cmd.MSG) return handleU2f(tx.payload, state);
    return this.ctap2.handle(tx);
  }

  // ---- transports ----

  /** Serves one end of an in-memory HID pair (createMemoryHidPair().device). */
  attach(device: HidDeviceEnd): void {
    const peer: Peer = { id: `memory:${++this.memoryPeers}`, send: (report) => device.send(report) };
    this.devices.add(device);
    device.onReport((report) => {
      if (!this.pulled && !device.unplugged && this.devices.has(device)) this.hid.receive(report, peer);
    });
  }

  /** A fresh in-memory pair already attached: `const { host } = sim.connect()`. */
  connect(name = 'sim'): MemoryHidPair {
    const pair = createMemoryHidPair(name);
    this.attach(pair.device);
    return pair;
  }

  /** Each datagram is one 64-byte report, both ways, no report-ID byte. */
  async serveUdp(address: { host?: string; port?: number } = {}): Promise<UdpServer> {
    const server = await serveUdp(address.host ?? '127.0.0.1', address.port ?? 0, (report, peer) => {
      if (!this.pulled) this.hid.receive(report, peer);
    });
    this.servers.add(server);
    const close = server.close;
    return Object.assign(server, {
      close: async () => {
        this.servers.delete(server);
        await close();
      },
    });
  }

  async close(): Promise<void> {
    this.hid.dropAll();
    await Promise.all([...this.servers].map((s) => s.close()));
  }

  // ---- the user and the hardware ----

  /** Presses the button. True when a CTAP2 request was waiting for it. */
  touch(): boolean {
    return this.presence.touch();
  }

  /** True while a request waits for a touch (UPNEEDED phase). */
  get waitingForTouch(): boolean {
    return this.presence.waiting;
  }

  /** Off and on again: channels dropped, per-cycle PIN count and key agreement keys new. */
  powerCycle(): void {
    this.hid.dropAll();
    this.pinState.powerCycle();
    this.ctap2.powerCycle();
    this.cycles += 1;
    this.powerUpAt = Date.now();
    this.emit('power-cycle');
  }

  /**
   * Pulls the key out: memory hosts get TokenRemovedError; UDP ports close, so a client's next
   * send or read fails with ECONNREFUSED and a presence probe finds the key gone.
   */
  unplug(): void {
    if (this.pulled) return;
    this.pulled = true;
    this.hid.dropAll();
    for (const device of this.devices) device.unplug();
    this.devices.clear();
    this.udpChange = settle([...this.servers].map((s) => s.unplug()));
    this.emit('unplugged');
  }

  /** Puts it back (a new power cycle) and returns a new memory pair for it; UDP ports bind again. */
  plug(name = 'sim'): MemoryHidPair {
    this.pulled = false;
    this.powerCycle();
    const pair = this.connect(name);
    this.udpChange = settle([...this.servers].map((s) => s.plug()));
    this.emit('plugged');
    return pair;
  }

  /** Resolves once the UDP ports are as the last unplug() or plug() left them (rejects if a port could not be bound again). */
  udpSettled(): Promise<void> {
    return this.udpChange;
  }

  /**
   * Sets the signature counter (every credential's, per-credential mode) — what a cloned key
   * shows: a copy counts on from where it was made, so its counter falls behind the original's.
   */
  setCounter(n: number): void {
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError('a counter is 0..2^32-1');
    this.globalCounter = n;
    for (const c of this.store) c.signCount = n;
  }

  // ---- introspection ----

  get unplugged(): boolean {
    return this.pulled;
  }
  get retriesLeft(): number {
    return this.pinState.retries;
  }
  get pinSet(): boolean {
    return this.pinState.pinSet;
  }
  get consecutivePinFailures(): number {
    return this.pinState.consecutiveMismatches;
  }
  get pinAuthBlocked(): boolean {
    return this.pinState.authBlocked;
  }
  /** The global signature counter (or the sum of the per-credential ones). */
  get counter(): number {
    return this.counterMode === 'global' ? this.globalCounter : this.store.reduce((n, c) => n + c.signCount, 0);
  }
  get powerCycles(): number {
    return this.cycles;
  }
  get channels(): number {
    return this.hid.channelCount;
  }
  get credentials(): CredentialInfo[] {
    return this.store.map((c) => ({
      id: c.id,
      rpId: c.rpId,
      rpIdHash: c.rpIdHash,
      userId: c.userId,
      alg: c.alg,
      resident: c.resident,
      signCount: this.counterMode === 'global' ? this.globalCounter : c.signCount,
      publicKey: coseKey(c),
    }));
  }
  get lastRequest(): RequestRecord | undefined {
    return this.log.at(-1);
  }
  /** The last 200 requests, oldest first. */
  get requests(): readonly RequestRecord[] {
    return this.log;
  }
}
