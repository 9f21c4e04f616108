// The kiosk's decision for one token at the door: blocklist → PIN status → PIN (masked) → login,
// counted by the token's counter (the card's own, the module's login guard, or the security key's);
// a last try is confirmed when the login refuses it → challenge-response with the verifier →
// ACCESS GRANTED or ACCESS DENIED with a reason a person understands. A card and a security key
// take the same steps; only the protocol differs (a card: its certificate names the holder and
// signInWithToken signs; a key: signInWithSecurityKey, the PIN unlocking it in the `unlock` hook,
// a touch; its credential ids, read silently from the key before any PIN, checked against the
// blocklist — and the one that answered checked again before the answer goes out).
// Interactive and scripted front ends (main.ts, demo.ts) share this; prompts are behind
// `PinSource`, so removal or an idle timeout aborts them through the signal.
import {
  Blocklist,
  FidoHardwareToken,
  FinalTryRefusedError,
  Pkcs11HardwareToken,
  TokengateError,
  type HardwareToken,
  type HardwareTokenKind,
  type Token,
  type TokenLibraryError,
} from '../../src/index.js';
import { VerifierClient, signInWithSecurityKey, signInWithToken, type VerifierLibraryError } from '../../src/client/index.js';

export interface PinPrompt {
  readonly holder: string;
  readonly tokenLabel: string;
  /** A card or a security key, so the words fit. */
  readonly kind: HardwareTokenKind;
  /** Tries left before the PIN locks, when known. */
  readonly retriesLeft: number | undefined;
}

export interface PinSource {
  /** The PIN, masked; rejects when `signal` aborts (token pulled out, idle timeout). */
  pin(prompt: PinPrompt, signal: AbortSignal): Promise<string>;
  /** Asked before the last try is spent. */
  confirmFinalTry(prompt: PinPrompt, signal: AbortSignal): Promise<boolean>;
  /** Told when a security key waits for a touch: show "touch your key". Never for a card. */
  touch?(prompt: PinPrompt): void;
}

export type DenyReason =
  | 'pin_incorrect'
  | 'pin_invalid'
  | 'pin_locked'
  | 'pin_auth_blocked'
  | 'touch_timeout'
  | 'final_try_declined'
  | 'token_blocked'
  | 'not_enrolled'
  | 'verifier_unreachable'
  | 'token_removed'
  | 'timed_out'
  | 'not_set_up'
  | 'refused';

export type Verdict = { granted: true; holder: string; username: string } | { granted: false; reason: DenyReason; holder: string; retriesLeft?: number };

/** `kind`: what was admitted, so the words fit ("the card", "the key"). */
export function describeVerdict(verdict: Verdict, kind: HardwareTokenKind = 'pkcs11'): string {
  if (verdict.granted) return `ACCESS GRANTED — welcome, ${verdict.holder}`;
  const thing = kind === 'fido' ? 'key' : 'card';
  const tries = verdict.retriesLeft === undefined ? '' : verdict.retriesLeft === 1 ? ` (1 try left: the next wrong PIN locks the ${thing})` : ` (${verdict.retriesLeft} tries left)`;
  const why: Record<DenyReason, string> = {
    pin_incorrect: `wrong PIN${tries}`,
    pin_invalid: 'that PIN has the wrong length (no try was used)',
    pin_locked: 'the PIN is locked — please see the helpdesk',
    pin_auth_blocked: 'too many wrong PINs — unplug the key and plug it in again',
    touch_timeout: 'the key was not touched in time',
    final_try_declined: `last try kept — nothing was sent to the ${thing}`,
    token_blocked: 'this token is blocked (reported lost or revoked) — please see the helpdesk',
    not_enrolled: 'this token is not enrolled here',
    verifier_unreachable: 'the access server cannot be reached — please try again',
    token_removed: 'the token was pulled out',
    timed_out: 'no answer in time',
    not_set_up: `this ${thing} is not set up for this door yet — please see the helpdesk`,
    refused: 'the access server refused this token',
  };
  return `ACCESS DENIED — ${why[verdict.reason]}`;
}

export interface KioskOptions {
  readonly verifier: VerifierClient;
  readonly blocklist: Blocklist;
  readonly pins: PinSource;
  /** Where the last good blocklist is kept, so the kiosk keeps refusing lost tokens while the verifier is down. */
  readonly blocklistCache?: string;
  /** Told when the blocklist could not be refreshed (the cached one is in use). */
  readonly onStaleBlocklist?: () => void;
  /** Told what the kiosk's admin must fix (never shown at the door): e.g. a user's challenge policy. */
  readonly onAdminNotice?: (message: string) => void;
}

