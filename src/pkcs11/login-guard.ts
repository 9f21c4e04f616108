// Who counts a token's wrong PINs. A chip card counts its own (its `63 Cx`, which OpenSC turns
// into token flags); a software token such as SoftHSM never does, and there a `LoginGuard` on the
// host counts instead. The guard is a property of the module handle, consulted by the one place
// that sends a secret to the token (pin-attempt.ts), so no login path can skip it.
//
// The rule, decided per token: a token in a hardware slot (CKF_HW_SLOT: a reader with a chip in
// it) counts its own tries; a token in a software slot gets the host's count. `pinCounting` on
// `Pkcs11Module.load` overrides the rule for a module either way. The PKCS#11 layer only knows
// this interface; the lockout layer (src/lockout/) provides the host's counter and registers it
// as the default, so the arrows keep pointing from lockout to pkcs11.
import { InvalidArgumentError } from './errors.js';

/** The secrets a token may count: the user PIN, the security officer's PIN, a card's PUK. */
export type PinSecret = 'user' | 'so' | 'puk';

/** What a guard knows of a token: enough to keep one count per module, token and secret. */
export interface GuardedToken {
  readonly modulePath: string;
  readonly serial: string;
  readonly label: string;
}

export interface GuardAttempt extends GuardedToken {
  readonly secret: PinSecret;
  /** Whether the caller agreed to spend the last try. */
  readonly allowFinalTry: boolean;
}

/** A guard's count for one secret of one token. */
export interface GuardedCount {
  readonly failures: number;
  readonly retriesLeft: number;
  readonly locked: boolean;
}

/** An attempt counted before the secret went out, settled once the token has answered. */
export interface LoginGuardTicket {
  /** Tries left should this attempt prove wrong (0: it locks). */
  readonly retriesLeftIfWrong: number;
  /** The token accepted the secret: the count starts again. */
  accepted(): void;
  /** The token refused it: the attempt stays counted. */
  incorrect(): void;
  /** The token gave no verdict (removed, busy, an I/O error): the attempt is taken back. */
  undecided(): void;
}

export interface LoginGuard {
  readonly maxFailures: number;
  count(token: GuardedToken, secret: PinSecret): GuardedCount;
  /**
   * Counts an attempt before the secret reaches the token. Throws PinLockedError when the secret
   * is locked and FinalTryRefusedError for a last try the caller did not allow.
   */
  begin(attempt: GuardAttempt): Promise<LoginGuardTicket>;
  /** The secret was set anew (an unblock, C_InitPIN): its count starts again. */
  reset(token: GuardedToken, secret: PinSecret): void;
  /**
   * Optional, for guards shared between processes: notes that a PIN of the token was set anew
   * (returns the token's new generation), and tells the last such change. A process that holds a
   * software token open learns from it that its module's view is stale (token-changes.ts).
   */
  recordChange?(token: GuardedToken): number;
  lastChange?(token: GuardedToken): TokenChange | undefined;
}

/** The last time any process set a PIN of a token anew. */
export interface TokenChange {
  readonly generation: number;
  /** Milliseconds since the epoch. */
  readonly changedAt: number;
}

/** `'auto'`: by the slot (above); `'host'`: the guard counts every token; `'token'`: none does. */
export type PinCounting = 'auto' | 'host' | 'token';

/** A module's choice of guard: one of the caller's, the registered default, or explicitly none. */
export type LoginGuardChoice = LoginGuard | 'default' | 'none';

let defaultGuard: (() => LoginGuard) | undefined;

/** Internal: the lockout layer registers the host counter (state directory of today) here. */
export function registerDefaultLoginGuard(factory: () => LoginGuard): void {
  defaultGuard = factory;
}

/** The guard for a host-counted token, or undefined when the caller chose `'none'`. */
export function resolveLoginGuard(choice: LoginGuardChoice): LoginGuard | undefined {
  if (choice === 'none') return undefined;
  if (choice !== 'default') return choice;
  // Fail closed: a token that never locks must not get unlimited guesses because nothing registered.
  if (!defaultGuard) throw new InvalidArgumentError("no default login guard is registered: import 'tokengate', or pass loginGuard (or 'none') to Pkcs11Module.load");
  return defaultGuard();
}

export function checkLoginGuardChoice(choice: unknown): LoginGuardChoice {
  if (choice === undefined || choice === 'default') return 'default';
  if (choice === 'none') return 'none';
  const guard = choice as Partial<LoginGuard> | null;
  if (typeof guard === 'object' && guard !== null && typeof guard.begin === 'function' && typeof guard.count === 'function' && typeof guard.reset === 'function') {
    return choice as LoginGuard;
  }
  throw new InvalidArgumentError("loginGuard: a LoginGuard (e.g. new HostLockout()), 'default' or 'none'");
}

export function checkPinCounting(value: unknown): PinCounting {
  if (value === undefined) return 'auto';
  if (value === 'auto' || value === 'host' || value === 'token') return value;
  throw new InvalidArgumentError("pinCounting: 'auto', 'host' or 'token'");
}
