// `tokengate import-cert`: a certificate (PEM or DER) stored next to its key, after the PIN.
import { defineCommand, exitsWith } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { readCertificateFile } from '../files.js';
import { withLogin } from '../final-try.js';
import { selectSigningKey } from '../../index.js';
import { withToken } from '../select.js';
import { printResult } from '../table.js';
import { keyOption, pinOptions, tokenOptions, type KeyOptions, type PinOptions, type TokenOptions } from './options.js';

interface ImportOptions extends TokenOptions, KeyOptions, PinOptions {
  in: string;
  label?: string | undefined;
}

export function importCertCommand() {
  const command = defineCommand('import-cert', 'Stores a certificate (PEM or DER) next to its key (after the PIN)')
    .requiredOption('--in <FILE>', 'the certificate, PEM or DER')
    .option('--label <L>', "the certificate's label (default: the key's)");
  return keyOption(pinOptions(tokenOptions(command))).action(
    exitsWith((options: ImportOptions) =>
      withToken(options, (token) =>
        withLogin(token, { write: true }, options, async (session) => {
          const certificate = readCertificateFile('--in', options.in);
          const key = await selectSigningKey(session, options.key);
          await session.importCertificate(certificate, { label: options.label ?? key.label, id: key.id });
          printResult(options.json, { subject: certificate.subject, key: key.label }, `imported "${certificate.subject}" next to key "${key.label}"`);
          return EXIT.ok;
        }),
      ),
    ),
  );
}
