// authenticatorClientPIN (0x06) with the lockout a real key has: a retries counter that survives
// power cycles, a per-power-cycle limit of consecutive mismatches (PIN_AUTH_BLOCKED until the key
// is re-plugged), and PIN_BLOCKED at zero. The order of the checks follows CTAP 2.1 §6.5.5 as
// OpenSK implements it (decrement first, compare, regenerate the key-agreement key on mismatch),
// because a client's lockout handling is only tested if the key counts the way keys do.
import { createHash, timingSafeEqual } from 'node:crypto';
import { read, required, type CborMap, type CborValue } from './cbor.js';
import { Permission, PinSub, Status, fail } from './constants.js';
import { PinProtocol, type ProtocolVersion } from './pin-protocol.js';

export interface ClientPinOptions {
  pin?: string | undefined;
  retries: number;
  retriesPerPowerCycle: number;
  protocols: ProtocolVersion[];
  /** CTAP 2.1 permission tokens (subcommand 0x09); false makes a CTAP 2.0 key. */
  permissionsToken: boolean;
}

/** What the current pinUvAuthToken may do; cleared when used (2.1) or replaced. */
interface TokenState {
  inUse: boolean;
  permissions: number;
  rpId: string | undefined;
}

export class ClientPin {
  private pinHash: Buffer | undefined;
  retries: number;
  consecutiveMismatches = 0;
  private readonly protocols = new Map<ProtocolVersion, PinProtocol>();
  private tokenState: TokenState = { inUse: false, permissions: 0, rpId: undefined };

  constructor(private readonly options: ClientPinOptions) {
    for (const v of [1, 2] as const) this.protocols.set(v, new PinProtocol(v));
    if (options.pin !== undefined) this.pinHash = pinHash(options.pin);
    this.retries = options.retries;
  }

  get pinSet(): boolean {
    return this.pinHash !== undefined;
  }

  get authBlocked(): boolean {
    return this.consecutiveMismatches >= this.options.retriesPerPowerCycle;
  }

  /** A new power cycle: the per-cycle count, the keys and the token start over. */
  powerCycle(): void {
    this.consecutiveMismatches = 0;
    for (const p of this.protocols.values()) {
      p.regenerate();
      p.resetToken();
    }
    this.tokenState = { inUse: false, permissions: 0, rpId: undefined };
  }

  /** authenticatorReset: no PIN, full retries. */
  reset(): void {
    this.pinHash = undefined;
    this.retries = this.options.retries;
    this.powerCycle();
  }

  /** A supported protocol by number, or INVALID_PARAMETER. */
  protocol(version: number | undefined): PinProtocol {
    const v = required(version);
    if (!this.options.protocols.includes(v as ProtocolVersion)) return fail(Status.INVALID_PARAMETER);
    return this.protocols.get(v as ProtocolVersion)!;
  }

  handle(params: CborMap): CborMap | undefined {
    const sub = required(read.uint(params, 2));
    const version = read.uint(params, 1);
    switch (sub) {
      case PinSub.GET_PIN_RETRIES:
        if (version !== undefined) this.protocol(version);
        return new Map<number, CborValue>([
          [3, this.retries],
          [4, this.authBlocked],
        ]);
      case PinSub.GET_KEY_AGREEMENT:
        return new Map([[1, this.protocol(version).publicKey()]]);
      case PinSub.SET_PIN:
        return this.setPin(params);
      case PinSub.CHANGE_PIN:
        return this.changePin(params);
      case PinSub.GET_PIN_TOKEN:
        return this.getToken(params, false);
      case PinSub.GET_TOKEN_USING_PIN:
        if (!this.options.permissionsToken) return fail(Status.INVALID_SUBCOMMAND);
        return this.getToken(params, true);
      default:
        return fail(Status.INVALID_SUBCOMMAND);
    }
  }

  private setPin(params: CborMap): undefined {
    const protocol = this.protocol(read.uint(params, 1));
    const keyAgreement = required(read.map(params, 3));
    const auth = required(read.bytes(params, 4));
    const newPinEnc = required(read.bytes(params, 5));
    if (this.pinHash) return fail(Status.PIN_AUTH_INVALID);
    const secret = protocol.decapsulate(keyAgreement);
    if (!protocol.verify(secret, newPinEnc, auth)) return fail(Status.PIN_AUTH_INVALID);
    this.storeNewPin(protocol, secret, newPinEnc);
    this.retries = this.options.retries;
    return undefined;
  }

