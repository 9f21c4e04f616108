// CTAPHID as the key's firmware sees it: 64-byte reports in, channels allocated by INIT, one
// transaction at a time (other channels get CHANNEL_BUSY meanwhile), reassembly with sequence and
// timeout checks, and replies cut back into frames. The frame-level faults (foreign CIDs, a bad
// sequence number, a wrong INIT nonce, unplugging after N reports) are applied on the way out
// here, so everything above this file stays a correct authenticator.
import { BROADCAST_CID, CONT_DATA, CTAPHID_VERSION, Cmd, HidError, INIT_DATA, MAX_MESSAGE, REPORT_SIZE } from './constants.js';

/** Where a report came from and where replies for it go (the memory pair, or a UDP address). */
export interface Peer {
  readonly id: string;
  send(report: Uint8Array): void;
}

export interface Transaction {
  readonly cid: number;
  readonly cmd: number;
  readonly payload: Uint8Array;
  /** Aborted by CTAPHID_CANCEL on this channel: the CBOR reply is then status 0x2D. */
  readonly cancelled: AbortSignal;
  /** Aborted when the reply will go nowhere (INIT resync, power cycle, unplug). */
  readonly dropped: AbortSignal;
  keepalive(status: number): void;
}

export interface HidFaults {
  /** Answer CHANNEL_BUSY to this many upcoming requests (INIT and CANCEL not counted). */
  busyNext: number;
  /** Put a frame for another CID before every frame of this many upcoming messages. */
  foreignFramesNext: number;
  /** Give the first continuation frame of this many upcoming multi-frame replies a wrong SEQ. */
  badSequenceNext: number;
  /** Answer this many upcoming INITs with a nonce that is not the one sent. */
  wrongNonceNext: number;
  /** Pull the key out after this many more reports have been sent (undefined: never). */
  unplugAfterReports: number | undefined;
}

export interface CtapHidOptions {
  capabilities: number;
  version: [number, number, number];
  firstCid: number;
  messageTimeoutMs: number;
  faults: HidFaults;
  /** Runs MSG and CBOR (and anything not handled at this layer); resolves the reply payload. */
  run(tx: Transaction): Promise<Uint8Array>;
  /** Called for every complete request message (introspection). */
  seen(message: { cid: number; cmd: number; payload: Uint8Array }): void;
  /** The fault asked to unplug. */
  unplug(): void;
}

interface Assembly {
  cid: number;
  cmd: number;
  length: number;
  chunks: Uint8Array[];
  received: number;
  seq: number;
  peer: Peer;
  timer: NodeJS.Timeout;
}

interface Running {
  cid: number;
  cancel: AbortController;
  drop: AbortController;
}

export class CtapHid {
  private readonly channels = new Map<number, Peer>();
  private nextCid: number;
  private assembly: Assembly | undefined;
  private running: Running | undefined;

  constructor(private readonly options: CtapHidOptions) {
    this.nextCid = options.firstCid;
  }

  get busy(): boolean {
    return this.running !== undefined || this.assembly !== undefined;
  }

  get channelCount(): number {
    return this.channels.size;
  }

  /** Power cycle or unplug: every channel, the message being assembled and the transaction go. */
  dropAll(): void {
    this.channels.clear();
    this.stopAssembly();
    this.running?.drop.abort();
    this.running = undefined;
  }

  receive(report: Uint8Array, peer: Peer): void {
    try {
      this.process(report, peer);
    } catch {
      // Never an exception out of the key: whatever went wrong is OTHER on that channel.
      try {
        this.sendError(report.length >= 4 ? readCid(report) : BROADCAST_CID, HidError.OTHER, peer);
      } catch {
        // the peer is gone; nothing to tell
      }
    }
  }

  private process(raw: Uint8Array, peer: Peer): void {
    const report = new Uint8Array(REPORT_SIZE);
    report.set(raw.subarray(0, REPORT_SIZE));
    const cid = readCid(report);
    const type = report[4]!;
    if (type & 0x80) this.initPacket(cid, type & 0x7f, (report[5]! << 8) | report[6]!, report.subarray(7), peer);
    else this.contPacket(cid, type, report.subarray(5), peer);
  }

