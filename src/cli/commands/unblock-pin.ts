// `tokengate unblock-pin`: a new PIN set with the PUK (a card) or the SO PIN (a software token);
// a wrong PUK or SO PIN counts on its own counter.
import { Option } from 'commander';
import { defineCommand, exitsWith } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { withFinalTry } from '../final-try.js';
import { readSecret } from '../secrets.js';
import { withToken } from '../select.js';
import { printResult } from '../table.js';
import { finalTryOption, tokenOptions, type PinOptions, type TokenOptions } from './options.js';

interface UnblockOptions extends TokenOptions, PinOptions {
  with?: 'puk' | 'so-pin' | undefined;
}

export function unblockPinCommand() {
  const command = defineCommand(
    'unblock-pin',
    'Sets a new PIN with the PUK (cards) or the SO PIN (software tokens)',
    "Sets a new PIN with the PUK (cards: TOKENGATE_PUK) or the SO PIN (software tokens: TOKENGATE_SO_PIN), and TOKENGATE_NEW_PIN; the default follows the token. A wrong PUK or SO PIN counts on its own counter.",
  ).addOption(new Option('--with <SECRET>', 'the secret that unblocks (default: the one the token has)').choices(['puk', 'so-pin']));
  return finalTryOption(tokenOptions(command)).action(
      exitsWith((options: UnblockOptions) =>
        withToken(options, async (token) => {
          // The secret the token has picks the way: a card's PUK, or a software token's SO PIN.
          const by = options.with ?? (process.env.TOKENGATE_PUK ? 'puk' : process.env.TOKENGATE_SO_PIN ? 'so-pin' : token.unblockSecret === 'puk' ? 'puk' : 'so-pin');
          const secret = await readSecret(by);
          const newPin = await readSecret('new-pin');
          await withFinalTry(options, (allowFinalTry) =>
            token.unblockPin(by === 'puk' ? { puk: secret, newPin, allowFinalTry } : { soPin: secret, newPin, allowFinalTry }),
          );
          printResult(options.json, { ok: true }, `PIN of "${token.label}" unblocked and set`);
          return EXIT.ok;
        }),
      ),
    );
}
