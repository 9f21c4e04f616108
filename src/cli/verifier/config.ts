// How the `tokengate verifier …` commands find their verifier: options, else environment, else
// the embedded defaults under the state directory (a SQLite file, a generated server secret, an
// outbox of .eml files), so `tokengate verifier serve` works with nothing set up.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultStateDir } from '../../lockout/state-dir.js';
import type { MailTransportConfig } from '../../verifier/mail/transport.js';
import { ServerSecret } from '../../verifier/server-secret.js';
import type { VerifierOptions } from '../../verifier/verifier.js';

export interface VerifierCliOptions {
  database?: string | undefined;
  'secret-file'?: string | undefined;
  smtp?: string | undefined;
  outbox?: string | undefined;
  from?: string | undefined;
}

export const VERIFIER_OPTION_HELP = `verifier options (each also from the environment):
  --database PATH|URL     SQLite file or postgres:// URL   TOKENGATE_VERIFIER_DATABASE
                          (default: <state dir>/verifier.sqlite)
  --secret-file PATH      the server secret (32+ bytes)    TOKENGATE_VERIFIER_SECRET_FILE
                          (default: <state dir>/verifier.secret, created on first use)
  --smtp smtp://HOST:PORT deliver mail over SMTP           TOKENGATE_SMTP_URL
  --outbox DIR            else write .eml files here       TOKENGATE_OUTBOX
                          (default: <state dir>/outbox)
  --from ADDRESS          sender of the verifier's mails   TOKENGATE_MAIL_FROM
  state dir: TOKENGATE_STATE_DIR, else $XDG_STATE_HOME/tokengate, else ~/.local/state/tokengate`;

export const verifierParseOptions = {
  database: { type: 'string' },
  'secret-file': { type: 'string' },
  smtp: { type: 'string' },
  outbox: { type: 'string' },
  from: { type: 'string' },
} as const;

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

function transport(options: VerifierCliOptions, env: NodeJS.ProcessEnv, state: string): MailTransportConfig {
  const smtp = options.smtp ?? env.TOKENGATE_SMTP_URL;
  if (smtp) {
    const url = new URL(smtp);
    if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') throw new TypeError('--smtp: an smtp:// or smtps:// URL');
    return {
      kind: 'smtp',
      host: url.hostname,
      port: Number(url.port || (url.protocol === 'smtps:' ? 465 : 25)),
      secure: url.protocol === 'smtps:',
      ...(url.username ? { user: decodeURIComponent(url.username), password: decodeURIComponent(url.password) } : {}),
    };
  }
  return { kind: 'outbox', dir: options.outbox ?? env.TOKENGATE_OUTBOX ?? join(state, 'outbox') };
}

export function verifierOptions(options: VerifierCliOptions, env: NodeJS.ProcessEnv = process.env): VerifierOptions {
  const state = defaultStateDir(env);
  return {
    database: options.database ?? env.TOKENGATE_VERIFIER_DATABASE ?? join(state, 'verifier.sqlite'),
    secret: secretFrom(options['secret-file'] ?? env.TOKENGATE_VERIFIER_SECRET_FILE ?? join(state, 'verifier.secret')),
    mail: { from: options.from ?? env.TOKENGATE_MAIL_FROM ?? 'tokengate-verifier@localhost', transport: transport(options, env, state) },
    // One line on stderr, like the CLI's errors, instead of Node's "(node:PID) SecurityWarning".
    onWarning: (warning) => console.error(`tokengate: warning: ${warning.message} [${warning.code}]`),
  };
}
