// The door kiosk, unattended at a terminal: waits for a card, shows whose it is, asks for the PIN
// (masked, never echoed or logged), asks before a last try, refuses blocked cards (the verifier's
// blocklist, cached for when it is away), runs the challenge-response, and shows ACCESS GRANTED or
// DENIED. Resets when the card is pulled out (also mid-prompt) and after an idle timeout. Forever.
import { confirm, password } from '@inquirer/prompts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Blocklist, HostLockout, Pkcs11Module, VerifierClient, defaultStateDir, discoverModules, type TokenInfo } from '../../src/index.js';
import { describeVerdict, Kiosk, type PinSource } from './kiosk.js';

const HELP = `usage: kiosk [options]

  --module PATH          PKCS#11 module           TOKENGATE_KIOSK_MODULE   (default: the first discovered)
  --verifier URL         the verifier             TOKENGATE_VERIFIER_URL   (default: http://127.0.0.1:8787)
  --state-dir DIR        PIN counters, blocklist  TOKENGATE_STATE_DIR      (default: ~/.local/state/tokengate)
  --idle-timeout SEC     reset after this long    TOKENGATE_KIOSK_IDLE     (default: 30)
  --max-failures N       wrong PINs before a lock (for tokens that never lock themselves; default 3)
  --config FILE          the same as JSON: { "module", "verifier", "stateDir", "idleTimeout", "maxFailures" }
                         (options beat the environment, which beats the file)
  --help                 this text
`;

interface Config {
  module?: string;
  verifier?: string;
  stateDir?: string;
  idleTimeout?: number;
  maxFailures?: number;
}

function config(argv: string[], env: NodeJS.ProcessEnv): Config | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      module: { type: 'string' },
      verifier: { type: 'string' },
      'state-dir': { type: 'string' },
      'idle-timeout': { type: 'string' },
      'max-failures': { type: 'string' },
      config: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) return undefined;
  const file = values.config ? (JSON.parse(readFileSync(values.config, 'utf8')) as Config) : {};
  const number = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  return {
    module: values.module ?? env.TOKENGATE_KIOSK_MODULE ?? file.module,
    verifier: values.verifier ?? env.TOKENGATE_VERIFIER_URL ?? file.verifier ?? 'http://127.0.0.1:8787',
    stateDir: values['state-dir'] ?? env.TOKENGATE_STATE_DIR ?? file.stateDir ?? defaultStateDir(env),
    idleTimeout: number(values['idle-timeout']) ?? number(env.TOKENGATE_KIOSK_IDLE) ?? file.idleTimeout ?? 30,
    maxFailures: number(values['max-failures']) ?? file.maxFailures ?? 3,
  };
}

/** Masked prompts (@inquirer/prompts); a pulled card or the idle timeout aborts them. */
const terminalPins: PinSource = {
  pin: (prompt, signal) => {
    const left = prompt.retriesLeft === undefined ? '' : ` (${prompt.retriesLeft} ${prompt.retriesLeft === 1 ? 'try' : 'tries'} left)`;
    return password({ message: `${prompt.holder}, your PIN${left}:`, mask: '*' }, { signal });
  },
  confirmFinalTry: (_prompt, signal) => confirm({ message: 'This is your last try: a wrong PIN locks the card. Go on?', default: false }, { signal }),
};

async function main(): Promise<number> {
  const settings = config(process.argv.slice(2), process.env);
  if (!settings) {
    console.log(HELP);
    return 0;
  }
  const modulePath = settings.module ?? discoverModules()[0]?.path;
  if (!modulePath) {
    console.error('kiosk: no PKCS#11 module found (give --module PATH)');
    return 2;
  }
  // The same counters as the CLI and any other program here: one count per token on this machine.
  using lockout = new HostLockout({ stateDir: settings.stateDir!, maxFailures: settings.maxFailures! });
  await using module = await Pkcs11Module.load(modulePath, { loginGuard: lockout });
  const cache = join(settings.stateDir!, 'kiosk', 'blocklist.json');
  const blocklist = await Blocklist.fromFile(cache).catch(() => new Blocklist());
  const kiosk = new Kiosk({
    verifier: new VerifierClient(settings.verifier!, { timeoutMs: 5_000 }),
    blocklist,
    pins: terminalPins,
    blocklistCache: cache,
    onStaleBlocklist: () => console.log('(the access server is not answering: using the last blocklist it gave)'),
  });

  const idleMs = settings.idleTimeout! * 1000;
  let visit: { serial: string; controller: AbortController } | undefined;
  const waiting = () => console.log('\nPresent your card…');
  const watcher = module.watch({ intervalMs: 200, emitInitial: true });
  watcher.on('removed', (info: TokenInfo) => {
    if (visit?.serial === info.serial) visit.controller.abort(new Error('the card was pulled out'));
  });
  const startVisit = (info: TokenInfo): void => {
    if (visit || !info.flags.tokenInitialized) return;
    const current = { serial: info.serial, controller: new AbortController() };
    visit = current;
    void (async () => {
      // A plain timer, not AbortSignal.timeout/any: Node 20 may collect those before they fire.
      const idle = setTimeout(() => current.controller.abort(Object.assign(new Error('idle timeout'), { name: 'TimeoutError' })), idleMs);
      const signal = current.controller.signal;
      try {
        console.log(`\nCard "${info.label}"`);
        const verdict = await kiosk.admit(module.token({ serial: info.serial }), signal);
        console.log(`\n  ${describeVerdict(verdict)}\n`);
        // The verdict stays up until the card is taken away (or the idle timeout).
        if (!signal.aborted) await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      } catch (err) {
        console.log(`\n  ACCESS DENIED — ${err instanceof Error ? err.message : String(err)}\n`);
      } finally {
        clearTimeout(idle);
        visit = undefined;
        waiting();
        // A card still in the reader after the reset is asked about again.
        const still = module.tokens().find((t) => t.flags.tokenInitialized);
        if (still) startVisit(still);
      }
    })();
  };
  watcher.on('inserted', startVisit);
  waiting();
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  watcher.close();
  return 0;
}

process.exitCode = await main();
