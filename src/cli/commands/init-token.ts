// `tokengate init-token`: the first blank token initialised, its SO PIN (TOKENGATE_SO_PIN) and
// user PIN (TOKENGATE_NEW_PIN) set, or asked for at prompts.
import { defineCommand, exitsWith } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { readSecret } from '../secrets.js';
import { openModule } from '../select.js';
import { printResult } from '../table.js';
import { jsonOption, moduleOption, type TokenOptions } from './options.js';

export function initTokenCommand() {
  const command = defineCommand('init-token', 'Initialises the first uninitialised token: TOKENGATE_SO_PIN and TOKENGATE_NEW_PIN (or prompts)').requiredOption('--label <L>', "the token's label");
  return jsonOption(moduleOption(command)).action(
    exitsWith(async (options: TokenOptions & { label: string }) => {
      await using module = await openModule(options.module, { blank: true });
      const soPin = await readSecret('so-pin');
      const userPin = await readSecret('new-pin');
      const token = module.initializeToken({ soPin, label: options.label });
      await using so = await token.openSession({ write: true });
      await so.login(soPin, { userType: 'so' }); // counted like any login
      await so.initUserPin(userPin);
      await so.logout();
      printResult(options.json, { label: token.label, serial: token.serial }, `initialised "${token.label}" ${token.serial}: SO PIN and user PIN set`);
      return EXIT.ok;
    }),
  );
}
