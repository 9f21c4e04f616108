// How every `tokengate` command is made: a commander Command with the same settings on each (its
// parse errors become our one-line usage errors, usage.ts; `--debug` everywhere), help generated
// from the options and arguments the command's own file declares, and the exit code its action
// chose. commander does not hand these settings down to commands built in files of their own.
import { Command, Help, Option } from 'commander';
import { commandPath, usageError } from './usage.js';


const SYNOPSES = new WeakMap<Command, string>();
const EVERY_COMMAND = 'Every command:';

/** What a command takes, for where the options alone do not say it (alternatives). */
export function withSynopsis(command: Command, text: string): Command {
  SYNOPSES.set(command, text);
  return command;
}

/** Arguments, then the options that must be given, then `[options]`: e.g. `sign --in FILE --out FILE [options]`. */
function synopsis(command: Command): string {
  const explicit = SYNOPSES.get(command);
  if (explicit !== undefined) return explicit;
  if (command.commands.length > 0) return 'COMMAND';
  const args = command.registeredArguments.map((a) => {
    const name = `${a.name()}${a.variadic ? '...' : ''}`;
    return a.required ? name : `[${name}]`;
  });
  const needed = command.options.filter((o) => o.mandatory).map((o) => o.flags.replace(/[<>]/g, ''));
  const more = command.options.some((o) => !o.mandatory && !o.hidden && o.helpGroupHeading !== EVERY_COMMAND) ? ['[options]'] : [];
  return [...args, ...needed, ...more].join(' ');
}

/** Every command under a group (a group's help lists them all, `policy set …` rather than `policy`). */
function leaves(command: Command): Command[] {
  return command.commands.flatMap((c) => (c.commands.length > 0 ? leaves(c) : [c]));
}

// The command's own options first, then --debug and --help (defined first, on every command).
function groupItems<T extends Command | Option>(this: Help, all: T[], visible: T[], groupOf: (item: T) => string): Map<string, T[]> {
  const last = (item: T) => item instanceof Option && item.helpGroupHeading === EVERY_COMMAND;
  return Help.prototype.groupItems.bind(this)([...all.filter((i) => !last(i)), ...all.filter(last)], visible, groupOf);
}

const HELP: Partial<Help> = {
  commandUsage: (command) => ['tokengate', ...commandPath(command), synopsis(command)].join(' '),
  // Named from below the top-level group: `policy set USERNAME …` under `tokengate verifier`.
  subcommandTerm: (command) => {
    const path = commandPath(command);
    return [...(path.length > 1 ? path.slice(1) : path), synopsis(command).replace(/ ?\[options\]$/, '')].join(' ').trim();
  },
  visibleCommands: (command) => (command.parent ? leaves(command) : [...command.commands]),
  groupItems,
};

/** A command with our settings; its file adds the options, arguments and action. */
export function defineCommand(name: string, summary: string, description: string = summary): Command {
  const command: Command = new Command(name)
    .summary(summary)
    .description(description)
    .helpCommand(false)
    .showSuggestionAfterError(false)
    // Printed by main.ts as our one line, once it is in our words.
    .configureOutput({ outputError: () => {} })
    .configureHelp(HELP)
    .exitOverride((err) => {
      // Help asked for (or shown for a group called without a command) ends the run, in run.ts.
      throw err.code === 'commander.helpDisplayed' || err.code === 'commander.help' ? err : usageError(err, command);
    })
    .addHelpOption(new Option('-h, --help', 'this help').helpGroup(EVERY_COMMAND));
  return command.addOption(new Option('--debug', 'stack traces on errors').helpGroup(EVERY_COMMAND));
}

/** A group of commands (`verifier`, `verifier user`, …), with the commands under it. */
export function defineGroup(name: string, summary: string, description: string, commands: readonly Command[]): Command {
  const group = defineCommand(name, summary, description);
  for (const command of commands) group.addCommand(command);
  return group;
}

/** commander drops what an action returns: the exit code the action chose becomes the process's. */
export function exitsWith<A extends unknown[]>(action: (this: Command, ...args: A) => Promise<number>): (this: Command, ...args: A) => Promise<void> {
  return async function (this: Command, ...args: A) {
    process.exitCode = await action.apply(this, args);
  };
}