  private changePin(params: CborMap): undefined {
    const protocol = this.protocol(read.uint(params, 1));
    const keyAgreement = required(read.map(params, 3));
    const auth = required(read.bytes(params, 4));
    const newPinEnc = required(read.bytes(params, 5));
    const pinHashEnc = required(read.bytes(params, 6));
    if (!this.pinHash) return fail(Status.PIN_NOT_SET);
    if (this.retries === 0) return fail(Status.PIN_BLOCKED);
    const secret = protocol.decapsulate(keyAgreement);
    if (!protocol.verify(secret, Buffer.concat([newPinEnc, pinHashEnc]), auth)) return fail(Status.PIN_AUTH_INVALID);
    this.checkPinHash(protocol, secret, pinHashEnc);
    this.storeNewPin(protocol, secret, newPinEnc);
    for (const p of this.protocols.values()) p.resetToken();
    this.tokenState = { inUse: false, permissions: 0, rpId: undefined };
    return undefined;
  }

  private getToken(params: CborMap, withPermissions: boolean): CborMap {
    const protocol = this.protocol(read.uint(params, 1));
    const keyAgreement = required(read.map(params, 3));
    const pinHashEnc = required(read.bytes(params, 6));
    const permissions = read.uint(params, 9);
    const rpId = read.text(params, 10);
    if (withPermissions) {
      if (permissions === undefined) return fail(Status.MISSING_PARAMETER);
      if (permissions === 0) return fail(Status.INVALID_PARAMETER);
      if (permissions & ~(Permission.MC | Permission.GA)) return fail(Status.UNAUTHORIZED_PERMISSION);
      if (rpId === undefined) return fail(Status.INVALID_PARAMETER);
    } else if (this.options.permissionsToken && (permissions !== undefined || rpId !== undefined)) {
      return fail(Status.INVALID_PARAMETER);
    }
    if (!this.pinHash) return fail(Status.PIN_NOT_SET);
    if (this.retries === 0) return fail(Status.PIN_BLOCKED);
    const secret = protocol.decapsulate(keyAgreement);
    this.checkPinHash(protocol, secret, pinHashEnc);
    for (const p of this.protocols.values()) p.resetToken();
    this.tokenState = {
      inUse: true,
      // getPinToken's token: mc and ga in 2.1; a 2.0 key's token may do anything.
      permissions: withPermissions ? permissions! : this.options.permissionsToken ? Permission.MC | Permission.GA : 0xff,
      rpId: withPermissions ? rpId : undefined,
    };
    return new Map([[2, protocol.encrypt(secret, protocol.token)]]);
  }

  /** Decrement, compare, and on a mismatch regenerate and answer the right lockout status. */
  private checkPinHash(protocol: PinProtocol, secret: Buffer, pinHashEnc: Uint8Array): void {
    if (this.authBlocked) fail(Status.PIN_AUTH_BLOCKED);
    this.retries -= 1;
    const got = protocol.decrypt(secret, pinHashEnc);
    const match = got !== undefined && got.length === 16 && timingSafeEqual(got, this.pinHash!);
    if (!match) {
      protocol.regenerate();
      if (this.retries === 0) fail(Status.PIN_BLOCKED);
      this.consecutiveMismatches += 1;
      if (this.authBlocked) fail(Status.PIN_AUTH_BLOCKED);
      fail(Status.PIN_INVALID);
    }
    this.retries = this.options.retries;
    this.consecutiveMismatches = 0;
  }

  private storeNewPin(protocol: PinProtocol, secret: Buffer, newPinEnc: Uint8Array): void {
    const padded = protocol.decrypt(secret, newPinEnc);
    if (!padded || padded.length !== 64) return fail(Status.INVALID_PARAMETER);
    const end = padded.indexOf(0);
    if (end === -1) return fail(Status.PIN_POLICY_VIOLATION); // 64 bytes: over the 63 allowed
    const pin = padded.subarray(0, end);
    if ([...pin.toString('utf8')].length < 4) return fail(Status.PIN_POLICY_VIOLATION);
    this.pinHash = createHash('sha256').update(pin).digest().subarray(0, 16);
  }

  /**
   * Checks a command's pinUvAuthParam (HMAC of clientDataHash under the token) and its permission
   * and RP binding. Returns nothing: any failure is PIN_AUTH_INVALID, as for a real key.
   */
  checkAuthParam(version: number | undefined, auth: Uint8Array, clientDataHash: Uint8Array, permission: number, rpId: string): void {
    const protocol = this.protocol(version);
    const state = this.tokenState;
    if (!state.inUse || !protocol.verify(protocol.token, clientDataHash, auth)) fail(Status.PIN_AUTH_INVALID);
    if ((state.permissions & permission) === 0) fail(Status.PIN_AUTH_INVALID);
    if (state.rpId !== undefined && state.rpId !== rpId) fail(Status.PIN_AUTH_INVALID);
    if (state.rpId === undefined && this.options.permissionsToken) state.rpId = rpId;
  }

  /** After a makeCredential or getAssertion used the token (2.1: permissions except lbw go). */
  tokenUsed(): void {
    if (this.options.permissionsToken) this.tokenState.permissions &= Permission.LBW;
  }
}

function pinHash(pin: string): Buffer {
  return createHash('sha256').update(pin, 'utf8').digest().subarray(0, 16);
}
