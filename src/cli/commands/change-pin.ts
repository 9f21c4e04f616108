// `tokengate change-pin`: the current PIN (TOKENGATE_PIN, --pin-fd or a prompt) for a new one
// (TOKENGATE_NEW_PIN, or prompted twice); the current one is counted like a login.
import { defineCommand, exitsWith } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { refuseIfLocked, withFinalTry } from '../final-try.js';
import { readSecret } from '../secrets.js';
import { withToken } from '../select.js';
import { printResult } from '../table.js';
import { pinOptions, tokenOptions, type PinOptions, type TokenOptions } from './options.js';

export function changePinCommand() {
  const command = defineCommand('change-pin', 'TOKENGATE_PIN (current) and TOKENGATE_NEW_PIN, or prompts (the new PIN twice)');
  return pinOptions(tokenOptions(command)).action(
    exitsWith((options: TokenOptions & PinOptions) =>
      withToken(options, async (token) => {
        refuseIfLocked(token);
        const oldPin = await readSecret('pin', { pinFd: options.pinFd });
        const newPin = await readSecret('new-pin');
        await withFinalTry(options, (allowFinalTry) => token.changePin(oldPin, newPin, { allowFinalTry }));
        printResult(options.json, { ok: true }, `PIN of "${token.label}" changed`);
        return EXIT.ok;
      }),
    ),
  );
}
