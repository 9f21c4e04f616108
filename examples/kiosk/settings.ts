// The kiosk's settings: options beat the environment, which beats a JSON file (--config). Every
// value is checked at start; a wrong one is one line that names it and says what it takes, and
// the kiosk exits 2 — never a stack trace, never a kiosk that starts and then spins.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { defaultStateDir } from '../../src/index.js';

export const HELP = `usage: kiosk [options]

  --module PATH          PKCS#11 module           TOKENGATE_KIOSK_MODULE   (default: the first discovered)
  --verifier URL         the verifier             TOKENGATE_VERIFIER_URL   (default: http://127.0.0.1:8787)
  --rp-id DOMAIN         security keys' relying party  TOKENGATE_KIOSK_RP_ID  (default: the verifier's)
                         (keys are unlocked and sign for it; it must be the verifier's rpId)
  --fido-device PATH     only this key            TOKENGATE_KIOSK_FIDO_DEVICE  (default: any FIDO key on USB)
                         (a HID path, or udp:HOST:PORT for the simulator: npm run fido-sim)
  --state-dir DIR        PIN counters, blocklist  TOKENGATE_STATE_DIR      (default: ~/.local/state/tokengate)
                         (the same PIN counters as the tokengate CLI uses, so both see one count)
  --idle-timeout SEC     reset after this long    TOKENGATE_KIOSK_IDLE     (default: 30; 1 to 3600)
  --max-failures N       wrong PINs before a lock (for tokens that never lock themselves; default 3)
  --log FILE             notes for the kiosk's admin, never shown at the door
                         (default: <state dir>/kiosk/kiosk.log)
  --config FILE          the same as JSON: { "module", "verifier", "rpId", "fidoDevice", "stateDir", "idleTimeout", "maxFailures", "log" }
                         (options beat the environment, which beats the file)
  --debug                stack traces on errors
  --help                 this text
`;

export interface KioskSettings {
  module: string | undefined;
  verifier: string;
  /** Security keys' relying party; undefined: ask the verifier at start. */
  rpId: string | undefined;
  /** Watch only this key (a HID path or udp:HOST:PORT); undefined: every FIDO key on USB. */
  fidoDevice: string | undefined;
  stateDir: string;
  idleTimeoutSec: number;
  maxFailures: number;
  log: string;
  debug: boolean;
}

/** A setting that cannot be used: the message names it and says what it takes. */
export class KioskSettingsError extends Error {
  override readonly name = 'KioskSettingsError';
}

const FILE_KEYS = ['module', 'verifier', 'rpId', 'fidoDevice', 'stateDir', 'idleTimeout', 'maxFailures', 'log'] as const;
type FileConfig = Partial<Record<(typeof FILE_KEYS)[number], unknown>>;

function readConfigFile(path: string): FileConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new KioskSettingsError(`cannot read --config ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : String(code)}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new KioskSettingsError(`--config ${path} is not valid JSON (${(err as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new KioskSettingsError(`--config ${path} must hold a JSON object`);
  const unknown = Object.keys(parsed).filter((k) => !(FILE_KEYS as readonly string[]).includes(k));
  if (unknown.length > 0) throw new KioskSettingsError(`--config ${path}: unknown setting "${unknown[0]}" (known: ${FILE_KEYS.join(', ')})`);
  return parsed as FileConfig;
}

function integer(name: string, raw: unknown, min: number, max: number): number {
  const value = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new KioskSettingsError(`${name} must be a whole number from ${min} to ${max}`);
  }
  return value;
}

function text(name: string, raw: unknown): string | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || raw === '') throw new KioskSettingsError(`${name} must be a non-empty string`);
  return raw;
}

function verifierUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new KioskSettingsError(`--verifier must be a URL such as http://127.0.0.1:8787 (got "${raw}")`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new KioskSettingsError(`--verifier must start with http:// or https:// (got "${raw}")`);
  return raw;
}

// The verifier's own rule for an rpId (src/verifier/credentials/webauthn.ts): caught here at start.
const DOMAIN = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

function rpId(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  if (!DOMAIN.test(raw) || /^[0-9.]+$/.test(raw)) throw new KioskSettingsError(`--rp-id must be a lower-case domain name such as door.example.com, no scheme, port or IP address (got "${raw}")`);
  return raw;
}

/** The settings, or undefined for --help. */
export function kioskSettings(argv: string[], env: NodeJS.ProcessEnv): KioskSettings | undefined {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        module: { type: 'string' },
        verifier: { type: 'string' },
        'rp-id': { type: 'string' },
        'fido-device': { type: 'string' },
        'state-dir': { type: 'string' },
        'idle-timeout': { type: 'string' },
        'max-failures': { type: 'string' },
        config: { type: 'string' },
        log: { type: 'string' },
        debug: { type: 'boolean' },
        help: { type: 'boolean' },
      },
    }));
  } catch (err) {
    // parseArgs's own text suggests "--" for positionals, which means nothing here.
    const option = /'(-[^']*)'/.exec((err as Error).message)?.[1];
    throw new KioskSettingsError(option ? `unknown option ${option} (see --help)` : `${(err as Error).message.split('.')[0]} (see --help)`);
  }
  if (values.help) return undefined;
  const file = values.config ? readConfigFile(values.config) : {};
  const idle = values['idle-timeout'] ?? env.TOKENGATE_KIOSK_IDLE ?? file.idleTimeout ?? 30;
  const failures = values['max-failures'] ?? file.maxFailures ?? 3;
  const stateDir = text('--state-dir', values['state-dir'] ?? env.TOKENGATE_STATE_DIR ?? file.stateDir) ?? defaultStateDir(env);
  return {
    module: text('--module', values.module ?? env.TOKENGATE_KIOSK_MODULE ?? file.module),
    verifier: verifierUrl(text('--verifier', values.verifier ?? env.TOKENGATE_VERIFIER_URL ?? file.verifier) ?? 'http://127.0.0.1:8787'),
    rpId: rpId(text('--rp-id', values['rp-id'] ?? env.TOKENGATE_KIOSK_RP_ID ?? file.rpId)),
    fidoDevice: text('--fido-device', values['fido-device'] ?? env.TOKENGATE_KIOSK_FIDO_DEVICE ?? file.fidoDevice),
    stateDir,
    log: text('--log', values.log ?? file.log) ?? join(stateDir, 'kiosk', 'kiosk.log'),
    idleTimeoutSec: integer('--idle-timeout (seconds)', idle, 1, 3600),
    maxFailures: integer('--max-failures', failures, 1, 100),
    debug: values.debug === true,
  };
}
