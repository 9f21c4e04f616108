// A USB security key behind the one HardwareToken shape. A key's unlock and signature belong to a
// relying party, so the token is made for one (`rpId`, the deployment's); its status speaks the
// same words as a card's, plus `authBlocked` and `notSet`.
import type { SecurityKey, SecurityKeyPinStatus } from '../fido/security-key.js';
import type { Pin } from '../util/pin.js';
import type { HardwareSignature, HardwareSignRequest, HardwareToken, HardwareTokenIdentity, HardwareTokenStatus, HardwareUnlockOptions } from './hardware-token.js';

export interface FidoTokenOptions {
  /** The relying party the key unlocks and signs for, e.g. `door.example.com`. */
  rpId: string;
  /** A name to show (default: the key's path). */
  label?: string;
  instance?: number;
}

export class FidoHardwareToken implements HardwareToken {
  readonly identity: HardwareTokenIdentity;

  constructor(
    readonly key: SecurityKey,
    private readonly options: FidoTokenOptions,
  ) {
    this.identity = {
      kind: 'fido',
      label: options.label ?? key.path,
      serial: key.info?.aaguid ?? '00000000000000000000000000000000',
      path: key.path,
      ...(options.instance === undefined ? {} : { instance: options.instance }),
    };
  }

  get rpId(): string {
    return this.options.rpId;
  }

  get unlocked(): boolean {
    return this.key.unlocked;
  }

  async status(): Promise<HardwareTokenStatus> {
    return statusOf(await this.key.pinStatus());
  }

  unlock(pin: string | Pin, options: HardwareUnlockOptions = {}): Promise<void> {
    return this.key.unlock(pin, { ...options, rpId: this.options.rpId });
  }

  async signChallenge(request: HardwareSignRequest): Promise<HardwareSignature> {
    const assertion = await this.key.signChallenge({
      rpId: this.options.rpId,
      challenge: request.challenge,
      ...(request.credentialIds ? { credentialIds: request.credentialIds } : {}),
      ...(request.origin ? { origin: request.origin } : {}),
      ...(request.signal ? { signal: request.signal } : {}),
      ...(request.onTouch ? { onTouch: request.onTouch } : {}),
    });
    return { kind: 'fido', assertion };
  }

  changePin(currentPin: string | Pin, newPin: string | Pin, options: HardwareUnlockOptions = {}): Promise<void> {
    return this.key.changePin(currentPin, newPin, options);
  }

  close(): Promise<void> {
    return this.key.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

function statusOf(s: SecurityKeyPinStatus): HardwareTokenStatus {
  const common = { retriesLeft: s.retriesLeft, countedBy: 'token' as const, authBlocked: s.authBlocked, blocked: s.blocked };
  if (s.protocol === 'u2f') return { ...common, pinStatus: 'none' };
  if (!s.pinSet) return { ...common, pinStatus: 'notSet' };
  if (s.blocked) return { ...common, pinStatus: 'locked' };
  if (s.authBlocked) return { ...common, pinStatus: 'authBlocked' };
  return { ...common, pinStatus: s.finalTry ? 'finalTry' : 'ok' };
}
