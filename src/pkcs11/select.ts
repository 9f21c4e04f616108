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

/** Every present token whose information can be read, with its slot. */
export function presentTokens(lib: RawPkcs11): SelectedToken[] {
  const found: SelectedToken[] = [];
  for (const slot of call(lib, 'C_GetSlotList', true)) {
    try {
      found.push({ slot, info: readTokenInfo(lib, slot) });
    } catch (err) {
      if (err instanceof TokengateError && err.rvName !== undefined && UNREADABLE.has(err.rvName)) continue;
      throw err;
    }
  }
  return found;
}

/** Finds the present token matching `selector`; a label shared by two tokens is refused, not guessed. */
export function selectToken(lib: RawPkcs11, selector: TokenSelector): SelectedToken {
  validateSelector(selector);
  const found = presentTokens(lib).filter(({ info }) => matches(info, selector));
  if (found.length === 0) throw new TokenNotPresentError(`no token with ${describe(selector)} is present`);
  if (found.length > 1) {
    throw new TokenAmbiguousError(`${found.length} tokens match ${describe(selector)}; choose by serial`);
  }
  return found[0]!;
}
