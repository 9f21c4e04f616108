// `tokengate keygen`: a key pair on the token (after the PIN), with a self-signed certificate
// (--subject) or a PKCS#10 request signed on the token (--csr FILE) for a CA to answer.
import { writeFileSync } from 'node:fs';
import { Option } from 'commander';
import { createCertificateRequest, createSelfSignedCertificate, type KeyPairType } from '../../index.js';
import { defineCommand, exitsWith } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { withLogin } from '../final-try.js';
import { withToken } from '../select.js';
import { printResult } from '../table.js';
import { pinOptions, tokenOptions, type PinOptions, type TokenOptions } from './options.js';

const KEY_TYPES: readonly KeyPairType[] = ['ec-p256', 'ec-p384', 'rsa-2048', 'rsa-3072', 'ed25519'];

export function keyTypeOption(): Option {
  return new Option('--type <TYPE>', 'the key pair').choices(KEY_TYPES).default('ec-p256');
}

interface KeygenOptions extends TokenOptions, PinOptions {
  label: string;
  type: KeyPairType;
  subject?: string | undefined;
  csr?: string | undefined;
}

export function keygenCommand() {
  const command = defineCommand(
    'keygen',
    'A key pair on the token, with a self-signed certificate or a certificate request',
    'A key pair on the token (after the PIN), with a self-signed certificate (--subject) or a PKCS#10 request signed on the token (--csr FILE).',
  )
    .requiredOption('--label <L>', "the key's label")
    .addOption(keyTypeOption())
    .option('--subject <DN>', 'e.g. CN=Dana: a self-signed certificate next to the key (or the request\'s subject)')
    .option('--csr <FILE>', 'write a certificate request signed on the token instead (then: import-cert)');
  return pinOptions(tokenOptions(command)).action(
    exitsWith((options: KeygenOptions) =>
      withToken(options, (token) =>
        withLogin(token, { write: true }, options, async (session) => {
          const { privateKey } = await session.generateKeyPair({ type: options.type, label: options.label });
          if (options.csr) {
            const request = await createCertificateRequest(session, privateKey, { subject: options.subject ?? `CN=${options.label}` });
            writeFileSync(options.csr, request.toString('pem'));
          } else if (options.subject) {
            const certificate = await createSelfSignedCertificate(session, privateKey, { subject: options.subject });
            await session.importCertificate(certificate, { label: options.label, id: privateKey.id });
          }
          const id = Buffer.from(privateKey.id).toString('hex');
          const made = options.csr ? `, certificate request in ${options.csr}` : options.subject ? ' with a self-signed certificate' : '';
          const data = { label: options.label, id, keyType: privateKey.keyType, certificate: !options.csr && options.subject !== undefined, csr: options.csr };
          printResult(options.json, data, `generated ${options.type} key "${options.label}" (id ${id})${made}`);
          return EXIT.ok;
        }),
      ),
    ),
  );
}
