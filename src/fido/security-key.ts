// A USB security key as tokengate's callers meet it: open it, ask its PIN state, unlock it with
// the PIN (the final-try guard applies: the key's last retry is spent only with allowFinalTry),
// enroll it for a relying party, have it sign a challenge, set or change its PIN. The key counts
// its own tries and is the only truth: retries are read from it before and after every PIN, never
// assumed. Keys without CTAP2 fall back to U2F (no PIN; the status says so).
import {
  FidoNotSupportedError,
  FinalTryRefusedError,
  InvalidArgumentError,
  NotLoggedInError,
  PinAuthBlockedError,
  PinIncorrectError,
  PinLockedError,
  TokengateError,
} from '../errors/index.js';
import { openHidTransport } from '../hid/devices.js';
import type { HidOpenOptions, HidTransport } from '../hid/transport.js';
import { Pin } from '../util/pin.js';
import { ClientPin, type PinToken } from './client-pin.js';
import { PERMISSION } from './constants.js';
import { Ctap2, type AuthenticatorInfo, type CallOptions } from './ctap2.js';
import { CtapHidConnection, type ConnectionOptions } from './ctaphid.js';
import {
  enrollCtap2,
  enrollU2f,
  probeCtap2,
  signCtap2,
  signU2f,
  type EnrolledCredential,
  type EnrollOptions,
  type FidoAssertion,
  type ProbeCredentialsOptions,
  type SignChallengeOptions,
} from './credentials.js';
import { U2f } from './u2f.js';

export type TouchOptions = CallOptions;

export interface SecurityKeyPinStatus {
  /** 'ctap2' keys have a PIN; 'u2f' keys have none, and every other field is then empty. */
  protocol: 'ctap2' | 'u2f';
  pinSet: boolean;
  /** Wrong PINs the key still allows, as it says (never assumed). */
  retriesLeft: number | undefined;
  /** The next wrong PIN blocks it. */
  finalTry: boolean;
  /** Too many wrong PINs since it was plugged in: unplug and plug it in again. */
  authBlocked: boolean;
  /** Retries at 0: only a reset (which erases its credentials) helps. */
  blocked: boolean;
  /** Who counts the tries: the key itself. */
  source: 'token';
  unlocked: boolean;
}

export interface UnlockOptions extends TouchOptions {
  /** Spend the key's last retry (default false: FinalTryRefusedError instead). */
  allowFinalTry?: boolean;
  /**
   * The relying party the unlock is for. CTAP 2.1 keys (permission tokens) bind the unlock to it
   * and need it; older keys ignore it.
   */
  rpId?: string;
}

export interface ChangePinOptions extends TouchOptions {
  allowFinalTry?: boolean;
}

export class SecurityKey implements AsyncDisposable {
  private pinToken: PinToken | undefined;
  private authBlockedSeen = false;
  private closedFlag = false;

  private constructor(
    private readonly connection: CtapHidConnection,
    /** getInfo's answer; undefined for a U2F-only key. */
    readonly info: AuthenticatorInfo | undefined,
    private readonly ctap2: Ctap2 | undefined,
    private readonly clientPin: ClientPin | undefined,
  ) {}

  /**
   * Opens the key at `device` — a path from `listFidoDevices()`, `udp:HOST:PORT` for the simulator,
   * or a transport already open (which the key then owns) — and reads what it can do.
   */
  static async open(device: string | HidTransport, options: ConnectionOptions & HidOpenOptions & TouchOptions = {}): Promise<SecurityKey> {
    const transport = typeof device === 'string' ? await openHidTransport(device, options) : device;
    let connection: CtapHidConnection;
    try {
      connection = await CtapHidConnection.open(transport, options);
    } catch (err) {
      await transport.close();
      throw err;
    }
    try {
      if (!connection.supportsCbor) return new SecurityKey(connection, undefined, undefined, undefined);
      const ctap2 = new Ctap2(connection);
      const info = await ctap2.getInfo(options);
      const hasPin = info.options.clientPin !== undefined;
      return new SecurityKey(connection, info, ctap2, hasPin ? new ClientPin(ctap2, info) : undefined);
    } catch (err) {
      await connection.close();
      throw err;
    }
  }

  get path(): string {
    return this.connection.transport.path;
  }

  get protocol(): 'ctap2' | 'u2f' {
    return this.ctap2 ? 'ctap2' : 'u2f';
  }

