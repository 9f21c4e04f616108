// How the `tokengate verifier …` commands find their verifier: options, else environment, else
// the --config file (settings.ts), else the embedded defaults under the state directory (a SQLite
// file, a generated server secret, an outbox of .eml files), so `tokengate verifier serve` works
// with nothing set up. The policies' numbers, serve's connection bounds and the relying party
// security keys are enrolled for come the same way.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultStateDir } from '../../index.js';
import { ServerSecret, type MailTransportConfig, type VerifierOptions, type VerifierServerOptions } from '../../verifier/index.js';
// The defaults, to check one setting against another's default; the package does not export them.
import { DEFAULT_SERVER_LIMITS } from '../../verifier/http/server.js';
import { DEFAULT_LOCKOUT } from '../../verifier/policy/lockout.js';
import { relyingParty, type RelyingPartyOptions } from '../../verifier/credentials/webauthn.js';
import { UsageError } from '../exit-codes.js';
import { loadConfigFile, numericSetting, type ConfigFile, type NumericSetting } from './settings.js';

export type VerifierCliOptions = {
  database?: string | undefined;
  'secret-file'?: string | undefined;
  smtp?: string | undefined;
  outbox?: string | undefined;
  from?: string | undefined;
  config?: string | undefined;
  listen?: string | undefined;
  'trusted-proxy'?: string[] | undefined;
  'rp-id'?: string | undefined;
  origin?: string[] | undefined;
} & Partial<Record<NumericSetting, string | undefined>>;

function secretFrom(path: string): ServerSecret {
  if (!existsSync(path)) {
    mkdirSync(join(path, '..'), { recursive: true, mode: 0o700 });
    // wx: never overwrite a secret another process just wrote.
    try {
      writeFileSync(path, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  return ServerSecret.fromFile(path);
}

/** The relying party security keys are enrolled for: --rp-id and --origin (repeatable), checked now. */
function fidoSettings(options: VerifierCliOptions, env: NodeJS.ProcessEnv, file: ConfigFile): RelyingPartyOptions {
  const rpId = options['rp-id'] ?? env.TOKENGATE_VERIFIER_RP_ID ?? file['rp-id'];
  const fromEnv = env.TOKENGATE_VERIFIER_ORIGINS?.split(',').map((o) => o.trim()).filter(Boolean);
  const origins = options.origin ?? fromEnv ?? file.origin;
  const fido = { ...(rpId === undefined ? {} : { rpId }), ...(origins === undefined ? {} : { origins }) };
  const checked = relyingParty(fido);
  if ('invalid' in checked) throw new UsageError(`--rp-id/--origin: ${checked.invalid}`);
  return fido;
}

function transport(options: VerifierCliOptions, env: NodeJS.ProcessEnv, file: ConfigFile, state: string): MailTransportConfig {
  const smtp = options.smtp ?? env.TOKENGATE_SMTP_URL ?? file.smtp;
  if (smtp) {
    // Not echoed: the URL may hold a password.
    const url = URL.canParse(smtp) ? new URL(smtp) : undefined;
    if (!url || (url.protocol !== 'smtp:' && url.protocol !== 'smtps:')) throw new UsageError('--smtp: an smtp:// or smtps:// URL');
    return {
      kind: 'smtp',
      host: url.hostname,
      port: Number(url.port || (url.protocol === 'smtps:' ? 465 : 25)),
      secure: url.protocol === 'smtps:',
      ...(url.username ? { user: decodeURIComponent(url.username), password: decodeURIComponent(url.password) } : {}),
    };
  }
  return { kind: 'outbox', dir: options.outbox ?? env.TOKENGATE_OUTBOX ?? file.outbox ?? join(state, 'outbox') };
}

export interface VerifierCliConfig {
  readonly verifier: VerifierOptions;
  /** What `serve` listens on and how it bounds its clients. */
  readonly serve: { readonly listen: string | undefined } & Required<Pick<VerifierServerOptions, 'requestTimeoutMs' | 'connectionsPerAddress' | 'maxConnections'>> & { readonly trustedProxies: string[] };
}

/** Everything the verifier commands need, checked before anything is opened (bad values: UsageError). */
export function verifierConfig(options: VerifierCliOptions, env: NodeJS.ProcessEnv = process.env): VerifierCliConfig {
  const fileName = options.config ?? env.TOKENGATE_VERIFIER_CONFIG;
  const file = loadConfigFile(fileName);
  const number = (name: NumericSetting) => numericSetting(name, options, env, file, fileName);
  const tokenLength = number('token-length');
  const auditRetentionMs = number('audit-retention');
  const lockout = { threshold: number('lockout-threshold'), baseMs: number('lockout-base'), maxMs: number('lockout-max') };
  if ((lockout.baseMs ?? DEFAULT_LOCKOUT.baseMs) > (lockout.maxMs ?? DEFAULT_LOCKOUT.maxMs)) {
    throw new UsageError(`--lockout-base: longer than --lockout-max (${(lockout.maxMs ?? DEFAULT_LOCKOUT.maxMs) / 1000} s); the lock doubles up to that`);
  }
  const ipLimit = { failures: number('ip-failures'), windowMs: number('ip-window') };
  const serve = {
    listen: options.listen ?? file.listen,
    trustedProxies: options['trusted-proxy'] ?? file['trusted-proxy'] ?? [],
    requestTimeoutMs: number('request-timeout') ?? DEFAULT_SERVER_LIMITS.requestTimeoutMs,
    connectionsPerAddress: number('connections-per-address') ?? DEFAULT_SERVER_LIMITS.connectionsPerAddress,
    maxConnections: number('max-connections') ?? DEFAULT_SERVER_LIMITS.maxConnections,
  };
  const state = defaultStateDir(env);
  const verifier: VerifierOptions = {
    database: options.database ?? env.TOKENGATE_VERIFIER_DATABASE ?? file.database ?? join(state, 'verifier.sqlite'),
    secret: secretFrom(options['secret-file'] ?? env.TOKENGATE_VERIFIER_SECRET_FILE ?? file['secret-file'] ?? join(state, 'verifier.secret')),
    mail: { from: options.from ?? env.TOKENGATE_MAIL_FROM ?? file.from ?? 'tokengate-verifier@localhost', transport: transport(options, env, file, state) },
    ...(tokenLength === undefined ? {} : { tokenLength }),
    ...(auditRetentionMs === undefined ? {} : { auditRetentionMs }),
    lockout: definedOnly(lockout),
    ipLimit: definedOnly(ipLimit),
    fido: fidoSettings(options, env, file),
    // One line on stderr, like the CLI's errors, instead of Node's "(node:PID) SecurityWarning".
    onWarning: (warning) => console.error(`tokengate: warning: ${warning.message} [${warning.code}]`),
  };
  return { verifier, serve };
}

/** The fields that were set: an undefined one must not hide the library's default. */
function definedOnly<T extends Record<string, number | undefined>>(fields: T): { [K in keyof T]?: number } {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as { [K in keyof T]?: number };
}
