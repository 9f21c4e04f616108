// Integration: the token watcher on SoftHSM. A running SoftHSM does not notice tokens made by
// another process, so tokens arrive through C_InitToken in this process (module.initializeToken),
// change through a wrong PIN (SoftHSM sets COUNT_LOW), and leave when their directory is deleted
// (SoftHSM then cannot read them). Every wait is on the event itself, with a deadline.
import { once } from 'node:events';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Pkcs11Module, type TokenEvent, type TokenInfo } from '../src/index.js';
import { useSoftHsm } from './helpers/softhsm.js';

const hsm = useSoftHsm({ tokens: [{ label: 'watched', keys: [] }] });
let mod: Pkcs11Module;

beforeAll(async () => {
  mod = await Pkcs11Module.load(hsm.current.modulePath);
});
afterAll(async () => {
  await mod?.close();
});

const deadline = () => AbortSignal.timeout(5_000);

describe('TokenWatcher', () => {
  it('reports the tokens already there when asked to', async () => {
    await using watcher = mod.watch({ intervalMs: 20, emitInitial: true });
    const [token] = (await once(watcher, 'inserted', { signal: deadline() })) as [TokenInfo];
    expect(token.serial).toBe(hsm.current.tokens[0]!.serial);
  });

  it('sees a token inserted, changed and removed, in that order, through the async iterator too', async () => {
    await using watcher = mod.watch({ intervalMs: 20 });
    const seen: TokenEvent[] = [];
    const collecting = (async () => {
      for await (const event of watcher) {
        seen.push(event);
        if (event.type === 'removed') return;
      }
    })();

    const inserted = once(watcher, 'inserted', { signal: deadline() });
    const fresh = mod.initializeToken({ soPin: 'so-pin-1234', label: 'arrives' });
    const [token] = (await inserted) as [TokenInfo];
    expect(token.label).toBe('arrives');
    expect(token.serial).toBe(fresh.serial);

    const changed = once(watcher, 'changed', { signal: deadline() });
    {
      await using so = await fresh.openSession({ write: true });
      await expect(so.login('wrong-so-pin', { userType: 'so' })).rejects.toMatchObject({ code: 'ERR_PIN_INCORRECT' });
    }
    const [after, before] = (await changed) as [TokenInfo, TokenInfo];
    expect(before.soPinStatus).toBe('ok');
    expect(after.soPinStatus).toBe('countLow');

    const removed = once(watcher, 'removed', { signal: deadline() });
    const tokens = join(hsm.current.dir, 'tokens');
    const dir = readdirSync(tokens).find((d) => d.replaceAll('-', '').endsWith(fresh.serial))!;
    rmSync(join(tokens, dir), { recursive: true });
    const [gone] = (await removed) as [TokenInfo];
    expect(gone.serial).toBe(fresh.serial);

    await collecting;
    expect(seen.map((e) => e.type)).toEqual(['inserted', 'changed', 'removed']);
    // The token that stayed was never reported: events are about differences only.
    expect(seen.every((e) => e.token.serial === fresh.serial)).toBe(true);
  });

  it('stops polling when its signal aborts, and its iterator ends', async () => {
    const controller = new AbortController();
    const spy = vi.spyOn(mod.raw, 'C_GetSlotList');
    // Fake timers make "no poll after the abort" a fact to check, not a wait to hope on.
    vi.useFakeTimers();
    try {
      const watcher = mod.watch({ intervalMs: 10, signal: controller.signal });
      const iterating = (async () => {
        const got: TokenEvent[] = [];
        for await (const e of watcher) got.push(e);
        return got;
      })();
      spy.mockClear();
      vi.advanceTimersByTime(35);
      expect(spy.mock.calls.length).toBeGreaterThanOrEqual(3);
      spy.mockClear();
      controller.abort();
      expect(watcher.closed).toBe(true);
      vi.advanceTimersByTime(1_000);
      expect(spy).not.toHaveBeenCalled();
      expect(watcher.poll()).toEqual([]);
      await expect(iterating).resolves.toEqual([]);
    } finally {
      vi.useRealTimers();
      spy.mockRestore();
    }
  });

  it('ends by itself when its module closes', async () => {
    const other = await Pkcs11Module.load(hsm.current.modulePath);
    const watcher = other.watch({ intervalMs: 10 });
    await other.close();
    const ended = (async () => {
      for await (const e of watcher) void e;
    })();
    await ended;
    expect(watcher.closed).toBe(true);
  });
});