function holderOf(subject: string | undefined, fallback: string): string {
  return /CN=([^,]+)/.exec(subject ?? '')?.[1] ?? fallback;
}

function aborted(signal: AbortSignal): DenyReason {
  return signal.reason instanceof Error && signal.reason.name === 'TimeoutError' ? 'timed_out' : 'token_removed';
}

export class Kiosk {
  constructor(private readonly options: KioskOptions) {}

  /**
   * One attempt at the door for a token that is present: a card (`Token`, or the watcher's
   * `Pkcs11HardwareToken`) or a security key (the watcher's `FidoHardwareToken`).
   */
  async admit(token: Token | HardwareToken, signal: AbortSignal): Promise<Verdict> {
    const { verifier, blocklist } = this.options;
    if (!(await blocklist.refresh(verifier.blocklistFetcher(), this.options.blocklistCache))) this.options.onStaleBlocklist?.();
    if (token instanceof FidoHardwareToken) return this.#admitKey(token, signal);
    if (token instanceof Pkcs11HardwareToken) return this.#admitCard(token.token, signal);
    if ('identity' in token) throw new TypeError(`the kiosk knows cards and security keys, not a ${token.identity.kind} token of another make`);
    return this.#admitCard(token, signal);
  }

  async #admitCard(token: Token, signal: AbortSignal): Promise<Verdict> {
    const { verifier, blocklist, pins } = this.options;
    // The helpdesk set a new PIN from another program (say `tokengate unblock-pin`): a software
    // token's view in this process dates from C_Initialize, so it is read again before anyone types.
    if (token.changedElsewhere()) await token.module.reload();
    await using session = await token.openSession();
    // Certificates are public: read before any PIN, so a blocked card never sees one.
    const certificates = await session.listCertificates();
    const own = certificates[0];
    const holder = holderOf(own?.certificate.subject, token.label);
    if (blocklist.isBlocked({ serial: token.serial, certificates: certificates.map((c) => c.certificate) })) return { granted: false, reason: 'token_blocked', holder };
    if (!own) return { granted: false, reason: 'not_enrolled', holder };

