// parseArgs with messages a person can act on: Node's own text for an unknown option talks about
// positionals and "--", which means nothing to someone who mistyped an option.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './exit-codes.js';

export function parseArgsOrExplain<T extends ParseArgsConfig>(config: T, helpHint = 'tokengate --help'): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (err) {
    const code = (err as { code?: string }).code;
    const option = /'(-[^' ]*)/.exec((err as Error).message)?.[1];
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw new UsageError(`unknown option ${option ?? ''} (see ${helpHint})`.replace('  ', ' '));
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') throw new UsageError(`${option ?? 'an option'} ${/argument missing/.test((err as Error).message) ? 'needs a value' : 'takes no value'} (see ${helpHint})`);
    if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') throw new UsageError(`unexpected argument (see ${helpHint})`);
    throw err;
  }
}
