// An in-memory PKCS#11 for fast unit tests, beside (never instead of) SoftHSM and the PIV card:
// slots with tokens that follow the spec for the calls the login path makes (sessions, C_Login of
// each user type, C_Logout, C_SetPIN, C_InitPIN, session and token info, empty object searches).
// A token is a software token (no counter of its own, like SoftHSM) or, with `pinTries`, a card
// that counts its own tries and says so in its flags (FINAL_TRY, LOCKED). Failures can be
// injected per function (`failNext`), tokens pulled out and put back, counters changed "elsewhere".
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pkcs11js } from '../../src/pkcs11/native.js';
import type { RawPkcs11 } from '../../src/pkcs11/binding.js';

export interface FakeTokenSpec {
  label: string;
  serial: string;
  userPin: string;
  soPin: string;
  /** Set: a card in a hardware slot that counts its own tries; unset: a software token that never locks. */
  pinTries?: number;
}

interface FakeToken extends FakeTokenSpec {
  present: boolean;
  triesLeft: number | undefined;
  loggedIn: 'user' | 'so' | undefined;
}

interface FakeSession {
  slot: number;
  readWrite: boolean;
}

function ckr(name: keyof typeof pkcs11js & `CKR_${string}`): never {
  const rv = pkcs11js[name] as number;
  // The shape pkcs11js throws: a Pkcs11Error with the CK_RV as its code.
  throw Object.assign(new Error(`${name}:${rv}`), { name: 'Pkcs11Error', code: rv });
}

const padded = (text: string, width: number) => text.padEnd(width, ' ');

export class FakePkcs11 {
  readonly tokens: FakeToken[];
  /** Every call, by function name, in order. */
  readonly calls: string[] = [];
  readonly #failures = new Map<string, { rv: keyof typeof pkcs11js & `CKR_${string}`; left: number }>();
  readonly #sessions = new Map<number, FakeSession>();
  #nextHandle = 1;

  constructor(specs: FakeTokenSpec[]) {
    this.tokens = specs.map((spec) => ({ ...spec, present: true, triesLeft: spec.pinTries, loggedIn: undefined }));
  }

  /** A file to "load" (the module layer keys its one instance per library on a real path). */
  static modulePath(): string {
    const path = join(mkdtempSync(join(tmpdir(), 'tokengate-fake-pkcs11-')), 'libfake.so');
    writeFileSync(path, '');
    return path;
  }

  /** The next call of `fn` fails with `rv` (once, or `times` calls in a row: Infinity for good, 0 to stop). */
  failNext(fn: string, rv: keyof typeof pkcs11js & `CKR_${string}`, times = 1): void {
    if (times > 0) this.#failures.set(fn, { rv, left: times });
    else this.#failures.delete(fn);
  }

  /** Pulls the token out (its sessions end) or puts it back. */
  setPresent(serial: string, present: boolean): void {
    const token = this.#token(serial);
    token.present = present;
    token.loggedIn = undefined;
    if (!present) for (const [handle, s] of this.#sessions) if (this.tokens[s.slot] === token) this.#sessions.delete(handle);
  }

  /** The card's counter changed behind the library's back (used, or unblocked, elsewhere). */
  setTriesLeft(serial: string, tries: number): void {
    this.#token(serial).triesLeft = tries;
  }

  triesLeft(serial: string): number | undefined {
    return this.#token(serial).triesLeft;
  }

  get binding(): RawPkcs11 {
    return this as unknown as RawPkcs11;
  }

  #token(serial: string): FakeToken {
    const token = this.tokens.find((t) => t.serial === serial);
    if (!token) throw new Error(`no fake token ${serial}`);
    return token;
  }

