// A USB security key against the verifier: enrolling it (the verifier's registration challenge →
// the key makes a credential → its attestation object goes to the verifier) and signing in with it
// (the verifier's challenge goes into clientDataJSON → the key signs → the assertion goes back).
// Unlocking the key with its PIN is the caller's: just before (a CTAP 2.1 key forgets the unlock
// after one touch), with the verifier's rpId — or in the `unlock` hook, which is called with it.
import type { EnrolledCredential as KeyCredential, FidoAssertion, SecurityKey, TouchOptions } from '../index.js';
import type { IssuedFidoChallenge } from '../verifier/tokens/challenges.js';
import type { EnrolledCredential, FidoRegistrationOptions } from '../verifier/tokens/registry.js';
import type { VerifierClient } from './verifier-client.js';

const bytes = (base64url: string): Buffer => Buffer.from(base64url, 'base64url');

/**
 * The key makes a credential for the verifier's registration options (touch needed);
 * `residentKey`: a discoverable one, so a login needs no username.
 */
export function createCredential(key: SecurityKey, options: FidoRegistrationOptions, extra: TouchOptions & { residentKey?: boolean } = {}): Promise<KeyCredential> {
  return key.enroll({
    ...extra,
    rpId: options.rp.id,
    rpName: options.rp.name,
    user: { id: bytes(options.user.id), name: options.user.name, displayName: options.user.displayName },
    challenge: bytes(options.challenge),
    origin: options.origin,
    excludeCredentialIds: options.excludeCredentialIds.map(bytes),
  });
}

/** The key signs the verifier's challenge, with one of the credentials it allows (touch needed). */
export function getAssertion(key: SecurityKey, challenge: IssuedFidoChallenge, touch: TouchOptions = {}): Promise<FidoAssertion> {
  return key.signChallenge({
    ...touch,
    rpId: challenge.rpId,
    challenge: bytes(challenge.challenge),
    origin: challenge.origin,
    ...(challenge.allowCredentialIds.length > 0 ? { credentialIds: challenge.allowCredentialIds.map(bytes) } : {}),
  });
}

export interface EnrollSecurityKeyOptions extends TouchOptions {
  readonly username: string;
  /** What the user calls it (default "security key"). */
  readonly label?: string;
  /** Self-service enrollment with the user's password; without it the client's API key (admin) is used. */
  readonly password?: string;
  /** How the key is reached (default ["usb"]: it came over HID). */
  readonly transports?: readonly string[];
  /** A discoverable credential: the user then signs in without a username. */
  readonly discoverable?: boolean;
  /** Called with the verifier's rpId before the key is touched: unlock it with its PIN here. */
  readonly unlock?: (rpId: string) => Promise<void>;
}

/**
 * Enrolls a security key end to end. The credential comes back with the user's challenge
 * policy; `keyCredential` is what the key made (its id and public key).
 */
export async function enrollSecurityKey(client: VerifierClient, key: SecurityKey, options: EnrollSecurityKeyOptions): Promise<{ credential: EnrolledCredential; keyCredential: KeyCredential }> {
  const { username, label, password, transports, discoverable, unlock, ...touch } = options;
  const registration = await client.fidoRegistrationOptions(username, password === undefined ? {} : { password });
  await unlock?.(registration.rp.id);
  const keyCredential = await createCredential(key, registration, { ...touch, ...(discoverable ? { residentKey: true } : {}) });
  const credential = await client.registerFidoCredential(username, {
    challengeId: registration.challengeId,
    attestationObject: keyCredential.attestationObject,
    clientDataJSON: keyCredential.clientDataJSON,
    transports: transports ?? ['usb'],
    ...(label === undefined ? {} : { label }),
    ...(password === undefined ? {} : { password }),
  });
  return { credential, keyCredential };
}

export interface SignInWithSecurityKeyOptions extends TouchOptions {
  /** Without it, `credentialIds` name the user, or the key's discoverable credential does. */
  readonly username?: string;
  /** Sent when the verifier's policy asks for it. */
  readonly password?: string;
  /** Only these credentials (base64url WebAuthn ids). */
  readonly credentialIds?: readonly string[];
  readonly purpose?: 'login' | 'enroll' | 'step-up';
  /** Called with the verifier's rpId and whether it requires user verification, before the key is touched. */
  readonly unlock?: (rpId: string, userVerification: 'required' | 'preferred') => Promise<void>;
  /**
   * Called with the credential id (base64url) the key answered with, before the answer goes to the
   * verifier; throwing stops the login there (a kiosk refusing a lost key from its blocklist).
   */
  readonly beforeResponse?: (credentialId: string) => void | Promise<void>;
}

/**
 * Challenge → the key signs (clientDataJSON holds the challenge) → response. The verifier's
 * challenge says whether it wants user verification (`userVerification: 'required'`: unlock the
 * key with its PIN first) and the password.
 */
export async function signInWithSecurityKey(
  client: VerifierClient,
  key: SecurityKey,
  options: SignInWithSecurityKeyOptions = {},
): Promise<{ userId: string; username: string; credentialId: string; signCount: number; userVerified: boolean }> {
  const { username, password, credentialIds, purpose = 'login', unlock, beforeResponse, ...touch } = options;
  const challenge = await client.fidoChallenge({ purpose, ...(username === undefined ? {} : { username }), ...(credentialIds ? { credentialIds } : {}) });
  await unlock?.(challenge.rpId, challenge.userVerification);
  const assertion = await getAssertion(key, challenge, touch);
  const credentialId = Buffer.from(assertion.credentialId).toString('base64url');
  await beforeResponse?.(credentialId);
  return client.fidoRespond(challenge.challengeId, {
    purpose,
    ...(username === undefined ? {} : { username }),
    credentialId,
    authenticatorData: assertion.authenticatorData,
    clientDataJSON: assertion.clientDataJSON,
    signature: assertion.signature,
    ...(password !== undefined && (challenge.passwordRequired || username === undefined) ? { password } : {}),
  });
}
