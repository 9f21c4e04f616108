// A token: its typed information, and the ways in (sessions, a session pool, administration).
// The facade at the top of the PKCS#11 layer: the modules it forwards to know it by type only.
export type { TokenInfo, TokenSelector } from './token-info.js';
import { call, type Handle } from './binding.js';
import { decodeSlotFlags } from './flags.js';
import { readTokenInfo, type TokenInfo } from './token-info.js';
import type { Pkcs11Module } from './module.js';
import { selectToken } from './select.js';
import { Session, type SessionOptions } from './session.js';
import { trimPadded } from './text.js';
import { SessionPool, type SessionPoolOptions } from './pool.js';
import { listMechanisms, type MechanismInfo } from './mechanisms.js';
import { initializeTokenIn, paddedLabel, type InitializeTokenOptions } from './admin.js';
import { presentTokens } from './select.js';
import { InvalidArgumentError, TokenNotPresentError } from './errors.js';
import { unblockPin, type UnblockPinOptions } from './unblock.js';
import type { GuardedToken, LoginGuard, PinSecret } from './login-guard.js';
import { pinStateOf, type PinState } from './pin-state.js';
import type { Pin } from '../util/pin.js';
import { changedElsewhere } from './token-changes.js';

export class Token {
  readonly module: Pkcs11Module;
  #slot: Handle;
  #info: TokenInfo;
  #countedBy: 'host' | 'token' | undefined;
  #hardwareSlot: boolean | undefined;

  /** Internal: use `Pkcs11Module.token()`. */
  constructor(module: Pkcs11Module, slot: Handle, info: TokenInfo) {
    this.module = module;
    this.#slot = slot;
    this.#info = info;
  }

  get serial(): string {
    return this.#info.serial;
  }

  get label(): string {
    return this.#info.label;
  }

  /**
   * Who counts this token's wrong PINs: `token` for a chip in a hardware slot (its own counter is
   * the only truth), `host` for a software token such as SoftHSM (the module's login guard), unless
   * the module was loaded with `pinCounting: 'host' | 'token'`.
   */
  get pinCountedBy(): 'host' | 'token' {
    if (this.#countedBy === undefined) {
      const rule = this.module.pinCounting;
      this.#countedBy = rule !== 'auto' ? rule : this.inHardwareSlot ? 'token' : 'host';
    }
    return this.#countedBy;
  }

  /**
   * Whether the module says this token sits in a hardware slot (CKF_HW_SLOT: a reader with a
   * chip in it), or is a software token whose crypto runs in this process (SoftHSM).
   */
  get inHardwareSlot(): boolean {
    this.#hardwareSlot ??= decodeSlotFlags(call(this.module.raw, 'C_GetSlotInfo', this.#slot).flags).hardwareSlot;
    return this.#hardwareSlot;
  }

  /** The guard that counts this token's tries, or undefined when the token counts them itself. */
  get loginGuard(): LoginGuard | undefined {
    return this.pinCountedBy === 'host' ? this.module.loginGuard : undefined;
  }

  /** The secret that unblocks the user PIN: a card's PUK, or a software token's SO PIN. */
  get unblockSecret(): 'puk' | 'so' {
    return this.pinCountedBy === 'token' ? 'puk' : 'so';
  }

  /**
   * True when another process set one of this token's PINs since the module was initialised, as
   * the shared login guard records it: a software token's view here is stale until
   * `module.reload()`. Always false for tokens that count their own tries (a card keeps no copy).
   */
  changedElsewhere(): boolean {
    return changedElsewhere(this);
  }

  /** Internal: what a login guard keys its count on. */
  get guardIdentity(): GuardedToken {
    return { modulePath: this.module.path, serial: this.serial, label: this.label };
  }

  /**
   * A secret's state from whoever counts it (`source`): the PIN's by default, the SO PIN's or the
   * PUK's on request. Pass `info` when you just read it, to spare the token a second read.
   */
  pinState(secret: PinSecret = 'user', info: TokenInfo = this.info()): PinState {
    return pinStateOf(info, this.guardIdentity, secret, this.loginGuard);
  }

  /** Internal: the slot the token sat in when last seen. */
  get slot(): Handle {
    return this.#slot;
  }

  /** Fresh information, found again by serial (the slot may have changed since). */
  info(): TokenInfo {
    this.relocate();
    return this.#info;
  }

