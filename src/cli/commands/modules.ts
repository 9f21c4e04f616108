// `tokengate modules`: the PKCS#11 modules found on this machine.
import { discoverModules } from '../../index.js';
import { defineCommand, exitsWith } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { printListing } from '../table.js';
import { jsonOption, type TokenOptions } from './options.js';

export function modulesCommand() {
  return jsonOption(defineCommand('modules', 'PKCS#11 modules found on this machine (p11-kit registry, usual SoftHSM, OpenSC and ykcs11 paths)')).action(
    exitsWith(async (options: TokenOptions) => {
      const modules = discoverModules();
      printListing(options.json, modules, modules.map((m) => ({ name: m.name, path: m.path, source: m.source })));
      return EXIT.ok;
    }),
  );
}
