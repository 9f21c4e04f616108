// CTAP2 clientPIN (CTAP 2.1 §6.5): retries, key agreement, PIN tokens (with permissions where the
// key has them, getPinToken otherwise), setPIN and changePIN, over PIN protocol 2 when the key
// offers it and 1 otherwise — or when the key fails protocol 2 before looking at the PIN (some
// do). A PIN the key would refuse for its form (under 4 code points, over 63 bytes) is refused
// here, before a try is spent.
import { createHash } from 'node:crypto';
import { Ctap2Error, FidoNotSupportedError, FidoProtocolError, PinPolicyError } from '../errors/index.js';
import { pinValue, type Pin } from '../util/pin.js';
import { optionalBool, optionalBytes, optionalInt, optionalMap } from './cbor.js';
import { CLIENT_PIN_SUBCOMMAND as SUB, CTAP2_COMMAND } from './constants.js';
import type { AuthenticatorInfo, CallOptions, Ctap2 } from './ctap2.js';
import { PIN_PROTOCOLS, type PinProtocol, type PinProtocolVersion } from './pin-protocol.js';

export interface PinRetries {
  /** Wrong PINs the key still allows before it blocks the PIN for good. */
  retries: number;
  /** True when the key says it must be unplugged and plugged in again before it takes a PIN. */
  powerCycleState: boolean | undefined;
}

export interface PinTokenRequest {
  /** PERMISSION bits (makeCredential 0x01, getAssertion 0x02); used where the key has permission tokens. */
  permissions: number;
  /** Binds the token to this relying party (permission tokens only). */
  rpId?: string | undefined;
}

export interface PinToken {
  readonly token: Uint8Array;
  readonly protocol: PinProtocol;
}

const MAX_PIN_BYTES = 63;

export class ClientPin {
  private protocol: PinProtocol;

  constructor(
    private readonly ctap2: Ctap2,
    private readonly info: AuthenticatorInfo,
  ) {
    this.protocol = PIN_PROTOCOLS[preferredProtocol(info)];
  }

  get protocolVersion(): PinProtocolVersion {
    return this.protocol.version;
  }

  async getRetries(options?: CallOptions): Promise<PinRetries> {
    const m = await this.command(SUB.getPinRetries, new Map(), 'clientPIN.getPinRetries', options);
    const retries = optionalInt(m, 3, 'clientPIN.getPinRetries');
    if (retries === undefined) throw new FidoProtocolError('clientPIN.getPinRetries: the key sent no retry count');
    return { retries, powerCycleState: optionalBool(m, 4, 'clientPIN.getPinRetries') };
  }

  /** Trades the PIN for a pinUvAuthToken. A wrong PIN is the key's typed error (see status.ts). */
  async getPinToken(pin: Pin, request: PinTokenRequest, options?: CallOptions): Promise<PinToken> {
    return this.withFallback(async () => {
      const { platformKey, sharedSecret } = await this.agree(options);
      const pinHashEnc = this.protocol.encrypt(sharedSecret, pinHash(pin));
      const withPermissions = this.info.options.pinUvAuthToken === true;
      const params = new Map<number, unknown>([[3, platformKey], [6, pinHashEnc]]);
      if (withPermissions) {
        params.set(9, request.permissions);
        if (request.rpId !== undefined) params.set(0x0a, request.rpId);
      }
      const name = withPermissions ? 'clientPIN.getPinUvAuthTokenUsingPinWithPermissions' : 'clientPIN.getPinToken';
      const sub = withPermissions ? SUB.getPinUvAuthTokenUsingPinWithPermissions : SUB.getPinToken;
      const m = await this.command(sub, params, name, options);
      const encrypted = optionalBytes(m, 2, name);
      if (!encrypted) throw new FidoProtocolError(`${name}: the key sent no token`);
      const token = this.protocol.decrypt(sharedSecret, encrypted);
      if (token.length !== 16 && token.length !== 32) throw new FidoProtocolError(`${name}: a token of ${token.length} bytes`);
      return { token, protocol: this.protocol };
    });
  }

