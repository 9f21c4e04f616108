// Checks a security key's WebAuthn answers: a registration (the attestation object makeCredential
// produced) and an assertion (getAssertion's signature). @simplewebauthn/server does the
// cryptography (attestation statements `none`, `packed` and the rest, COSE keys, the signature
// over authData ‖ SHA-256(clientDataJSON)); before it, the same fields are checked here one by
// one, in this order, so the audit log can say which failed:
//  1. clientDataJSON parses, and its `type` is the ceremony's (webauthn.create / webauthn.get);
//  2. its `challenge` is the one the verifier issued (single use: the caller consumed it);
//  3. its `origin` is one this verifier serves (a phishing site's origin differs);
//  4. authData's rpIdHash is SHA-256 of our relying-party id (a credential for another site);
//  5. the user-present flag (a touch), and user-verified when asked (a PIN-unlocked key sets it);
//  6. then the library's full verification, signature included: both must pass.
// The sign counter is the caller's: it must compare and store it atomically (the store does).
// Returns a reason instead of throwing, like verify-response.ts.
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { classifyKey, type CredentialKeyInfo } from './key-algorithm.js';

// Loaded at the first security-key check, not with the verifier: importing it costs about a
// second of CPU, which every `tokengate verifier …` command would pay otherwise.
type Library = typeof import('@simplewebauthn/server') & typeof import('@simplewebauthn/server/helpers');
let library: Promise<Library> | undefined;
function webauthnLibrary(): Promise<Library> {
  return (library ??= Promise.all([import('@simplewebauthn/server'), import('@simplewebauthn/server/helpers')]).then(([server, helpers]) => ({ ...server, ...helpers })));
}

/** The relying party this verifier is: the id keys bind credentials to, and the origins it serves. */
export interface RelyingParty {
  readonly rpId: string;
  readonly rpName: string;
  readonly origins: readonly string[];
  /** Always ask for user verification (otherwise only where the challenge policy is token-only). */
  readonly requireUserVerification: boolean;
}

export interface RelyingPartyOptions {
  /** The domain credentials are bound to (default `localhost`); it cannot change once keys are enrolled. */
  readonly rpId?: string;
  /** Shown by some keys and browsers (default: the rpId). */
  readonly rpName?: string;
  /** The origins clientDataJSON may name (default `https://<rpId>`): https (http only for localhost), the rpId or a subdomain of it. */
  readonly origins?: readonly string[];
  readonly requireUserVerification?: boolean;
}

export const DEFAULT_RP_ID = 'localhost';

const DOMAIN = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** Checks the relying-party settings; the message names what is wrong (InvalidInputError at the caller). */
export function relyingParty(options: RelyingPartyOptions = {}): RelyingParty | { invalid: string } {
  const rpId = options.rpId ?? DEFAULT_RP_ID;
  if (typeof rpId !== 'string' || !DOMAIN.test(rpId) || /^[0-9.]+$/.test(rpId)) return { invalid: 'rpId must be a lower-case domain name such as login.example.com (no scheme, port or IP address)' };
  const origins = options.origins ?? [`https://${rpId}`];
  if (!Array.isArray(origins) || origins.length === 0) return { invalid: 'origins must list at least one origin' };
  for (const origin of origins) {
    let url: URL | undefined;
    try {
      url = new URL(origin);
    } catch {
      url = undefined;
    }
    const ofRp = url !== undefined && (url.hostname === rpId || url.hostname.endsWith(`.${rpId}`));
    const scheme = url !== undefined && (url.protocol === 'https:' || (url.protocol === 'http:' && url.hostname === 'localhost'));
    if (!url || url.origin !== origin || !ofRp || !scheme) {
      return { invalid: `origin ${JSON.stringify(String(origin)).slice(0, 80)} must be scheme://host[:port] with no path, https (http only for localhost), on ${rpId} or a subdomain of it` };
    }
  }
  const rpName = options.rpName ?? rpId;
  if (typeof rpName !== 'string' || rpName.length === 0 || rpName.length > 64) return { invalid: 'rpName must be 1-64 characters' };
  return { rpId, rpName, origins: [...origins], requireUserVerification: options.requireUserVerification ?? false };
}

/** ES256, EdDSA, RS256: what security keys make (COSE algorithm ids). */
export const FIDO_ALGORITHMS: readonly number[] = [-7, -8, -257];

