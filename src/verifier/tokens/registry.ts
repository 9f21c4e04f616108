// Enrolled hardware-token credentials: enrollment (certificate or bare public key, checked fail
// closed), the lifecycle (disable, enable, block as lost, revoke, delete), and the blocklist kiosks
// poll. Each change commits with its audit entry; blocking also kills the credential's outstanding
// challenges and bumps the blocklist's version in the same transaction.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { VerifierContext } from '../context.js';
import { checkCertificate } from '../credentials/certificate-policy.js';
import { classifyKey } from '../credentials/key-algorithm.js';
import { checkRegistration, FIDO_ALGORITHMS, FIDO_TRANSPORTS, type FidoTransport } from '../credentials/webauthn.js';
import { CredentialExistsError, CredentialNotFoundError, CredentialRefusedError, CredentialStateError, InvalidInputError, UserNotFoundError } from '../errors.js';
import { clearCounter, isLocked } from '../policy/lockout.js';
import { appendAudit } from '../store/audit.js';
import { consumeFidoChallenge, insertFidoChallenge, whyFidoNotConsumed } from '../store/challenges.js';
import type { SqlExecutor } from '../store/database.js';
import { findUser, type UserRow } from '../store/users.js';
import { userChallengePolicy, type ChallengePolicy } from './policy.js';

export type CredentialStatus = 'active' | 'disabled' | 'blocked' | 'revoked';

export interface CredentialRow {
  readonly id: string;
  readonly user_id: string;
  readonly label: string;
  readonly serial: string | null;
  readonly fingerprint: string;
  readonly spki: Uint8Array;
  readonly certificate: Uint8Array | null;
  readonly key_type: string;
  readonly algorithms: string;
  readonly not_after: number | null;
  readonly status: CredentialStatus;
  readonly status_reason: string;
  readonly failed_logins: number;
  readonly lockouts: number;
  readonly locked_until: number | null;
  readonly in_flight: number;
  readonly in_flight_since: number | null;
  readonly created_at: number;
  readonly kind: CredentialKind;
  readonly fido_credential_id: string | null;
  readonly aaguid: string | null;
  readonly rp_id: string | null;
  readonly transports: string;
  readonly sign_count: number;
  readonly flagged_at: number | null;
  readonly flag_reason: string | null;
}

/** A card (PKCS#11: signs the canonical challenge message) or a FIDO security key (WebAuthn). */
export type CredentialKind = 'card' | 'fido';

export interface CredentialView {
  readonly id: string;
  readonly username: string;
  readonly label: string;
  readonly serial: string | undefined;
  /** SHA-256 of the DER certificate (of the SPKI for a bare key), lower-case hex. */
  readonly fingerprint: string;
  readonly keyType: string;
  readonly algorithms: string[];
  readonly notAfter: Date | undefined;
  readonly status: CredentialStatus;
  readonly statusReason: string;
  readonly locked: boolean;
  readonly createdAt: Date;
  readonly kind: CredentialKind;
  /** Security keys: the WebAuthn credential id, base64url (what the blocklist carries). */
  readonly fidoCredentialId?: string;
  readonly aaguid?: string;
  readonly rpId?: string;
  readonly transports?: string[];
  /** The highest signature counter the key has shown. */
  readonly signCount?: number;
  /** Why the helpdesk should look at it (`counter_not_increased`: a possible cloned key); refused until unlocked. */
  readonly flagReason?: string;
  readonly flaggedAt?: Date;
}

/**
 * What enrollment answers: the credential, and the user's own challenge policy at that moment, so
 * the enrolling side can say what a kiosk will need (`password+token`: a kiosk that sends no
 * password is refused until an admin sets `token-only` for the user or for the kiosk's network —
 * a client range's policy overrides this one for addresses inside it).
 */
export interface EnrolledCredential extends CredentialView {
  readonly challengePolicy: ChallengePolicy;
}

export interface EnrollInput {
  readonly username: string;
  /** PEM, or DER bytes: checked against the certificate policy. */
  readonly certificate?: string | Uint8Array;
  /** A bare public key (DER SubjectPublicKeyInfo) instead of a certificate. */
  readonly publicKey?: Uint8Array;
  /** The token's serial number, so a lost token is blocked by serial too. */
  readonly serial?: string;
  readonly label?: string;
}

