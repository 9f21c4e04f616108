// What C_GetTokenInfo says of a token, typed: label, serial, versions, PIN length range, every flag,
// the PIN's state. Below everything that works with tokens (selection, the watcher, Token itself).
import { call, type Handle, type RawPkcs11 } from './binding.js';
import { decodeTokenFlags, soPinStatus, userPinStatus, type PinStatus, type TokenFlags } from './flags.js';
import { trimPadded, versionString } from './text.js';

export type TokenSelector = string | { label: string; serial?: undefined } | { serial: string; label?: undefined };

export interface TokenInfo {
  label: string;
  serial: string;
  manufacturer: string;
  model: string;
  hardwareVersion: string;
  firmwareVersion: string;
  /** Inclusive PIN length range in bytes, as the token states it. */
  pinLength: { min: number; max: number };
  flags: TokenFlags;
  /** The user PIN's state, from the token's flags. */
  pinStatus: PinStatus;
  soPinStatus: PinStatus;
  /** Sessions open on the token; undefined when the module does not say (CK_UNAVAILABLE_INFORMATION). */
  sessionCount: number | undefined;
  /** Undefined when unknown; Infinity when the token sets no limit (CK_EFFECTIVELY_INFINITE). */
  maxSessionCount: number | undefined;
}

// CK_ULONG sentinels: ~0 is CK_UNAVAILABLE_INFORMATION (pkcs11js hands us the low 32 bits on
// some platforms, all 64 on others), and 0 as a maximum is CK_EFFECTIVELY_INFINITE.
function known(value: number): number | undefined {
  return value === 0xffffffff || value >= Number.MAX_SAFE_INTEGER ? undefined : value;
}

export function readTokenInfo(lib: RawPkcs11, slot: Handle): TokenInfo {
  const raw = call(lib, 'C_GetTokenInfo', slot);
  const flags = decodeTokenFlags(raw.flags);
  return {
    label: trimPadded(raw.label),
    serial: trimPadded(raw.serialNumber),
    manufacturer: trimPadded(raw.manufacturerID),
    model: trimPadded(raw.model),
    hardwareVersion: versionString(raw.hardwareVersion),
    firmwareVersion: versionString(raw.firmwareVersion),
    pinLength: { min: raw.minPinLen, max: raw.maxPinLen },
    flags,
    pinStatus: userPinStatus(flags),
    soPinStatus: soPinStatus(flags),
    sessionCount: known(raw.sessionCount),
    maxSessionCount: raw.maxSessionCount === 0 ? Infinity : known(raw.maxSessionCount),
  };
}
