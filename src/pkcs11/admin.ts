// Token administration: initialising a token, setting the user PIN as SO, changing a PIN.
// PINs are length-checked before the token is asked, and never appear in an error.
import { call, type Handle, type RawPkcs11 } from './binding.js';
import { InvalidArgumentError, TokenNotPresentError } from './errors.js';
import { readTokenInfo, type TokenInfo } from './token.js';
import { checkPin } from './session.js';

export interface InitializeTokenOptions {
  soPin: string;
  /** CKA_LABEL of the new token: at most 32 bytes of UTF-8. */
  label: string;
}

/** Finds a present token that is not initialised yet (SoftHSM always keeps one such slot). */
export function findUninitializedSlot(lib: RawPkcs11): { slot: Handle; info: TokenInfo } {
  for (const slot of call(lib, 'C_GetSlotList', true)) {
    const info = readTokenInfo(lib, slot);
    if (!info.flags.tokenInitialized) return { slot, info };
  }
  throw new TokenNotPresentError('no uninitialised token is present');
}

/** C_InitToken on `slot`. Returns nothing: modules may move the new token to another slot. */
export function initializeTokenIn(lib: RawPkcs11, slot: Handle, info: TokenInfo, options: InitializeTokenOptions): void {
  checkPin(options.soPin, info.pinLength, 'SO PIN');
  if (typeof options.label !== 'string' || options.label.length === 0 || Buffer.byteLength(options.label, 'utf8') > 32) {
    throw new InvalidArgumentError('a token label is 1–32 bytes of UTF-8');
  }
  call(lib, 'C_InitToken', slot, options.soPin, options.label);
}