export interface Blocklist {
  readonly version: number;
  readonly serials: string[];
  readonly certificateFingerprints: string[];
  /** WebAuthn credential ids (base64url) of blocked and revoked security keys. */
  readonly fidoCredentialIds: string[];
}

/** What a security key needs to make a credential for this verifier (WebAuthn's creation options). */
export interface FidoRegistrationOptions {
  readonly challengeId: string;
  /** base64url: the bytes go into clientDataJSON. */
  readonly challenge: string;
  readonly rp: { readonly id: string; readonly name: string };
  /** `id`: the user handle, base64url (the user's opaque id, no personal data). */
  readonly user: { readonly id: string; readonly name: string; readonly displayName: string };
  /** The origin a client without a browser should write into clientDataJSON. */
  readonly origin: string;
  /** COSE algorithm ids, in order of preference. */
  readonly algorithms: number[];
  /** The user's enrolled keys: a key holding one of them refuses to enroll twice. */
  readonly excludeCredentialIds: string[];
  readonly userVerification: 'required' | 'preferred';
  readonly expiresAt: Date;
}

export interface FidoRegistrationInput {
  readonly username: string;
  readonly challengeId: string;
  /** makeCredential's attestation object (CBOR {fmt, attStmt, authData}). */
  readonly attestationObject: Uint8Array;
  /** The exact clientDataJSON the key's hash was made of (text or bytes). */
  readonly clientDataJSON: string | Uint8Array;
  readonly label?: string;
  readonly transports?: readonly string[];
}

interface NewCredentialKey {
  spki: Buffer;
  fingerprint: string;
  keyType: string;
  algorithms: readonly string[];
  notAfter: number | null;
  certificate: Buffer | null;
  serial: string | null;
  label: string;
  fido?: { credentialId: string; cose: Uint8Array; aaguid: string; rpId: string; transports: readonly string[]; signCount: number };
}

export type LifecycleAction = 'disable' | 'enable' | 'block' | 'revoke';

const TRANSITIONS: Record<LifecycleAction, { from: readonly CredentialStatus[]; to: CredentialStatus }> = {
  disable: { from: ['active'], to: 'disabled' },
  enable: { from: ['disabled', 'blocked'], to: 'active' },
  block: { from: ['active', 'disabled'], to: 'blocked' },
  revoke: { from: ['active', 'disabled', 'blocked'], to: 'revoked' },
};

export async function bumpBlocklist(tx: SqlExecutor): Promise<void> {
  await tx.run('UPDATE blocklist_version SET version = version + 1 WHERE id = 1');
}

/** Outstanding challenges of the credential die with its status change. */
export async function killChallenges(tx: SqlExecutor, credentialId: string, now: number): Promise<void> {
  await tx.run('UPDATE challenges SET consumed_at = ? WHERE credential_id = ? AND consumed_at IS NULL', [now, credentialId]);
  await tx.run('UPDATE fido_challenges SET consumed_at = ? WHERE credential_id = ? AND consumed_at IS NULL', [now, credentialId]);
}

/** The user handle a security key stores: the user's random id, never their name. */
function userHandle(user: Pick<UserRow, 'id'>): string {
  return Buffer.from(user.id, 'utf8').toString('base64url');
}

export class CredentialRegistry {
  constructor(private readonly ctx: VerifierContext) {}