  /** Internal: finds the token again by serial; throws `TokenNotPresentError` when it is gone. */
  relocate(): Handle {
    if (this.#info.serial === '') return this.#rereadBlank();
    const { slot, info } = selectToken(this.module.raw, { serial: this.#info.serial });
    this.#slot = slot;
    this.#info = info;
    return slot;
  }

  /**
   * A blank token (SoftHSM's free slot) has no serial to be found by: it is read again in its slot,
   * and is gone once that slot holds anything but a blank token.
   */
  #rereadBlank(): Handle {
    const lib = this.module.raw;
    let info: TokenInfo;
    try {
      info = readTokenInfo(lib, this.#slot);
    } catch (err) {
      throw new TokenNotPresentError('the uninitialised token is gone', { cause: err });
    }
    if (info.serial !== '' || info.flags.tokenInitialized) throw new TokenNotPresentError('the uninitialised token is gone');
    this.#info = info;
    return this.#slot;
  }

  /**
   * Initialises this token, which must not be initialised yet (C_InitToken: the SO PIN and label
   * are set, nothing else). Returns the token found again: modules may give it a new serial and
   * slot, so use the returned Token from then on. The SO then sets the user PIN (`initUserPin`).
   */
  initialize(options: InitializeTokenOptions): Token {
    return initializeToken(this, options);
  }

  /**
   * Unblocks (or resets) the user PIN: with `{ puk, newPin }` the card's way (C_SetPIN in a session
   * nobody is logged in to), with `{ soPin, newPin }` the HSM way (SO login + C_InitPIN). A module
   * that supports neither gives UnblockNotSupportedError; a wrong PUK or SO PIN gives
   * PinIncorrectError with `pinType` saying which.
   */
  async unblockPin(options: UnblockPinOptions): Promise<void> {
    return unblockPin(this, options);
  }

  /** Changes the user PIN, old to new, in a read-write session of its own (C_SetPIN). */
  async changePin(oldPin: string | Pin, newPin: string | Pin, options: { allowFinalTry?: boolean } = {}): Promise<void> {
    await using session = await this.openSession({ write: true });
    await session.changePin(oldPin, newPin, options);
  }

  /** True when a token with this serial is present now. */
  isPresent(): boolean {
    try {
      this.relocate();
      return true;
    } catch {
      return false;
    }
  }

  mechanisms(): MechanismInfo[] {
    return listMechanisms(this.module.raw, this.relocate());
  }

  async openSession(options: SessionOptions = {}): Promise<Session> {
    return Session.open(this, options);
  }

  /** A pool of logged-in sessions for concurrent signing; it keeps the login and survives re-insertion. */
  async openPool(options: SessionPoolOptions): Promise<SessionPool> {
    return SessionPool.open(this, options);
  }
}

/** Every present token whose flags say it is not initialised (SoftHSM's free slot, a blank card). */
export function uninitializedTokens(module: Pkcs11Module): Token[] {
  return presentTokens(module.raw)
    .filter(({ info }) => !info.flags.tokenInitialized)
    .map(({ slot, info }) => new Token(module, slot, info));
}

/**
 * Initialises `token`, which must not be initialised yet, and returns it found again: SoftHSM gives
 * it a serial and moves it to another slot, so the Token passed in no longer stands for it.
 */
export function initializeToken(token: Token, options: InitializeTokenOptions): Token {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('initializing a token needs { soPin, label }');
  paddedLabel(options.label);
  const info = token.info();
  if (info.flags.tokenInitialized) {
    throw new InvalidArgumentError(`token "${info.label}" is initialised already; re-initialising would erase it`);
  }
  const lib = token.module.raw;
  const before = new Set(presentTokens(lib).map((t) => t.info.serial));
  initializeTokenIn(lib, token.slot, info, options);
  // Found again by what it is now: its label, and a serial it kept (a card) or got (SoftHSM).
  const label = trimPadded(options.label);
  const candidates = presentTokens(lib).filter((t) => t.info.flags.tokenInitialized && t.info.label === label);
  const found =
    (info.serial !== '' ? candidates.find((t) => t.info.serial === info.serial) : undefined) ??
    candidates.find((t) => !before.has(t.info.serial));
  if (!found) throw new TokenNotPresentError(`the token initialised as "${label}" is gone`);
  return new Token(token.module, found.slot, found.info);
}
