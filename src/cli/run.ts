// The `tokengate` command line. This first cut lists modules and tokens; the kiosk issue grows it
// (login, sign, enroll, PIN administration) on the same frame: one line per error with its code,
// `--json` on every listing, and exit codes a script can branch on.
import { parseArgs } from 'node:util';
import { discoverModules, Pkcs11Module, type TokenInfo } from '../index.js';
import { runVerifier } from './verifier/commands.js';

export const EXIT = { ok: 0, usage: 2, failure: 1 } as const;

const HELP = `usage: tokengate <command> [options]

commands:
  modules                 PKCS#11 modules found on this machine (p11-kit registry, usual paths)
  tokens [--module PATH]  tokens present: label, serial, model, PIN status
                          (default module: the first discovered one that has tokens)
  verifier …              the companion verifier: serve, users, IP ranges, API keys, audit
                          (tokengate verifier --help)

options:
  --json                  machine-readable output
  --help                  this text
`;

async function tokensOf(path: string): Promise<TokenInfo[]> {
  await using module = await Pkcs11Module.load(path);
  return module.tokens().filter((t) => t.flags.tokenInitialized);
}

async function defaultModule(): Promise<string | undefined> {
  for (const m of discoverModules()) {
    try {
      if ((await tokensOf(m.path)).length > 0) return m.path;
    } catch {
      // A module that cannot start here (no reader service, no configuration) has no tokens for us.
    }
  }
  return undefined;
}

function print(json: boolean, rows: Array<Record<string, unknown>>, data: unknown): void {
  if (json) console.log(JSON.stringify(data, null, 2));
  else if (rows.length === 0) console.log('(none)');
  else console.table(rows);
}

export async function run(argv: string[]): Promise<number> {
  if (argv[0] === 'verifier') return runVerifier(argv.slice(1));
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { json: { type: 'boolean' }, help: { type: 'boolean' }, module: { type: 'string' } },
  });
  const [command] = positionals;
  if (values.help || !command) {
    console.log(HELP);
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
      const path = values.module ?? (await defaultModule());
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
    default:
      console.error(`tokengate: unknown command "${command}" (see tokengate --help)`);
      return EXIT.usage;
  }
}
