// The door kiosk, unattended at a terminal: waits for a card or a USB security key, shows whose it
// is, asks for the PIN (masked, never echoed, never revealed, never logged), asks before a last
// try, refuses blocked tokens (the verifier's blocklist, cached for when it is away), runs the
// challenge-response (a key: "touch your key"), and shows ACCESS GRANTED or DENIED. Resets when
// the token is pulled out (also mid-prompt) and after an idle timeout. Forever, until SIGINT or
// SIGTERM, which end the current visit first.
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  Blocklist,
  HardwareTokenWatcher,
  HostLockout,
  Pkcs11Module,
  TokengateError,
  findModuleWithToken,
  singleFidoDeviceSource,
  type HardwareToken,
  type HardwareTokenArrival,
  type HardwareTokenKind,
  type Token,
  type TokenInfo,
} from '../../src/index.js';
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
  const verifier = new VerifierClient(settings.verifier, { timeoutMs: 5_000 });
  // Security keys unlock and sign for one relying party: the verifier's, asked for unless --rp-id says it.
  const rpId = settings.rpId ?? (await verifier.fidoRelyingParty().then((rp) => rp.rpId, () => undefined));
  if (rpId === undefined) console.log('(security keys: the access server did not say which relying party they are for, so only cards are taken — give --rp-id)');
  const kiosk = new Kiosk({
    verifier,
    blocklist,
    pins: terminalPins(terminal),
    blocklistCache: cache,
    onStaleBlocklist: () => console.log('(the access server is not answering: using the last blocklist it gave)'),
    onAdminNotice: (message) => adminLog(settings.log, message),
  });

  const idleMs = settings.idleTimeoutSec * 1000;
  /** What is at the door: a card in the reader or a key plugged in (`id` says which one, for its removal). */
  interface Presented {
    readonly id: string;
    readonly kind: HardwareTokenKind;
    readonly heading: string;
    open(): Promise<{ token: Token | HardwareToken; close(): Promise<void> }>;
  }
  const card = (info: TokenInfo): Presented => ({
    id: `card:${info.serial}`,
    kind: 'pkcs11',
    heading: `Card "${info.label}"`,
    open: async () => ({ token: module.token({ serial: info.serial }), close: async () => {} }),
  });
  const securityKey = (arrival: HardwareTokenArrival): Presented => ({
    id: `key:${arrival.identity.path}#${String(arrival.identity.instance)}`,
    kind: 'fido',
    heading: `Security key "${arrival.identity.label}"`,
    open: async () => {
      const token = await arrival.open();
      return { token, close: () => token.close() };
    },
  });
  let visit: { id: string; controller: AbortController; done: Promise<void> } | undefined;
  let stopping = false;
  const waiting = () => console.log(rpId === undefined ? '\nPresent your card…' : '\nPresent your card or security key…');
  const watcher = module.watch({ intervalMs: 200, emitInitial: true });
  watcher.on('removed', (info: TokenInfo) => {
    if (visit?.id === card(info).id) visit.controller.abort(new Error('the card was pulled out'));
  });
  // The keys plugged in now, for a visit after a reset (a key left in is asked about again).
  const keysIn = new Map<string, Presented>();
  const keyWatcher = rpId === undefined ? undefined : new HardwareTokenWatcher({ fido: { rpId, ...(settings.fidoDevice ? { source: singleFidoDeviceSource(settings.fidoDevice) } : {}) }, intervalMs: 200, emitInitial: true });
  keyWatcher?.on('error', (err) => adminLog(settings.log, `security keys: ${err.message} [${err.code}]`));
  keyWatcher?.on('removed', (identity) => {
    const id = `key:${identity.path}#${String(identity.instance)}`;
    keysIn.delete(id);
    if (visit?.id === id) visit.controller.abort(new Error('the key was pulled out'));
  });
  const startVisit = (presented: Presented): void => {
    if (visit || stopping) return;
    const controller = new AbortController();
    const current = { id: presented.id, controller, done: Promise.resolve() };
    visit = current;
    current.done = (async () => {
      // A plain timer, not AbortSignal.timeout/any: Node 20 may collect those before they fire.
      const idle = setTimeout(() => controller.abort(Object.assign(new Error('idle timeout'), { name: 'TimeoutError' })), idleMs);
      const signal = controller.signal;
      try {
        console.log(`\n${presented.heading}`);
        const opened = await presented.open();
        try {
          const verdict = await kiosk.admit(opened.token, signal);
          console.log(`\n  ${describeVerdict(verdict, presented.kind)}\n`);
          // The verdict stays up until the token is taken away (or the idle timeout).
          if (!signal.aborted) await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
        } finally {
          await opened.close().catch(() => {});
        }
      } catch (err) {
        if (!stopping) console.log(`\n  ACCESS DENIED — ${err instanceof Error ? err.message : String(err)}\n`);
      } finally {
        clearTimeout(idle);
        visit = undefined;
        if (!stopping) {
          waiting();
          // A card still in the reader, or a key still plugged in, after the reset is asked about again.
          const still = module.tokens().find((t) => t.flags.tokenInitialized);
          const next = still ? card(still) : keysIn.values().next().value;
          if (next) startVisit(next);
        }
      }
    })();
  };
  watcher.on('inserted', (info: TokenInfo) => {
    if (info.flags.tokenInitialized) startVisit(card(info));
  });
  keyWatcher?.on('inserted', (arrival) => {
    const presented = securityKey(arrival);
    keysIn.set(presented.id, presented);
    startVisit(presented);
  });
  terminal.hush();
  waiting();
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  // End the visit under way before the module closes under it.
  stopping = true;
  watcher.close();
  keyWatcher?.close();
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
