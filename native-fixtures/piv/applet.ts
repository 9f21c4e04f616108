// The PIV card edge (NIST SP 800-73-4) as far as OpenSC 0.23's PIV driver uses it for a token
// that logs in and signs: SELECT, GET DATA (CHUID, the PIV Authentication certificate, the
// discovery object), VERIFY with a real retry counter, CHANGE REFERENCE DATA, RESET RETRY COUNTER
// with the PUK, and GENERAL AUTHENTICATE with an EC P-256 key in slot 9A. Long answers go out in
// 256-byte pieces with 61xx + GET RESPONSE; chained commands (CLA bit 0x10) are put together.
import { randomBytes } from 'node:crypto';
import { p256 } from '@noble/curves/nist.js';
import { parseTlvs, tlv } from './tlv.js';

export const PIV_AID = Buffer.from('a000000308000010000100', 'hex');
// Application property template: PIX of the PIV application, and the coexistent tag allocation authority.
const APT = Buffer.from('61114f0600001000010079074f05a000000308', 'hex');

export interface PivCardState {
  pin: string;
  puk: string;
  pinTries: number;
  pukTries: number;
  pinTriesLeft: number;
  pukTriesLeft: number;
  verified: boolean;
}

export interface PivAppletOptions {
  pin: string;
  puk: string;
  pinTries: number;
  pukTries: number;
  pinTriesLeft?: number;
  pukTriesLeft?: number;
  /** 32-byte P-256 private key of slot 9A. */
  secretKey: Uint8Array;
  /** DER certificate for PIV Authentication (its subject CN becomes OpenSC's token label). */
  certificate: Uint8Array;
  /** 16-byte GUID in the CHUID: OpenSC's token serial is made from it. */
  guid: Uint8Array;
}

const SW = {
  ok: Buffer.from([0x90, 0x00]),
  notFound: Buffer.from([0x6a, 0x82]),
  wrongData: Buffer.from([0x6a, 0x80]),
  wrongP1P2: Buffer.from([0x6a, 0x86]),
  insNotSupported: Buffer.from([0x6d, 0x00]),
  claNotSupported: Buffer.from([0x6e, 0x00]),
  securityNotSatisfied: Buffer.from([0x69, 0x82]),
  blocked: Buffer.from([0x69, 0x83]),
  wrongLength: Buffer.from([0x67, 0x00]),
  tries: (left: number) => Buffer.from([0x63, 0xc0 | Math.min(left, 15)]),
};

/** PIN and PUK are sent padded with 0xFF to 8 bytes. */
function unpad(bytes: Uint8Array): string {
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0xff) end--;
  return Buffer.from(bytes.subarray(0, end)).toString('latin1');
}

export class PivApplet {
  readonly state: PivCardState;
  readonly #secretKey: Uint8Array;
  readonly #objects = new Map<string, Buffer>();
  #pendingResponse: Buffer | undefined;
  #chained: Buffer[] = [];
  #selected = false;

  constructor(options: PivAppletOptions) {
    this.state = {
      pin: options.pin,
      puk: options.puk,
      pinTries: options.pinTries,
      pukTries: options.pukTries,
      pinTriesLeft: options.pinTriesLeft ?? options.pinTries,
      pukTriesLeft: options.pukTriesLeft ?? options.pukTries,
      verified: false,
    };
    this.#secretKey = options.secretKey;
    // A FASC-N of agency code 9999 ("PIV compatible"): OpenSC then takes the GUID as the serial.
    const fascn = Buffer.from('d4e739da739ced39ce739d836858210842108421c84210c3eb', 'hex');
    const chuid = Buffer.concat([tlv(0x30, fascn), tlv(0x34, Buffer.from(options.guid)), tlv(0x35, Buffer.from('20991231')), tlv(0x3e, Buffer.alloc(0)), tlv(0xfe, Buffer.alloc(0))]);
    this.#objects.set('5fc102', tlv(0x53, chuid));
    const certObject = Buffer.concat([tlv(0x70, Buffer.from(options.certificate)), tlv(0x71, Buffer.from([0x00])), tlv(0xfe, Buffer.alloc(0))]);
    this.#objects.set('5fc105', tlv(0x53, certObject));
    // Discovery object: the PIV AID, and a PIN usage policy of "PIV PIN only".
    this.#objects.set('7e', tlv(0x7e, Buffer.concat([tlv(0x4f, PIV_AID), tlv(0x5f2f, Buffer.from([0x40, 0x00]))])));
  }

