// The token side of the verifier: a small HTTP client, the blocklist fetcher kiosks poll (with
// its ETag, so an unchanged list costs a 304), signing in with a token (challenge → the token
// signs the canonical message → response), and enrolling a token end to end. Security keys'
// WebAuthn ceremonies have their methods here and their end-to-end functions in security-key.ts;
// `signInWithToken` and `enrollToken` also take the one `HardwareToken` shape, a card or a key.
import { InvalidArgumentError, NotLoggedInError } from '../errors/index.js';
import type { EnrolledCredential as KeyCredential } from '../fido/credentials.js';
import type { BlocklistEntries, BlocklistFetcher } from '../lockout/blocklist.js';
import { createSelfSignedCertificate } from '../pkcs11/enrollment.js';
import { selectSigningKey } from '../pkcs11/key-selection.js';
import type { TokenKey } from '../pkcs11/objects.js';
import type { Session } from '../pkcs11/session.js';
import { defaultAlgorithm, type SignatureAlgorithm } from '../pkcs11/signing.js';
import { FidoHardwareToken } from '../tokens/fido-hardware-token.js';
import type { HardwareToken, TouchAware } from '../tokens/hardware-token.js';
import { Pkcs11HardwareToken } from '../tokens/pkcs11-hardware-token.js';
import type { Pin } from '../util/pin.js';
import { InvalidVerifierUrlError, RelyingPartyMismatchError, VerifierRefusedError, VerifierUnreachableError } from '../verifier/errors.js';
import type { ChallengePurpose } from '../verifier/protocol.js';
import type { CredentialSelector, IssuedFidoChallenge } from '../verifier/tokens/challenges.js';
import type { EnrolledCredential, FidoRegistrationOptions } from '../verifier/tokens/registry.js';
import type { GenerateKeyPairOptions } from '../pkcs11/keygen.js';
import { enrollSecurityKey, signInWithSecurityKey } from './security-key.js';

export interface VerifierClientOptions {
  /** An API key (`tgk_…`) for the admin and helpdesk routes. */
  readonly apiKey?: string;
  /** Per request (default 10 s). */
  readonly timeoutMs?: number;
}

export interface ChallengeFromVerifier {
  readonly challengeId: string;
  readonly message: Buffer;
  readonly expiresAt: Date;
  readonly passwordRequired: boolean;
  readonly fields: { verifierId: string; purpose: ChallengePurpose; username: string; credentialId: string; challenge: string };
}

const b64u = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');

function checkBaseUrl(baseUrl: string): string {
  let url: URL | undefined;
  try {
    url = new URL(baseUrl);
  } catch {
    url = undefined;
  }
  if (url && (url.protocol === 'http:' || url.protocol === 'https:')) return baseUrl.replace(/\/+$/, '');
  // The address is echoed only when it is a bare host and port: anything else might hold a password.
  const example = /^[A-Za-z0-9.[\]:-]{1,255}$/.test(baseUrl) ? `http://${baseUrl}` : 'http://127.0.0.1:8787';
  throw new InvalidVerifierUrlError(`the verifier's address must be a URL starting with http:// or https://, e.g. ${example}`);
}

export class VerifierClient {
  readonly #base: string;
  readonly #options: VerifierClientOptions;

  /** `baseUrl`: http:// or https://, else InvalidVerifierUrlError (`127.0.0.1:8787` alone would be taken for a scheme). */
  constructor(baseUrl: string, options: VerifierClientOptions = {}) {
    this.#base = checkBaseUrl(baseUrl);
    this.#options = options;
  }