  async setPin(newPin: Pin, options?: CallOptions): Promise<void> {
    const padded = paddedPin(newPin, this.info.minPinLength);
    await this.withFallback(async () => {
      const { platformKey, sharedSecret } = await this.agree(options);
      const newPinEnc = this.protocol.encrypt(sharedSecret, padded);
      const params = new Map<number, unknown>([
        [3, platformKey],
        [4, this.protocol.authenticate(sharedSecret, newPinEnc)],
        [5, newPinEnc],
      ]);
      await this.command(SUB.setPIN, params, 'clientPIN.setPIN', options);
    });
  }

  async changePin(currentPin: Pin, newPin: Pin, options?: CallOptions): Promise<void> {
    const padded = paddedPin(newPin, this.info.minPinLength);
    await this.withFallback(async () => {
      const { platformKey, sharedSecret } = await this.agree(options);
      const newPinEnc = this.protocol.encrypt(sharedSecret, padded);
      const pinHashEnc = this.protocol.encrypt(sharedSecret, pinHash(currentPin));
      const params = new Map<number, unknown>([
        [3, platformKey],
        [4, this.protocol.authenticate(sharedSecret, Buffer.concat([newPinEnc, pinHashEnc]))],
        [5, newPinEnc],
        [6, pinHashEnc],
      ]);
      await this.command(SUB.changePIN, params, 'clientPIN.changePIN', options);
    });
  }

  private async agree(options: CallOptions | undefined) {
    const m = await this.command(SUB.getKeyAgreement, new Map(), 'clientPIN.getKeyAgreement', options);
    const peer = optionalMap(m, 1, 'clientPIN.getKeyAgreement');
    if (!peer) throw new FidoProtocolError('clientPIN.getKeyAgreement: the key sent no key');
    return this.protocol.agree(peer);
  }

  private command(sub: number, params: Map<number, unknown>, name: string, options: CallOptions | undefined) {
    const full = new Map<number, unknown>([[1, this.protocol.version], [2, sub], ...params]);
    return this.ctap2.call(CTAP2_COMMAND.clientPIN, full, name, options);
  }

  /**
   * Protocol 2 first; if the key refuses it with a status that is not about the PIN (a PIN status
   * means the try counted), protocol 1 once, and from then on.
   */
  private async withFallback<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (!(err instanceof Ctap2Error) || this.protocol.version === 1 || !this.info.pinUvAuthProtocols.includes(1)) throw err;
      this.protocol = PIN_PROTOCOLS[1];
      return run();
    }
  }
}

function preferredProtocol(info: AuthenticatorInfo): PinProtocolVersion {
  if (info.pinUvAuthProtocols.includes(2)) return 2;
  if (info.pinUvAuthProtocols.includes(1) || info.pinUvAuthProtocols.length === 0) return 1;
  throw new FidoNotSupportedError(`the security key offers PIN protocols ${info.pinUvAuthProtocols.join(', ')}, none of which tokengate speaks`);
}

/** LEFT(SHA-256(PIN), 16), what the key compares. */
function pinHash(pin: Pin): Buffer {
  return createHash('sha256').update(pinValue(pin), 'utf8').digest().subarray(0, 16);
}

/** The new PIN in UTF-8, zero-padded to 64 bytes; PinPolicyError before the key is asked. */
function paddedPin(pin: Pin, minPinLength: number | undefined): Buffer {
  const text = pinValue(pin);
  const bytes = Buffer.from(text, 'utf8');
  const min = Math.max(4, minPinLength ?? 4);
  if ([...text].length < min) throw new PinPolicyError(`the new PIN needs at least ${min} characters`);
  if (bytes.length > MAX_PIN_BYTES) throw new PinPolicyError(`the new PIN may be at most ${MAX_PIN_BYTES} bytes of UTF-8`);
  const padded = Buffer.alloc(64);
  bytes.copy(padded);
  return padded;
}
