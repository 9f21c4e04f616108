// CTAP1/U2F over CTAPHID_MSG, for keys without CTAP2: register and authenticate only — no PIN and
// no lockout (the status says so). A U2F signature covers appParam ‖ flags ‖ counter ‖
// challengeParam, which is WebAuthn's authenticatorData ‖ SHA-256(clientDataJSON) when appParam is
// SHA-256(rpId): so the result is the same assertion shape any WebAuthn verifier checks.
import {
  FidoProtocolError,
  NoCredentialsError,
  UserPresenceTimeoutError,
  OperationCancelledError,
  CtapHidError,
} from '../errors/index.js';
import { CTAPHID } from './constants.js';
import type { CtapHidConnection } from './ctaphid.js';
import type { CallOptions } from './ctap2.js';

const SW_OK = 0x9000;
const SW_CONDITIONS_NOT_SATISFIED = 0x6985;
const SW_WRONG_DATA = 0x6a80;
const INS = { REGISTER: 0x01, AUTHENTICATE: 0x02, VERSION: 0x03 } as const;
const ENFORCE_USER_PRESENCE = 0x03;
const TOUCH_POLL_MS = 100;

export interface U2fRegistration {
  /** The uncompressed P-256 point (65 bytes). */
  publicKey: Uint8Array;
  keyHandle: Uint8Array;
}

export interface U2fAuthentication {
  flags: number;
  counter: number;
  signature: Uint8Array;
}

export class U2f {
  constructor(private readonly connection: CtapHidConnection) {}

  async version(options?: CallOptions): Promise<string> {
    return Buffer.from(await this.apdu(INS.VERSION, 0, new Uint8Array(0), options)).toString('latin1');
  }

  async register(challengeParam: Uint8Array, appParam: Uint8Array, options?: CallOptions): Promise<U2fRegistration> {
    const r = await this.untilTouched(INS.REGISTER, 0, Buffer.concat([challengeParam, appParam]), options);
    if (r.length < 67 || r[0] !== 0x05) throw new FidoProtocolError('U2F register: a malformed answer');
    const publicKey = r.slice(1, 66);
    const handleLength = r[66]!;
    if (r.length < 67 + handleLength) throw new FidoProtocolError('U2F register: the key handle is cut short');
    return { publicKey, keyHandle: r.slice(67, 67 + handleLength) };
  }

  async authenticate(challengeParam: Uint8Array, appParam: Uint8Array, keyHandle: Uint8Array, options?: CallOptions): Promise<U2fAuthentication> {
    if (keyHandle.length > 255) throw new NoCredentialsError('a U2F key handle is at most 255 bytes');
    const data = Buffer.concat([challengeParam, appParam, Buffer.of(keyHandle.length), keyHandle]);
    const r = await this.untilTouched(INS.AUTHENTICATE, ENFORCE_USER_PRESENCE, data, options);
    if (r.length < 6) throw new FidoProtocolError('U2F authenticate: a malformed answer');
    return { flags: r[0]!, counter: new DataView(r.buffer, r.byteOffset).getUint32(1), signature: r.slice(5) };
  }

  /** U2F keys answer "conditions not satisfied" until touched: ask again until they are, or the deadline. */
  private async untilTouched(ins: number, p1: number, data: Uint8Array, options: CallOptions = {}): Promise<Uint8Array> {
    const deadline = Date.now() + (options.timeoutMs ?? 30_000);
    let prompted = false;
    for (;;) {
      try {
        return await this.apdu(ins, p1, data, options);
      } catch (err) {
        if (!(err instanceof TouchNeeded)) throw err;
      }
      if (!prompted) {
        prompted = true;
        options.onTouch?.();
      }
      if (options.signal?.aborted) throw new OperationCancelledError('the operation was cancelled');
      if (Date.now() >= deadline) throw new UserPresenceTimeoutError('nobody touched the security key in time');
      await new Promise((resolve) => setTimeout(resolve, TOUCH_POLL_MS));
    }
  }

  private async apdu(ins: number, p1: number, data: Uint8Array, options: CallOptions = {}): Promise<Uint8Array> {
    // Extended length encoding: CLA INS P1 P2 00 Lc(2) data Le(2).
    const header = Buffer.of(0, ins, p1, 0, 0, data.length >> 8, data.length & 0xff);
    const answer = await this.connection.transact(CTAPHID.MSG, Buffer.concat([header, data, Buffer.of(0, 0)]), {
      signal: options.signal,
      timeoutMs: options.timeoutMs,
    });
    if (answer.length < 2) throw new FidoProtocolError('U2F: an answer without a status word');
    const sw = (answer[answer.length - 2]! << 8) | answer[answer.length - 1]!;
    if (sw === SW_OK) return answer.subarray(0, answer.length - 2);
    if (sw === SW_CONDITIONS_NOT_SATISFIED) throw new TouchNeeded();
    if (sw === SW_WRONG_DATA) throw new NoCredentialsError('the security key does not know this U2F key handle');
    throw new CtapHidError(`the security key refused U2F instruction ${ins}: status word ${sw.toString(16)}`, {
      ctap: { status: sw, statusName: `SW_${sw.toString(16)}`, command: `U2F ${ins}` },
    });
  }
}

/** Internal: the U2F key wants a touch first. */
class TouchNeeded extends Error {}
