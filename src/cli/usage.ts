// commander's parse errors in our words: one line naming the option or argument and where the help
// is, a UsageError (exit 2). A PIN given as an option is refused with the reason, and a value typed
// with an unknown option (`--password=…`) is never repeated.
import type { Command, CommanderError } from 'commander';
import { UsageError } from './exit-codes.js';
import { ON_COMMAND_LINE } from './secrets.js';

const SECRET_OPTIONS: readonly string[] = ['--pin', '--so-pin', '--puk'];

/** The command's names below `tokengate` (`verifier`, `policy`, `set`). */
export function commandPath(command: Command): string[] {
  const names: string[] = [];
  for (let c: Command | null = command; c?.parent; c = c.parent) names.unshift(c.name());
  return names;
}

/** The help of the command's top-level group: `tokengate verifier --help`, else `tokengate --help`. */
function helpFor(command: Command): { hint: string; group: string | undefined } {
  const [top] = commandPath(command);
  const group = top !== undefined && (command.parent?.parent || command.commands.length > 0) ? top : undefined;
  return { hint: group ? `tokengate ${group} --help` : 'tokengate --help', group };
}

export function usageError(err: CommanderError, command: Command): UsageError {
  // The error's code says what went wrong; what it was about is only in its message, in quotes.
  const quoted = /'([^']*)'/.exec(err.message)?.[1] ?? '';
  const flag = quoted.split(/[= ]/)[0]!;
  const { hint, group } = helpFor(command);
  const see = `(see ${hint})`;
  // No `cause`: commander's message may hold the value given with the option.
  switch (err.code) {
    case 'commander.unknownOption':
      if (SECRET_OPTIONS.includes(flag)) return new UsageError(ON_COMMAND_LINE);
      // The challenge policy is a command, and the likeliest reason to type --policy there.
      if (group === 'verifier' && flag === '--policy') return new UsageError(`unknown option --policy (see ${hint}; the challenge policy is a command: tokengate verifier policy --help)`);
      return new UsageError(`unknown option ${flag} ${see}`);
    case 'commander.optionMissingArgument':
      return new UsageError(`${flag} needs a value ${see}`);
    case 'commander.missingMandatoryOptionValue':
      return new UsageError(`${commandPath(command).join(' ')} needs ${quoted.replace(/[<>]/g, '')} ${see}`);
    case 'commander.missingArgument':
      return new UsageError(`missing ${quoted} ${see}`);
    case 'commander.invalidArgument': {
      const choices = command.options.find((o) => o.long === flag)?.argChoices;
      return new UsageError(choices ? `${flag}: one of ${choices.join(', ')} ${see}` : `${flag}: not a value it takes ${see}`);
    }
    case 'commander.excessArguments':
      // Not echoed: a stray argument may be a PIN typed in the wrong place.
      return new UsageError(`unexpected argument ${see}`);
    case 'commander.unknownCommand':
      return new UsageError(`unknown command "${command.args[0] ?? ''}" ${see}`);
    default:
      return new UsageError(`${err.message.replace(/^error: /, '')} ${see}`);
  }
}
