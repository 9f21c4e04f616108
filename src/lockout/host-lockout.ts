// PIN lockout enforced by the host, for tokens that never lock (SoftHSM and friends): after
// `maxFailures` consecutive wrong secrets the library refuses without touching the token until the
// PIN is unblocked. It is the `LoginGuard` the PKCS#11 layer consults before every C_Login and
// C_SetPIN of a host-counted token (src/pkcs11/pin-attempt.ts), so no login path skips it. The
// count is kept per module, token serial and secret (user PIN, SO PIN, PUK) in counter-store.ts.
import { setTimeout as delay } from 'node:timers/promises';
import { FinalTryRefusedError, InvalidArgumentError, PinLockedError } from '../pkcs11/errors.js';
import type { GuardAttempt, GuardedCount, GuardedToken, LoginGuard, LoginGuardTicket, PinSecret, TokenChange } from '../pkcs11/login-guard.js';
import { secretName } from '../pkcs11/pin-state.js';
import { CounterStore, type CounterKey } from './counter-store.js';
import { defaultStateDir } from './state-dir.js';

export interface HostLockoutOptions {
  /** Where the counters live; see `defaultStateDir()`. */
  stateDir?: string;
  /** Consecutive wrong secrets that lock; default 3. */
  maxFailures?: number;
  /** Extra wait before an attempt after `failures` consecutive failures, in ms (default: none). */
  delayAfterFailures?: (failures: number) => number;
}

export class HostLockout implements LoginGuard, Disposable {
  readonly maxFailures: number;
  readonly stateDir: string;
  readonly #store: CounterStore;
  readonly #delay: (failures: number) => number;

  constructor(options: HostLockoutOptions = {}) {
    const max = options.maxFailures ?? 3;
    if (!Number.isInteger(max) || max < 1 || max > 100) throw new InvalidArgumentError('maxFailures must be an integer from 1 to 100');
    this.maxFailures = max;
    this.stateDir = options.stateDir ?? defaultStateDir();
    this.#store = new CounterStore(this.stateDir);
    this.#delay = options.delayAfterFailures ?? (() => 0);
  }

  #key(token: GuardedToken, secret: PinSecret): CounterKey {
    return { module: token.modulePath, serial: token.serial, userType: secret };
  }

  count(token: GuardedToken, secret: PinSecret): GuardedCount {
    const { failures, locked } = this.#store.state(this.#key(token, secret));
    return { failures, retriesLeft: locked ? 0 : Math.max(0, this.maxFailures - failures), locked: locked || failures >= this.maxFailures };
  }

  async begin(attempt: GuardAttempt): Promise<LoginGuardTicket> {
    const key = this.#key(attempt, attempt.secret);
    const what = secretName(attempt.secret);
    const before = this.#store.state(key);
    const wait = before.failures > 0 && before.lastFailureAt !== undefined ? before.lastFailureAt + this.#delay(before.failures) - Date.now() : 0;
    if (wait > 0) await delay(wait);

    // Counted before the secret goes out, in one transaction: racing processes queue on it.
    const begun = this.#store.begin(key, this.maxFailures, attempt.allowFinalTry, Date.now());
    if (begun.kind === 'locked') {
      throw new PinLockedError(`the ${what} is locked after ${this.maxFailures} wrong attempts; it must be unblocked`, { pinType: attempt.secret });
    }
    if (begun.kind === 'finalTry') {
      throw new FinalTryRefusedError(`one try is left: a wrong ${what} now locks it (pass allowFinalTry to spend it)`, { pinType: attempt.secret });
    }
    return {
      retriesLeftIfWrong: this.maxFailures - begun.state.failures,
      accepted: () => this.#store.reset(key),
      incorrect: () => undefined, // the attempt was counted up front
      undecided: () => this.#store.revert(key, this.maxFailures),
    };
  }

  reset(token: GuardedToken, secret: PinSecret): void {
    this.#store.reset(this.#key(token, secret));
  }

  recordChange(token: GuardedToken): number {
    return this.#store.recordChange(token.modulePath, token.serial, Date.now());
  }

  lastChange(token: GuardedToken): TokenChange | undefined {
    return this.#store.lastChange(token.modulePath, token.serial);
  }

  close(): void {
    this.#store.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
