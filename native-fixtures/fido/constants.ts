// The simulator's wire numbers in one place, typed in from the CTAP 2.1 spec and checked against
// libfido2 1.12 (src/fido/param.h, src/io.c), python-fido2 0.9.1 (fido2/hid, fido2/ctap.py) and
// OpenSK (ctap/hid, ctap/status_code.rs). Written apart from src/fido/ on purpose: the client's
// own constants are checked against these and the peers, not copied from them.

export const REPORT_SIZE = 64;
export const INIT_DATA = REPORT_SIZE - 7; // 57
export const CONT_DATA = REPORT_SIZE - 5; // 59
/** 57 + 128 × 59: the most one CTAPHID message can carry. */
export const MAX_MESSAGE = INIT_DATA + 128 * CONT_DATA;
export const BROADCAST_CID = 0xffffffff;

export const Cmd = {
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

export const HidError = {
  INVALID_CMD: 0x01,
  INVALID_PAR: 0x02,
  INVALID_LEN: 0x03,
  INVALID_SEQ: 0x04,
  MSG_TIMEOUT: 0x05,
  CHANNEL_BUSY: 0x06,
  LOCK_REQUIRED: 0x0a,
  INVALID_CHANNEL: 0x0b,
  OTHER: 0x7f,
} as const;

export const Capability = { WINK: 0x01, LOCK: 0x02, CBOR: 0x04, NMSG: 0x08 } as const;
export const Keepalive = { PROCESSING: 0x01, UPNEEDED: 0x02 } as const;
/** CTAPHID protocol version in the INIT reply. */
export const CTAPHID_VERSION = 2;

export const Ctap2Cmd = {
  MAKE_CREDENTIAL: 0x01,
  GET_ASSERTION: 0x02,
  GET_INFO: 0x04,
  CLIENT_PIN: 0x06,
  RESET: 0x07,
  GET_NEXT_ASSERTION: 0x08,
} as const;

export const Status = {
  OK: 0x00,
  INVALID_COMMAND: 0x01,
  INVALID_PARAMETER: 0x02,
  INVALID_LENGTH: 0x03,
  INVALID_CBOR: 0x12,
  CBOR_UNEXPECTED_TYPE: 0x11,
  MISSING_PARAMETER: 0x14,
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
  INVALID_SUBCOMMAND: 0x3e,
  UNAUTHORIZED_PERMISSION: 0x40,
  OTHER: 0x7f,
} as const;

export const PinSub = {
  GET_PIN_RETRIES: 0x01,
  GET_KEY_AGREEMENT: 0x02,
  SET_PIN: 0x03,
  CHANGE_PIN: 0x04,
  GET_PIN_TOKEN: 0x05,
  GET_TOKEN_USING_UV: 0x06,
  GET_UV_RETRIES: 0x07,
  GET_TOKEN_USING_PIN: 0x09,
} as const;

export const Permission = { MC: 0x01, GA: 0x02, CM: 0x04, BE: 0x08, LBW: 0x10, ACFG: 0x20 } as const;

export const Flag = { UP: 0x01, UV: 0x04, AT: 0x40, ED: 0x80 } as const;

export const Alg = { ES256: -7, EdDSA: -8, ECDH_ES_HKDF_256: -25 } as const;

/** ISO 7816 status words of the U2F raw-message format. */
export const Sw = {
  OK: 0x9000,
  CONDITIONS_NOT_SATISFIED: 0x6985,
  WRONG_DATA: 0x6a80,
  WRONG_LENGTH: 0x6700,
  CLA_NOT_SUPPORTED: 0x6e00,
  INS_NOT_SUPPORTED: 0x6d00,
} as const;

/** Thrown inside a CTAP2 handler to answer with that status byte. */
export class CtapStatusError extends Error {
  constructor(readonly status: number) {
    super(`CTAP2 status 0x${status.toString(16).padStart(2, '0')}`);
  }
}

export const fail = (status: number): never => {
  throw new CtapStatusError(status);
};