export const FIDO_TRANSPORTS = ['usb', 'nfc', 'ble', 'smart-card', 'hybrid', 'internal', 'cable'] as const;
export type FidoTransport = (typeof FIDO_TRANSPORTS)[number];

export type WebAuthnRefusal =
  | 'malformed_response'
  | 'wrong_type'
  | 'wrong_challenge'
  | 'wrong_origin'
  | 'wrong_rp_id'
  | 'user_not_present'
  | 'user_not_verified'
  | 'attestation_invalid'
  | 'unsupported_algorithm'
  | 'bad_signature';

interface Expected {
  readonly type: 'webauthn.create' | 'webauthn.get';
  /** base64url, as issued. */
  readonly challenge: string;
  readonly requireUserVerification: boolean;
}

const b64u = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');

/** clientDataJSON as the key's client wrote it: its text or its bytes, base64url for the library. */
function clientDataBase64(clientDataJSON: string | Uint8Array): string {
  return b64u(typeof clientDataJSON === 'string' ? Buffer.from(clientDataJSON, 'utf8') : clientDataJSON);
}

/** Steps 1–5, on the fields both ceremonies share. */
function checkCeremony(lib: Library, rp: RelyingParty, expected: Expected, clientDataJSON: string, authData: Uint8Array): WebAuthnRefusal | undefined {
  let client: ReturnType<Library['decodeClientDataJSON']>;
  let auth: ReturnType<Library['parseAuthenticatorData']>;
  try {
    client = lib.decodeClientDataJSON(clientDataJSON);
    auth = lib.parseAuthenticatorData(Uint8Array.from(authData));
  } catch {
    return 'malformed_response';
  }
  if (typeof client !== 'object' || client === null) return 'malformed_response';
  if (client.type !== expected.type) return 'wrong_type';
  if (client.challenge !== expected.challenge) return 'wrong_challenge';
  if (!rp.origins.includes(client.origin) || client.topOrigin !== undefined) return 'wrong_origin';
  if (!createHash('sha256').update(rp.rpId).digest().equals(Buffer.from(auth.rpIdHash))) return 'wrong_rp_id';
  if (!auth.flags.up) return 'user_not_present';
  if (expected.requireUserVerification && !auth.flags.uv) return 'user_not_verified';
  return undefined;
}

export interface RegistrationToCheck {
  readonly attestationObject: Uint8Array;
  readonly clientDataJSON: string | Uint8Array;
  readonly challenge: string;
  readonly requireUserVerification: boolean;
  readonly transports?: readonly FidoTransport[];
}

export interface CheckedRegistration {
  readonly credentialId: string;
  readonly cosePublicKey: Uint8Array;
  /** The same key as DER SPKI: what the one-key-one-user rule compares with cards. */
  readonly spki: Buffer;
  readonly keyInfo: CredentialKeyInfo;
  readonly aaguid: string;
  readonly signCount: number;
  readonly attestationFormat: string;
  readonly userVerified: boolean;
}

export type RegistrationCheck = { ok: true; credential: CheckedRegistration } | { ok: false; reason: WebAuthnRefusal };

export async function checkRegistration(rp: RelyingParty, input: RegistrationToCheck): Promise<RegistrationCheck> {
  const lib = await webauthnLibrary();
  const clientDataJSON = clientDataBase64(input.clientDataJSON);
  let authData: Uint8Array;
  let credentialId: Uint8Array | undefined;
  try {
    authData = lib.decodeAttestationObject(Uint8Array.from(input.attestationObject)).get('authData');
    credentialId = lib.parseAuthenticatorData(Uint8Array.from(authData)).credentialID;
  } catch {
    return { ok: false, reason: 'malformed_response' };
  }
  if (!credentialId) return { ok: false, reason: 'malformed_response' };
  const refusal = checkCeremony(lib, rp, { type: 'webauthn.create', challenge: input.challenge, requireUserVerification: input.requireUserVerification }, clientDataJSON, authData);
  if (refusal) return { ok: false, reason: refusal };
  const id = b64u(credentialId);
  let verified: Awaited<ReturnType<Library['verifyRegistrationResponse']>>;
  try {
    verified = await lib.verifyRegistrationResponse({
      response: {
        id,
        rawId: id,
        type: 'public-key',
        response: { attestationObject: b64u(input.attestationObject), clientDataJSON, ...(input.transports ? { transports: [...input.transports] } : {}) },
        clientExtensionResults: {},
      },
      expectedChallenge: input.challenge,
      expectedOrigin: [...rp.origins],
      expectedRPID: rp.rpId,
      requireUserVerification: input.requireUserVerification,
      supportedAlgorithmIDs: [...FIDO_ALGORITHMS],
    });
  } catch {
    return { ok: false, reason: 'attestation_invalid' };
  }
  if (!verified.verified) return { ok: false, reason: 'attestation_invalid' };
  const info = verified.registrationInfo;
  const key = publicKeyOf(lib, info.credential.publicKey);
  const keyInfo = key && classifyKey(key);
  if (!key || !keyInfo || 'refusal' in keyInfo) return { ok: false, reason: 'unsupported_algorithm' };
  return {
    ok: true,
    credential: {
      credentialId: info.credential.id,
      cosePublicKey: info.credential.publicKey,
      spki: key.export({ format: 'der', type: 'spki' }),
      keyInfo,
      aaguid: info.aaguid,
      signCount: info.credential.counter,
      attestationFormat: info.fmt,
      userVerified: info.userVerified,
    },
  };
}