  private initPacket(cid: number, cmd: number, length: number, data: Uint8Array, peer: Peer): void {
    if (cid === 0 || (cid === BROADCAST_CID && cmd !== Cmd.INIT) || (cid !== BROADCAST_CID && !this.channels.has(cid))) {
      return this.sendError(cid, HidError.INVALID_CHANNEL, peer);
    }
    if (cmd === Cmd.CANCEL) {
      if (this.running?.cid === cid) this.running.cancel.abort();
      return;
    }
    if (this.assembly) {
      if (this.assembly.cid !== cid) return this.sendError(cid, HidError.CHANNEL_BUSY, peer);
      this.stopAssembly();
      if (cmd !== Cmd.INIT) return this.sendError(cid, HidError.INVALID_SEQ, peer);
    }
    if (this.running) {
      if (this.running.cid !== cid || cmd !== Cmd.INIT) return this.sendError(cid, HidError.CHANNEL_BUSY, peer);
      // INIT on the busy channel itself resynchronises it: the old transaction is abandoned.
      this.running.drop.abort();
      this.running = undefined;
    }
    if (cmd !== Cmd.INIT && this.options.faults.busyNext > 0) {
      this.options.faults.busyNext -= 1;
      return this.sendError(cid, HidError.CHANNEL_BUSY, peer);
    }
    if (length > MAX_MESSAGE) return this.sendError(cid, HidError.INVALID_LEN, peer);
    if (length <= INIT_DATA) return this.dispatch(cid, cmd, data.slice(0, length), peer);
    this.assembly = {
      cid,
      cmd,
      length,
      chunks: [data.slice()],
      received: INIT_DATA,
      seq: 0,
      peer,
      timer: this.assemblyTimer(cid, peer),
    };
  }

  private contPacket(cid: number, seq: number, data: Uint8Array, peer: Peer): void {
    const assembly = this.assembly;
    if (!assembly) return; // a spurious continuation is ignored (CTAPHID §11.2.4)
    if (assembly.cid !== cid) {
      return this.sendError(cid, this.channels.has(cid) ? HidError.CHANNEL_BUSY : HidError.INVALID_CHANNEL, peer);
    }
    if (seq !== assembly.seq) {
      this.stopAssembly();
      return this.sendError(cid, HidError.INVALID_SEQ, peer);
    }
    assembly.seq += 1;
    assembly.chunks.push(data.slice());
    assembly.received += CONT_DATA;
    if (assembly.received < assembly.length) {
      clearTimeout(assembly.timer);
      assembly.timer = this.assemblyTimer(cid, peer);
      return;
    }
    this.stopAssembly();
    const payload = Buffer.concat(assembly.chunks).subarray(0, assembly.length);
    this.dispatch(cid, assembly.cmd, new Uint8Array(payload), assembly.peer);
  }

