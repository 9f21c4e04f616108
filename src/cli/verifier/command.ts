// What every `tokengate verifier …` command shares: the verifier's settings as options (each also
// from the environment or the --config file: settings.ts), checked before anything opens; the
// Verifier opened for the action, changes audited as `cli`, and the mail they queued delivered.
// Every command takes every setting, as the --config file holds them all: one set of flags serves
// all commands, and serve's own (--listen, its bounds) are ignored by the others.
import { Option, type Command } from 'commander';
import { Verifier } from '../../verifier/index.js';
import { defineCommand, exitsWith } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { verifierConfig, type VerifierCliConfig, type VerifierCliOptions } from './config.js';
import { NUMERIC_SETTINGS, type NumericSetting } from './settings.js';

export const ACTOR = 'cli';
export const SHOWN_ONCE = 'store it now: it is shown only once';
const SETTINGS_GROUP = 'Verifier settings (option, else environment variable, else the --config file):';

/** Repeatable options (`--login-range A --login-range B`) collect their values. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

const TEXT_SETTINGS: ReadonlyArray<[flags: string, help: string, env?: string]> = [
  ['--database <PATH|URL>', 'SQLite file or postgres:// URL (default: <state dir>/verifier.sqlite)', 'TOKENGATE_VERIFIER_DATABASE'],
  ['--secret-file <PATH>', 'the server secret, 32+ bytes (default: <state dir>/verifier.secret, made on first use)', 'TOKENGATE_VERIFIER_SECRET_FILE'],
  ['--smtp <URL>', "deliver the verifier's mail over SMTP (smtp:// or smtps://)", 'TOKENGATE_SMTP_URL'],
  ['--outbox <DIR>', 'else write it as .eml files here (default: <state dir>/outbox)', 'TOKENGATE_OUTBOX'],
  ['--from <ADDRESS>', "sender of the verifier's mails", 'TOKENGATE_MAIL_FROM'],
  ['--config <FILE>', 'settings in a JSON file keyed by option name, e.g. {"lockout-threshold": 5}', 'TOKENGATE_VERIFIER_CONFIG'],
  ['--listen <HOST:PORT>', 'serve: the address (default: 127.0.0.1:8787)'],
  ['--rp-id <DOMAIN>', 'the relying-party id security keys are enrolled for (default: localhost; keep it once keys are enrolled)', 'TOKENGATE_VERIFIER_RP_ID'],
];

function settingOptions(): Option[] {
  const text = TEXT_SETTINGS.map(([flags, help, env]) => new Option(flags, env ? `${help} [${env}]` : help));
  const proxies = new Option('--trusted-proxy <CIDR>', 'serve: a proxy whose X-Forwarded-For is believed (repeatable)').argParser(collect);
  const origins = new Option('--origin <ORIGIN>', "an origin security keys' clientDataJSON may name (repeatable; default https://<rp-id>) [TOKENGATE_VERIFIER_ORIGINS, comma-separated]").argParser(collect);
  const numbers = (Object.keys(NUMERIC_SETTINGS) as NumericSetting[]).map((name) => new Option(`--${name} <N>`, `${NUMERIC_SETTINGS[name].help} [${NUMERIC_SETTINGS[name].env}]`));
  return [...text, proxies, origins, ...numbers].map((o) => o.helpGroup(SETTINGS_GROUP));
}

/** The settings on the group, listed in its help (and taken there: `verifier --database X user list`). */
export function withSettings(group: Command): Command {
  for (const option of settingOptions()) group.addOption(option);
  return group;
}

/** A command under `tokengate verifier`: it takes every setting, listed once, in the group's help. */
export function defineVerifierCommand(name: string, summary: string, description?: string): Command {
  const command = defineCommand(name, summary, description);
  for (const option of settingOptions()) command.addOption(option.hideHelp());
  return command.addHelpText('after', '\nIt takes the verifier settings too (tokengate verifier --help).');
}

/** The settings given to this command (or before it, to the group), in the names config.ts reads. */
function settingsOf(command: Command): VerifierCliOptions {
  const values = command.optsWithGlobals();
  return Object.fromEntries(settingOptions().map((o) => [o.name(), values[o.attributeName()]])) as VerifierCliOptions;
}

/** Every setting checked here, before anything opens: a bad one is a usage error (exit 2). */
export function configOf(command: Command): VerifierCliConfig {
  return verifierConfig(settingsOf(command));
}

/**
 * A verifier command's action: `run` gets the open Verifier, the command's arguments (as declared:
 * a variadic one is an array) and its options.
 */
export function withVerifier<O extends object = object, A extends unknown[] = string[]>(run: (verifier: Verifier, args: A, options: O) => Promise<void>) {
  return exitsWith(async function (this: Command) {
    const config = configOf(this);
    await using verifier = await Verifier.open(config.verifier);
    await run(verifier, this.processedArgs as A, this.opts<O>());
    await verifier.deliverMail();
    return EXIT.ok;
  });
}
