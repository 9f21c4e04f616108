// A loaded PKCS#11 library. Loading the same path twice shares one pkcs11js instance: C_Initialize
// runs once, C_Finalize only when the last holder closes, so one component can never finalize
// another's sessions away (the crypto11 / rust-cryptoki complaint).
import { existsSync, realpathSync, statSync } from 'node:fs';
import { call, pkcs11js, type RawPkcs11 } from './binding.js';
import { ModuleClosedError, ModuleLoadError, TokenNotPresentError, TokengateError } from './errors.js';
import { decodeSlotFlags, type SlotFlags } from './flags.js';
import { Token, type TokenInfo, type TokenSelector } from './token.js';
import { presentTokens, selectToken } from './select.js';
import { TokenWatcher, type WatchOptions } from './watcher.js';
import { findUninitializedSlot, initializeTokenIn, type InitializeTokenOptions } from './admin.js';
import { trimPadded, versionString } from './text.js';
import { forgetModuleLogins } from './login-state.js';
import { checkLoginGuardChoice, checkPinCounting, resolveLoginGuard, type LoginGuard, type LoginGuardChoice, type PinCounting } from './login-guard.js';

export interface ModuleInfo {
  path: string;
  cryptokiVersion: string;
  manufacturer: string;
  description: string;
  libraryVersion: string;
}

export interface SlotInfo {
  /** The slot ID as the module numbers it. Informational only: tokens are chosen by label or serial. */
  id: bigint;
  description: string;
  manufacturer: string;
  flags: SlotFlags;
}

/** Internal: one dlopen'ed, initialised library, shared by every `Pkcs11Module` for its path. */
export interface LoadedLibrary {
  readonly path: string;
  readonly lib: RawPkcs11;
  refs: number;
  /** False when someone else in the process had already called C_Initialize: then it is theirs to finalize. */
  ownsInitialize: boolean;
  /** The process that initialised it: a forked child must initialise again. */
  pid: number;
  /** When C_Initialize last ran: a software token's view of its files dates from then. */
  initializedAt: number;
  /** Token generations (token-changes.ts) this process produced itself, by serial. */
  readonly ownChanges: Map<string, number>;
}

const libraries = new Map<string, LoadedLibrary>();

function initialize(lib: RawPkcs11): boolean {
  try {
    // OS locking: the module may be called from the libuv pool and from worker threads at once.
    call(lib, 'C_Initialize', { flags: pkcs11js.CKF_OS_LOCKING_OK });
    return true;
  } catch (err) {
    if (err instanceof TokengateError && err.rvName === 'CKR_CRYPTOKI_ALREADY_INITIALIZED') return false;
    throw err;
  }
}

function resolveModulePath(path: string): string {
  if (typeof path !== 'string' || path.length === 0) {
    throw new ModuleLoadError('a PKCS#11 module path is required');
  }
  if (!existsSync(path)) throw new ModuleLoadError(`PKCS#11 module not found: ${path}`);
  const real = realpathSync(path);
  if (!statSync(real).isFile()) throw new ModuleLoadError(`PKCS#11 module is not a file: ${path}`);
  return real;
}

function acquireLibrary(path: string, binding?: RawPkcs11): LoadedLibrary {
  const real = resolveModulePath(path);
  const existing = libraries.get(real);
  if (existing && existing.pid === process.pid) {
    existing.refs += 1;
    return existing;
  }
  const lib = existing?.lib ?? binding ?? new pkcs11js.PKCS11();
  if (!existing) {
    try {
      call(lib, 'load', real);
    } catch (err) {
      throw err instanceof ModuleLoadError ? err : new ModuleLoadError(`cannot load PKCS#11 module ${real}`, { cause: err });
    }
  }
  let ownsInitialize: boolean;
  try {
    ownsInitialize = initialize(lib);
  } catch (err) {
    if (!existing) lib.close();
    throw new ModuleLoadError(`C_Initialize failed for ${real}`, { cause: err });
  }
  const loaded: LoadedLibrary = { path: real, lib, refs: 1, ownsInitialize, pid: process.pid, initializedAt: Date.now(), ownChanges: new Map() };
  libraries.set(real, loaded);
  return loaded;
}

function releaseLibrary(loaded: LoadedLibrary): void {
  loaded.refs -= 1;
  if (loaded.refs > 0) return;
  libraries.delete(loaded.path);
  try {
    if (loaded.ownsInitialize) call(loaded.lib, 'C_Finalize');
  } finally {
    loaded.lib.close();
  }
}

export interface LoadOptions {
  /** Environment set before C_Initialize, e.g. `{ SOFTHSM2_CONF: '/tmp/t/softhsm2.conf' }`. */
  env?: Record<string, string>;
  /**
   * Counts wrong PINs for this module's tokens that do not count their own (login-guard.ts).
   * `'default'` (the default): the host counter under the state directory (HostLockout, 3 tries);
   * a `LoginGuard` of yours (e.g. `new HostLockout({ maxFailures: 5 })`); or, explicitly, `'none'`.
   */
  loginGuard?: LoginGuardChoice;
  /**
   * Who counts: `'auto'` (the default) lets a token in a hardware slot count its own tries and the
   * guard count for software slots (SoftHSM); `'host'` or `'token'` decide for every token of the module.
   */
  pinCounting?: PinCounting;
  /**
   * @internal For tests only: the binding to use instead of pkcs11js (an in-memory PKCS#11, say).
   * `path` must still name a file: it keys the process's one instance per library.
   */
  binding?: RawPkcs11;
}

/**
 * A handle on a PKCS#11 library. Every `load` returns its own handle and must be closed once
 * (`await using` does it); the library is finalized when the last handle closes.
 */