  /** Power off or reset: the security status is gone, the counters stay. */
  reset(): void {
    this.state.verified = false;
    this.#pendingResponse = undefined;
    this.#chained = [];
    this.#selected = false;
  }

  /** One command APDU in, one response APDU out. */
  process(apdu: Uint8Array): Buffer {
    const cmd = Buffer.from(apdu);
    if (cmd.length < 4) return SW.wrongLength;
    const [cla, ins, p1, p2] = [cmd[0]!, cmd[1]!, cmd[2]!, cmd[3]!];
    if ((cla & 0xe0) !== 0) return SW.claNotSupported;
    let data = Buffer.alloc(0);
    if (cmd.length > 5) {
      const lc = cmd[4]!;
      data = cmd.subarray(5, 5 + lc);
      if (data.length !== lc) return SW.wrongLength;
    }
    if (ins === 0xc0) return this.#getResponse();
    this.#pendingResponse = undefined;
    if (cla & 0x10) {
      this.#chained.push(data);
      return SW.ok;
    }
    if (this.#chained.length > 0) {
      data = Buffer.concat([...this.#chained, data]);
      this.#chained = [];
    }
    return this.#respond(this.#dispatch(ins, p1, p2, data));
  }

  #respond(answer: { data?: Buffer; sw: Buffer }): Buffer {
    const data = answer.data ?? Buffer.alloc(0);
    if (data.length <= 256) return Buffer.concat([data, answer.sw]);
    this.#pendingResponse = data.subarray(256);
    return Buffer.concat([data.subarray(0, 256), this.#moreSw()]);
  }

  #moreSw(): Buffer {
    const left = this.#pendingResponse!.length;
    return Buffer.from([0x61, left >= 256 ? 0x00 : left]);
  }

  #getResponse(): Buffer {
    const pending = this.#pendingResponse;
    if (!pending) return Buffer.from([0x69, 0x85]);
    const piece = pending.subarray(0, 256);
    const rest = pending.subarray(256);
    this.#pendingResponse = rest.length > 0 ? rest : undefined;
    return Buffer.concat([piece, this.#pendingResponse ? this.#moreSw() : SW.ok]);
  }

  #dispatch(ins: number, p1: number, p2: number, data: Buffer): { data?: Buffer; sw: Buffer } {
    switch (ins) {
      case 0xa4:
        return this.#select(p1, data);
      case 0xcb:
        return this.#getData(p1, p2, data);
      case 0x20:
        return this.#verify(p1, p2, data);
      case 0x24:
        return this.#changeReference(p2, data);
      case 0x2c:
        return this.#resetRetryCounter(p2, data);
      case 0x87:
        return this.#generalAuthenticate(p1, p2, data);
      default:
        return { sw: SW.insNotSupported };
    }
  }

  #select(p1: number, aid: Buffer): { data?: Buffer; sw: Buffer } {
    // A truncated AID (the PIX prefix) selects too, as SP 800-73 allows.
    if (p1 === 0x04 && aid.length >= 5 && PIV_AID.subarray(0, aid.length).equals(aid)) {
      this.#selected = true;
      return { data: APT, sw: SW.ok };
    }
    return { sw: SW.notFound };
  }

  #getData(p1: number, p2: number, data: Buffer): { data?: Buffer; sw: Buffer } {
    if (!this.#selected) return { sw: SW.notFound };
    if (p1 !== 0x3f || p2 !== 0xff) return { sw: SW.wrongP1P2 };
    let tag: TlvTag;
    try {
      tag = tagList(data);
    } catch {
      return { sw: SW.wrongData };
    }
    const object = this.#objects.get(tag);
    return object ? { data: object, sw: SW.ok } : { sw: SW.notFound };
  }

  #verify(p1: number, p2: number, data: Buffer): { sw: Buffer } {
    if (p2 !== 0x80) return { sw: SW.notFound };
    if (p1 === 0xff) {
      this.state.verified = false;
      return { sw: SW.ok };
    }
    if (data.length === 0) {
      if (this.state.pinTriesLeft === 0) return { sw: SW.blocked };
      return { sw: this.state.verified ? SW.ok : SW.tries(this.state.pinTriesLeft) };
    }
    if (data.length !== 8) return { sw: SW.wrongLength };
    if (this.state.pinTriesLeft === 0) return { sw: SW.blocked };
    if (unpad(data) === this.state.pin) {
      this.state.pinTriesLeft = this.state.pinTries;
      this.state.verified = true;
      return { sw: SW.ok };
    }
    this.state.verified = false;
    this.state.pinTriesLeft--;
    return { sw: SW.tries(this.state.pinTriesLeft) };
  }