/** A COSE key (EC2 P-256, OKP Ed25519, RSA) as a Node key; undefined for anything else. */
function publicKeyOf(lib: Library, coseKey: Uint8Array): KeyObject | undefined {
  const { cose } = lib;
  try {
    const key = lib.decodeCredentialPublicKey(Uint8Array.from(coseKey));
    const jwk = cose.isCOSEPublicKeyEC2(key)
      ? { kty: 'EC', crv: key.get(cose.COSEKEYS.crv) === cose.COSECRV.P256 ? 'P-256' : 'unsupported', x: b64u(key.get(cose.COSEKEYS.x)!), y: b64u(key.get(cose.COSEKEYS.y)!) }
      : cose.isCOSEPublicKeyOKP(key)
        ? { kty: 'OKP', crv: key.get(cose.COSEKEYS.crv) === cose.COSECRV.ED25519 ? 'Ed25519' : 'unsupported', x: b64u(key.get(cose.COSEKEYS.x)!) }
        : cose.isCOSEPublicKeyRSA(key)
          ? { kty: 'RSA', n: b64u(key.get(cose.COSEKEYS.n)!), e: b64u(key.get(cose.COSEKEYS.e)!) }
          : undefined;
    return jwk && createPublicKey({ key: jwk, format: 'jwk' });
  } catch {
    return undefined;
  }
}

export interface AssertionToCheck {
  /** The enrolled credential: its id (base64url) and COSE public key. */
  readonly credentialId: string;
  readonly cosePublicKey: Uint8Array;
  readonly challenge: string;
  readonly requireUserVerification: boolean;
  readonly authenticatorData: Uint8Array;
  readonly clientDataJSON: string | Uint8Array;
  readonly signature: Uint8Array;
}

export type AssertionCheck = { ok: true; signCount: number; userVerified: boolean } | { ok: false; reason: WebAuthnRefusal };

export async function checkAssertion(rp: RelyingParty, input: AssertionToCheck): Promise<AssertionCheck> {
  const lib = await webauthnLibrary();
  const clientDataJSON = clientDataBase64(input.clientDataJSON);
  const authData = input.authenticatorData instanceof Uint8Array ? input.authenticatorData : new Uint8Array();
  const refusal = checkCeremony(lib, rp, { type: 'webauthn.get', challenge: input.challenge, requireUserVerification: input.requireUserVerification }, clientDataJSON, authData);
  if (refusal) return { ok: false, reason: refusal };
  try {
    const verified = await lib.verifyAuthenticationResponse({
      response: {
        id: input.credentialId,
        rawId: input.credentialId,
        type: 'public-key',
        response: { authenticatorData: b64u(authData), clientDataJSON, signature: b64u(input.signature) },
        clientExtensionResults: {},
      },
      expectedChallenge: input.challenge,
      expectedOrigin: [...rp.origins],
      expectedRPID: rp.rpId,
      // Counter 0 here: the store compares the counter atomically with the one it holds, so that
      // two racing answers cannot both pass against the same old value.
      credential: { id: input.credentialId, publicKey: Uint8Array.from(input.cosePublicKey), counter: 0 },
      requireUserVerification: input.requireUserVerification,
    });
    if (!verified.verified) return { ok: false, reason: 'bad_signature' };
    return { ok: true, signCount: verified.authenticationInfo.newCounter, userVerified: verified.authenticationInfo.userVerified };
  } catch {
    // Our checks above passed, so what the library refused is the signature or the key itself.
    return { ok: false, reason: 'bad_signature' };
  }
}
