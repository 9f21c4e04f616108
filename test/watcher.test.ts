// Integration: the token watcher on SoftHSM 2.6. What a running SoftHSM notices without a
// re-initialisation (found by trying, and in its source): a token made by C_InitToken in this
// process appears at once, one made by another process does not; token info is re-read from the
// token's file when it changed, so another process's wrong PIN (COUNT_LOW) shows; a token deleted
// by another process (`softhsm2-util --delete-token`) stays in the slot list but its info fails
// with CKR_GENERAL_ERROR. Re-initialising a token from another process is not used here: SoftHSM
// rewrites it in steps, and a read in between can leave it unreadable in this process for good.
// Every wait is on the event itself, with a deadline; stopping is checked on the timer handles
// and on the module's calls.
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Pkcs11Module, TokenWatcher, type TokenEvent, type TokenInfo, type TokengateError } from '../src/index.js';
import { pkcs11js } from '../src/pkcs11/native.js';
import { useSoftHsm } from './helpers/softhsm.js';

const run = promisify(execFile);

const hsm = useSoftHsm({
  tokens: [
    { label: 'watched', keys: [] },
    { label: 'wrong-pin', keys: [] },
    { label: 'relabel', keys: [] },
    { label: 'deleted', keys: [] },
  ],
});
let mod: Pkcs11Module;

beforeAll(async () => {
  mod = await Pkcs11Module.load(hsm.current.modulePath);
});
afterAll(async () => {
  await mod?.close();
});

const deadline = () => AbortSignal.timeout(5_000);
const fixture = (label: string) => hsm.current.tokens.find((t) => t.label === label)!;
const childEnv = () => ({ ...process.env, ...hsm.current.env });
/** Timers that keep the process alive (unref'd ones are not counted). */
const refTimers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

/** Every event the watcher emits, in order. */
function record(watcher: TokenWatcher): TokenEvent[] {
  const seen: TokenEvent[] = [];
  watcher.on('event', (e) => seen.push(e));
  return seen;
}

function pkcs11Failure(name: string, rv: number, method: string): Error {
  return new pkcs11js.Pkcs11Error(`${name}:${rv}`, rv, method);
}

/** Makes C_GetTokenInfo fail with `rv` for the token with this serial (others read normally) until restored. */
function failTokenInfo(serial: string, name: string, rv: number) {
  const original = mod.raw.C_GetTokenInfo.bind(mod.raw);
  return vi.spyOn(mod.raw, 'C_GetTokenInfo').mockImplementation((slot) => {
    const info = original(slot);
    if (info.serialNumber.trim() === serial) throw pkcs11Failure(name, rv, 'C_GetTokenInfo');
    return info;
  });
}