  #enter(fn: string): void {
    this.calls.push(fn);
    const failure = this.#failures.get(fn);
    if (failure) {
      if (--failure.left <= 0) this.#failures.delete(fn);
      ckr(failure.rv);
    }
  }

  #slotOf(slot: Buffer): number {
    const index = Number(slot.readBigUInt64LE(0));
    if (index >= this.tokens.length) ckr('CKR_SLOT_ID_INVALID');
    return index;
  }

  #session(handle: Buffer): { session: FakeSession; token: FakeToken } {
    const session = this.#sessions.get(Number(handle.readBigUInt64LE(0)));
    if (!session) ckr('CKR_SESSION_HANDLE_INVALID');
    const token = this.tokens[session.slot]!;
    if (!token.present) ckr('CKR_DEVICE_REMOVED');
    return { session, token };
  }

  /** A wrong secret: a card counts it down and locks at zero; a software token just refuses. */
  #wrong(token: FakeToken): never {
    if (token.triesLeft !== undefined) token.triesLeft = Math.max(0, token.triesLeft - 1);
    ckr('CKR_PIN_INCORRECT');
  }

  load(): void {}
  close(): void {}
  C_Initialize(): void {
    this.#enter('C_Initialize');
  }
  C_Finalize(): void {
    this.#enter('C_Finalize');
    this.#sessions.clear();
    for (const t of this.tokens) t.loggedIn = undefined;
  }
  C_GetInfo() {
    this.#enter('C_GetInfo');
    return { cryptokiVersion: { major: 2, minor: 40 }, manufacturerID: padded('tokengate tests', 32), flags: 0, libraryDescription: padded('in-memory PKCS#11', 32), libraryVersion: { major: 1, minor: 0 } };
  }
  C_GetSlotList(tokenPresent = false): Buffer[] {
    this.#enter('C_GetSlotList');
    return this.tokens.flatMap((t, i) => {
      if (tokenPresent && !t.present) return [];
      const id = Buffer.alloc(8);
      id.writeBigUInt64LE(BigInt(i));
      return [id];
    });
  }
  C_GetSlotInfo(slot: Buffer) {
    this.#enter('C_GetSlotInfo');
    const token = this.tokens[this.#slotOf(slot)]!;
    // A card sits in a hardware slot (a reader); a software token does not.
    const flags = (token.present ? 1 : 0) | 2 | (token.pinTries !== undefined ? 4 : 0);
    return { slotDescription: padded('fake slot', 64), manufacturerID: padded('tokengate tests', 32), flags, hardwareVersion: { major: 1, minor: 0 }, firmwareVersion: { major: 1, minor: 0 } };
  }
  C_GetTokenInfo(slot: Buffer) {
    this.#enter('C_GetTokenInfo');
    const token = this.tokens[this.#slotOf(slot)]!;
    if (!token.present) ckr('CKR_TOKEN_NOT_PRESENT');
    let flags = pkcs11js.CKF_RNG | pkcs11js.CKF_LOGIN_REQUIRED | pkcs11js.CKF_USER_PIN_INITIALIZED | pkcs11js.CKF_TOKEN_INITIALIZED;
    if (token.triesLeft === 1) flags |= pkcs11js.CKF_USER_PIN_FINAL_TRY;
    if (token.triesLeft === 0) flags |= pkcs11js.CKF_USER_PIN_LOCKED;
    return {
      label: padded(token.label, 32),
      manufacturerID: padded('tokengate tests', 32),
      model: padded(token.pinTries === undefined ? 'soft token' : 'card', 16),
      serialNumber: padded(token.serial, 16),
      flags,
      maxSessionCount: 0,
      sessionCount: 0,
      maxRwSessionCount: 0,
      rwSessionCount: 0,
      maxPinLen: 32,
      minPinLen: 4,
      totalPublicMemory: 0,
      freePublicMemory: 0,
      totalPrivateMemory: 0,
      freePrivateMemory: 0,
      hardwareVersion: { major: 1, minor: 0 },
      firmwareVersion: { major: 1, minor: 0 },
      utcTime: '',
    };
  }
  C_OpenSession(slot: Buffer, flags: number): Buffer {
    this.#enter('C_OpenSession');
    const index = this.#slotOf(slot);
    if (!this.tokens[index]!.present) ckr('CKR_TOKEN_NOT_PRESENT');
    const handle = this.#nextHandle++;
    this.#sessions.set(handle, { slot: index, readWrite: (flags & pkcs11js.CKF_RW_SESSION) !== 0 });
    const out = Buffer.alloc(8);
    out.writeBigUInt64LE(BigInt(handle));
    return out;
  }
  C_CloseSession(handle: Buffer): void {
    this.#enter('C_CloseSession');
    if (!this.#sessions.delete(Number(handle.readBigUInt64LE(0)))) ckr('CKR_SESSION_HANDLE_INVALID');
  }
  C_CloseAllSessions(slot: Buffer): void {
    this.#enter('C_CloseAllSessions');
    const index = this.#slotOf(slot);
    for (const [handle, s] of this.#sessions) if (s.slot === index) this.#sessions.delete(handle);
    this.tokens[index]!.loggedIn = undefined;
  }
  C_GetSessionInfo(handle: Buffer) {
    this.#enter('C_GetSessionInfo');
    const { session, token } = this.#session(handle);
    const state = token.loggedIn === 'so' ? 4 : token.loggedIn === 'user' ? (session.readWrite ? 3 : 1) : session.readWrite ? 2 : 0;
    return { slotID: Buffer.alloc(8), state, flags: session.readWrite ? pkcs11js.CKF_RW_SESSION | pkcs11js.CKF_SERIAL_SESSION : pkcs11js.CKF_SERIAL_SESSION, deviceError: 0 };
  }
  C_Login(handle: Buffer, userType: number, pin: string): void {
    this.#enter('C_Login');
    const { token } = this.#session(handle);
    if (token.loggedIn !== undefined) ckr('CKR_USER_ALREADY_LOGGED_IN');
    const so = userType === pkcs11js.CKU_SO;
    if (!so && token.triesLeft === 0) ckr('CKR_PIN_LOCKED');
    if (pin !== (so ? token.soPin : token.userPin)) this.#wrong(token);
    if (!so && token.pinTries !== undefined) token.triesLeft = token.pinTries;
    token.loggedIn = so ? 'so' : 'user';
  }
  C_Logout(handle: Buffer): void {
    this.#enter('C_Logout');
    const { token } = this.#session(handle);
    if (token.loggedIn === undefined) ckr('CKR_USER_NOT_LOGGED_IN');
    token.loggedIn = undefined;
  }
  C_SetPIN(handle: Buffer, oldPin: string, newPin: string): void {
    this.#enter('C_SetPIN');
    const { token } = this.#session(handle);
    if (token.loggedIn === undefined) ckr('CKR_USER_NOT_LOGGED_IN');
    const so = token.loggedIn === 'so';
    if (oldPin !== (so ? token.soPin : token.userPin)) this.#wrong(token);
    if (so) token.soPin = newPin;
    else token.userPin = newPin;
  }
  C_InitPIN(handle: Buffer, pin: string): void {
    this.#enter('C_InitPIN');
    const { token } = this.#session(handle);
    if (token.loggedIn !== 'so') ckr('CKR_USER_NOT_LOGGED_IN');
    token.userPin = pin;
    if (token.pinTries !== undefined) token.triesLeft = token.pinTries;
  }
  C_FindObjectsInit(handle: Buffer): void {
    this.#enter('C_FindObjectsInit');
    this.#session(handle);
  }
  C_FindObjects(): Buffer[] {
    this.#enter('C_FindObjects');
    return [];
  }
  C_FindObjectsFinal(): void {
    this.#enter('C_FindObjectsFinal');
  }
}
