// `tokengate sign`: a file signed on the token after the PIN (as for login).
import { writeFileSync } from 'node:fs';
import { Option } from 'commander';
import { defaultAlgorithm, SIGNATURE_ALGORITHMS, type SignatureAlgorithm, type SignatureFormat, selectSigningKey } from '../../index.js';
import { defineCommand, exitsWith } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { readInput } from '../files.js';
import { withLogin } from '../final-try.js';
import { withToken } from '../select.js';
import { printResult } from '../table.js';
import { blocklistOption, keyOption, pinOptions, tokenOptions, type BlocklistOptions, type KeyOptions, type PinOptions, type TokenOptions } from './options.js';

/** --mechanism and --format, as sign and verify take them. */
export interface SignatureOptions {
  mechanism?: SignatureAlgorithm | undefined;
  format?: SignatureFormat | undefined;
}

export function mechanismOption(): Option {
  return new Option('--mechanism <ALG>', 'the signature algorithm (default: from the key)').choices(SIGNATURE_ALGORITHMS);
}

interface SignOptions extends TokenOptions, KeyOptions, PinOptions, BlocklistOptions, SignatureOptions {
  in: string;
  out: string;
}

export function signCommand() {
  const command = defineCommand(
    'sign',
    'Signs FILE on the token after the PIN',
    'Signs FILE on the token after the PIN (as for login). ECDSA signatures are raw r||s unless --format der (what openssl dgst -verify expects).',
  )
    .requiredOption('--in <FILE>', 'what to sign')
    .requiredOption('--out <FILE>', 'where the signature goes');
  keyOption(pinOptions(tokenOptions(command)))
    .addOption(new Option('--format <FORMAT>', 'ECDSA: raw r||s, or DER').choices(['raw', 'der']).default('raw'))
    .addOption(mechanismOption());
  return blocklistOption(command, 'exit 6 when the token is on it, before the PIN').action(
    exitsWith((options: SignOptions) =>
      withToken(options, async (token, admission) => {
        const data = readInput('--in', options.in);
        return withLogin(token, admission ? { admission } : {}, options, async (session) => {
          const key = await selectSigningKey(session, options.key);
          const algorithm = options.mechanism ?? defaultAlgorithm(key);
          const format = options.format ?? 'raw';
          const signature = await session.signChallenge(key, data, { algorithm, format });
          writeFileSync(options.out, signature);
          printResult(options.json, { algorithm, format, bytes: signature.length, key: key.label }, `signed ${data.length} bytes with "${key.label}" (${algorithm}, ${format}): ${options.out}`);
          return EXIT.ok;
        });
      }),
    ),
  );
}