describe('TokenWatcher: what it reports', () => {
  it('with emitInitial, reports every token already present as inserted, in one poll', async () => {
    await using watcher = mod.watch({ intervalMs: 20, emitInitial: true });
    const inserted: TokenInfo[] = [];
    watcher.on('inserted', (t) => inserted.push(t));
    await once(watcher, 'inserted', { signal: deadline() });
    // One poll emits all of them before the first listener's promise resumes this test.
    expect(inserted.map((t) => t.serial).sort()).toEqual(hsm.current.tokens.map((t) => t.serial).sort());
    expect(inserted.every((t) => t.flags.tokenInitialized)).toBe(true); // not SoftHSM's free slot
  });

  it('without emitInitial, the tokens present are the baseline: an immediate poll reports nothing', async () => {
    await using watcher = mod.watch({ intervalMs: 60_000 });
    expect(watcher.poll()).toEqual([]);
  });

  it('sees a token initialised in this process arrive, and nothing else', async () => {
    await using watcher = mod.watch({ intervalMs: 20 });
    const seen = record(watcher);
    const inserted = once(watcher, 'inserted', { signal: deadline() });
    const fresh = mod.initializeToken({ soPin: 'so-pin-1234', label: 'arrives' });
    const [token] = (await inserted) as [TokenInfo];
    expect(token.label).toBe('arrives');
    expect(token.serial).toBe(fresh.serial);
    expect(seen).toEqual([{ type: 'inserted', token }]);
  });

  it("sees another process's wrong PIN as a change of PIN status (SoftHSM's COUNT_LOW)", async () => {
    const { serial } = fixture('wrong-pin');
    await using watcher = mod.watch({ intervalMs: 20 });
    const changed = once(watcher, 'changed', { signal: deadline() });
    await expect(
      run('pkcs11-tool', ['--module', hsm.current.modulePath, '--token-label', 'wrong-pin', '--login', '--pin', '000000', '--list-objects'], {
        env: childEnv(),
      }),
    ).rejects.toMatchObject({ code: 1 });
    const [after, before] = (await changed) as [TokenInfo, TokenInfo];
    expect(after.serial).toBe(serial);
    expect(before.serial).toBe(serial);
    expect(before.pinStatus).toBe('ok');
    expect(after.pinStatus).toBe('countLow');
    expect(after.label).toBe('wrong-pin');
  });

  it('sees a token re-initialised under a new label as a change, keyed by the unchanged serial', async () => {
    const { serial, soPin } = fixture('relabel');
    await using watcher = mod.watch({ intervalMs: 20 });
    const seen = record(watcher);
    const changed = once(watcher, 'changed', { signal: deadline() });
    mod.raw.C_InitToken(mod.token({ serial }).slot, soPin, 'relabelled');
    const [after, before] = (await changed) as [TokenInfo, TokenInfo];
    expect([before.label, after.label]).toEqual(['relabel', 'relabelled']);
    expect(after.serial).toBe(serial);
    // Re-initialising removes the user PIN: the flags changed in the same event.
    expect([before.flags.userPinInitialized, after.flags.userPinInitialized]).toEqual([true, false]);
    // A change, not a removal plus an insertion.
    expect(seen.map((e) => e.type)).toEqual(['changed']);
  });

  it('sees a token deleted by another process as removed, through the async iterator, which the loop owns', async () => {
    const { serial } = fixture('deleted');
    // The signal is the deadline: at worst the watcher closes and the loop ends without the event.
    const watcher = mod.watch({ intervalMs: 20, signal: deadline() });
    const deleting = run('softhsm2-util', ['--delete-token', '--serial', serial], { env: childEnv() });
    const seen: TokenEvent[] = [];
    for await (const event of watcher) {
      seen.push(event);
      if (event.type === 'removed') break;
    }
    await deleting;
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ type: 'removed', token: { serial, label: 'deleted' } });
    // Leaving the loop closed the watcher.
    expect(watcher.closed).toBe(true);
    // SoftHSM still lists the slot; its token is simply unreadable, so not among the tokens.
    expect(mod.tokens().some((t) => t.serial === serial)).toBe(false);
  });

  it('counts a token that vanishes between the slot list and its info as removed at once, not as an error', async () => {
    const { serial } = fixture('watched');
    for (const [name, rv] of [
      ['CKR_TOKEN_NOT_PRESENT', pkcs11js.CKR_TOKEN_NOT_PRESENT],
      ['CKR_SLOT_ID_INVALID', pkcs11js.CKR_SLOT_ID_INVALID],
    ] as const) {
      await using watcher = mod.watch({ intervalMs: 60_000 });
      const errors: TokengateError[] = [];
      watcher.on('error', (e) => errors.push(e));
      const spy = failTokenInfo(serial, name, rv);
      try {
        expect(watcher.poll(), name).toMatchObject([{ type: 'removed', token: { serial, label: 'watched' } }]);
      } finally {
        spy.mockRestore();
      }
      expect(watcher.poll(), name).toMatchObject([{ type: 'inserted', token: { serial, label: 'watched' } }]);
      expect(errors, name).toEqual([]);
    }
  });

  it('gives a listed token it cannot read (CKR_GENERAL_ERROR) one more poll before calling it removed', async () => {
    // SoftHSM answers so for a moment while another process rewrites the token file, and for good
    // once the token's directory is gone.
    const { serial } = fixture('watched');
    await using watcher = mod.watch({ intervalMs: 60_000 });
    let spy = failTokenInfo(serial, 'CKR_GENERAL_ERROR', pkcs11js.CKR_GENERAL_ERROR);
    try {
      expect(watcher.poll()).toEqual([]); // a blip...
      spy.mockRestore();
      expect(watcher.poll()).toEqual([]); // ...is no event at all
      spy = failTokenInfo(serial, 'CKR_GENERAL_ERROR', pkcs11js.CKR_GENERAL_ERROR);
      expect(watcher.poll()).toEqual([]);
      expect(watcher.poll()).toMatchObject([{ type: 'removed', token: { serial } }]); // unreadable twice: gone
    } finally {
      spy.mockRestore();
    }
    expect(watcher.poll()).toMatchObject([{ type: 'inserted', token: { serial } }]);
  });
});