export class Pkcs11Module implements AsyncDisposable {
  readonly #loaded: LoadedLibrary;
  readonly #guardChoice: LoginGuardChoice;
  #guard: LoginGuard | undefined;
  /** Who counts PIN tries for this module's tokens; see LoadOptions.pinCounting. */
  readonly pinCounting: PinCounting;
  #closed = false;
  /** Running watchers, stopped when this handle closes so none keeps a timer on a closed module. */
  readonly #watchers = new Set<TokenWatcher>();

  private constructor(loaded: LoadedLibrary, guardChoice: LoginGuardChoice, pinCounting: PinCounting) {
    this.#loaded = loaded;
    this.#guardChoice = guardChoice;
    this.pinCounting = pinCounting;
  }

  static async load(path: string, options: LoadOptions = {}): Promise<Pkcs11Module> {
    const guardChoice = checkLoginGuardChoice(options.loginGuard);
    const pinCounting = checkPinCounting(options.pinCounting);
    if (options.env) Object.assign(process.env, options.env);
    return new Pkcs11Module(acquireLibrary(path, options.binding), guardChoice, pinCounting);
  }

  /** The guard that counts for this module's host-counted tokens (undefined with `loginGuard: 'none'`). */
  get loginGuard(): LoginGuard | undefined {
    // Resolved at first use, so the default's state directory is the one in force by then.
    if (this.#guard === undefined && this.#guardChoice !== 'none') this.#guard = resolveLoginGuard(this.#guardChoice);
    return this.#guard;
  }

  /** The resolved file path of the library. */
  get path(): string {
    return this.#loaded.path;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Internal: when the library was last initialised, and the token changes this process made since. */
  get initializedAt(): number {
    return this.#loaded.initializedAt;
  }

  get ownChanges(): Map<string, number> {
    return this.#loaded.ownChanges;
  }

  /**
   * Finalizes and initialises the library again, for every handle in this process: software tokens
   * (SoftHSM) read their files only at C_Initialize, so a PIN set by another process is seen only
   * after this (`token.changedElsewhere()` says when). Every session of the library ends — pools
   * open fresh ones and log in again, watchers go on polling. Returns false when the library was
   * initialised by someone else in this process, whose sessions are not ours to end.
   */
  async reload(): Promise<boolean> {
    const loaded = this.#loaded;
    void this.raw; // closed: ModuleClosedError
    if (!loaded.ownsInitialize) return false;
    call(loaded.lib, 'C_Finalize');
    forgetModuleLogins(loaded.path);
    initialize(loaded.lib);
    loaded.initializedAt = Date.now();
    loaded.ownChanges.clear();
    return true;
  }

  /** Internal: the binding, for the token and session layers. */
  get raw(): RawPkcs11 {
    if (this.#closed) throw new ModuleClosedError(`module ${this.#loaded.path} is closed`);
    return this.#loaded.lib;
  }

  info(): ModuleInfo {
    const info = call(this.raw, 'C_GetInfo');
    return {
      path: this.path,
      cryptokiVersion: versionString(info.cryptokiVersion),
      manufacturer: trimPadded(info.manufacturerID),
      description: trimPadded(info.libraryDescription),
      libraryVersion: versionString(info.libraryVersion),
    };
  }

  slots(options: { tokenPresent?: boolean } = {}): SlotInfo[] {
    const ids = call(this.raw, 'C_GetSlotList', options.tokenPresent ?? false);
    return ids.map((id) => {
      const info = call(this.raw, 'C_GetSlotInfo', id);
      return {
        id: id.readBigUInt64LE(0),
        description: trimPadded(info.slotDescription),
        manufacturer: trimPadded(info.manufacturerID),
        flags: decodeSlotFlags(info.flags),
      };
    });
  }

  /** Information on every token present now. */
  tokens(): TokenInfo[] {
    return presentTokens(this.raw).map(({ info }) => info);
  }

  /** The one present token with this label or serial; throws `TokenNotPresentError` when none matches. */
  token(selector: TokenSelector): Token {
    const { slot, info } = selectToken(this.raw, selector);
    return new Token(this, slot, info);
  }

  /**
   * Watches for tokens inserted, removed and changed, by polling every `intervalMs`; close it (or
   * abort its signal) when done. Closing this module closes its watchers.
   */
  watch(options: WatchOptions = {}): TokenWatcher {
    void this.raw; // a closed module throws ModuleClosedError here, emitInitial or not
    const watcher = new TokenWatcher(() => this.raw, options);
    if (watcher.closed) return watcher;
    this.#watchers.add(watcher);
    watcher.once('close', () => this.#watchers.delete(watcher));
    return watcher;
  }

  /**
   * Initialises the first present token that is not initialised yet (SoftHSM's free slot, a blank
   * card) with an SO PIN and a label, and returns it, found again: modules may renumber its slot.
   */
  initializeToken(options: InitializeTokenOptions): Token {
    const before = new Set(this.tokens().map((t) => t.serial));
    const { slot, info } = findUninitializedSlot(this.raw);
    initializeTokenIn(this.raw, slot, info, options);
    const fresh = this.tokens().filter((t) => t.label === options.label && t.flags.tokenInitialized);
    const serial = (fresh.find((t) => !before.has(t.serial)) ?? fresh[0])?.serial;
    if (serial === undefined) throw new TokenNotPresentError(`the token initialised as "${options.label}" is gone`);
    return this.token({ serial });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const watcher of [...this.#watchers]) watcher.close();
    releaseLibrary(this.#loaded);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** How many handles are open on the library at `path` (0 when it is not loaded). For diagnostics and tests. */
export function moduleReferenceCount(path: string): number {
  const real = existsSync(path) ? realpathSync(path) : path;
  return libraries.get(real)?.refs ?? 0;
}