    // Who counts (the card, or the host for a token that never locks) is the token's business.
    const status = token.pinState();
    if (status.pinStatus === 'locked') return { granted: false, reason: 'pin_locked', holder };
    const prompt: PinPrompt = { holder, tokenLabel: token.label, kind: 'pkcs11', retriesLeft: status.retriesLeft };
    try {
      // Pulled out (or timed out) before the prompt even showed: nothing to ask.
      signal.throwIfAborted();
      const pin = await pins.pin(prompt, signal);
      signal.throwIfAborted();
      try {
        await session.login(pin);
      } catch (err) {
        // The last try is never spent unasked: the login refused it without sending the PIN.
        if (!(err instanceof FinalTryRefusedError)) throw err;
        if (!(await pins.confirmFinalTry({ ...prompt, retriesLeft: 1 }, signal))) return { granted: false, reason: 'final_try_declined', holder, retriesLeft: 1 };
        signal.throwIfAborted();
        await session.login(pin, { allowFinalTry: true });
      }
      try {
        const key = await session.findPrivateKey({ id: own.id });
        const result = await signInWithToken(verifier, session, key, { credential: { serial: token.serial } });
        return { granted: true, holder, username: result.username };
      } finally {
        await session.logout().catch(() => {});
      }
    } catch (err) {
      if (signal.aborted) return { granted: false, reason: aborted(signal), holder };
      return this.#refusal(err, `the card of token ${token.serial}`, holder);
    }
  }

  async #admitKey(key: FidoHardwareToken, signal: AbortSignal): Promise<Verdict> {
    const { verifier, blocklist, pins } = this.options;
    // A key names nobody before it signs: the verifier's answer says whose it is.
    let holder = key.identity.label;
    const what = `the security key "${key.identity.label}"`;
    let wrongRp: string | undefined;
    try {
      // A key's credential ids are public like a card's certificates: asked silently (no PIN, no
      // touch, no try spent) before anything else, so a key reported lost never sees a PIN prompt.
      // Empty (a key hiding its credentials without UV) proves nothing: the check before the
      // answer goes out still stands. One still allowed: the key may answer with it, so go on.
      const held = await key.key.probeCredentials({ rpId: key.rpId, signal });
      if (held.length > 0 && held.every((id) => blocklist.isBlocked({ fidoCredentialIds: [id] }))) return { granted: false, reason: 'token_blocked', holder };
      // The key counts its own tries: read from it, never assumed.
      const status = await key.status();
      if (status.pinStatus === 'locked') return { granted: false, reason: 'pin_locked', holder };
      if (status.pinStatus === 'authBlocked') return { granted: false, reason: 'pin_auth_blocked', holder };
      if (status.pinStatus === 'notSet' || status.pinStatus === 'none') {
        this.options.onAdminNotice?.(
          status.pinStatus === 'notSet'
            ? `${what} has no PIN, so it cannot prove its holder (user verification): set one with the key's own tool before enrolling it`
            : `${what} cannot have a PIN (U2F only, no FIDO2), so it cannot prove its holder: this door needs a FIDO2 key with a PIN`,
        );
        return { granted: false, reason: 'not_set_up', holder };
      }
      const prompt: PinPrompt = { holder, tokenLabel: key.identity.label, kind: 'fido', retriesLeft: status.retriesLeft };
      signal.throwIfAborted();
      const pin = await pins.pin(prompt, signal);
      signal.throwIfAborted();
      const touch = { signal, onTouch: () => pins.touch?.(prompt) };
      const result = await signInWithSecurityKey(verifier, key.key, {
        ...touch,
        // The verifier's rpId is the one the key must unlock and sign for: the kiosk's must match.
        unlock: async (rpId) => {
          if (rpId !== key.rpId) {
            wrongRp = rpId;
            throw new TypeError('the verifier and the kiosk disagree on the relying party');
          }
          try {
            await key.unlock(pin, touch);
          } catch (err) {
            // The last try is never spent unasked: the key refused it without being sent the PIN.
            if (!(err instanceof FinalTryRefusedError)) throw err;
            if (!(await pins.confirmFinalTry({ ...prompt, retriesLeft: 1 }, signal))) throw err;
            signal.throwIfAborted();
            await key.unlock(pin, { ...touch, allowFinalTry: true });
          }
        },
        // A lost key is refused here before its answer goes out (and by the verifier if it got there).
        beforeResponse: (credentialId) => blocklist.assertAllowed({ fidoCredentialIds: [credentialId] }),
      });
      holder = result.username;
      return { granted: true, holder, username: result.username };
    } catch (err) {
      if (signal.aborted) return { granted: false, reason: aborted(signal), holder };
      if (wrongRp !== undefined) {
        this.options.onAdminNotice?.(`the verifier's relying party is ${wrongRp} but this kiosk opens keys for ${key.rpId}: start the kiosk with --rp-id ${wrongRp}`);
        return { granted: false, reason: 'not_set_up', holder };
      }
      return this.#refusal(err, what, holder);
    }
  }

  /** What a failure means at the door: one switch on the error's code (the union narrows it). */
  #refusal(err: unknown, what: string, holder: string): Verdict {
    if (!(err instanceof TokengateError)) throw err;
    const known = err as TokenLibraryError | VerifierLibraryError;
    const denied = (reason: DenyReason, retriesLeft?: number): Verdict => ({ granted: false, reason, holder, ...(retriesLeft === undefined ? {} : { retriesLeft }) });
    switch (known.code) {
      case 'ERR_PIN_INCORRECT':
        return denied('pin_incorrect', known.retriesLeft);
      case 'ERR_PIN_LOCKED':
        return denied('pin_locked');
      case 'ERR_PIN_AUTH_BLOCKED':
        return denied('pin_auth_blocked');
      case 'ERR_USER_PRESENCE_TIMEOUT':
        return denied('touch_timeout');
      case 'ERR_NO_CREDENTIALS':
        // The key holds no credential for this door's relying party.
        return denied('not_enrolled');
      case 'ERR_FINAL_TRY_REFUSED':
        return denied('final_try_declined', 1);
      case 'ERR_PIN_LENGTH':
        return denied('pin_invalid');
      case 'ERR_TOKEN_BLOCKED':
        return denied('token_blocked');
      case 'ERR_TOKEN_REMOVED':
        return denied('token_removed');
      case 'ERR_VERIFIER_UNREACHABLE':
        return denied('verifier_unreachable');
      case 'ERR_VERIFIER_REFUSED':
        switch (known.remoteCode) {
          case 'ERR_CREDENTIAL_NOT_FOUND':
            return denied('not_enrolled');
          case 'ERR_CREDENTIAL_STATE':
            return denied('token_blocked');
          case 'ERR_PASSWORD_REQUIRED':
            // A kiosk sends no password: the user's policy (or this network's) must say token-only.
            this.options.onAdminNotice?.(
              `the verifier wants a password as well as ${what} (${holder}): set the user's challenge policy with \`tokengate verifier policy set USERNAME token-only\`, or this kiosk's network's with \`tokengate verifier policy range CIDR token-only\``,
            );
            return denied('not_set_up');
          default:
            return denied('refused');
        }
      default:
        throw err;
    }
  }
}