  #view(row: CredentialRow, username: string): CredentialView {
    return {
      id: row.id,
      username,
      label: row.label,
      serial: row.serial ?? undefined,
      fingerprint: row.fingerprint,
      keyType: row.key_type,
      algorithms: row.algorithms.split(' '),
      notAfter: row.not_after === null ? undefined : new Date(row.not_after),
      status: row.status,
      statusReason: row.status_reason,
      locked: isLocked(row, this.ctx.now()),
      createdAt: new Date(row.created_at),
      kind: row.kind,
      ...(row.kind === 'fido'
        ? { fidoCredentialId: row.fido_credential_id!, aaguid: row.aaguid!, rpId: row.rp_id!, transports: row.transports ? row.transports.split(' ') : [], signCount: Number(row.sign_count) }
        : {}),
      ...(row.flagged_at === null ? {} : { flagReason: row.flag_reason ?? 'flagged', flaggedAt: new Date(row.flagged_at) }),
    };
  }

  /**
   * Stores a credential for `username` with its audit entry, after the one-token-one-user check:
   * the same key (under any certificate, card or security key), serial or WebAuthn id is enrolled once.
   */
  async #insert(actor: string, username: string, key: NewCredentialKey): Promise<EnrolledCredential> {
    const { ctx } = this;
    const now = ctx.now();
    return ctx.db.transaction(async (tx) => {
      const user = await findUser(tx, username, ctx.db.forUpdate);
      if (!user) throw new UserNotFoundError('no such user');
      const keyFingerprint = createHash('sha256').update(key.spki).digest('hex');
      const clash = await tx.get<{ id: string }>(
        'SELECT id FROM token_credentials WHERE fingerprint = ? OR key_fingerprint = ? OR (serial IS NOT NULL AND serial = ?) OR (fido_credential_id IS NOT NULL AND fido_credential_id = ?)',
        [key.fingerprint, keyFingerprint, key.serial, key.fido?.credentialId ?? null],
      );
      if (clash) throw new CredentialExistsError('this token is enrolled already');
      const id = randomUUID();
      const fido = key.fido;
      await tx.run(
        `INSERT INTO token_credentials (id, user_id, label, serial, fingerprint, key_fingerprint, spki, certificate, key_type, algorithms, not_after, status, status_reason, status_changed_at, created_at,
                                        kind, fido_credential_id, cose_public_key, aaguid, rp_id, transports, sign_count)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', 'enrolled', ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [id, user.id, key.label, key.serial, key.fingerprint, keyFingerprint, key.spki, key.certificate, key.keyType, key.algorithms.join(' '), key.notAfter, now, now,
          fido ? 'fido' : 'card', fido?.credentialId ?? null, fido?.cose ?? null, fido?.aaguid ?? null, fido?.rpId ?? null, fido?.transports.join(' ') ?? '', fido?.signCount ?? 0],
      );
      await appendAudit(tx, { actor, action: 'credential.enroll', subject: user.username, result: 'success', reason: 'ok', detail: { credential: id, fingerprint: key.fingerprint, ...(fido ? { kind: 'fido', aaguid: fido.aaguid } : {}) } }, now);
      const row = (await tx.get<CredentialRow>('SELECT * FROM token_credentials WHERE id = ?', [id]))!;
      return { ...this.#view(row, user.username), challengePolicy: userChallengePolicy(user) };
    });
  }

  async enroll(actor: string, input: EnrollInput): Promise<EnrolledCredential> {
    const { ctx } = this;
    const now = ctx.now();
    let key: { spki: Buffer; fingerprint: string; keyType: string; algorithms: readonly string[]; notAfter: number | null; certificate: Buffer | null; subject?: string };
    if (input.certificate !== undefined) {
      const check = await checkCertificate(input.certificate, ctx.certificatePolicy, new Date(now));
      if (!check.ok) {
        await appendAudit(ctx.db, { actor, action: 'credential.enroll', subject: input.username, result: 'refused', reason: check.reason }, now);
        throw new CredentialRefusedError(check.reason, check.detail);
      }
      const a = check.accepted;
      key = { spki: a.spki, fingerprint: a.fingerprint, keyType: a.keyType, algorithms: a.algorithms, notAfter: a.notAfter.getTime(), certificate: Buffer.from(a.certificate.rawData), subject: a.subject };
    } else if (input.publicKey !== undefined) {
      const info = classifyKey(input.publicKey);
      if ('refusal' in info) {
        await appendAudit(ctx.db, { actor, action: 'credential.enroll', subject: input.username, result: 'refused', reason: info.refusal }, now);
        throw new CredentialRefusedError(info.refusal, 'the public key type or size is not accepted');
      }
      const spki = Buffer.from(input.publicKey);
      key = { spki, fingerprint: createHash('sha256').update(spki).digest('hex'), keyType: info.keyType, algorithms: info.algorithms, notAfter: null, certificate: null };
    } else {
      throw new InvalidInputError('a certificate or a public key is required');
    }
    if (input.serial !== undefined && !/^[\x21-\x7e]{1,64}$/.test(input.serial)) throw new InvalidInputError('serial: 1 to 64 printable characters');
    const label = (input.label ?? key.subject ?? 'token').slice(0, 100);
    return this.#insert(actor, input.username, { ...key, serial: input.serial ?? null, label });
  }

  /**
   * Starts enrolling a security key for `username`: a registration challenge (256 bits, single
   * use, valid as long as login challenges) bound to the user, and what the key needs to make a
   * credential for this verifier.
   */
  async fidoRegistrationOptions(username: string): Promise<FidoRegistrationOptions> {
    const { ctx } = this;
    const now = ctx.now();
    const user = await findUser(ctx.db, username);
    if (!user) throw new UserNotFoundError('no such user');
    const enrolled = await ctx.db.all<{ fido_credential_id: string }>("SELECT fido_credential_id FROM token_credentials WHERE user_id = ? AND kind = 'fido' ORDER BY created_at", [user.id]);
    const challenge = { id: randomUUID(), challenge: randomBytes(32).toString('base64url'), expiresAt: now + ctx.challengeTtlMs };
    await insertFidoChallenge(ctx.db, { ...challenge, ceremony: 'create', userId: user.id, credentialId: null, purpose: 'enroll', createdAt: now });
    return {
      challengeId: challenge.id,
      challenge: challenge.challenge,
      rp: { id: ctx.fido.rpId, name: ctx.fido.rpName },
      user: { id: userHandle(user), name: user.username, displayName: user.username },
      origin: ctx.fido.origins[0]!,
      algorithms: [...FIDO_ALGORITHMS],
      excludeCredentialIds: enrolled.map((r) => r.fido_credential_id),
      userVerification: ctx.fido.requireUserVerification ? 'required' : 'preferred',
      expiresAt: new Date(challenge.expiresAt),
    };
  }

  /**
   * Finishes enrolling a security key: the registration challenge is consumed (once, even when
   * answers race), then the attestation is checked (credentials/webauthn.ts) and the credential
   * stored. Each refusal is audited with its reason and thrown as CredentialRefusedError.
   */
  async registerFido(actor: string, input: FidoRegistrationInput): Promise<EnrolledCredential> {
    const { ctx } = this;
    const now = ctx.now();
    const refuse = async (reason: string, detail: string): Promise<never> => {
      await appendAudit(ctx.db, { actor, action: 'credential.enroll', subject: input.username, result: 'refused', reason, detail: { kind: 'fido' } }, now);
      throw new CredentialRefusedError(reason, detail);
    };
    const transports = input.transports ?? [];
    if (!transports.every((t): t is FidoTransport => (FIDO_TRANSPORTS as readonly string[]).includes(t))) throw new InvalidInputError(`transports: any of ${FIDO_TRANSPORTS.join(', ')}`);
    const user = await findUser(ctx.db, input.username);
    const challenge = await consumeFidoChallenge(ctx.db, input.challengeId, 'create', now);
    if (!challenge) return refuse(await whyFidoNotConsumed(ctx.db, input.challengeId), 'the registration challenge is unknown or used');
    if (challenge.expires_at <= now) return refuse('challenge_expired', 'the registration challenge expired: ask for a new one');
    if (!user || challenge.user_id !== user.id) return refuse('wrong_user', 'the registration challenge was issued for another user');
    const check = await checkRegistration(ctx.fido, {
      attestationObject: input.attestationObject,
      clientDataJSON: input.clientDataJSON,
      challenge: challenge.challenge,
      requireUserVerification: ctx.fido.requireUserVerification,
      transports,
    });
    if (!check.ok) return refuse(check.reason, 'the security key\'s attestation did not pass the checks');
    const made = check.credential;
    return this.#insert(actor, input.username, {
      spki: made.spki,
      fingerprint: createHash('sha256').update(made.spki).digest('hex'),
      keyType: made.keyInfo.keyType,
      algorithms: made.keyInfo.algorithms,
      notAfter: null,
      certificate: null,
      serial: null,
      label: (input.label ?? 'security key').slice(0, 100),
      fido: { credentialId: made.credentialId, cose: made.cosePublicKey, aaguid: made.aaguid, rpId: ctx.fido.rpId, transports, signCount: made.signCount },
    });
  }

  async list(username: string): Promise<CredentialView[]> {
    const user = await findUser(this.ctx.db, username);
    if (!user) throw new UserNotFoundError('no such user');
    const rows = await this.ctx.db.all<CredentialRow>('SELECT * FROM token_credentials WHERE user_id = ? ORDER BY created_at', [user.id]);
    return rows.map((r) => this.#view(r, user.username));
  }

  async get(id: string): Promise<CredentialView> {
    const row = await this.ctx.db.get<CredentialRow & { username: string }>(
      'SELECT c.*, u.username FROM token_credentials c JOIN users u ON u.id = c.user_id WHERE c.id = ?',
      [id],
    );
    if (!row) throw new CredentialNotFoundError('no such credential');
    return this.#view(row, row.username);
  }

  /** disable (reversible), enable, block (lost: immediate), revoke (permanent). */
  async apply(actor: string, id: string, action: LifecycleAction, reason: string = action): Promise<void> {
    const { ctx } = this;
    const now = ctx.now();
    await ctx.db.transaction(async (tx) => {
      const row = await tx.get<CredentialRow & { username: string }>(
        `SELECT c.*, u.username FROM token_credentials c JOIN users u ON u.id = c.user_id WHERE c.id = ?${ctx.db.forUpdate === '' ? '' : ' FOR UPDATE OF c'}`,
        [id],
      );
      if (!row) throw new CredentialNotFoundError('no such credential');
      const transition = TRANSITIONS[action];
      if (!transition.from.includes(row.status)) throw new CredentialStateError(`a ${row.status} credential cannot be ${action}d`);
      await tx.run('UPDATE token_credentials SET status = ?, status_reason = ?, status_changed_at = ? WHERE id = ?', [transition.to, reason.slice(0, 200), now, id]);
      if (transition.to !== 'active') await killChallenges(tx, id, now);
      const listed = (s: CredentialStatus) => s === 'blocked' || s === 'revoked';
      if (listed(row.status) !== listed(transition.to)) await bumpBlocklist(tx);
      await appendAudit(tx, { actor, action: `credential.${action}`, subject: row.username, result: 'success', reason: reason.slice(0, 100), detail: { credential: id } }, now);
    });
  }

  /** Clears the credential's failure count and lock. */
  async unlock(actor: string, id: string): Promise<void> {
    const view = await this.get(id);
    await this.ctx.db.transaction(async (tx) => {
      await clearCounter(tx, 'token_credentials', id);
      // The helpdesk has looked at a flagged key (a possible clone) and lets it in again.
      await tx.run('UPDATE token_credentials SET flagged_at = NULL, flag_reason = NULL WHERE id = ?', [id]);
      await appendAudit(tx, { actor, action: 'credential.unlock', subject: view.username, result: 'success', reason: 'ok', detail: { credential: id, ...(view.flagReason ? { cleared: view.flagReason } : {}) } }, this.ctx.now());
    });
  }

  /** Deletes the credential; the audit log keeps its history. */
  async delete(actor: string, id: string): Promise<void> {
    const { ctx } = this;
    await ctx.db.transaction(async (tx) => {
      const row = await tx.get<CredentialRow & { username: string }>('SELECT c.*, u.username FROM token_credentials c JOIN users u ON u.id = c.user_id WHERE c.id = ?', [id]);
      if (!row) throw new CredentialNotFoundError('no such credential');
      await tx.run('DELETE FROM token_credentials WHERE id = ?', [id]);
      if (row.status === 'blocked' || row.status === 'revoked') await bumpBlocklist(tx);
      await appendAudit(tx, { actor, action: 'credential.delete', subject: row.username, result: 'success', reason: 'ok', detail: { credential: id, fingerprint: row.fingerprint } }, ctx.now());
    });
  }

  /** Serials, fingerprints and security-key ids of blocked and revoked tokens, with a version for cheap polling. */
  async blocklist(): Promise<Blocklist> {
    return this.ctx.db.transaction(async (tx) => {
      const version = (await tx.get<{ version: number }>('SELECT version FROM blocklist_version WHERE id = 1'))?.version ?? 0;
      const rows = await tx.all<{ kind: CredentialKind; serial: string | null; fingerprint: string; fido_credential_id: string | null }>(
        "SELECT kind, serial, fingerprint, fido_credential_id FROM token_credentials WHERE status IN ('blocked', 'revoked') ORDER BY fingerprint",
      );
      const cards = rows.filter((r) => r.kind === 'card');
      return {
        version: Number(version),
        serials: cards.flatMap((r) => (r.serial ? [r.serial] : [])).sort(),
        certificateFingerprints: cards.map((r) => r.fingerprint),
        fidoCredentialIds: rows.flatMap((r) => (r.fido_credential_id ? [r.fido_credential_id] : [])).sort(),
      };
    });
  }
}
