// Which key signs when a caller names one loosely: a label, or an id in hex, or nothing — then
// the first key with a certificate beside it (the one a verifier can know), else the first key.
import { KeyNotFoundError } from './errors.js';
import type { TokenKey } from './objects.js';
import type { Session } from './session.js';

export async function selectSigningKey(session: Session, selector?: string): Promise<TokenKey> {
  if (selector !== undefined) {
    const byId = /^[0-9a-f]+$/i.test(selector) && selector.length % 2 === 0 ? (await session.listKeys()).find((k) => Buffer.from(k.id).toString('hex') === selector.toLowerCase()) : undefined;
    if (byId) return byId;
    try {
      return await session.findPrivateKey({ label: selector });
    } catch (err) {
      if (!(err instanceof KeyNotFoundError)) throw err;
      throw new KeyNotFoundError(`no key labelled or numbered "${selector}" on the token (tokengate keys lists them)`, { cause: err });
    }
  }
  const certificates = await session.listCertificates();
  const keys = await session.listKeys();
  const withCertificate = keys.find((key) => certificates.some((c) => Buffer.from(c.id).equals(Buffer.from(key.id))));
  const chosen = withCertificate ?? keys[0];
  if (!chosen) throw new KeyNotFoundError('the token has no private key (see tokengate keygen)');
  return chosen;
}
