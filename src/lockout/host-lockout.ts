// PIN lockout enforced by the host, for tokens that never lock (SoftHSM and friends): after
// `maxFailures` consecutive wrong PINs the library refuses without touching the token until the
// PIN is unblocked. The count is kept per module, token serial and user type (counter-store.ts).
import { setTimeout as delay } from 'node:timers/promises';
import { FinalTryRefusedError, InvalidArgumentError, PinIncorrectError, PinLockedError, TokengateError } from '../pkcs11/errors.js';
import { checkPin, type Session } from '../pkcs11/session.js';
import type { PinStatus } from '../pkcs11/flags.js';
import type { Token } from '../pkcs11/token.js';
import { CounterStore, type CounterKey } from './counter-store.js';
import type { Blocklist } from './blocklist.js';
import { defaultStateDir } from './state-dir.js';
import { unblockStrategy, unblockWithPuk, type UnblockPinOptions } from '../pkcs11/unblock.js';

export interface HostLockoutOptions {
  /** Where the counters live; see `defaultStateDir()`. */
  stateDir?: string;
  /** Consecutive wrong PINs that lock; default 3. */
  maxFailures?: number;
  /** Extra wait before an attempt after `failures` consecutive failures, in ms (default: none). */
  delayAfterFailures?: (failures: number) => number;
  /** Consulted before every login: a blocked token (by serial or certificate) is refused untouched. */
  blocklist?: Blocklist;
}

export interface HostLoginOptions {
  userType?: 'user' | 'so';
  /** Spend the last try: without it a kiosk can never lock a token by accident. */
  allowFinalTry?: boolean;
}

export interface HostPinStatus {
  pinStatus: PinStatus;
  /** Consecutive failures the host counted. */
  failures: number;
  /** Tries left before a lock, when known: always for the host's count, never for the token's own. */
  retriesLeft: number | undefined;
  /**
   * `host`: the library's own count decides (the token enforces none); `token`: the token itself
   * says its PIN is locked or on its final try, which is stricter than the host's count.
   */
  source: 'host' | 'token';
}

export class HostLockout implements Disposable {
  readonly maxFailures: number;
  readonly stateDir: string;
  readonly #store: CounterStore;
  readonly #delay: (failures: number) => number;
  readonly #blocklist: Blocklist | undefined;

  constructor(options: HostLockoutOptions = {}) {
    const max = options.maxFailures ?? 3;
    if (!Number.isInteger(max) || max < 1 || max > 100) throw new InvalidArgumentError('maxFailures must be an integer from 1 to 100');
    this.maxFailures = max;
    this.stateDir = options.stateDir ?? defaultStateDir();
    this.#store = new CounterStore(this.stateDir);
    this.#delay = options.delayAfterFailures ?? (() => 0);
    this.#blocklist = options.blocklist;
  }

  #key(token: Token, userType: string): CounterKey {
    return { module: token.module.path, serial: token.serial, userType };
  }

  /** The PIN's status: the host's count, unless the token's own flags say something stricter. */
  status(token: Token, userType: 'user' | 'so' = 'user'): HostPinStatus {
    const { failures, locked } = this.#store.state(this.#key(token, userType));
    const retriesLeft = Math.max(0, this.maxFailures - failures);
    const hostStatus: PinStatus = locked || retriesLeft === 0 ? 'locked' : retriesLeft === 1 ? 'finalTry' : failures > 0 ? 'countLow' : 'ok';
    const info = token.info();
    const tokenStatus = userType === 'so' ? info.soPinStatus : info.pinStatus;
    // COUNT_LOW is left out on purpose: SoftHSM raises it after any failure without counting.
    if (hostStatus !== 'locked' && (tokenStatus === 'locked' || (tokenStatus === 'finalTry' && hostStatus !== 'finalTry'))) {
      return { pinStatus: tokenStatus, failures, retriesLeft: tokenStatus === 'locked' ? 0 : 1, source: 'token' };
    }
    if (hostStatus === 'ok' && tokenStatus === 'toBeChanged') return { pinStatus: tokenStatus, failures, retriesLeft, source: 'token' };
    return { pinStatus: hostStatus, failures, retriesLeft, source: 'host' };
  }

  /** Logs `session` in, counting failures on the host; refuses when locked or on an unallowed final try. */
  async login(session: Session, pin: string, options: HostLoginOptions = {}): Promise<void> {
    const userType = options.userType ?? 'user';
    // A PIN of the wrong length is refused before anything is counted or sent.
    checkPin(pin, session.token.info().pinLength, userType === 'so' ? 'SO PIN' : 'PIN');
    if (this.#blocklist) {
      // Certificates are public objects: readable before login, so a blocked card never sees the PIN.
      const certificates = (await session.listCertificates()).map((c) => c.certificate);
      this.#blocklist.assertAllowed({ serial: session.token.serial, certificates });
    }
    const key = this.#key(session.token, userType);
    const before = this.#store.state(key);
    const wait = before.failures > 0 && before.lastFailureAt !== undefined ? before.lastFailureAt + this.#delay(before.failures) - Date.now() : 0;
    if (wait > 0) await delay(wait);

    const begun = this.#store.begin(key, this.maxFailures, options.allowFinalTry === true, Date.now());
    if (begun.kind === 'locked') throw new PinLockedError(`the ${userType === 'so' ? 'SO PIN' : 'PIN'} is locked after ${this.maxFailures} wrong attempts; it must be unblocked`);
    if (begun.kind === 'finalTry') throw new FinalTryRefusedError('one try is left: a wrong PIN now locks the token (pass allowFinalTry to spend it)');
    try {
      // A token with a counter of its own guards its final try too.
      await session.login(pin, { userType, allowFinalTry: options.allowFinalTry === true });
    } catch (err) {
      if (err instanceof PinIncorrectError) {
        // The failure stays counted; say what is left.
        err.retriesLeft = this.maxFailures - begun.state.failures;
        err.finalTry = err.retriesLeft === 1;
        throw err;
      }
      // The token gave no verdict on this PIN (removed, busy, already locked by itself): not a failure.
      if (err instanceof TokengateError) this.#store.revert(key, this.maxFailures);
      throw err;
    }
    this.#store.reset(key);
  }

  /**
   * Unblocks the user PIN and clears the host count. With the SO PIN, the SO login is counted like
   * the user's (SO login + C_InitPIN); with a PUK the card counts (C_SetPIN, unlogged session).
   */
  async unblockPin(token: Token, options: UnblockPinOptions): Promise<void> {
    if (unblockStrategy(options) === 'puk') {
      await unblockWithPuk(token, options.puk!, options.newPin);
    } else {
      checkPin(options.newPin, token.info().pinLength, 'new PIN');
      await using so = await token.openSession({ write: true });
      await this.login(so, options.soPin!, { userType: 'so', allowFinalTry: 'allowFinalTry' in options && options.allowFinalTry === true });
      try {
        await so.initUserPin(options.newPin);
      } finally {
        await so.logout();
      }
    }
    this.#store.reset(this.#key(token, 'user'));
  }

  close(): void {
    this.#store.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
