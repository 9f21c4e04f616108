// Enrolling a key for a relying party and having it sign a challenge, in WebAuthn's shapes: the
// challenge goes into a browser-style clientDataJSON whose SHA-256 the key signs, so what comes out
// is checked by any WebAuthn verifier (tokengate's, @simplewebauthn/server, fido2-assert -V).
import { createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import { FidoNotSupportedError, FidoProtocolError, InvalidArgumentError, NoCredentialsError, NotLoggedInError, TokengateError } from '../errors/index.js';
import { encodeCbor } from './cbor.js';
import type { PinToken } from './client-pin.js';
import { COSE_ALG, CTAP2_STATUS } from './constants.js';
import type { CallOptions, Ctap2 } from './ctap2.js';
import type { U2f } from './u2f.js';
import { attestationObject, clientData, coseToPublicKey, parseAuthenticatorData, rpIdHash, AUTH_DATA_FLAGS } from './webauthn.js';

export type FidoAlgorithm = 'ES256' | 'EdDSA';

export interface EnrollOptions extends CallOptions {
  rpId: string;
  rpName?: string;
  /** The account: `id` up to 64 bytes (a string is taken as UTF-8). */
  user: { id: Uint8Array | string; name?: string; displayName?: string };
  /** In order of preference; default ['ES256', 'EdDSA']. */
  algorithms?: FidoAlgorithm[];
  /** The relying party's registration challenge; random when absent. */
  challenge?: Uint8Array;
  /** Default `https://<rpId>`. */
  origin?: string;
  /** Credentials this key must not hold already (CREDENTIAL_EXCLUDED if it does). */
  excludeCredentialIds?: Uint8Array[];
  /** A discoverable (resident) credential. */
  residentKey?: boolean;
}

export interface EnrolledCredential {
  rpId: string;
  credentialId: Uint8Array;
  algorithm: FidoAlgorithm;
  publicKey: KeyObject;
  /** The COSE_Key as the key sent it, what a WebAuthn verifier stores. */
  publicKeyCose: Uint8Array;
  aaguid: string;
  signCount: number;
  userVerified: boolean;
  attestationFormat: string;
  /** CBOR {fmt, attStmt, authData}, as a browser would hand it over. */
  attestationObject: Uint8Array;
  clientDataJSON: string;
}

export interface SignChallengeOptions extends CallOptions {
  rpId: string;
  /** The verifier's challenge, the bytes it will find base64url-encoded in clientDataJSON. */
  challenge: Uint8Array;
  /** Default `https://<rpId>`. */
  origin?: string;
  /** Which credentials may answer (required for U2F keys; CTAP2 keys may use a discoverable one). */
  credentialIds?: Uint8Array[];
  /** Ask for a touch (default true). */
  userPresence?: boolean;
}

export interface FidoAssertion {
  rpId: string;
  credentialId: Uint8Array;
  authenticatorData: Uint8Array;
  signature: Uint8Array;
  clientDataJSON: string;
  userHandle: Uint8Array | undefined;
  signCount: number;
  userPresent: boolean;
  userVerified: boolean;
}

const ALG_IDS: Record<FidoAlgorithm, number> = { ES256: COSE_ALG.ES256, EdDSA: COSE_ALG.EdDSA };

export async function enrollCtap2(ctap2: Ctap2, token: PinToken | undefined, options: EnrollOptions): Promise<EnrolledCredential> {
  const { rpId, client } = registration(options);
  const userId = typeof options.user.id === 'string' ? Buffer.from(options.user.id, 'utf8') : options.user.id;
  if (userId.length < 1 || userId.length > 64) throw new InvalidArgumentError('a user id is 1–64 bytes');
  const algorithms = (options.algorithms ?? ['ES256', 'EdDSA']).map((a) => algorithmId(a));
  const made = await ctap2.makeCredential(
    {
      clientDataHash: client.hash,
      rp: { id: rpId, name: options.rpName ?? rpId },
      user: { id: userId, name: options.user.name, displayName: options.user.displayName },
      algorithms,
      excludeList: options.excludeCredentialIds?.map((id) => ({ type: 'public-key', id })),
      residentKey: options.residentKey,
      ...(token ? { pinUvAuthParam: token.protocol.authenticate(token.token, client.hash), pinUvAuthProtocol: token.protocol.version } : {}),
    },
    options,
  );
  const auth = parseAuthenticatorData(made.authData);
  checkRp(auth.rpIdHash, rpId);
  if (!auth.attested) throw new FidoProtocolError('the security key made a credential but sent no attested credential data');
  return {
    rpId,
    credentialId: auth.attested.credentialId,
    algorithm: algorithmName(auth.attested.algorithm),
    publicKey: coseToPublicKey(auth.attested.publicKeyCose),
    publicKeyCose: auth.attested.publicKeyCose,
    aaguid: auth.attested.aaguid,
    signCount: auth.signCount,
    userVerified: auth.userVerified,
    attestationFormat: made.fmt,
    attestationObject: attestationObject(made.fmt, made.attStmt, made.authData),
    clientDataJSON: client.json,
  };
}

export async function signCtap2(ctap2: Ctap2, token: PinToken | undefined, options: SignChallengeOptions): Promise<FidoAssertion> {
  const client = clientData('webauthn.get', checkChallenge(options.challenge), origin(options));
  const answer = await ctap2.getAssertion(
    {
      rpId: options.rpId,
      clientDataHash: client.hash,
      allowList: options.credentialIds?.map((id) => ({ type: 'public-key', id })),
      userPresence: options.userPresence,
      ...(token ? { pinUvAuthParam: token.protocol.authenticate(token.token, client.hash), pinUvAuthProtocol: token.protocol.version } : {}),
    },
    options,
  );
  const auth = parseAuthenticatorData(answer.authData);
  checkRp(auth.rpIdHash, options.rpId);
  // With a one-entry allow list a key may leave the credential out; it can only be that one.
  const credentialId = answer.credentialId ?? (options.credentialIds?.length === 1 ? options.credentialIds[0] : undefined);
  if (!credentialId) throw new FidoProtocolError('the security key did not say which credential signed');
  return {
    rpId: options.rpId,
    credentialId,
    authenticatorData: answer.authData,
    signature: answer.signature,
    clientDataJSON: client.json,
    userHandle: answer.userHandle,
    signCount: auth.signCount,
    userPresent: auth.userPresent,
    userVerified: auth.userVerified,
  };
}

export interface ProbeCredentialsOptions extends Pick<CallOptions, 'signal' | 'timeoutMs'> {
  rpId: string;
  /** The relying party's allow list, when it has one; without it, the key's discoverable credentials. */
  credentialIds?: Uint8Array[];
}

/**
 * Which credentials the key holds for `rpId`, asked silently: a getAssertion with `up: false` and
 * no pinUvAuthParam — no PIN, no touch, no try spent (CTAP 2.1 §6.2.2: without UV only credProtect
 * level 3 credentials, and level 2 ones without an allow list, are left out; step 9: up false skips
 * the presence test). The challenge is random and the signatures are dropped: nothing here can
 * serve as a login. Empty means nothing was learned (none held, or all hidden by credProtect, or a
 * key that wants UV for every assertion), not that the key holds none.
 */
export async function probeCtap2(ctap2: Ctap2, options: ProbeCredentialsOptions): Promise<Uint8Array[]> {
  const rpId = checkRpId(options.rpId);
  const call = { signal: options.signal, timeoutMs: options.timeoutMs };
  const allowList = options.credentialIds?.map((id) => ({ type: 'public-key' as const, id }));
  let first;
  try {
    first = await ctap2.getAssertion({ rpId, clientDataHash: randomBytes(32), allowList, userPresence: false }, call);
  } catch (err) {
    if (silentlyRefused(err)) return [];
    throw err;
  }
  const answers = [first];
  // Discoverable: the key names the rest one by one (CTAP 2.1 §6.3).
  for (let i = 1; !allowList?.length && i < (first.numberOfCredentials ?? 1); i++) answers.push(await ctap2.getNextAssertion(call));
  return answers.map((answer) => {
    const auth = parseAuthenticatorData(answer.authData);
    checkRp(auth.rpIdHash, rpId);
    const id = answer.credentialId ?? (allowList?.length === 1 ? allowList[0]!.id : undefined);
    if (!id) throw new FidoProtocolError('the security key did not say which credential answered');
    return id;
  });
}

/** A key's ways of saying "none" or "not silently": no credential, a PIN token required (alwaysUv), up=false not taken. */
function silentlyRefused(err: unknown): boolean {
  if (err instanceof NoCredentialsError || err instanceof NotLoggedInError) return true;
  const status = err instanceof TokengateError ? err.ctap?.status : undefined;
  return status === CTAP2_STATUS.INVALID_OPTION || status === CTAP2_STATUS.UNSUPPORTED_OPTION || status === CTAP2_STATUS.UP_REQUIRED;
}

export async function enrollU2f(u2f: U2f, options: EnrollOptions): Promise<EnrolledCredential> {
  const { rpId, client } = registration(options);
  if (options.algorithms && !options.algorithms.includes('ES256')) throw new FidoNotSupportedError('a U2F key makes ES256 credentials only');
  const appParam = rpIdHash(rpId);
  const { publicKey, keyHandle } = await u2f.register(client.hash, appParam, options);
  const cose = encodeCbor(
    new Map<number, unknown>([[1, 2], [3, COSE_ALG.ES256], [-1, 1], [-2, publicKey.subarray(1, 33)], [-3, publicKey.subarray(33, 65)]]),
  );
  // WebAuthn's view of a U2F registration: authData with the attested credential and a zero AAGUID.
  const authData = Buffer.concat([
    appParam,
    Buffer.of(AUTH_DATA_FLAGS.UP | AUTH_DATA_FLAGS.AT),
    Buffer.alloc(4),
    Buffer.alloc(16),
    Buffer.of(keyHandle.length >> 8, keyHandle.length & 0xff),
    keyHandle,
    cose,
  ]);
  return {
    rpId,
    credentialId: keyHandle,
    algorithm: 'ES256',
    publicKey: createPublicKey({ key: Buffer.concat([SPKI_P256_PREFIX, publicKey]), format: 'der', type: 'spki' }),
    publicKeyCose: cose,
    aaguid: '00000000000000000000000000000000',
    signCount: 0,
    userVerified: false,
    attestationFormat: 'none',
    attestationObject: attestationObject('none', new Map(), authData),
    clientDataJSON: client.json,
  };
}

export async function signU2f(u2f: U2f, options: SignChallengeOptions): Promise<FidoAssertion> {
  const handles = options.credentialIds ?? [];
  if (handles.length === 0) throw new InvalidArgumentError('a U2F key signs only for a credential id it is given');
  const client = clientData('webauthn.get', checkChallenge(options.challenge), origin(options));
  const appParam = rpIdHash(options.rpId);
  let last: unknown;
  for (const handle of handles) {
    try {
      const r = await u2f.authenticate(client.hash, appParam, handle, options);
      const counter = Buffer.alloc(4);
      counter.writeUInt32BE(r.counter);
      return {
        rpId: options.rpId,
        credentialId: handle,
        authenticatorData: Buffer.concat([appParam, Buffer.of(r.flags), counter]),
        signature: r.signature,
        clientDataJSON: client.json,
        userHandle: undefined,
        signCount: r.counter,
        userPresent: (r.flags & AUTH_DATA_FLAGS.UP) !== 0,
        userVerified: false,
      };
    } catch (err) {
      last = err;
      if (!(err instanceof Error && 'code' in err && err.code === 'ERR_NO_CREDENTIALS')) throw err;
    }
  }
  throw last;
}

const SPKI_P256_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex');

function registration(options: EnrollOptions) {
  const rpId = checkRpId(options.rpId);
  const challenge = options.challenge ? checkChallenge(options.challenge) : randomBytes(32);
  return { rpId, challenge, client: clientData('webauthn.create', challenge, origin(options)) };
}

function origin(options: { rpId: string; origin?: string | undefined }): string {
  return options.origin ?? `https://${checkRpId(options.rpId)}`;
}

function checkRpId(rpId: unknown): string {
  if (typeof rpId !== 'string' || rpId.length === 0 || rpId.length > 253) throw new InvalidArgumentError('rpId must be a domain name');
  return rpId;
}

function checkChallenge(challenge: unknown): Uint8Array {
  if (!(challenge instanceof Uint8Array) || challenge.length < 16 || challenge.length > 1024) {
    throw new InvalidArgumentError('a challenge is 16–1024 bytes');
  }
  return challenge;
}

function checkRp(hash: Uint8Array, rpId: string): void {
  if (!rpIdHash(rpId).equals(hash)) throw new FidoProtocolError('the security key answered for another relying party');
}

function algorithmId(name: FidoAlgorithm): number {
  const id = ALG_IDS[name];
  if (id === undefined) throw new InvalidArgumentError(`unknown algorithm ${String(name)}: ES256 or EdDSA`);
  return id;
}

function algorithmName(id: number): FidoAlgorithm {
  if (id === COSE_ALG.ES256) return 'ES256';
  if (id === COSE_ALG.EdDSA) return 'EdDSA';
  throw new FidoNotSupportedError(`the security key made a credential with COSE algorithm ${id}`);
}