  /** The PIN protocol in use (2 where the key has it), undefined without clientPIN. */
  get pinProtocol(): 1 | 2 | undefined {
    return this.clientPin?.protocolVersion;
  }

  get unlocked(): boolean {
    return this.pinToken !== undefined;
  }

  /** Whether the key has a PIN, as it said at open (and since, after setPin or reset): no round trip. */
  get pinSet(): boolean {
    return this.info?.options.clientPin === true;
  }

  async pinStatus(options?: TouchOptions): Promise<SecurityKeyPinStatus> {
    const base = { source: 'token' as const, unlocked: this.unlocked };
    if (!this.clientPin || !this.info) {
      return { ...base, protocol: this.protocol, pinSet: false, retriesLeft: undefined, finalTry: false, authBlocked: false, blocked: false };
    }
    const pinSet = this.pinSet;
    const { retries, powerCycleState } = await this.clientPin.getRetries(options);
    const authBlocked = powerCycleState ?? this.authBlockedSeen;
    return { ...base, protocol: 'ctap2', pinSet, retriesLeft: retries, finalTry: retries === 1, authBlocked, blocked: retries === 0 };
  }

  /**
   * Trades the PIN for a PIN token held until `lock()` or `close()`. Throws PinIncorrectError
   * (with `retriesLeft` read from the key), PinAuthBlockedError, PinLockedError (blocked, with
   * `lockedNow` when this PIN used the last retry), FinalTryRefusedError, PinNotSetError.
   */
  async unlock(pin: string | Pin, options: UnlockOptions = {}): Promise<void> {
    const clientPin = this.requirePin();
    const secret = Pin.from(pin);
    if (this.info?.options.pinUvAuthToken === true && !options.rpId) {
      throw new InvalidArgumentError('this security key binds a PIN unlock to one relying party: pass rpId');
    }
    this.pinToken = await this.sendPin(options, () => {
      // Whatever the key answers now, an earlier unlock is no longer the one to use.
      this.pinToken = undefined;
      return clientPin.getPinToken(secret, { permissions: PERMISSION.makeCredential | PERMISSION.getAssertion, rpId: options.rpId }, options);
    });
  }

  /** Forgets the PIN token. */
  lock(): void {
    this.pinToken = undefined;
  }

  /** Sets the first PIN of a key that has none. */
  async setPin(newPin: string | Pin, options?: TouchOptions): Promise<void> {
    await this.requirePin().setPin(Pin.from(newPin, 'new PIN'), options);
    if (this.info) this.info.options.clientPin = true;
  }

  /** Changes the PIN; a wrong current PIN counts like a wrong unlock (and the final-try guard applies). */
  async changePin(currentPin: string | Pin, newPin: string | Pin, options: ChangePinOptions = {}): Promise<void> {
    const clientPin = this.requirePin();
    const current = Pin.from(currentPin);
    const next = Pin.from(newPin, 'new PIN');
    await this.sendPin(options, () => clientPin.changePin(current, next, options));
    this.pinToken = undefined;
  }

  /**
   * Makes a credential for `rpId` (touch needed). A key with a PIN wants `unlock()` first (UV set);
   * a CTAP 2.1 key's unlock is then used up, as the key forgets it after a touch.
   */
  async enroll(options: EnrollOptions): Promise<EnrolledCredential> {
    if (!this.ctap2) return enrollU2f(new U2f(this.connection), options);
    return this.withToken(true, () => enrollCtap2(this.ctap2!, this.pinToken, options));
  }

  /**
   * Signs `challenge` for `rpId` as a WebAuthn assertion (touch needed unless `userPresence` is
   * false). Unlocked, the assertion has UV set; a CTAP 2.1 key's unlock is used up by a touch.
   */
  async signChallenge(options: SignChallengeOptions): Promise<FidoAssertion> {
    if (!this.ctap2) return signU2f(new U2f(this.connection), options);
    return this.withToken(options.userPresence !== false, () => signCtap2(this.ctap2!, this.pinToken, options));
  }

  /**
   * The ids of the credentials the key holds for `rpId` (among `credentialIds`, the verifier's allow
   * list, when given; else its discoverable ones), learned without a PIN and without a touch: a
   * silent getAssertion (`up: false`, no PIN token), whose random-challenge signatures are thrown
   * away — never a login. So a door can refuse a blocklisted key before it asks for its PIN.
   * Empty means nothing was learned — none held, hidden by credProtect (level 3, or level 2 without
   * an allow list), a key that wants UV for every assertion, or a U2F-only key — not that it holds none.
   * Works locked or unlocked; an unlock is left as it was (no touch, so a CTAP 2.1 key keeps it).
   */
  async probeCredentials(options: ProbeCredentialsOptions): Promise<Uint8Array[]> {
    if (!this.ctap2) return [];
    return probeCtap2(this.ctap2, options);
  }

