// The `tokengate` command line: every command (one file each, in commands/ and verifier/), help
// generated from their definitions (`tokengate help [COMMAND…]`, `COMMAND --help`), `--json` on
// every listing, and exit codes a script can branch on (exit-codes.ts).
import { CommanderError, type Command } from 'commander';
import { defineCommand, defineGroup, exitsWith } from './command.js';
import { changePinCommand } from './commands/change-pin.js';
import { enrollCommand } from './commands/enroll.js';
import { exportCommand } from './commands/export.js';
import { importCertCommand } from './commands/import-cert.js';
import { initTokenCommand } from './commands/init-token.js';
import { keygenCommand } from './commands/keygen.js';
import { keysCommand } from './commands/keys.js';
import { loginCommand } from './commands/login.js';
import { modulesCommand } from './commands/modules.js';
import { signCommand } from './commands/sign.js';
import { statusCommand } from './commands/status.js';
import { tokensCommand } from './commands/tokens.js';
import { unblockPinCommand } from './commands/unblock-pin.js';
import { verifyCommand } from './commands/verify.js';
import { watchCommand } from './commands/watch.js';
import { EXIT, UsageError } from './exit-codes.js';
import { fidoCommand } from './fido/program.js';
import { verifierCommand } from './verifier/program.js';

const AFTER = `
PINs come from TOKENGATE_PIN (TOKENGATE_SO_PIN, TOKENGATE_PUK, TOKENGATE_NEW_PIN), --pin-fd N, or a
masked prompt; a PIN on the command line is refused. Every wrong one counts, like a login.

exit codes: 0 ok, 1 failure, 2 usage, 3 PIN incorrect, 4 PIN locked, 5 token not present,
            6 token blocked, 7 verification failed, 8 verifier unreachable,
            9 security key wants to be unplugged and plugged in again`;

/** `tokengate help [COMMAND…]`: the same page as `COMMAND --help`. */
function helpCommand(program: () => Command): Command {
  return defineCommand('help', "Every command's options: tokengate help COMMAND (or COMMAND --help)")
    .argument('[COMMAND...]', 'e.g. sign, or verifier user add')
    .action(
      exitsWith(async (names: string[]) => {
        let command = program();
        for (const name of names) {
          const next = command.commands.find((c) => c.name() === name);
          if (!next) throw new UsageError(`no command "${names.join(' ')}" (see tokengate help)`);
          command = next;
        }
        command.outputHelp();
        return EXIT.ok;
      }),
    );
}

function program(): Command {
  const root: Command = defineGroup('tokengate', 'PKCS#11 tokens and FIDO security keys from the command line', 'PKCS#11 tokens and FIDO security keys from the command line: PINs, keys, signatures, and the companion verifier.', [
    modulesCommand(),
    tokensCommand(),
    keysCommand(),
    exportCommand(),
    watchCommand(),
    statusCommand(),
    loginCommand(),
    signCommand(),
    verifyCommand(),
    keygenCommand(),
    importCertCommand(),
    enrollCommand(),
    changePinCommand(),
    unblockPinCommand(),
    initTokenCommand(),
    fidoCommand(),
    verifierCommand(),
  ]);
  return root.addCommand(helpCommand(() => root)).addHelpText('after', AFTER);
}

/** Runs the command `argv` names; its exit code is left in process.exitCode, an error thrown. */
export async function run(argv: readonly string[]): Promise<void> {
  try {
    await program().parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err;
    // Help was printed: asked for (0), or because a group was called without a command (2).
    process.exitCode = err.code === 'commander.helpDisplayed' ? EXIT.ok : EXIT.usage;
  }
}
