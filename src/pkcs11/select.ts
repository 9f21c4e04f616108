// Choosing a token by label or serial. Slot numbers move (SoftHSM derives them from the serial, a
// reader's slot changes on re-insertion), so a token is always found again by what it says it is.
import { call, type Handle, type RawPkcs11 } from './binding.js';
import { InvalidArgumentError, TokenAmbiguousError, TokenNotPresentError, TokengateError } from './errors.js';
import { readTokenInfo, type TokenInfo, type TokenSelector } from './token-info.js';

export interface SelectedToken {
  slot: Handle;
  info: TokenInfo;
}

function describe(selector: TokenSelector): string {
  if (typeof selector === 'string') return `label or serial "${selector}"`;
  return 'serial' in selector && selector.serial !== undefined
    ? `serial "${selector.serial}"`
    : `label "${(selector as { label: string }).label}"`;
}

function matches(info: TokenInfo, selector: TokenSelector): boolean {
  if (typeof selector === 'string') return info.label === selector || info.serial === selector;
  if ('serial' in selector && selector.serial !== undefined) return info.serial === selector.serial;
  return info.label === (selector as { label: string }).label;
}

export function validateSelector(selector: TokenSelector): void {
  const value = typeof selector === 'string' ? selector : 'serial' in selector ? selector.serial : selector.label;
  if (typeof value !== 'string' || value.length === 0) {
    throw new InvalidArgumentError('a token is chosen by a non-empty label or serial');
  }
}

// Reading a token's info fails when it went between the slot list and the read (TOKEN_NOT_PRESENT,
// DEVICE_REMOVED), or when its store is gone (SoftHSM answers CKR_GENERAL_ERROR for a token whose
// directory was deleted). Either way there is no token there to use.
const UNREADABLE = new Set(['CKR_TOKEN_NOT_PRESENT', 'CKR_DEVICE_REMOVED', 'CKR_GENERAL_ERROR', 'CKR_DEVICE_ERROR', 'CKR_TOKEN_NOT_RECOGNIZED']);

// SoftHSM also answers CKR_GENERAL_ERROR while another process rewrites the token's file (each
// wrong PIN does, to set COUNT_LOW), or answers CKR_OK with the serial or label left blank (its
// C_GetTokenInfo ignores a failed read of either): on 2 CPUs, 175 of 131k reads failed beside a
// process typing wrong PINs, mostly alone but up to 94 in a row (~6 ms). A lookup that meets such
// a slot reads it again until this long has passed, so that a present token is not reported gone
// because another process mistyped its PIN.
const REWRITE_WAIT_MS = 50;
const pause = new Int32Array(new SharedArrayBuffer(4));

/** Every present token whose information can be read, with its slot; `busy` collects the slots that seemed mid-rewrite. */
export function presentTokens(lib: RawPkcs11, busy?: Handle[]): SelectedToken[] {
  const found: SelectedToken[] = [];
  for (const slot of call(lib, 'C_GetSlotList', true)) {
    const read = readSlot(lib, slot);
    if (read.busy && busy) busy.push(slot);
    else if (read.token) found.push(read.token);
  }
  return found;
}

/** A slot's token; `busy` when the read failed as a rewrite makes it fail, or read an initialised token without a serial or label (kept as `token`, in case it stays so). */
function readSlot(lib: RawPkcs11, slot: Handle): { token?: SelectedToken; busy: boolean } {
  try {
    const info = readTokenInfo(lib, slot);
    return { token: { slot, info }, busy: info.flags.tokenInitialized && (info.serial === '' || info.label === '') };
  } catch (err) {
    if (!(err instanceof TokengateError) || err.rvName === undefined || !UNREADABLE.has(err.rvName)) throw err;
    return { busy: err.rvName === 'CKR_GENERAL_ERROR' };
  }
}

/** The busy slots read again, a millisecond apart, until each reads whole or REWRITE_WAIT_MS have passed. */
function readOnceRewritten(lib: RawPkcs11, slots: readonly Handle[]): SelectedToken[] {
  const found: SelectedToken[] = [];
  let waiting = slots.map((slot) => ({ slot, last: undefined as SelectedToken | undefined }));
  const deadline = performance.now() + REWRITE_WAIT_MS;
  while (waiting.length > 0 && performance.now() < deadline) {
    // A synchronous lookup waits synchronously; the rewrite is another process's, 1 ms apart.
    Atomics.wait(pause, 0, 0, 1);
    waiting = waiting.filter((w) => {
      const read = readSlot(lib, w.slot);
      if (read.busy) w.last = read.token ?? w.last;
      else if (read.token) found.push(read.token);
      return read.busy;
    });
  }
  // A token that reads without a serial or label every time is what it says it is.
  for (const w of waiting) if (w.last) found.push(w.last);
  return found;
}

/** Finds the present token matching `selector`; a label shared by two tokens is refused, not guessed. */
export function selectToken(lib: RawPkcs11, selector: TokenSelector): SelectedToken {
  validateSelector(selector);
  const busy: Handle[] = [];
  let found = presentTokens(lib, busy).filter(({ info }) => matches(info, selector));
  // Only when the answer depends on them: a slot unreadable for good (a deleted SoftHSM store)
  // must not slow every lookup by serial of the other tokens.
  if (busy.length > 0 && (found.length === 0 || !bySerial(selector))) {
    found = found.concat(readOnceRewritten(lib, busy).filter(({ info }) => matches(info, selector)));
  }
  if (found.length === 0) throw new TokenNotPresentError(`no token with ${describe(selector)} is present`);
  if (found.length > 1) {
    throw new TokenAmbiguousError(`${found.length} tokens match ${describe(selector)}; choose by serial`);
  }
  return found[0]!;
}

function bySerial(selector: TokenSelector): boolean {
  return typeof selector !== 'string' && 'serial' in selector && selector.serial !== undefined;
}
