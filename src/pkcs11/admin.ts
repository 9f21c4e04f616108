// Token administration: initialising a token (C_InitToken). Setting the user PIN as SO and changing
// PINs are Session methods. PINs are length-checked before the token is asked, and never appear in
// an error.
import { call, type Handle, type RawPkcs11 } from './binding.js';
import { InvalidArgumentError, TokenNotPresentError } from './errors.js';
import { presentTokens } from './select.js';
import { checkPin, pinValue, type Pin } from '../util/pin.js';
import type { TokenInfo } from './token-info.js';

export interface InitializeTokenOptions {
  /** The SO PIN the token gets; within the token's PIN length range. */
  soPin: string | Pin;
  /** The token's label: 1–32 bytes of UTF-8. */
  label: string;
}

const LABEL_BYTES = 32;

/**
 * CK_TOKEN_INFO labels are exactly 32 bytes, blank-padded. pkcs11js hands C_InitToken the label as a
 * NUL-terminated string of its own length, while the module reads 32 bytes from it: a short label
 * made SoftHSM read past the end of the buffer. The padded label is what the standard asks for.
 */
export function paddedLabel(label: unknown): string {
  if (typeof label !== 'string' || label.length === 0) throw new InvalidArgumentError('a token label must be a non-empty string');
  if (label.includes('\0')) throw new InvalidArgumentError('a token label cannot contain NUL');
  const bytes = Buffer.byteLength(label, 'utf8');
  if (bytes > LABEL_BYTES) throw new InvalidArgumentError(`a token label is at most ${LABEL_BYTES} bytes of UTF-8 (this one is ${bytes})`);
  return label + ' '.repeat(LABEL_BYTES - bytes);
}

/** Finds a present token that is not initialised yet (SoftHSM always keeps one such slot). */
export function findUninitializedSlot(lib: RawPkcs11): { slot: Handle; info: TokenInfo } {
  const free = presentTokens(lib).find(({ info }) => !info.flags.tokenInitialized);
  if (!free) throw new TokenNotPresentError('no uninitialised token is present');
  return free;
}

/** C_InitToken on `slot`, after checking label and SO PIN. Modules may move the new token to another slot. */
export function initializeTokenIn(lib: RawPkcs11, slot: Handle, info: TokenInfo, options: InitializeTokenOptions): void {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('initializing a token needs { soPin, label }');
  const label = paddedLabel(options.label);
  const soPin = pinValue(checkPin(options.soPin, info.pinLength, 'SO PIN'));
  call(lib, 'C_InitToken', slot, soPin, label);
}