  /** Erases every credential and the PIN (touch needed; most keys allow it only just after plugging in). */
  async reset(options?: TouchOptions): Promise<void> {
    if (!this.ctap2) throw new FidoNotSupportedError('a U2F-only key has no reset command');
    await this.ctap2.reset(options);
    this.pinToken = undefined;
    if (this.info) this.info.options.clientPin = false;
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  async close(): Promise<void> {
    if (this.closedFlag) return;
    this.closedFlag = true;
    this.pinToken = undefined;
    await this.connection.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private requirePin(): ClientPin {
    if (!this.clientPin) {
      throw new FidoNotSupportedError(this.ctap2 ? 'this security key has no PIN (no clientPIN)' : 'a U2F-only security key has no PIN');
    }
    return this.clientPin;
  }

  /**
   * A token the key no longer takes (re-plugged, expired) is forgotten, and the caller told to
   * unlock again; so is a permission token after a touch (CTAP 2.1 §6.5.5.7: the key clears its
   * permissions once the user was present).
   */
  private async withToken<T>(touches: boolean, run: () => Promise<T>): Promise<T> {
    try {
      const result = await run();
      if (touches && this.info?.options.pinUvAuthToken === true) this.pinToken = undefined;
      return result;
    } catch (err) {
      if (err instanceof NotLoggedInError) this.pinToken = undefined;
      throw err;
    }
  }

  /**
   * The one way a PIN reaches the key (unlock, changePin): refused unsent when the key is blocked,
   * wants re-plugging, or has one try left and the caller did not allow it; a failure explained
   * with the retries the key reports after it.
   */
  private async sendPin<T>(options: TouchOptions & { allowFinalTry?: boolean }, send: () => Promise<T>): Promise<T> {
    const before = await this.pinStatus(options);
    if (before.blocked) throw new PinLockedError('the security key\'s PIN is blocked: only a reset, which erases its credentials, helps');
    if (before.authBlocked) throw authBlocked(before.retriesLeft);
    if (before.finalTry && !options.allowFinalTry) {
      throw new FinalTryRefusedError('one try is left before the security key blocks its PIN; pass allowFinalTry to use it');
    }
    try {
      const result = await send();
      this.authBlockedSeen = false;
      return result;
    } catch (err) {
      throw await this.explainPinFailure(err, options);
    }
  }

  /** A PIN failure with the retries the key reports now (asked again: never assumed). */
  private async explainPinFailure(err: unknown, options: TouchOptions): Promise<unknown> {
    if (err instanceof PinAuthBlockedError) {
      this.authBlockedSeen = true;
      return authBlocked(await this.retriesOrUndefined(options), err);
    }
    // The key blocks on the wrong PIN that uses its last retry (CTAP 2.1 §6.5.5.5): this very one,
    // since a blocked PIN was refused before it was sent.
    const blockedNow = (cause: TokengateError) => new PinLockedError('wrong PIN — the security key\'s PIN is now blocked', { cause, ctap: cause.ctap, lockedNow: true });
    if (err instanceof PinLockedError) return blockedNow(err);
    if (!(err instanceof PinIncorrectError)) return err;
    const retriesLeft = await this.retriesOrUndefined(options);
    if (retriesLeft === 0) return blockedNow(err);
    const message = retriesLeft === undefined ? 'wrong PIN' : `wrong PIN — ${retriesLeft} ${retriesLeft === 1 ? 'try' : 'tries'} left`;
    return new PinIncorrectError(message, { ctap: err.ctap, retriesLeft, finalTry: retriesLeft === 1 });
  }

  private async retriesOrUndefined(options: TouchOptions): Promise<number | undefined> {
    try {
      return (await this.clientPin!.getRetries(options)).retries;
    } catch (err) {
      if (err instanceof TokengateError && err.code === 'ERR_TOKEN_REMOVED') throw err;
      return undefined;
    }
  }
}

function authBlocked(retriesLeft: number | undefined, cause?: TokengateError): PinAuthBlockedError {
  return new PinAuthBlockedError('too many wrong PINs since the security key was plugged in: unplug it and plug it in again', {
    cause,
    ctap: cause?.ctap,
    retriesLeft,
  });
}
