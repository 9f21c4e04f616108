// `tokengate login`: checks the PIN on the token; every wrong one counts.
import { defineCommand, exitsWith } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { withLogin } from '../final-try.js';
import { withToken } from '../select.js';
import { printResult } from '../table.js';
import { blocklistOption, pinOptions, tokenOptions, type BlocklistOptions, type PinOptions, type TokenOptions } from './options.js';

export function loginCommand() {
  const command = defineCommand(
    'login',
    'Checks the PIN (TOKENGATE_PIN, --pin-fd N, or a masked prompt)',
    'Checks the PIN (TOKENGATE_PIN, --pin-fd N, or a masked prompt). Every wrong PIN counts; on the last try it asks first on a terminal, or needs --allow-final-try.',
  );
  return blocklistOption(pinOptions(tokenOptions(command)), 'exit 6 when the token is on it, before the PIN').action(
    exitsWith((options: TokenOptions & PinOptions & BlocklistOptions) =>
      withToken(options, async (token, admission) => {
        await withLogin(token, admission ? { admission } : {}, options, async () => {});
        printResult(options.json, { ok: true, serial: token.serial }, `PIN accepted by "${token.label}"`);
        return EXIT.ok;
      }),
    ),
  );
}
