// `tokengate export`: a key's certificate or public key (SPKI) out of the token — public objects
// only, so no PIN. A key and its certificate pair up by CKA_ID.
import { createPublicKey } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { Option } from 'commander';
import { KeyNotFoundError, type Session, type TokenCertificate } from '../../index.js';
import { defineCommand, exitsWith, withSynopsis } from '../command.js';
import { EXIT, UsageError } from '../exit-codes.js';
import { withToken } from '../select.js';
import { tokenOptions, type TokenOptions } from './options.js';

interface ExportOptions extends TokenOptions {
  key: string;
  cert?: boolean | undefined;
  publicKey?: boolean | undefined;
  format: 'pem' | 'der';
  out?: string | undefined;
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

export function exportCommand() {
  const command = defineCommand(
    'export',
    "Writes a key's certificate or public key, PEM by default (no PIN)",
    "Writes the key's certificate or public key (SPKI), PEM by default, to FILE or standard output. No PIN is needed. The public key verifies a `tokengate sign` signature:\n  openssl dgst -sha256 -verify pub.pem -signature msg.sig msg   (with sign --format der)",
  )
    .requiredOption('--key <LABEL|ID>', 'which key, ID in hex (tokengate keys lists them)')
    .option('--cert', "the key's certificate")
    .option('--public-key', 'its public key (SPKI)')
    .addOption(new Option('--format <FORMAT>', 'PEM or DER').choices(['pem', 'der']).default('pem'))
    .option('--out <FILE>', 'where it goes (default: standard output, PEM only)');
  withSynopsis(command, '--key LABEL|ID --cert|--public-key [options]');
  return tokenOptions(command).action(
    exitsWith(async (options: ExportOptions) => {
      if (options.cert === options.publicKey) throw new UsageError('export needs exactly one of --cert or --public-key');
      // Refused before the token is opened: binary on a terminal helps nobody.
      if (options.format === 'der' && !options.out) throw new UsageError('DER is binary: give --out FILE');
      const data = await withToken(options, async (token) => {
        await using session = await token.openSession();
        // Awaited here: `using` must not close the session before the export is read.
        return await exported(session, options.key, options.cert ? 'cert' : 'public-key', options.format);
      });
      if (options.out) {
        writeFileSync(options.out, data);
        console.error(`wrote the ${options.cert ? 'certificate' : 'public key'} of "${options.key}" (${options.format}) to ${options.out}`);
      } else {
        process.stdout.write(data);
      }
      return EXIT.ok;
    }),
  );
}
