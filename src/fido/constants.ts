// The wire numbers of CTAPHID and CTAP2, named once (CTAP 2.1 §11.2 and §8; checked against
// python-fido2 0.9.1's fido2/hid and fido2/ctap.py). Everything else refers to them by name.

export const CTAPHID = {
  PING: 0x01,
  MSG: 0x03,
  LOCK: 0x04,
  INIT: 0x06,
  WINK: 0x08,
  CBOR: 0x10,
  CANCEL: 0x11,
  KEEPALIVE: 0x3b,
  ERROR: 0x3f,
} as const;

export const BROADCAST_CID = 0xffffffff;

/** Capability bits of the INIT reply. */
export const CAPABILITY = { WINK: 0x01, LOCK: 0x02, CBOR: 0x04, NMSG: 0x08 } as const;

export const KEEPALIVE_STATUS = { PROCESSING: 1, UPNEEDED: 2 } as const;

export const CTAPHID_ERROR_NAMES: Readonly<Record<number, string>> = {
  0x01: 'CTAPHID_ERR_INVALID_CMD',
  0x02: 'CTAPHID_ERR_INVALID_PAR',
  0x03: 'CTAPHID_ERR_INVALID_LEN',
  0x04: 'CTAPHID_ERR_INVALID_SEQ',
  0x05: 'CTAPHID_ERR_MSG_TIMEOUT',
  0x06: 'CTAPHID_ERR_CHANNEL_BUSY',
  0x0a: 'CTAPHID_ERR_LOCK_REQUIRED',
  0x0b: 'CTAPHID_ERR_INVALID_CHANNEL',
  0x7f: 'CTAPHID_ERR_OTHER',
};
export const CTAPHID_ERR_CHANNEL_BUSY = 0x06;

export const CTAP2_COMMAND = {
  makeCredential: 0x01,
  getAssertion: 0x02,
  getInfo: 0x04,
  clientPIN: 0x06,
  reset: 0x07,
  getNextAssertion: 0x08,
} as const;

export const CLIENT_PIN_SUBCOMMAND = {
  getPinRetries: 0x01,
  getKeyAgreement: 0x02,
  setPIN: 0x03,
  changePIN: 0x04,
  getPinToken: 0x05,
  getPinUvAuthTokenUsingPinWithPermissions: 0x09,
} as const;

/** pinUvAuthToken permissions (CTAP 2.1 §6.5.5.7). */
export const PERMISSION = { makeCredential: 0x01, getAssertion: 0x02 } as const;

export const CTAP2_STATUS = {
  OK: 0x00,
  CREDENTIAL_EXCLUDED: 0x19,
  UNSUPPORTED_ALGORITHM: 0x26,
  OPERATION_DENIED: 0x27,
  UNSUPPORTED_OPTION: 0x2b,
  INVALID_OPTION: 0x2c,
  KEEPALIVE_CANCEL: 0x2d,
  NO_CREDENTIALS: 0x2e,
  USER_ACTION_TIMEOUT: 0x2f,
  NOT_ALLOWED: 0x30,
  PIN_INVALID: 0x31,
  PIN_BLOCKED: 0x32,
  PIN_AUTH_INVALID: 0x33,
  PIN_AUTH_BLOCKED: 0x34,
  PIN_NOT_SET: 0x35,
  PUAT_REQUIRED: 0x36,
  PIN_POLICY_VIOLATION: 0x37,
  ACTION_TIMEOUT: 0x3a,
  UP_REQUIRED: 0x3b,
} as const;

const STATUS_NAMES: Readonly<Record<number, string>> = {
  0x01: 'INVALID_COMMAND', 0x02: 'INVALID_PARAMETER', 0x03: 'INVALID_LENGTH', 0x04: 'INVALID_SEQ',
  0x05: 'TIMEOUT', 0x06: 'CHANNEL_BUSY', 0x0a: 'LOCK_REQUIRED', 0x0b: 'INVALID_CHANNEL',
  0x11: 'CBOR_UNEXPECTED_TYPE', 0x12: 'INVALID_CBOR', 0x14: 'MISSING_PARAMETER', 0x15: 'LIMIT_EXCEEDED',
  0x16: 'UNSUPPORTED_EXTENSION', 0x17: 'FP_DATABASE_FULL', 0x18: 'LARGE_BLOB_STORAGE_FULL',
  0x19: 'CREDENTIAL_EXCLUDED', 0x21: 'PROCESSING', 0x22: 'INVALID_CREDENTIAL', 0x23: 'USER_ACTION_PENDING',
  0x24: 'OPERATION_PENDING', 0x25: 'NO_OPERATIONS', 0x26: 'UNSUPPORTED_ALGORITHM', 0x27: 'OPERATION_DENIED',
  0x28: 'KEY_STORE_FULL', 0x29: 'NOT_BUSY', 0x2a: 'NO_OPERATION_PENDING', 0x2b: 'UNSUPPORTED_OPTION',
  0x2c: 'INVALID_OPTION', 0x2d: 'KEEPALIVE_CANCEL', 0x2e: 'NO_CREDENTIALS', 0x2f: 'USER_ACTION_TIMEOUT',
  0x30: 'NOT_ALLOWED', 0x31: 'PIN_INVALID', 0x32: 'PIN_BLOCKED', 0x33: 'PIN_AUTH_INVALID',
  0x34: 'PIN_AUTH_BLOCKED', 0x35: 'PIN_NOT_SET', 0x36: 'PUAT_REQUIRED', 0x37: 'PIN_POLICY_VIOLATION',
  0x38: 'PIN_TOKEN_EXPIRED', 0x39: 'REQUEST_TOO_LARGE', 0x3a: 'ACTION_TIMEOUT', 0x3b: 'UP_REQUIRED',
  0x3c: 'UV_BLOCKED', 0x3d: 'INTEGRITY_FAILURE', 0x3e: 'INVALID_SUBCOMMAND', 0x3f: 'UV_INVALID',
  0x40: 'UNAUTHORIZED_PERMISSION', 0x7f: 'OTHER',
};

/** `CTAP2_ERR_PIN_INVALID` for 0x31; vendor and unknown codes by number. */
export function ctap2StatusName(status: number): string {
  const name = STATUS_NAMES[status];
  return name ? `CTAP2_ERR_${name}` : `CTAP2_ERR_0x${status.toString(16).padStart(2, '0')}`;
}

export function ctapHidErrorName(code: number): string {
  return CTAPHID_ERROR_NAMES[code] ?? `CTAPHID_ERR_0x${code.toString(16).padStart(2, '0')}`;
}

/** COSE algorithm identifiers the library enrolls and checks. */
export const COSE_ALG = { ES256: -7, EdDSA: -8, ECDH_ES_HKDF_256: -25 } as const;