  #changeReference(p2: number, data: Buffer): { sw: Buffer } {
    if (data.length !== 16) return { sw: SW.wrongLength };
    const which = p2 === 0x80 ? 'pin' : p2 === 0x81 ? 'puk' : undefined;
    if (!which) return { sw: SW.notFound };
    const left = which === 'pin' ? 'pinTriesLeft' : 'pukTriesLeft';
    const max = which === 'pin' ? 'pinTries' : 'pukTries';
    if (this.state[left] === 0) return { sw: SW.blocked };
    if (unpad(data.subarray(0, 8)) !== this.state[which]) {
      this.state[left]--;
      if (which === 'pin') this.state.verified = false;
      return { sw: SW.tries(this.state[left]) };
    }
    this.state[which] = unpad(data.subarray(8));
    this.state[left] = this.state[max];
    return { sw: SW.ok };
  }

  #resetRetryCounter(p2: number, data: Buffer): { sw: Buffer } {
    if (p2 !== 0x80) return { sw: SW.notFound };
    if (data.length !== 16) return { sw: SW.wrongLength };
    if (this.state.pukTriesLeft === 0) return { sw: SW.blocked };
    if (unpad(data.subarray(0, 8)) !== this.state.puk) {
      this.state.pukTriesLeft--;
      return { sw: SW.tries(this.state.pukTriesLeft) };
    }
    this.state.pukTriesLeft = this.state.pukTries;
    this.state.pin = unpad(data.subarray(8));
    this.state.pinTriesLeft = this.state.pinTries;
    this.state.verified = false;
    return { sw: SW.ok };
  }

  #generalAuthenticate(p1: number, p2: number, data: Buffer): { data?: Buffer; sw: Buffer } {
    if (p2 !== 0x9a) return { sw: SW.notFound };
    if (p1 !== 0x11) return { sw: SW.wrongP1P2 };
    if (!this.state.verified) return { sw: SW.securityNotSatisfied };
    let challenge: Buffer | undefined;
    try {
      const [template] = parseTlvs(data);
      if (!template || template.tag !== 0x7c) return { sw: SW.wrongData };
      challenge = parseTlvs(template.value).find((item) => item.tag === 0x81)?.value;
    } catch {
      return { sw: SW.wrongData };
    }
    if (!challenge || challenge.length === 0 || challenge.length > 32) return { sw: SW.wrongData };
    // The card signs what it is given (a digest the host made), left-padded to the curve size.
    const digest = Buffer.concat([Buffer.alloc(32 - challenge.length), challenge]);
    const signature = Buffer.from(p256.sign(digest, this.#secretKey, { prehash: false, format: 'der' }));
    return { data: tlv(0x7c, tlv(0x82, signature)), sw: SW.ok };
  }
}

type TlvTag = string;

/** The tag list of GET DATA: `5C len tag`, as hex. */
function tagList(data: Buffer): TlvTag {
  const [item] = parseTlvs(data);
  if (!item || item.tag !== 0x5c || item.value.length === 0 || item.value.length > 3) throw new Error('bad tag list');
  return item.value.toString('hex');
}

export function randomGuid(): Buffer {
  return randomBytes(16);
}
