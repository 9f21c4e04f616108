// The options of `tokengate verifier …`, parsed strictly. An unknown option is a usage error (exit 2)
// in one sentence naming it and pointing at the help, instead of parseArgs' advice about
// positionals; only the option's name is repeated, never a value given with it (`--password=…`).
import { parseArgs } from 'node:util';
import { UsageError } from '../exit-codes.js';
import { verifierParseOptions } from './config.js';

const OPTIONS = {
  ...verifierParseOptions,
  json: { type: 'boolean' },
  help: { type: 'boolean' },
  debug: { type: 'boolean' },
  email: { type: 'string' },
  'login-range': { type: 'string', multiple: true },
  description: { type: 'string' },
  label: { type: 'string' },
  scope: { type: 'string' },
  subject: { type: 'string' },
  action: { type: 'string' },
  limit: { type: 'string' },
  since: { type: 'string' },
  until: { type: 'string' },
  listen: { type: 'string' },
  'trusted-proxy': { type: 'string', multiple: true },
  reason: { type: 'string' },
  show: { type: 'boolean' },
  clear: { type: 'boolean' },
} as const;

function parse(argv: string[]) {
  return parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
}

export type VerifierArgs = ReturnType<typeof parse>;
export type VerifierValues = VerifierArgs['values'];

/** The first argument that names no option of ours: `--name` (without any `=value`) or `-x`. */
function unknownOption(argv: readonly string[]): string | undefined {
  for (const arg of argv) {
    if (arg === '--') return undefined;
    if (arg.startsWith('--')) {
      const name = arg.slice(2).split('=')[0]!;
      if (!Object.hasOwn(OPTIONS, name)) return `--${name}`;
    } else if (arg.startsWith('-') && arg.length > 1) return arg.slice(0, 2);
  }
  return undefined;
}

export function parseVerifierArgs(argv: string[]): VerifierArgs {
  try {
    return parse(argv);
  } catch (err) {
    if ((err as { code?: string }).code !== 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw err;
    const name = unknownOption(argv);
    // The challenge policy is a command, and the likeliest reason to type --policy.
    const hint = name === '--policy' ? ' (the challenge policy is a command: tokengate verifier policy --help)' : '';
    throw new UsageError(`${name ? `unknown option ${name}` : 'an unknown option'}: tokengate verifier --help lists the options${hint}`, { cause: err });
  }
}
