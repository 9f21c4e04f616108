// `tokengate keys`: what is on a token — public objects only, so no PIN. Keys and certificates pair
// up by CKA_ID.
import type { Session, TokenKey } from '../../index.js';
import { defineCommand, exitsWith } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { withToken } from '../select.js';
import { printListing } from '../table.js';
import { tokenOptions, type TokenOptions } from './options.js';

interface KeyEntry {
  label: string;
  id: string;
  keyType: string | undefined;
  certificate: boolean;
  subject: string | undefined;
  notAfter: string | undefined;
}

function describeKey(key: TokenKey | undefined): string | undefined {
  if (!key) return undefined;
  return key.curve ? `${key.keyType} ${key.curve}` : key.modulusBits ? `${key.keyType} ${key.modulusBits}` : key.keyType;
}

/** One entry per CKA_ID: its public key and certificate, whichever are there. */
async function entriesOf(session: Session): Promise<KeyEntry[]> {
  const keys = await session.listKeys('publicKey');
  const certificates = await session.listCertificates();
  const ids = [...new Set([...keys.map((k) => k.id.toString('hex')), ...certificates.map((c) => c.id.toString('hex'))])];
  return ids.map((id) => {
    const key = keys.find((k) => k.id.toString('hex') === id);
    const cert = certificates.find((c) => c.id.toString('hex') === id);
    return {
      label: key?.label ?? cert?.label ?? '',
      id,
      keyType: describeKey(key) ?? (cert ? 'from certificate' : undefined),
      certificate: cert !== undefined,
      subject: cert?.certificate.subject,
      notAfter: cert?.certificate.notAfter.toISOString(),
    };
  });
}

export function keysCommand() {
  const command = defineCommand(
    'keys',
    "The token's keys and certificates, paired by their CKA_ID (no PIN)",
    "The token's keys and certificates, paired by their CKA_ID: label, id (hex), key type, whether a certificate is there, and its subject. No PIN is needed: only public objects are listed.",
  );
  return tokenOptions(command).action(
    exitsWith((options: TokenOptions) =>
      withToken(options, async (token) => {
        await using session = await token.openSession();
        const entries = await entriesOf(session);
        printListing(options.json, entries, entries.map((e) => ({ label: e.label, id: e.id, type: e.keyType, certificate: e.certificate ? 'yes' : 'no', subject: e.subject })));
        return EXIT.ok;
      }),
    ),
  );
}
