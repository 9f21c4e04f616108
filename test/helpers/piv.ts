// The real smart-card stack for a test file: a private pcscd with a vpcd reader, an emulated PIV
// card connected to it, and OpenSC configured (OPENSC_CONF) to unblock with the PUK. Everything
// stops in afterAll, also when tests fail. pcscd serialises its users across test processes.
import { afterAll, beforeAll } from 'vitest';
import { OPENSC_MODULE, OPENSC_UNBLOCK_CONF, startPcscd, type PcscDaemon } from '../../native-fixtures/pcsc/pcscd.js';
import { startPivCard, type PivCard, type PivCardOptions } from '../../native-fixtures/piv/card.js';
import type { Pkcs11Module, TokenInfo } from '../../src/index.js';

export interface PivStack {
  readonly daemon: PcscDaemon;
  readonly card: PivCard;
  readonly modulePath: string;
}

export function usePivStack(card: Omit<PivCardOptions, 'port'> = {}): { readonly current: PivStack } {
  let stack: PivStack | undefined;
  let daemon: PcscDaemon | undefined;
  let started: PivCard | undefined;
  beforeAll(async () => {
    // Read by OpenSC at C_Initialize: set before any test loads the module.
    process.env.OPENSC_CONF = OPENSC_UNBLOCK_CONF;
    daemon = await startPcscd();
    started = await startPivCard({ ...card, port: daemon.port });
    stack = { daemon, card: started, modulePath: OPENSC_MODULE };
  }, 200_000);
  afterAll(async () => {
    await started?.stop();
    await daemon?.stop();
  });
  return {
    get current(): PivStack {
      if (!stack) throw new Error('PIV stack not ready');
      return stack;
    },
  };
}

/**
 * The token watcher's next `inserted` (a token already there counts) or `removed` event for this
 * serial, with a deadline. The watcher takes its baseline at once, so start this BEFORE pulling
 * the card out: `const gone = tokenEvent(m, serial, 'removed'); await card.remove(); await gone;`.
 */
export function tokenEvent(module: Pkcs11Module, serial: string, type: 'inserted' | 'removed', deadlineMs = 15_000): Promise<TokenInfo> {
  const signal = AbortSignal.timeout(deadlineMs);
  const watcher = module.watch({ intervalMs: 100, emitInitial: type === 'inserted', signal });
  return (async () => {
    try {
      for await (const event of watcher) {
        if (event.type === type && event.token.serial === serial) return event.token;
      }
    } catch (err) {
      if (!signal.aborted) throw err;
    } finally {
      watcher.close();
    }
    throw new Error(`token ${serial} was not ${type} within ${deadlineMs} ms`);
  })();
}
