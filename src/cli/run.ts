// The `tokengate` command line: one line per error with its code, `--json` on every listing, and
// exit codes a script can branch on (exit-codes.ts).
import { parseArgs } from 'node:util';
import { discoverModules, Pkcs11Module, type TokenInfo } from '../index.js';
import { EXIT, UsageError } from './exit-codes.js';
import { ON_COMMAND_LINE } from './secrets.js';
import { runAdminCommand } from './admin-commands.js';
import { runTokenCommand } from './token-commands.js';
import { runVerifier } from './verifier/commands.js';
import { printTable } from './table.js';

export { EXIT } from './exit-codes.js';

const HELP = `usage: tokengate <command> [options]

commands:
  modules                 PKCS#11 modules found on this machine (p11-kit registry, usual paths)
  tokens [--module PATH]  tokens present: label, serial, model, PIN status
                          (default module: the first discovered one that has tokens)
  watch                   token insertions and removals, until Ctrl-C
  status                  PIN and SO PIN status (tries left where known, and who counts them)
                          [--blocklist FILE] also says whether the token is blocked
  login                   checks the PIN; on the last try it asks first (--allow-final-try
                          when not on a terminal)
  sign --in FILE --out FILE [--format raw|der] [--mechanism ALG]
  verify --in FILE --signature FILE [--cert FILE --mechanism ALG] [--format raw|der]
  keygen --label L [--type ec-p256|ec-p384|rsa-2048|rsa-3072|ed25519] [--subject CN=…]
                          a key pair on the token (and a self-signed certificate with --subject,
                          or a PKCS#10 request signed on the token with --csr FILE)
  import-cert --in FILE [--key LABEL|ID]   a certificate next to its key
  enroll --verifier URL --username NAME [--key LABEL|ID | --type T --subject CN=…]
                          registers the token with the verifier (TOKENGATE_API_KEY for an admin,
                          or TOKENGATE_PASSWORD for the user's own token)
  change-pin              TOKENGATE_PIN (old) and TOKENGATE_NEW_PIN, or prompts
  unblock-pin [--with puk|so-pin]   with TOKENGATE_PUK or TOKENGATE_SO_PIN, and TOKENGATE_NEW_PIN
  init-token --label L    the first uninitialised token: TOKENGATE_SO_PIN, TOKENGATE_NEW_PIN
  verifier …              the companion verifier: serve, users, IP ranges, API keys, audit
                          (tokengate verifier --help)

options:
  --module PATH           the PKCS#11 module (default: the first discovered one with a token)
  --token LABEL|SERIAL    which token (default: the only one present)
  --key LABEL|ID          which key, ID in hex (default: the first with a certificate)
  --pin-fd N              read the PIN from file descriptor N; else TOKENGATE_PIN, else a
                          masked prompt. A PIN on the command line is refused.
  --json                  machine-readable output
  --debug                 stack traces on errors
  --help                  this text

exit codes: 0 ok, 1 failure, 2 usage, 3 PIN incorrect, 4 PIN locked, 5 token not present,
            6 token blocked, 7 verification failed, 8 verifier unreachable
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
  else printTable(rows);
}

export async function run(argv: string[]): Promise<number> {
  if (argv[0] === 'verifier') return runVerifier(argv.slice(1));
  const { values, positionals } = parseArgs({
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
      console.error(`tokengate: unknown command "${command}" (see tokengate --help)`);
      return EXIT.usage;
  }
}
