// Lost or stolen tokens, blocked at once: by token serial, by the SHA-256 fingerprint of a
// certificate on the token, and by a security key's WebAuthn credential id. Loaded from a JSON
// file, refreshed through a fetcher the caller supplies (the verifier's blocklist endpoint), and
// kept as it was when a refresh fails.
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { InvalidArgumentError, TokengateError } from '../pkcs11/errors.js';
import { X509Certificate } from '../algorithms/x509.js';
import { TokenBlockedError } from './errors.js';
import type { TokenAdmission, TokenIdentity } from '../pkcs11/admission.js';

export interface BlocklistEntries {
  serials: string[];
  /** SHA-256 of the certificate's DER, hex (any case, colons allowed). */
  certificateFingerprints: string[];
  /** WebAuthn credential ids of lost security keys, base64url (absent in older lists). */
  fidoCredentialIds?: string[];
}

export type BlocklistFetcher = () => Promise<BlocklistEntries>;

export type { TokenIdentity } from '../pkcs11/admission.js';

function normalizeFingerprint(value: string): string {
  return value.replaceAll(':', '').toLowerCase();
}

function parseEntries(value: unknown): BlocklistEntries {
  const v = value as Partial<BlocklistEntries> | null;
  const strings = (x: unknown): x is string[] => Array.isArray(x) && x.every((s) => typeof s === 'string');
  if (!v || !strings(v.serials ?? []) || !strings(v.certificateFingerprints ?? []) || !strings(v.fidoCredentialIds ?? [])) {
    throw new InvalidArgumentError('a blocklist is { serials: string[], certificateFingerprints: string[], fidoCredentialIds?: string[] }');
  }
  return { serials: v.serials ?? [], certificateFingerprints: v.certificateFingerprints ?? [], fidoCredentialIds: v.fidoCredentialIds ?? [] };
}

/** A credential id as base64url without padding, from base64url or base64 (either padding). */
function normalizeCredentialId(value: string | Uint8Array): string {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64url');
  return value.replace(/=+$/, '').replaceAll('+', '-').replaceAll('/', '_');
}

export function certificateFingerprint(certificate: X509Certificate | Uint8Array): string {
  const der = certificate instanceof X509Certificate ? Buffer.from(certificate.rawData) : Buffer.from(certificate);
  return createHash('sha256').update(der).digest('hex');
}

export class Blocklist implements TokenAdmission {
  #serials = new Set<string>();
  #fingerprints = new Set<string>();
  #fidoCredentialIds = new Set<string>();

  constructor(entries: BlocklistEntries = { serials: [], certificateFingerprints: [] }) {
    this.#replace(parseEntries(entries));
  }

  static async fromFile(path: string): Promise<Blocklist> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      throw new InvalidArgumentError(`cannot read blocklist ${path}`, { cause: err });
    }
    try {
      return new Blocklist(parseEntries(JSON.parse(text)));
    } catch (err) {
      if (err instanceof TokengateError) throw err;
      throw new InvalidArgumentError(`blocklist ${path} is not JSON`, { cause: err });
    }
  }

  #replace(entries: BlocklistEntries): void {
    this.#serials = new Set(entries.serials);
    this.#fingerprints = new Set(entries.certificateFingerprints.map(normalizeFingerprint));
    this.#fidoCredentialIds = new Set((entries.fidoCredentialIds ?? []).map(normalizeCredentialId));
  }

  entries(): BlocklistEntries {
    // A list without security keys keeps the shape older readers know.
    const fido = this.#fidoCredentialIds.size > 0 ? { fidoCredentialIds: [...this.#fidoCredentialIds] } : {};
    return { serials: [...this.#serials], certificateFingerprints: [...this.#fingerprints], ...fido };
  }

  /**
   * Replaces the list with what `fetch` returns; on any failure the current list stays (a
   * verifier that is down must not unblock anything). With `cachePath`, the new list is saved
   * there atomically for the next start. Returns whether the list was replaced.
   */
  async refresh(fetch: BlocklistFetcher, cachePath?: string): Promise<boolean> {
    let entries: BlocklistEntries;
    try {
      entries = parseEntries(await fetch());
    } catch {
      return false;
    }
    this.#replace(entries);
    if (cachePath) {
      await mkdir(dirname(cachePath), { recursive: true, mode: 0o700 });
      await writeFile(`${cachePath}.tmp`, JSON.stringify(this.entries(), null, 2));
      await rename(`${cachePath}.tmp`, cachePath);
    }
    return true;
  }

  isBlocked(identity: TokenIdentity): boolean {
    if (identity.serial !== undefined && this.#serials.has(identity.serial)) return true;
    if ((identity.certificateFingerprints ?? []).some((f) => this.#fingerprints.has(normalizeFingerprint(f)))) return true;
    if ((identity.fidoCredentialIds ?? []).some((id) => this.#fidoCredentialIds.has(normalizeCredentialId(id)))) return true;
    return (identity.certificates ?? []).some((c) => this.#fingerprints.has(certificateFingerprint(c)));
  }

  /** Throws TokenBlockedError for a blocked token or certificate. */
  assertAllowed(identity: TokenIdentity): void {
    if (this.isBlocked(identity)) throw new TokenBlockedError('this token is blocked (reported lost or revoked); see the helpdesk');
  }
}