  async request<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: T | undefined; headers: Headers }> {
    let response: Response;
    try {
      response = await fetch(`${this.#base}${path}`, {
        method,
        headers: {
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(this.#options.apiKey ? { authorization: `Bearer ${this.#options.apiKey}` } : {}),
          ...headers,
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.#options.timeoutMs ?? 10_000),
      });
    } catch (err) {
      throw new VerifierUnreachableError(`the verifier at ${this.#base} cannot be reached`, { cause: err });
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      throw new VerifierUnreachableError(`${this.#base} did not answer as a verifier does (status ${response.status})`);
    }
    if (response.status >= 400) {
      const error = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new VerifierRefusedError(response.status, error?.code ?? 'ERR_UNKNOWN', error?.message ?? 'no reason given');
    }
    return { status: response.status, body: parsed as T | undefined, headers: response.headers };
  }

  /** `username` undefined: the verifier finds the user from the credential (a kiosk's case). */
  async challenge(username: string | undefined, credential: CredentialSelector, purpose: ChallengePurpose = 'login'): Promise<ChallengeFromVerifier> {
    const { body } = await this.request<Omit<ChallengeFromVerifier, 'message' | 'expiresAt'> & { message: string; expiresAt: string }>('POST', '/v1/challenges', {
      ...(username === undefined ? {} : { username }),
      credential,
      purpose,
    });
    return { ...body!, message: Buffer.from(body!.message, 'base64'), expiresAt: new Date(body!.expiresAt) };
  }

  async respond(challengeId: string, answer: { username: string; purpose: ChallengePurpose; signature: Uint8Array; algorithm: SignatureAlgorithm; password?: string }): Promise<{ userId: string; username: string; credentialId: string }> {
    const { signature, ...rest } = answer;
    const { body } = await this.request<{ userId: string; username: string; credentialId: string }>('POST', `/v1/challenges/${encodeURIComponent(challengeId)}/response`, {
      ...rest,
      signature: Buffer.from(signature).toString('base64'),
    });
    return body!;
  }

  /** A security key's registration challenge; with `password`, the user's own (self-service), else the API key's. */
  async fidoRegistrationOptions(username: string, options: { password?: string } = {}): Promise<FidoRegistrationOptions> {
    const { body } =
      options.password !== undefined
        ? await this.request<FidoRegistrationOptions>('POST', '/v1/self/fido/registration-options', { username, password: options.password })
        : await this.request<FidoRegistrationOptions>('POST', `/v1/admin/users/${encodeURIComponent(username)}/fido/registration-options`, {});
    return { ...body!, expiresAt: new Date(body!.expiresAt) };
  }

  /** Sends what the key made for those options; the verifier checks and stores it. */
  async registerFidoCredential(
    username: string,
    made: { challengeId: string; attestationObject: Uint8Array; clientDataJSON: string; label?: string; transports?: readonly string[]; password?: string },
  ): Promise<EnrolledCredential> {
    const { password, attestationObject, clientDataJSON, ...rest } = made;
    const body = { ...rest, attestationObject: b64u(attestationObject), clientDataJSON: b64u(Buffer.from(clientDataJSON, 'utf8')) };
    const { body: credential } =
      password !== undefined
        ? await this.request<EnrolledCredential>('POST', '/v1/self/fido/credentials', { username, password, ...body })
        : await this.request<EnrolledCredential>('POST', `/v1/admin/users/${encodeURIComponent(username)}/fido/credentials`, body);
    return credential!;
  }

  /** The relying party the verifier's security keys are for: what a key must unlock and sign for. */
  async fidoRelyingParty(): Promise<{ rpId: string; rpName: string; origins: string[]; requireUserVerification: boolean }> {
    const { body } = await this.request<{ rpId: string; rpName: string; origins: string[]; requireUserVerification: boolean }>('GET', '/v1/fido/relying-party');
    return body!;
  }

  /** A challenge for a security key: for a user's keys, for the keys named, or (neither) for a discoverable credential. */
  async fidoChallenge(request: { username?: string; credentialIds?: readonly string[]; purpose?: ChallengePurpose } = {}): Promise<IssuedFidoChallenge> {
    const { body } = await this.request<IssuedFidoChallenge>('POST', '/v1/fido/challenges', { purpose: 'login', ...request });
    return { ...body!, expiresAt: new Date(body!.expiresAt) };
  }

  async fidoRespond(
    challengeId: string,
    answer: { username?: string; purpose: ChallengePurpose; credentialId: string; authenticatorData: Uint8Array; clientDataJSON: string; signature: Uint8Array; password?: string },
  ): Promise<{ userId: string; username: string; credentialId: string; signCount: number; userVerified: boolean }> {
    const { authenticatorData, clientDataJSON, signature, ...rest } = answer;
    const { body } = await this.request<{ userId: string; username: string; credentialId: string; signCount: number; userVerified: boolean }>(
      'POST',
      `/v1/fido/challenges/${encodeURIComponent(challengeId)}/response`,
      { ...rest, authenticatorData: b64u(authenticatorData), clientDataJSON: b64u(Buffer.from(clientDataJSON, 'utf8')), signature: b64u(signature) },
    );
    return body!;
  }

  /**
   * A fetcher for `Blocklist.refresh`: sends the last ETag; on 304 it returns the entries it has.
   * `lastStatus` tells what the verifier answered last (200 or 304).
   */
  blocklistFetcher(): BlocklistFetcher & { readonly lastStatus: number | undefined } {
    let etag: string | undefined;
    let cached: BlocklistEntries | undefined;
    const state = { lastStatus: undefined as number | undefined };
    const fetcher = async (): Promise<BlocklistEntries> => {
      const { status, body, headers } = await this.request<BlocklistEntries>('GET', '/v1/blocklist', undefined, etag && cached ? { 'if-none-match': etag } : {});
      state.lastStatus = status;
      if (status === 304 && cached) return cached;
      cached = { serials: body?.serials ?? [], certificateFingerprints: body?.certificateFingerprints ?? [], fidoCredentialIds: body?.fidoCredentialIds ?? [] };
      etag = headers.get('etag') ?? undefined;
      return cached;
    };
    return Object.defineProperty(fetcher, 'lastStatus', { get: () => state.lastStatus }) as BlocklistFetcher & { readonly lastStatus: number | undefined };
  }
}

export interface SignInOptions {
  /** Optional: the verifier can tell whose the credential is. */
  readonly username?: string;
  /** Which enrolled credential: by id, the token's serial, or the certificate fingerprint. */
  readonly credential: CredentialSelector;
  readonly purpose?: ChallengePurpose;
  /** Sent when the verifier's policy asks for it. */
  readonly password?: string;
  readonly algorithm?: SignatureAlgorithm;
}

/** Who signed in: the same for a card and a security key. */
export interface SignedIn {
  readonly userId: string;
  readonly username: string;
  /** The verifier's id of the credential that signed (a card's or a key's alike). */
  readonly credentialId: string;
}

/** Signing in with a `HardwareToken`, a card or a security key; the kind-only fields are ignored by the other kind. */
export interface SignInWithHardwareTokenOptions extends TouchAware {
  /** Optional: the verifier can tell whose the credential is (a key's discoverable credential, a card's serial). */
  readonly username?: string;
  /** Sent when the verifier's policy asks for it. */
  readonly password?: string;
  readonly purpose?: ChallengePurpose;
  /**
   * Unlocks the token first: a card right away, a key once the verifier's rpId is known to be the
   * key's, just before its touch. Without it the token must be unlocked already (a card), or the
   * key unlocked for this relying party (or not asked for user verification).
   */
  readonly pin?: string | Pin;
  /** With `pin`: spend the last try (default false: FinalTryRefusedError instead). */
  readonly allowFinalTry?: boolean;
  /** A card: which enrolled credential (default: the card's serial). */
  readonly credential?: CredentialSelector;
  /** A card: which key signs, by label or hex id (default: the first key with a certificate). */
  readonly key?: string;
  /** A key: only these credentials (base64url WebAuthn ids). */
  readonly credentialIds?: readonly string[];
}

/**
 * Challenge → the logged-in token signs the canonical message → response. When the policy wants a
 * password and none is given, the verifier refuses with VerifierRefusedError, `remoteCode`
 * `ERR_PASSWORD_REQUIRED` (status 401): a matter of policy for an admin, not a wrong PIN.
 */
export function signInWithToken(client: VerifierClient, session: Session, key: TokenKey, options: SignInOptions): Promise<SignedIn>;
/**
 * The same for either kind of `HardwareToken`: a card (`Pkcs11HardwareToken`) signs the
 * verifier's challenge with its session; a security key (`FidoHardwareToken`) answers a WebAuthn
 * challenge, after its rpId is checked against the verifier's (RelyingPartyMismatchError before
 * any PIN or touch otherwise). The token stays unlocked afterwards: closing it is the caller's.
 */
export function signInWithToken(client: VerifierClient, token: HardwareToken, options?: SignInWithHardwareTokenOptions): Promise<SignedIn>;
export async function signInWithToken(
  client: VerifierClient,
  sessionOrToken: Session | HardwareToken,
  keyOrOptions?: TokenKey | SignInWithHardwareTokenOptions,
  options?: SignInOptions,
): Promise<SignedIn> {
  if (isHardwareToken(sessionOrToken)) return signInWithHardwareToken(client, sessionOrToken, (keyOrOptions ?? {}) as SignInWithHardwareTokenOptions);
  return signInWithSession(client, sessionOrToken, keyOrOptions as TokenKey, options!);
}

async function signInWithSession(client: VerifierClient, session: Session, key: TokenKey, options: SignInOptions): Promise<SignedIn> {
  const purpose = options.purpose ?? 'login';
  const challenge = await client.challenge(options.username, options.credential, purpose);
  const algorithm = options.algorithm ?? defaultAlgorithm(key);
  const signature = await session.signChallenge(key, challenge.message, { algorithm });
  return client.respond(challenge.challengeId, {
    username: challenge.fields.username,
    purpose,
    signature,
    algorithm,
    ...(challenge.passwordRequired && options.password !== undefined ? { password: options.password } : {}),
  });
}

async function signInWithHardwareToken(client: VerifierClient, token: HardwareToken, options: SignInWithHardwareTokenOptions): Promise<SignedIn> {
  const { username, password, purpose, pin, allowFinalTry, signal, onTouch } = options;
  const touch = { ...(signal ? { signal } : {}), ...(onTouch ? { onTouch } : {}) };
  if (token instanceof FidoHardwareToken) {
    const result = await signInWithSecurityKey(client, token.key, {
      ...touch,
      ...(username === undefined ? {} : { username }),
      ...(password === undefined ? {} : { password }),
      ...(purpose === undefined ? {} : { purpose }),
      ...(options.credentialIds ? { credentialIds: options.credentialIds } : {}),
      unlock: (rpId) => unlockKeyFor(token, rpId, pin, { ...touch, allowFinalTry: allowFinalTry === true }),
    });
    return { userId: result.userId, username: result.username, credentialId: result.credentialId };
  }
  const session = await cardSession(token as Pkcs11HardwareToken, pin, allowFinalTry);
  const key = await selectSigningKey(session, options.key);
  const result = await signInWithSession(client, session, key, {
    credential: options.credential ?? { serial: token.identity.serial },
    ...(username === undefined ? {} : { username }),
    ...(password === undefined ? {} : { password }),
    ...(purpose === undefined ? {} : { purpose }),
  });
  return { userId: result.userId, username: result.username, credentialId: result.credentialId };
}

/** A card or a key of the makes this client knows; any other `HardwareToken` is refused (InvalidArgumentError). */
function isHardwareToken(candidate: Session | HardwareToken): candidate is HardwareToken {
  if (candidate instanceof Pkcs11HardwareToken || candidate instanceof FidoHardwareToken) return true;
  if ('identity' in candidate) throw new InvalidArgumentError(`the client knows cards and security keys, not a ${candidate.identity.kind} token of another make`);
  return false;
}

/** The card's logged-in session: unlocked with `pin` now, or already. */
async function cardSession(token: Pkcs11HardwareToken, pin: string | Pin | undefined, allowFinalTry: boolean | undefined): Promise<Session> {
  if (pin !== undefined) await token.unlock(pin, { allowFinalTry: allowFinalTry === true });
  const session = token.session;
  if (!session) throw new NotLoggedInError(`unlock "${token.identity.label}" with its PIN first`);
  return session;
}

/** The verifier's rpId must be the one the key was opened for (as the kiosk checks); then the PIN, if given. */
async function unlockKeyFor(token: FidoHardwareToken, rpId: string, pin: string | Pin | undefined, options: TouchAware & { allowFinalTry: boolean }): Promise<void> {
  if (rpId !== token.rpId) throw new RelyingPartyMismatchError(rpId, token.rpId);
  if (pin !== undefined) await token.unlock(pin, options);
}

export interface EnrollTokenOptions {
  readonly username: string;
  /** An existing key on the token (its certificate is read from the token), or a new one to generate. */
  readonly key: { readonly existing: TokenKey } | { readonly generate: GenerateKeyPairOptions; readonly subject: string };
  readonly serial?: string;
  readonly label?: string;
  /** Self-service enrollment with the user's password; without it the client's API key (admin) is used. */
  readonly password?: string;
}

/** Enrolling a `HardwareToken`, a card or a security key; the kind-only fields are ignored by the other kind. */
export interface EnrollHardwareTokenOptions extends TouchAware {
  readonly username: string;
  /** What the user calls it. */
  readonly label?: string;
  /** Self-service enrollment with the user's password; without it the client's API key (admin) is used. */
  readonly password?: string;
  /** Unlocks the token first (a card right away, a key after its rpId is checked); without it, it must be unlocked already. */
  readonly pin?: string | Pin;
  readonly allowFinalTry?: boolean;
  /** A card: the key enrolled, by label or hex id (default: the first key with a certificate); its certificate is read from the card. */
  readonly key?: string;
  /** A card: the serial registered (default: the card's, which `signInWithToken` selects by). */
  readonly serial?: string;
  /** A key: a discoverable credential, so the user signs in without a username. */
  readonly discoverable?: boolean;
  /** A key: how it is reached (default ["usb"]). */
  readonly transports?: readonly string[];
}

/** What was enrolled: the verifier's credential, and the card's key or what the security key made. */
export type HardwareTokenEnrollment =
  | { readonly kind: 'pkcs11'; readonly credential: EnrolledCredential; readonly key: TokenKey }
  | { readonly kind: 'fido'; readonly credential: EnrolledCredential; readonly keyCredential: KeyCredential };

/**
 * Enrolls a token end to end: picks or generates the key, reads its certificate or makes a
 * self-signed one (imported onto the token), and registers it with the verifier. The session must
 * be read-write and logged in when a key is generated. The credential comes back with the user's
 * challenge policy (`challengePolicy`): `password+token` means a kiosk that sends no password will
 * be refused (`ERR_PASSWORD_REQUIRED`) until an admin sets `token-only` for the user or its network.
 */
export function enrollToken(client: VerifierClient, session: Session, options: EnrollTokenOptions): Promise<{ credential: EnrolledCredential; key: TokenKey }>;
/**
 * The same for either kind of `HardwareToken`: a card's existing key and its certificate are
 * registered (generating one needs a read-write session: the `Session` form); a security key makes
 * a credential for the verifier's rpId, checked against the key's first (RelyingPartyMismatchError).
 */
export function enrollToken(client: VerifierClient, token: HardwareToken, options: EnrollHardwareTokenOptions): Promise<HardwareTokenEnrollment>;
export async function enrollToken(
  client: VerifierClient,
  sessionOrToken: Session | HardwareToken,
  options: EnrollTokenOptions | EnrollHardwareTokenOptions,
): Promise<{ credential: EnrolledCredential; key: TokenKey } | HardwareTokenEnrollment> {
  if (isHardwareToken(sessionOrToken)) return enrollHardwareToken(client, sessionOrToken, options as EnrollHardwareTokenOptions);
  return enrollSession(client, sessionOrToken, options as EnrollTokenOptions);
}

async function enrollHardwareToken(client: VerifierClient, token: HardwareToken, options: EnrollHardwareTokenOptions): Promise<HardwareTokenEnrollment> {
  const { username, label, password, pin, allowFinalTry, signal, onTouch } = options;
  const touch = { ...(signal ? { signal } : {}), ...(onTouch ? { onTouch } : {}) };
  const common = { username, ...(label === undefined ? {} : { label }), ...(password === undefined ? {} : { password }) };
  if (token instanceof FidoHardwareToken) {
    const { credential, keyCredential } = await enrollSecurityKey(client, token.key, {
      ...touch,
      ...common,
      ...(options.discoverable === undefined ? {} : { discoverable: options.discoverable }),
      ...(options.transports ? { transports: options.transports } : {}),
      unlock: (rpId) => unlockKeyFor(token, rpId, pin, { ...touch, allowFinalTry: allowFinalTry === true }),
    });
    return { kind: 'fido', credential, keyCredential };
  }
  const session = await cardSession(token as Pkcs11HardwareToken, pin, allowFinalTry);
  const existing = await selectSigningKey(session, options.key);
  const { credential, key } = await enrollSession(client, session, { ...common, key: { existing }, serial: options.serial ?? token.identity.serial });
  return { kind: 'pkcs11', credential, key };
}

async function enrollSession(client: VerifierClient, session: Session, options: EnrollTokenOptions): Promise<{ credential: EnrolledCredential; key: TokenKey }> {
  let key: TokenKey;
  let pem: string;
  if ('existing' in options.key) {
    key = options.key.existing;
    const certificates = await session.listCertificates();
    const own = certificates.find((c) => Buffer.from(c.id).equals(Buffer.from(key.id)));
    if (!own) throw new VerifierRefusedError(422, 'ERR_NO_CERTIFICATE', 'no certificate on the token for this key');
    pem = own.certificate.toString('pem');
  } else {
    const { privateKey } = await session.generateKeyPair(options.key.generate);
    key = privateKey;
    const certificate = await createSelfSignedCertificate(session, privateKey, { subject: options.key.subject });
    await session.importCertificate(certificate, { label: options.key.generate.label ?? options.label ?? 'tokengate', id: privateKey.id });
    pem = certificate.toString('pem');
  }
  const body = { certificate: pem, ...(options.serial ? { serial: options.serial } : {}), ...(options.label ? { label: options.label } : {}) };
  const { body: credential } =
    options.password !== undefined
      ? await client.request<EnrolledCredential>('POST', '/v1/self/credentials', { username: options.username, password: options.password, ...body })
      : await client.request<EnrolledCredential>('POST', `/v1/admin/users/${encodeURIComponent(options.username)}/credentials`, body);
  return { credential: credential!, key };
}
