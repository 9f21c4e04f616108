// The door kiosk, unattended at a terminal: waits for a card, shows whose it is, asks for the PIN
// (masked, never echoed, never revealed, never logged), asks before a last try, refuses blocked
// cards (the verifier's blocklist, cached for when it is away), runs the challenge-response, and
// shows ACCESS GRANTED or DENIED. Resets when the card is pulled out (also mid-prompt) and after
// an idle timeout. Forever, until SIGINT or SIGTERM, which end the current visit first.
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Blocklist, HostLockout, Pkcs11Module, TokengateError, findModuleWithToken, type TokenInfo } from '../../src/index.js';
import { VerifierClient } from '../../src/client/index.js';
import { describeVerdict, Kiosk } from './kiosk.js';
import { HELP, KioskSettingsError, kioskSettings, type KioskSettings } from './settings.js';
import { QuietTerminal, terminalPins } from './terminal.js';

/** A line for the kiosk's admin, in a file only they read: the door's screen is for visitors. */
function adminLog(path: string, message: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  appendFileSync(path, `${new Date().toISOString()} ${message}\n`, { mode: 0o600 });
}

async function run(settings: KioskSettings, terminal: QuietTerminal): Promise<number> {
  const modulePath = settings.module ?? (await findModuleWithToken());
  if (!modulePath) throw new KioskSettingsError('no PKCS#11 module with a token was found (give --module PATH)');
  // The same counters as the CLI and any other program here: one count per token on this machine.
  using lockout = new HostLockout({ stateDir: settings.stateDir, maxFailures: settings.maxFailures });
  await using module = await Pkcs11Module.load(modulePath, { loginGuard: lockout });
  const cache = join(settings.stateDir, 'kiosk', 'blocklist.json');
  const blocklist = await Blocklist.fromFile(cache).catch(() => new Blocklist());
  const kiosk = new Kiosk({
    verifier: new VerifierClient(settings.verifier, { timeoutMs: 5_000 }),
    blocklist,
    pins: terminalPins(terminal),
    blocklistCache: cache,
    onStaleBlocklist: () => console.log('(the access server is not answering: using the last blocklist it gave)'),
    onAdminNotice: (message) => adminLog(settings.log, message),
  });

  const idleMs = settings.idleTimeoutSec * 1000;
  let visit: { serial: string; controller: AbortController; done: Promise<void> } | undefined;
  let stopping = false;
  const waiting = () => console.log('\nPresent your card…');
  const watcher = module.watch({ intervalMs: 200, emitInitial: true });
  watcher.on('removed', (info: TokenInfo) => {
    if (visit?.serial === info.serial) visit.controller.abort(new Error('the card was pulled out'));
  });
  const startVisit = (info: TokenInfo): void => {
    if (visit || stopping || !info.flags.tokenInitialized) return;
    const controller = new AbortController();
    const current = { serial: info.serial, controller, done: Promise.resolve() };
    visit = current;
    current.done = (async () => {
      // A plain timer, not AbortSignal.timeout/any: Node 20 may collect those before they fire.
      const idle = setTimeout(() => controller.abort(Object.assign(new Error('idle timeout'), { name: 'TimeoutError' })), idleMs);
      const signal = controller.signal;
      try {
        console.log(`\nCard "${info.label}"`);
        const verdict = await kiosk.admit(module.token({ serial: info.serial }), signal);
        console.log(`\n  ${describeVerdict(verdict)}\n`);
        // The verdict stays up until the card is taken away (or the idle timeout).
        if (!signal.aborted) await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      } catch (err) {
        if (!stopping) console.log(`\n  ACCESS DENIED — ${err instanceof Error ? err.message : String(err)}\n`);
      } finally {
        clearTimeout(idle);
        visit = undefined;
        if (!stopping) {
          waiting();
          // A card still in the reader after the reset is asked about again.
          const still = module.tokens().find((t) => t.flags.tokenInitialized);
          if (still) startVisit(still);
        }
      }
    })();
  };
  watcher.on('inserted', startVisit);
  terminal.hush();
  waiting();
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  // End the visit under way before the module closes under it.
  stopping = true;
  watcher.close();
  const last = visit;
  last?.controller.abort(new Error('the kiosk is stopping'));
  await last?.done;
  return 0;
}

async function main(): Promise<number> {
  const terminal = new QuietTerminal();
  let debug = process.argv.includes('--debug');
  try {
    const settings = kioskSettings(process.argv.slice(2), process.env);
    if (!settings) {
      console.log(HELP);
      return 0;
    }
    debug = settings.debug;
    return await run(settings, terminal);
  } catch (err) {
    // One line a person can act on; the stack only when asked for.
    const code = err instanceof TokengateError ? ` [${err.code}]` : '';
    console.error(`kiosk: ${err instanceof Error ? err.message : String(err)}${code}`);
    if (debug && err instanceof Error) console.error(err.stack);
    return err instanceof KioskSettingsError || (err instanceof TokengateError && err.code === 'ERR_MODULE_LOAD') ? 2 : 1;
  } finally {
    terminal.release();
  }
}

process.exitCode = await main();
