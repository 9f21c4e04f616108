// A chip card (or software token) behind the one HardwareToken shape: `unlock` opens a session
// and logs in through the module's login guard (so every PIN is counted by whoever counts it),
// `signChallenge` signs with the chosen key, `close` logs out and closes the session.
import { defaultAlgorithm } from '../pkcs11/signing.js';
import { selectSigningKey } from '../pkcs11/key-selection.js';
import { NotLoggedInError } from '../errors/index.js';
import type { Session } from '../pkcs11/session.js';
import type { Token } from '../pkcs11/token.js';
import type { Pin } from '../util/pin.js';
import type { HardwareSignature, HardwareSignRequest, HardwareToken, HardwareTokenIdentity, HardwareTokenStatus, HardwareUnlockOptions } from './hardware-token.js';

export class Pkcs11HardwareToken implements HardwareToken {
  readonly identity: HardwareTokenIdentity;
  #session: Session | undefined;

  constructor(readonly token: Token) {
    this.identity = { kind: 'pkcs11', label: token.label, serial: token.serial, path: `${token.module.path}#${String(token.slot)}` };
  }

  get unlocked(): boolean {
    return this.#session !== undefined && !this.#session.closed;
  }

  /** The logged-in session while unlocked (for what the shape does not cover: enrollment, other keys); undefined otherwise. */
  get session(): Session | undefined {
    return this.unlocked ? this.#session : undefined;
  }

  async status(): Promise<HardwareTokenStatus> {
    const state = this.token.pinState('user');
    return {
      pinStatus: state.pinStatus,
      retriesLeft: state.retriesLeft,
      countedBy: state.source,
      authBlocked: false,
      blocked: state.pinStatus === 'locked',
    };
  }

  async unlock(pin: string | Pin, options: HardwareUnlockOptions = {}): Promise<void> {
    await this.close();
    const session = await this.token.openSession();
    try {
      await session.login(pin, { allowFinalTry: options.allowFinalTry === true });
    } catch (err) {
      await session.close();
      throw err;
    }
    this.#session = session;
  }

  async signChallenge(request: HardwareSignRequest): Promise<HardwareSignature> {
    const session = this.#session;
    if (!session || session.closed) throw new NotLoggedInError(`unlock "${this.token.label}" with its PIN first`);
    const key = await selectSigningKey(session, request.key);
    const algorithm = defaultAlgorithm(key);
    const signature = await session.signChallenge(key, request.challenge, { algorithm });
    return { kind: 'pkcs11', signature, algorithm, key };
  }

  async changePin(currentPin: string | Pin, newPin: string | Pin, options: HardwareUnlockOptions = {}): Promise<void> {
    await this.token.changePin(currentPin, newPin, { allowFinalTry: options.allowFinalTry === true });
  }

  async close(): Promise<void> {
    const session = this.#session;
    this.#session = undefined;
    if (!session || session.closed) return;
    await session.logout().catch(() => {});
    await session.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
