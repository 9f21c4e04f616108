// The `tokengate` command line: one line per error with its code, `--json` on every listing, and
// exit codes a script can branch on (exit-codes.ts).
import { discoverModules, findModuleWithToken, Pkcs11Module, type TokenInfo } from '../index.js';
import { EXIT, UsageError } from './exit-codes.js';
import { ON_COMMAND_LINE } from './secrets.js';
import { runAdminCommand } from './admin-commands.js';
import { runTokenCommand } from './token-commands.js';
import { runVerifier } from './verifier/commands.js';
import { printTable } from './table.js';
import { COMMAND_HELP, overview } from './help.js';
import { runKeyCommand } from './key-commands.js';
import { parseArgsOrExplain } from './usage.js';

export { EXIT } from './exit-codes.js';


async function tokensOf(path: string): Promise<TokenInfo[]> {
  await using module = await Pkcs11Module.load(path, { loginGuard: 'none' });
  return module.tokens().filter((t) => t.flags.tokenInitialized);
}

function print(json: boolean, rows: Array<Record<string, unknown>>, data: unknown): void {
  if (json) console.log(JSON.stringify(data, null, 2));
  else printTable(rows);
}

export async function run(argv: string[]): Promise<number> {
  if (argv[0] === 'verifier') return runVerifier(argv.slice(1));
  if (argv[0] === 'help') {
    const topic = argv[1];
    if (topic === undefined) console.log(overview());
    else if (topic === 'verifier') return runVerifier(['--help']);
    else if (COMMAND_HELP[topic]) console.log(COMMAND_HELP[topic]);
    else throw new UsageError(`no command "${topic}" (see tokengate help)`);
    return EXIT.ok;
  }
  if ((argv[0] === 'keys' || argv[0] === 'export') && !argv.includes('--help')) return runKeyCommand(argv);
  const { values, positionals } = parseArgsOrExplain({
    args: argv,
    allowPositionals: true,
    options: {
      json: { type: 'boolean' },
      help: { type: 'boolean' },
      debug: { type: 'boolean' },
      module: { type: 'string' },
      token: { type: 'string' },
      key: { type: 'string' },
      // Accepted only to be refused with the reason (parseArgs would just call it unknown).
      pin: { type: 'string' },
      'so-pin': { type: 'string' },
      puk: { type: 'string' },
      'pin-fd': { type: 'string' },
      'allow-final-try': { type: 'boolean' },
      blocklist: { type: 'string' },
      in: { type: 'string' },
      out: { type: 'string' },
      signature: { type: 'string' },
      cert: { type: 'string' },
      format: { type: 'string' },
      mechanism: { type: 'string' },
      type: { type: 'string' },
      label: { type: 'string' },
      subject: { type: 'string' },
      with: { type: 'string' },
      verifier: { type: 'string' },
      username: { type: 'string' },
      csr: { type: 'string' },
    },
  });
  if (values.pin !== undefined || values['so-pin'] !== undefined || values.puk !== undefined) throw new UsageError(ON_COMMAND_LINE);
  const [command] = positionals;
  if (values.help && command && COMMAND_HELP[command]) {
    console.log(COMMAND_HELP[command]);
    return EXIT.ok;
  }
  if (values.help || !command) {
    console.log(overview());
    return values.help ? EXIT.ok : EXIT.usage;
  }
  const json = values.json === true;
  switch (command) {
    case 'modules': {
      const modules = discoverModules();
      print(json, modules.map((m) => ({ name: m.name, path: m.path, source: m.source })), modules);
      return EXIT.ok;
    }
    case 'tokens': {
      const path = values.module ?? (await findModuleWithToken());
      if (!path) {
        console.error('tokengate: no PKCS#11 module with a token was found (give --module PATH)');
        return EXIT.failure;
      }
      const tokens = await tokensOf(path);
      print(
        json,
        tokens.map((t) => ({ label: t.label, serial: t.serial, model: t.model, pin: t.pinStatus, soPin: t.soPinStatus })),
        { module: path, tokens },
      );
      return EXIT.ok;
    }
    case 'watch':
    case 'status':
    case 'login':
    case 'sign':
    case 'verify':
      return runTokenCommand(command, values);
    case 'keygen':
    case 'import-cert':
    case 'enroll':
    case 'change-pin':
    case 'unblock-pin':
    case 'init-token':
      return runAdminCommand(command, values);
    default:
      throw new UsageError(`unknown command "${command}" (see tokengate help)`);
  }
}
