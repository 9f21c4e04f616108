// `tokengate tokens`: the tokens present in a module, with their PIN status as the token reports it.
import { findModuleWithToken, Pkcs11Module, type TokenInfo } from '../../index.js';
import { defineCommand, exitsWith } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { printListing } from '../table.js';
import { jsonOption, moduleOption, type TokenOptions } from './options.js';

async function tokensOf(path: string): Promise<TokenInfo[]> {
  // A listing checks no PIN: no login guard is needed.
  await using module = await Pkcs11Module.load(path, { loginGuard: 'none' });
  return module.tokens().filter((t) => t.flags.tokenInitialized);
}

export function tokensCommand() {
  return jsonOption(moduleOption(defineCommand('tokens', 'Tokens present: label, serial, model, PIN status as the token reports it'))).action(
    exitsWith(async (options: TokenOptions) => {
      const path = options.module ?? (await findModuleWithToken());
      if (!path) {
        console.error('tokengate: no PKCS#11 module with a token was found (give --module PATH)');
        return EXIT.failure;
      }
      const tokens = await tokensOf(path);
      printListing(options.json, { module: path, tokens }, tokens.map((t) => ({ label: t.label, serial: t.serial, model: t.model, pin: t.pinStatus, soPin: t.soPinStatus })));
      return EXIT.ok;
    }),
  );
}
