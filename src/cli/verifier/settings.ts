// Where each `tokengate verifier` setting comes from: its option, else its environment variable,
// else the --config JSON file (keys are the option names), else the default. Every value is checked
// before anything opens, and a bad one is a usage error (exit 2) in one line naming the setting and
// where it came from. Numbers are echoed in errors; strings are not (an SMTP URL may hold a password).
import { readFileSync } from 'node:fs';
import { UsageError } from '../exit-codes.js';

/** The numeric settings: option name → environment variable, unit, bounds, and what the help says. */
export const NUMERIC_SETTINGS = {
  'token-length': { env: 'TOKENGATE_VERIFIER_TOKEN_LENGTH', unit: 'count', min: 16, max: 64, help: 'characters per security token (16-64; 24)' },
  'lockout-threshold': { env: 'TOKENGATE_VERIFIER_LOCKOUT_THRESHOLD', unit: 'count', min: 1, max: 100, help: 'failed logins that lock (1-100; 10)' },
  'lockout-base': { env: 'TOKENGATE_VERIFIER_LOCKOUT_BASE', unit: 'seconds', min: 0.001, max: Number.MAX_SAFE_INTEGER / 1000, help: 'the first lock, in seconds (60), doubling' },
  'lockout-max': { env: 'TOKENGATE_VERIFIER_LOCKOUT_MAX', unit: 'seconds', min: 0.001, max: Number.MAX_SAFE_INTEGER / 1000, help: 'up to this, in seconds (86400)' },
  'ip-failures': { env: 'TOKENGATE_VERIFIER_IP_FAILURES', unit: 'count', min: 1, max: 1_000_000_000, help: 'failures per client address in a window (50), then 429' },
  'ip-window': { env: 'TOKENGATE_VERIFIER_IP_WINDOW', unit: 'seconds', min: 1, max: 365 * 86_400, help: 'that window, in seconds (900)' },
  'request-timeout': { env: 'TOKENGATE_VERIFIER_REQUEST_TIMEOUT', unit: 'seconds', min: 0.01, max: 3600, help: 'serve: headers and body within, in seconds (10)' },
  'connections-per-address': { env: 'TOKENGATE_VERIFIER_CONNECTIONS_PER_ADDRESS', unit: 'count', min: 1, max: 1_000_000, help: 'serve: connections per client address (64; trusted proxies exempt)' },
  'max-connections': { env: 'TOKENGATE_VERIFIER_MAX_CONNECTIONS', unit: 'count', min: 1, max: 1_000_000, help: 'serve: connections in all (1024)' },
  'audit-retention': { env: 'TOKENGATE_VERIFIER_AUDIT_RETENTION', unit: 'duration', min: 3600, max: 100 * 365 * 86_400, help: 'keep audit entries this long, e.g. 400d (d, h, m or s; default: for ever)' },
} as const;

const DURATION_UNITS: Record<string, number> = { d: 86_400, h: 3600, m: 60, s: 1 };

/** `400d`, `12h`, `90m`, `30s` (or plain seconds) in seconds; NaN when not one of those. */
function durationSeconds(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([dhms]?)$/.exec(text);
  return match ? Number(match[1]) * DURATION_UNITS[match[2] || 's']! : NaN;
}

export type NumericSetting = keyof typeof NUMERIC_SETTINGS;

/** The text settings the file may hold too (their options and variables are read in config.ts). */
const TEXT_SETTINGS = ['database', 'secret-file', 'smtp', 'outbox', 'from', 'listen', 'rp-id'] as const;
type TextSetting = (typeof TEXT_SETTINGS)[number];
/** The settings that are lists (repeatable options). */
const LIST_SETTINGS = ['trusted-proxy', 'origin'] as const;
type ListSetting = (typeof LIST_SETTINGS)[number];

export type ConfigFile = Partial<Record<NumericSetting, number | string> & Record<TextSetting, string> & Record<ListSetting, string[]>>;

/** The --config file (or TOKENGATE_VERIFIER_CONFIG), checked key by key; {} when none is named. */
export function loadConfigFile(path: string | undefined): ConfigFile {
  if (path === undefined) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? 'not JSON';
    throw new UsageError(`--config ${path}: cannot be read (${why})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new UsageError(`--config ${path}: a JSON object of settings, e.g. {"lockout-threshold": 5}`);
  for (const [key, value] of Object.entries(parsed)) {
    const ok =
      key in NUMERIC_SETTINGS
        ? typeof value === 'number' || typeof value === 'string'
        : (TEXT_SETTINGS as readonly string[]).includes(key)
          ? typeof value === 'string'
          : (LIST_SETTINGS as readonly string[]).includes(key)
            ? Array.isArray(value) && value.every((v) => typeof v === 'string')
            : undefined;
    if (ok === undefined) throw new UsageError(`--config ${path}: unknown setting "${key}" (the keys are the option names, e.g. "lockout-threshold")`);
    if (!ok) throw new UsageError(`--config ${path}: "${key}" must be ${(LIST_SETTINGS as readonly string[]).includes(key) ? 'a list of strings' : key in NUMERIC_SETTINGS ? 'a number' : 'a string'}`);
  }
  return parsed as ConfigFile;
}

/**
 * The setting `name` as a number (milliseconds for durations), or undefined when nowhere set.
 * `options` holds the command line's values.
 */
export function numericSetting(name: NumericSetting, options: Partial<Record<NumericSetting, string>>, env: NodeJS.ProcessEnv, file: ConfigFile, fileName: string | undefined): number | undefined {
  const spec = NUMERIC_SETTINGS[name];
  const [raw, source] =
    options[name] !== undefined ? [options[name], `--${name}`] : env[spec.env] !== undefined ? [env[spec.env], spec.env] : file[name] !== undefined ? [file[name], `"${name}" in ${fileName}`] : [undefined, ''];
  if (raw === undefined) return undefined;
  const text = String(raw).trim();
  const value =
    spec.unit === 'count' ? (/^\d+$/.test(text) ? Number(text) : NaN) : spec.unit === 'duration' ? durationSeconds(text) : /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
  if (!(value >= spec.min && value <= spec.max)) {
    const wanted =
      spec.unit === 'count'
        ? `a whole number from ${spec.min} to ${spec.max}`
        : spec.unit === 'duration'
          ? `a duration from 1h to ${spec.max / 86_400}d, e.g. 400d`
          : `a number of seconds from ${spec.min} to ${spec.max}`;
    throw new UsageError(`--${name}: ${wanted} (got ${JSON.stringify(text)} from ${source})`);
  }
  return spec.unit === 'count' ? value : Math.round(value * 1000);
}
