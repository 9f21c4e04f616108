// The options the token commands share, declared once: which module, token and key, how the PIN
// comes in (never as an option: secrets.ts), and --json. Each command takes the ones it uses.
import type { Command } from 'commander';

export interface TokenOptions {
  module?: string | undefined;
  token?: string | undefined;
  json?: boolean | undefined;
}

export interface KeyOptions {
  key?: string | undefined;
}

export interface PinOptions {
  pinFd?: string | undefined;
  allowFinalTry?: boolean | undefined;
}

export function jsonOption(command: Command): Command {
  return command.option('--json', 'machine-readable output');
}

export function moduleOption(command: Command): Command {
  return command.option('--module <PATH>', 'the PKCS#11 module (default: the first discovered one with a token)');
}

/** --module, --token and --json: a command that works on one token. */
export function tokenOptions(command: Command): Command {
  return jsonOption(moduleOption(command).option('--token <LABEL|SERIAL>', 'which token (default: the only one present)'));
}

export function keyOption(command: Command, defaultKey = 'the first with a certificate'): Command {
  return command.option('--key <LABEL|ID>', `which key, ID in hex (default: ${defaultKey})`);
}

export function finalTryOption(command: Command): Command {
  return command.option('--allow-final-try', 'spend the last try without asking (needed when not on a terminal)');
}

/** How the PIN comes in besides TOKENGATE_PIN and the prompt, and the last try. */
export function pinOptions(command: Command): Command {
  return finalTryOption(command.option('--pin-fd <N>', 'read the PIN from file descriptor N (else TOKENGATE_PIN, else a masked prompt; never an option)'));
}

export interface BlocklistOptions {
  blocklist?: string | undefined;
}

export function blocklistOption(command: Command, effect: string): Command {
  return command.option('--blocklist <FILE>', `a blocklist (JSON: serials, certificateFingerprints): ${effect}`);
}
