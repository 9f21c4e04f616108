// One shape for what a person holds at a door: a chip card (PKCS#11) or a USB security key
// (FIDO2). The kiosk, `signInWithToken` and `enrollToken` take this and never branch on the kind;
// callers who need the full power of either keep `Token`/`Session` and `SecurityKey`.
import type { SignatureAlgorithm } from '../algorithms/signature.js';
import type { FidoAssertion } from '../fido/credentials.js';
import type { PinStatus } from '../pkcs11/flags.js';
import type { TokenKey } from '../pkcs11/objects.js';
import type { Pin } from '../util/pin.js';

export type HardwareTokenKind = 'pkcs11' | 'fido';

export interface HardwareTokenIdentity {
  readonly kind: HardwareTokenKind;
  /** A name to show: the token's label, or the key's display name. */
  readonly label: string;
  /**
   * A card's serial number; an opened key's AAGUID (its model — FIDO gives no unit serial). A key
   * the watcher announces but nobody opened yet has only its HID serial string here, if any.
   */
  readonly serial: string;
  /** Where it is: the module path and slot of a card, the HID path of a key. */
  readonly path: string;
  /** A key's appearance since the watcher started: plugged in again, it is a new one. */
  readonly instance?: number;
}

export interface HardwareTokenStatus {
  /**
   * The PIN as the one who counts sees it. `authBlocked`: a key refusing every PIN until it is
   * unplugged and plugged in again; `notSet`: a key without a PIN; `none`: a U2F key (no PIN).
   */
  readonly pinStatus: PinStatus | 'unknown' | 'authBlocked' | 'notSet' | 'none';
  readonly retriesLeft: number | undefined;
  /** The token itself (cards, keys) or this machine's guard (software tokens that never lock). */
  readonly countedBy: 'token' | 'host';
  /** Only a key: too many wrong PINs since it was plugged in. */
  readonly authBlocked: boolean;
  /** The PIN is locked (a card) or blocked (a key): no PIN can help now. */
  readonly blocked: boolean;
}

export interface TouchAware {
  /** Aborting stops the operation (a key is told, CTAPHID_CANCEL). */
  signal?: AbortSignal;
  /** Called once when a key waits for a touch ("touch your key"); never for a card. */
  onTouch?: () => void;
}

export interface HardwareUnlockOptions extends TouchAware {
  /** Spend the last try (default false: FinalTryRefusedError instead). */
  allowFinalTry?: boolean;
}

export interface HardwareSignRequest extends TouchAware {
  /** What the verifier sent to be signed. */
  challenge: Uint8Array;
  /** A card's key, by label or hex id (default: the first key with a certificate). */
  key?: string;
  /** A key's credentials that may answer (default: any it holds for the relying party). */
  credentialIds?: Uint8Array[];
  /** For a key: the origin written into clientDataJSON (default https://RP). */
  origin?: string;
}

export type HardwareSignature =
  | { readonly kind: 'pkcs11'; readonly signature: Uint8Array; readonly algorithm: SignatureAlgorithm; readonly key: TokenKey }
  | { readonly kind: 'fido'; readonly assertion: FidoAssertion };

export interface HardwareToken extends AsyncDisposable {
  readonly identity: HardwareTokenIdentity;
  status(): Promise<HardwareTokenStatus>;
  /**
   * The PIN, counted by whoever counts it: PinIncorrectError (with `retriesLeft`), PinLockedError,
   * PinAuthBlockedError (a key), FinalTryRefusedError, TokenRemovedError.
   */
  unlock(pin: string | Pin, options?: HardwareUnlockOptions): Promise<void>;
  readonly unlocked: boolean;
  /** Signs the challenge (after `unlock`; a key may want a touch too). */
  signChallenge(request: HardwareSignRequest): Promise<HardwareSignature>;
  /** A wrong current PIN counts like a wrong unlock. */
  changePin(currentPin: string | Pin, newPin: string | Pin, options?: HardwareUnlockOptions): Promise<void>;
  close(): Promise<void>;
}