  private assemblyTimer(cid: number, peer: Peer): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.assembly = undefined;
      this.sendError(cid, HidError.MSG_TIMEOUT, peer);
    }, this.options.messageTimeoutMs);
    timer.unref();
    return timer;
  }

  private stopAssembly(): void {
    if (this.assembly) clearTimeout(this.assembly.timer);
    this.assembly = undefined;
  }

  private dispatch(cid: number, cmd: number, payload: Uint8Array, peer: Peer): void {
    this.options.seen({ cid, cmd, payload });
    switch (cmd) {
      case Cmd.INIT:
        return this.init(cid, payload, peer);
      case Cmd.PING:
        return this.sendMessage(cid, Cmd.PING, payload, peer);
      case Cmd.WINK:
        if (!(this.options.capabilities & 0x01)) return this.sendError(cid, HidError.INVALID_CMD, peer);
        return this.sendMessage(cid, Cmd.WINK, new Uint8Array(0), peer);
      case Cmd.MSG:
      case Cmd.CBOR:
        if (cmd === Cmd.CBOR && !(this.options.capabilities & 0x04)) return this.sendError(cid, HidError.INVALID_CMD, peer);
        if (cmd === Cmd.MSG && this.options.capabilities & 0x08) return this.sendError(cid, HidError.INVALID_CMD, peer);
        if (payload.length === 0) return this.sendError(cid, HidError.INVALID_LEN, peer);
        return this.start(cid, cmd, payload, peer);
      default:
        // LOCK is not advertised; KEEPALIVE and ERROR are the key's to send, not the host's.
        return this.sendError(cid, HidError.INVALID_CMD, peer);
    }
  }

  private init(cid: number, nonce: Uint8Array, peer: Peer): void {
    if (nonce.length !== 8) return this.sendError(cid, HidError.INVALID_LEN, peer);
    let channel = cid;
    if (cid === BROADCAST_CID) {
      channel = this.allocate();
      this.channels.set(channel, peer);
    }
    const reply = new Uint8Array(17);
    reply.set(nonce, 0);
    if (this.options.faults.wrongNonceNext > 0) {
      this.options.faults.wrongNonceNext -= 1;
      reply[0] ^= 0xff;
    }
    new DataView(reply.buffer).setUint32(8, channel);
    reply[12] = CTAPHID_VERSION;
    reply.set(this.options.version, 13);
    reply[16] = this.options.capabilities;
    this.sendMessage(cid, Cmd.INIT, reply, peer);
  }

  private allocate(): number {
    let cid = this.nextCid;
    while (cid === 0 || cid === BROADCAST_CID || this.channels.has(cid)) cid = (cid + 1) >>> 0;
    this.nextCid = (cid + 1) >>> 0;
    return cid;
  }

  private start(cid: number, cmd: number, payload: Uint8Array, peer: Peer): void {
    const running: Running = { cid, cancel: new AbortController(), drop: new AbortController() };
    this.running = running;
    const tx: Transaction = {
      cid,
      cmd,
      payload,
      cancelled: running.cancel.signal,
      dropped: running.drop.signal,
      keepalive: (status) => {
        if (this.running === running) this.sendMessage(cid, Cmd.KEEPALIVE, Uint8Array.of(status), peer);
      },
    };
    this.options
      .run(tx)
      .then(
        (reply) => {
          if (this.running !== running) return;
          this.running = undefined;
          this.sendMessage(cid, cmd, reply, peer);
        },
        () => {
          if (this.running !== running) return;
          this.running = undefined;
          this.sendError(cid, HidError.OTHER, peer);
        },
      );
  }

  sendError(cid: number, code: number, peer: Peer): void {
    this.sendMessage(cid, Cmd.ERROR, Uint8Array.of(code), peer);
  }

  /** Cuts a message into frames and sends them to the channel's owner (or the sender). */
  private sendMessage(cid: number, cmd: number, payload: Uint8Array, sender: Peer): void {
    const peer = this.channels.get(cid) ?? sender;
    const faults = this.options.faults;
    const frames: Uint8Array[] = [];
    const first = new Uint8Array(REPORT_SIZE);
    const view = new DataView(first.buffer);
    view.setUint32(0, cid);
    first[4] = 0x80 | cmd;
    view.setUint16(5, payload.length);
    first.set(payload.subarray(0, INIT_DATA), 7);
    frames.push(first);
    for (let at = INIT_DATA, seq = 0; at < payload.length; at += CONT_DATA, seq++) {
      const frame = new Uint8Array(REPORT_SIZE);
      new DataView(frame.buffer).setUint32(0, cid);
      frame[4] = seq & 0x7f;
      frame.set(payload.subarray(at, at + CONT_DATA), 5);
      frames.push(frame);
    }
    if (frames.length > 1 && faults.badSequenceNext > 0) {
      faults.badSequenceNext -= 1;
      frames[1]![4] = 1;
    }
    const foreign = faults.foreignFramesNext > 0;
    if (foreign) faults.foreignFramesNext -= 1;
    for (const [i, frame] of frames.entries()) {
      if (foreign && !this.emit(peer, foreignFrame(cid, i))) return;
      if (!this.emit(peer, frame)) return;
    }
  }

  private emit(peer: Peer, report: Uint8Array): boolean {
    const faults = this.options.faults;
    if (faults.unplugAfterReports !== undefined && faults.unplugAfterReports <= 0) {
      faults.unplugAfterReports = undefined;
      this.options.unplug();
      return false;
    }
    peer.send(report);
    if (faults.unplugAfterReports !== undefined && --faults.unplugAfterReports <= 0) {
      faults.unplugAfterReports = undefined;
      this.options.unplug();
      return false;
    }
    return true;
  }
}

/** A frame another application's channel would get: alternately a reply start and a continuation. */
function foreignFrame(cid: number, i: number): Uint8Array {
  const frame = new Uint8Array(REPORT_SIZE);
  const view = new DataView(frame.buffer);
  view.setUint32(0, (cid ^ 0x5a5a0000) >>> 0);
  if (i % 2 === 0) {
    frame[4] = 0x80 | Cmd.CBOR;
    view.setUint16(5, 1);
    frame[7] = 0x00;
  } else {
    frame[4] = 0;
    frame.fill(0xee, 5);
  }
  return frame;
}

function readCid(report: Uint8Array): number {
  return ((report[0]! << 24) | (report[1]! << 16) | (report[2]! << 8) | report[3]!) >>> 0;
}
