// `tokengate keys` and `tokengate export`: what is on a token, and its certificates and public
// keys out of it — public objects only, so no PIN. Keys and certificates pair up by CKA_ID.
import { writeFileSync } from 'node:fs';
import { createPublicKey } from 'node:crypto';
import { KeyNotFoundError, type Session, type TokenCertificate, type TokenKey } from '../index.js';
import { EXIT, UsageError } from './exit-codes.js';
import { openModule, selectToken } from './select.js';
import { printTable } from './table.js';
import { parseArgsOrExplain } from './usage.js';

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

function matches(selector: string, label: string, id: Buffer): boolean {
  return label === selector || id.toString('hex') === selector.toLowerCase();
}

async function exported(session: Session, selector: string, what: 'cert' | 'public-key', format: 'pem' | 'der'): Promise<Buffer | string> {
  const certificates = await session.listCertificates();
  const keys = await session.listKeys('publicKey');
  // A key and its certificate share a CKA_ID, not always a label (a card names them apart): the
  // selector picks an id through either.
  const id = [...keys, ...certificates].find((o) => matches(selector, o.label, o.id))?.id;
  const cert: TokenCertificate | undefined = id && certificates.find((c) => c.id.equals(id));
  if (what === 'cert') {
    if (!cert) throw new KeyNotFoundError(`no certificate for "${selector}" on the token (tokengate keys lists them)`);
    return format === 'pem' ? cert.certificate.toString('pem') + '\n' : Buffer.from(cert.certificate.rawData);
  }
  const key = id && keys.find((k) => k.id.equals(id));
  // A card may hold only the certificate: its public key is the certificate's.
  const spki = key ? (await session.publicKey(key)).spki() : cert?.publicKey.spki();
  if (!spki) throw new KeyNotFoundError(`no public key or certificate for "${selector}" on the token (tokengate keys lists them)`);
  return format === 'pem' ? (createPublicKey({ key: spki, format: 'der', type: 'spki' }).export({ format: 'pem', type: 'spki' }) as string) : spki;
}

export async function runKeyCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgsOrExplain({
    args: argv,
    allowPositionals: true,
    options: {
      module: { type: 'string' },
      token: { type: 'string' },
      key: { type: 'string' },
      cert: { type: 'boolean' },
      'public-key': { type: 'boolean' },
      format: { type: 'string' },
      out: { type: 'string' },
      json: { type: 'boolean' },
      debug: { type: 'boolean' },
    },
  });
  const command = positionals[0];
  await using module = await openModule(values.module);
  const token = selectToken(module, values.token);
  await using session = await token.openSession();
  if (command === 'keys') {
    const entries = await entriesOf(session);
    if (values.json) console.log(JSON.stringify(entries, null, 2));
    else printTable(entries.map((e) => ({ label: e.label, id: e.id, type: e.keyType, certificate: e.certificate ? 'yes' : 'no', subject: e.subject })));
    return EXIT.ok;
  }
  if (!values.key) throw new UsageError('export needs --key LABEL|ID (see tokengate keys)');
  if (values.cert === values['public-key']) throw new UsageError('export needs exactly one of --cert or --public-key');
  const format = values.format ?? 'pem';
  if (format !== 'pem' && format !== 'der') throw new UsageError('--format: pem or der');
  const data = await exported(session, values.key, values.cert ? 'cert' : 'public-key', format);
  if (values.out) {
    writeFileSync(values.out, data);
    console.error(`wrote the ${values.cert ? 'certificate' : 'public key'} of "${values.key}" (${format}) to ${values.out}`);
  } else if (format === 'der') {
    throw new UsageError('DER is binary: give --out FILE');
  } else {
    process.stdout.write(data);
  }
  return EXIT.ok;
}