describe('TokenWatcher: module failures', () => {
  it('emits a failed poll as an error event with the CKR, keeps what it knew, and keeps polling', async () => {
    await using watcher = mod.watch({ intervalMs: 20 });
    const seen = record(watcher);
    const spy = vi
      .spyOn(mod.raw, 'C_GetSlotList')
      .mockImplementation(() => {
        throw pkcs11Failure('CKR_DEVICE_ERROR', pkcs11js.CKR_DEVICE_ERROR, 'C_GetSlotList');
      });
    let error: TokengateError;
    try {
      [error] = (await once(watcher, 'error', { signal: deadline() })) as [TokengateError];
      // A second failure: the watcher went on polling after the first.
      await once(watcher, 'error', { signal: deadline() });
    } finally {
      spy.mockRestore();
    }
    expect(error).toMatchObject({ code: 'ERR_PKCS11', rvName: 'CKR_DEVICE_ERROR', fn: 'C_GetSlotList' });
    expect(watcher.closed).toBe(false);
    // The failed polls did not read as every token removed.
    expect(watcher.poll()).toEqual([]);
    expect(seen).toEqual([]);
  });

  it('skips a failed poll when nobody listens for errors, rather than throwing from its timer', async () => {
    await using watcher = mod.watch({ intervalMs: 60_000 });
    const spy = vi.spyOn(mod.raw, 'C_GetSlotList').mockImplementation(() => {
      throw pkcs11Failure('CKR_DEVICE_ERROR', pkcs11js.CKR_DEVICE_ERROR, 'C_GetSlotList');
    });
    try {
      expect(watcher.poll()).toEqual([]);
      expect(spy).toHaveBeenCalledTimes(1);
    } finally {
      spy.mockRestore();
    }
    expect(watcher.closed).toBe(false);
  });

  it('throws a failed poll out of a for-await loop, and the loop leaving closes the watcher', async () => {
    const watcher = mod.watch({ intervalMs: 20, signal: deadline() });
    const spy = vi.spyOn(mod.raw, 'C_GetSlotList').mockImplementation(() => {
      throw pkcs11Failure('CKR_DEVICE_ERROR', pkcs11js.CKR_DEVICE_ERROR, 'C_GetSlotList');
    });
    try {
      const loop = (async () => {
        for await (const event of watcher) void event;
      })();
      await expect(loop).rejects.toMatchObject({ code: 'ERR_PKCS11', rvName: 'CKR_DEVICE_ERROR' });
    } finally {
      spy.mockRestore();
    }
    expect(watcher.closed).toBe(true);
  });

  it('closes itself when the library was finalized under it (CKR_CRYPTOKI_NOT_INITIALIZED), with no error event', async () => {
    const watcher = mod.watch({ intervalMs: 20, signal: deadline() });
    const errors: TokengateError[] = [];
    watcher.on('error', (e) => errors.push(e));
    const spy = vi.spyOn(mod.raw, 'C_GetSlotList').mockImplementation(() => {
      throw pkcs11Failure('CKR_CRYPTOKI_NOT_INITIALIZED', pkcs11js.CKR_CRYPTOKI_NOT_INITIALIZED, 'C_GetSlotList');
    });
    try {
      const closedBy = once(watcher, 'close');
      watcher.poll();
      await closedBy;
    } finally {
      spy.mockRestore();
    }
    expect(watcher.closed).toBe(true);
    expect(errors).toEqual([]);
  });

  it('refuses a bad interval and a closed module with typed errors', async () => {
    for (const intervalMs of [0, 5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => mod.watch({ intervalMs })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    }
    const other = await Pkcs11Module.load(hsm.current.modulePath);
    await other.close();
    expect(() => other.watch({ emitInitial: true })).toThrow(expect.objectContaining({ code: 'ERR_MODULE_CLOSED' }));
  });
});

describe('TokenWatcher: stopping', () => {
  it('stops polling when its signal aborts, and its iterator ends', async () => {
    const controller = new AbortController();
    const spy = vi.spyOn(mod.raw, 'C_GetSlotList');
    // Fake timers make "no poll after the abort" a fact to check, not a wait to hope on.
    vi.useFakeTimers();
    try {
      const watcher = mod.watch({ intervalMs: 10, signal: controller.signal });
      const closeEvents: number[] = [];
      watcher.on('close', () => closeEvents.push(1));
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
      expect(closeEvents).toEqual([1]);
      expect(vi.getTimerCount()).toBe(0);
      vi.advanceTimersByTime(1_000);
      expect(spy).not.toHaveBeenCalled();
      expect(watcher.poll()).toEqual([]);
      await expect(iterating).resolves.toEqual([]);
    } finally {
      vi.useRealTimers();
      spy.mockRestore();
    }
  });

  it('with an already aborted signal, never starts', () => {
    const before = refTimers();
    const watcher = mod.watch({ signal: AbortSignal.abort() });
    expect(watcher.closed).toBe(true);
    expect(refTimers()).toBe(before);
  });

  it('close() leaves no timer behind, before or after the first poll, and is idempotent', async () => {
    const before = refTimers();
    const early = mod.watch({ intervalMs: 20 });
    expect(refTimers()).toBe(before + 1);
    early.close();
    expect(refTimers()).toBe(before);

    const running = mod.watch({ intervalMs: 20, emitInitial: true });
    await once(running, 'inserted', { signal: deadline() });
    // Polled once and re-armed: its timer is the one that close() must clear.
    const armed = refTimers();
    const spy = vi.spyOn(mod.raw, 'C_GetSlotList');
    try {
      running.close();
      running.close();
      expect(refTimers()).toBe(armed - 1);
      expect(running.poll()).toEqual([]);
      expect(spy).not.toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
  });

  it('closes with `await using` and with `using`', async () => {
    let a: TokenWatcher | undefined;
    let b: TokenWatcher | undefined;
    {
      await using watcher = mod.watch({ intervalMs: 20 });
      a = watcher;
      expect(a.closed).toBe(false);
    }
    {
      using watcher = mod.watch({ intervalMs: 20 });
      b = watcher;
    }
    expect(a.closed).toBe(true);
    expect(b.closed).toBe(true);
  });

  it('with unref, does not hold the process open, before or after its first poll', async () => {
    const before = refTimers();
    const watcher = mod.watch({ intervalMs: 20, emitInitial: true, unref: true });
    expect(refTimers()).toBe(before);
    await once(watcher, 'inserted', { signal: deadline() });
    const armed = refTimers();
    watcher.close();
    expect(refTimers()).toBe(armed); // its re-armed timer was not holding the process either
  });

  it('ends, iterator and all, when its module closes', async () => {
    const other = await Pkcs11Module.load(hsm.current.modulePath);
    const watcher = other.watch({ intervalMs: 20 });
    const ended = (async () => {
      const got: TokenEvent[] = [];
      for await (const e of watcher) got.push(e);
      return got;
    })();
    const before = refTimers();
    await other.close();
    expect(watcher.closed).toBe(true);
    expect(refTimers()).toBe(before - 1);
    await expect(ended).resolves.toEqual([]);
  });
});
