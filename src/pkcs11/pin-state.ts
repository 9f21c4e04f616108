// A secret's state as a caller acts on it, from whoever counts its tries: the token's own flags
// for a card, the host's guard for a token that never locks (and the token's flags on top, where
// they say something stricter).
import type { PinStatus } from './flags.js';
import type { LoginGuard, PinSecret } from './login-guard.js';
import type { TokenInfo } from './token.js';

export interface PinState {
  readonly secret: PinSecret;
  /** `unknown`: nobody says (a card's PUK: OpenSC reports no flags for it). */
  readonly pinStatus: PinStatus | 'unknown';
  /** Tries left before the secret locks, when known. */
  readonly retriesLeft: number | undefined;
  /** Consecutive failures the host counted; undefined when the token counts. */
  readonly failures: number | undefined;
  /** `host`: the library's guard counts; `token`: the token's own counter (its flags) is the truth. */
  readonly source: 'host' | 'token';
}

const NAMES: Record<PinSecret, string> = { user: 'PIN', so: 'SO PIN', puk: 'PUK' };

export function secretName(secret: PinSecret): string {
  return NAMES[secret];
}

/** What the token's flags say of a secret: locked → 0 tries, final try → 1, else not said. */
export function tokenCountedStatus(info: TokenInfo, secret: PinSecret): { pinStatus: PinStatus | 'unknown'; retriesLeft: number | undefined } {
  if (secret === 'puk') return { pinStatus: 'unknown', retriesLeft: undefined };
  const pinStatus = secret === 'so' ? info.soPinStatus : info.pinStatus;
  return { pinStatus, retriesLeft: pinStatus === 'locked' ? 0 : pinStatus === 'finalTry' ? 1 : undefined };
}

export function pinStateOf(info: TokenInfo, identity: { modulePath: string; serial: string; label: string }, secret: PinSecret, guard: LoginGuard | undefined): PinState {
  const own = tokenCountedStatus(info, secret);
  if (!guard) return { secret, ...own, failures: undefined, source: 'token' };
  const { failures, retriesLeft, locked } = guard.count(identity, secret);
  const host: PinStatus = locked || retriesLeft === 0 ? 'locked' : retriesLeft === 1 ? 'finalTry' : failures > 0 ? 'countLow' : 'ok';
  // COUNT_LOW from the token is left out on purpose: SoftHSM raises it after any failure without counting.
  if (host !== 'locked' && (own.pinStatus === 'locked' || (own.pinStatus === 'finalTry' && host !== 'finalTry'))) {
    return { secret, pinStatus: own.pinStatus, retriesLeft: own.retriesLeft, failures, source: 'token' };
  }
  if (host === 'ok' && own.pinStatus === 'toBeChanged') return { secret, pinStatus: 'toBeChanged', retriesLeft, failures, source: 'token' };
  return { secret, pinStatus: host, retriesLeft, failures, source: 'host' };
}
