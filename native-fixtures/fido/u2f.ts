// CTAP1/U2F over CTAPHID_MSG (raw-message APDUs, FIDO U2F v1.2), so a client can fall back for
// keys without CTAP2. Presence is U2F's: never waited for — without a touch the answer is
// CONDITIONS_NOT_SATISFIED at once and the host polls, as on a real U2F key.
import { sign } from 'node:crypto';
import { concat, sameBytes } from './cbor.js';
import { Alg, Sw } from './constants.js';
import { newCredential, rawP256, signWith, u2fAttestation, type StoredCredential } from './credentials.js';
import type { Presence } from './presence.js';

export interface U2fState {
  credentials: StoredCredential[];
  globalCounter: number;
  readonly counterMode: 'global' | 'per-credential';
  readonly presence: Presence;
}

interface Apdu {
  cla: number;
  ins: number;
  p1: number;
  data: Uint8Array;
}

export async function handleU2f(message: Uint8Array, state: U2fState): Promise<Uint8Array> {
  const apdu = parseApdu(message);
  if (!apdu) return sw(Sw.WRONG_LENGTH);
  if (apdu.cla !== 0) return sw(Sw.CLA_NOT_SUPPORTED);
  switch (apdu.ins) {
    case 0x03:
      return concat([new TextEncoder().encode('U2F_V2'), sw(Sw.OK)]);
    case 0x01:
      return register(apdu, state);
    case 0x02:
      return authenticate(apdu, state);
    default:
      return sw(Sw.INS_NOT_SUPPORTED);
  }
}

async function register(apdu: Apdu, state: U2fState): Promise<Uint8Array> {
  if (apdu.data.length !== 64) return sw(Sw.WRONG_LENGTH);
  const challenge = apdu.data.subarray(0, 32);
  const application = apdu.data.subarray(32, 64);
  if (!(await state.presence.u2fPresent())) return sw(Sw.CONDITIONS_NOT_SATISFIED);
  const credential = newCredential({ rpId: undefined, rpIdHash: application.slice(), alg: Alg.ES256, resident: false, idLength: 64 });
  state.credentials.push(credential);
  const publicKey = rawP256(credential.publicKey);
  const { privateKey, certificate } = u2fAttestation();
  const signed = concat([Uint8Array.of(0), application, challenge, credential.id, publicKey]);
  const signature = sign('sha256', signed, privateKey);
  return concat([Uint8Array.of(0x05), publicKey, Uint8Array.of(credential.id.length), credential.id, certificate, signature, sw(Sw.OK)]);
}

async function authenticate(apdu: Apdu, state: U2fState): Promise<Uint8Array> {
  const data = apdu.data;
  if (data.length < 65 || data.length !== 65 + data[64]!) return sw(Sw.WRONG_LENGTH);
  const challenge = data.subarray(0, 32);
  const application = data.subarray(32, 64);
  const handle = data.subarray(65);
  const credential = state.credentials.find((c) => c.alg === Alg.ES256 && sameBytes(c.id, handle) && sameBytes(c.rpIdHash, application));
  if (!credential) return sw(Sw.WRONG_DATA);
  if (apdu.p1 === 0x07) return sw(Sw.CONDITIONS_NOT_SATISFIED); // check-only: the handle is ours
  if (apdu.p1 !== 0x03 && apdu.p1 !== 0x08) return sw(Sw.WRONG_DATA);
  const present = apdu.p1 === 0x03 ? await state.presence.u2fPresent() : false;
  if (apdu.p1 === 0x03 && !present) return sw(Sw.CONDITIONS_NOT_SATISFIED);
  const count = state.counterMode === 'global' ? ++state.globalCounter : ++credential.signCount;
  const counter = new Uint8Array(4);
  new DataView(counter.buffer).setUint32(0, count);
  const flags = Uint8Array.of(present ? 0x01 : 0x00);
  const signature = signWith(credential, concat([application, flags, counter, challenge]));
  return concat([flags, counter, signature, sw(Sw.OK)]);
}

/** Short (Lc in one byte) or extended (0x00 then Lc in two bytes) encoding; Le is ignored. */
function parseApdu(m: Uint8Array): Apdu | undefined {
  if (m.length < 4) return undefined;
  const head = { cla: m[0]!, ins: m[1]!, p1: m[2]! };
  if (m.length <= 5) return { ...head, data: new Uint8Array(0) };
  if (m[4] === 0) {
    if (m.length < 7) return undefined;
    const lc = (m[5]! << 8) | m[6]!;
    const rest = m.length - 7 - lc;
    if (rest < 0 || rest > 2) return undefined;
    return { ...head, data: m.subarray(7, 7 + lc) };
  }
  const lc = m[4]!;
  const rest = m.length - 5 - lc;
  if (rest < 0 || rest > 1) return undefined;
  return { ...head, data: m.subarray(5, 5 + lc) };
}

function sw(word: number): Uint8Array {
  return Uint8Array.of(word >> 8, word & 0xff);
}
