// A per-token pool of logged-in sessions for concurrent signing. It keeps one login for all its
// sessions (PKCS#11 login state is per application and token), hands each caller a session of its
// own, and when the token is pulled out and put back it opens fresh sessions and logs in again
// (session-set.ts). Concurrent signatures go to signing workers — processes for a software token,
// threads for a chip (`workerProcesses`) — that sign in batches; a call with no company goes
// straight to a session, which is the quickest way for one signature (pool-signer.ts).
import type { ObjectRef, TokenKey } from './objects.js';
import type { Pin } from '../util/pin.js';
import { PoolSigner } from './pool-signer.js';
import type { PublicKey } from './public-key.js';
import { checkPin, type Session, type UserType } from './session.js';
import { SessionSet } from './session-set.js';
import { DEFAULT_SIGN_OPTIONS, type SignOptions } from './signing.js';
import { workerCount, type WorkerKind } from './sign-workers.js';
import { InvalidArgumentError } from './errors.js';
import type { Token } from './token.js';
import type { TokenAdmission } from './admission.js';

export interface SessionPoolOptions {
  /** The PIN to log in with, and again after the token comes back. Kept in memory; never sent to a worker thread (a worker process logs in with it: workerProcesses). */
  pin: string | Pin;
  /** Sessions to open for the calling thread; defaults to 4. */
  size?: number;
  userType?: Exclude<UserType, 'contextSpecific'>;
  /**
   * Workers (threads or processes: `workerProcesses`) that sign concurrent requests in batches,
   * each on a session of its own. `'auto'` (the default) is one per CPU, at most 4; `0` signs
   * only on this thread's sessions (C_SignAsync).
   */
  workers?: number | 'auto';
  /**
   * Run the signing workers as processes of their own (`true`) or as threads of this one
   * (`false`). `'auto'`, the default, picks processes for a token in a software slot and threads
   * for one in a hardware slot (CKF_HW_SLOT). A software token signs inside the calling process,
   * and SoftHSM on OpenSSL 3 decodes the key for every signature under process-wide locks that
   * two signing threads fight over and two processes do not (README, Benchmarks); a chip signs on
   * the card, where threads sharing the pool's one login are enough. Each process loads the
   * module, finds the token by serial and label, and logs in with this PIN, sent over its
   * pipe (never argv, environment or a file) and counted like every login. Set `false` where this
   * process cannot fork Node children (some bundled or embedded runtimes).
   */
  workerProcesses?: boolean | 'auto';
  /** Asked before every login and signature (e.g. a Blocklist); see SessionOptions.admission. */
  admission?: TokenAdmission;
  /**
   * Spend the last try on the first login. Logins after the token comes back never do: an
   * unattended re-login with a PIN changed elsewhere must not lock the token.
   */
  allowFinalTry?: boolean;
}

/** Checked before the login: a bad option must not cost a PIN try. */
function checkWorkerProcesses(option: unknown): boolean | 'auto' {
  if (option === undefined) return 'auto';
  if (option !== 'auto' && typeof option !== 'boolean') throw new InvalidArgumentError('workerProcesses must be true, false or "auto"');
  return option;
}

function workerKind(token: Token, option: boolean | 'auto'): WorkerKind {
  if (option === 'auto') return token.inHardwareSlot ? 'thread' : 'process';
  return option ? 'process' : 'thread';
}

export class SessionPool implements AsyncDisposable {
  readonly token: Token;
  readonly size: number;
  readonly #sessions: SessionSet;
  readonly #signer: PoolSigner;
  #closing: Promise<void> | undefined;

  private constructor(sessions: SessionSet) {
    this.token = sessions.token;
    this.size = sessions.size;
    this.#sessions = sessions;
    this.#signer = new PoolSigner(sessions);
  }

  static async open(token: Token, options: SessionPoolOptions): Promise<SessionPool> {
    checkPin(options.pin, token.info().pinLength);
    const workers = workerCount(options.workers);
    const processes = checkWorkerProcesses(options.workerProcesses);
    const pool = new SessionPool(new SessionSet(token, options));
    await pool.#sessions.open(options.allowFinalTry === true);
    if (workers > 0) {
      try {
        // After the login, so the workers' sessions are logged in from the start.
        await pool.#signer.startWorkers(workers, workerKind(token, processes));
      } catch (err) {
        await pool.close();
        throw err;
      }
    }
    return pool;
  }

  /** Signing workers running now (0 after `close`). */
  get workers(): number {
    return this.#signer.workers;
  }

  /** What the signing workers are (`workerProcesses`); undefined with `workers: 0`. */
  get workerKind(): WorkerKind | undefined {
    return this.#signer.workerKind;
  }

  /** Runs `fn` on a logged-in session of its own. A session lost to re-insertion is replaced and `fn` retried once. */
  async use<T>(fn: (session: Session) => Promise<T>): Promise<T> {
    return this.#sessions.use(fn);
  }

  /**
   * Signs a challenge with a private key of the token. Calls alone sign on one of the pool's
   * sessions; concurrent calls go to the signing workers in batches.
   */
  signChallenge(key: ObjectRef | TokenKey, challenge: Uint8Array | string, options: SignOptions = DEFAULT_SIGN_OPTIONS): Promise<Buffer> {
    // Not async: a second async layer on the signing path shows in single-signature latency.
    return this.#signer.sign(key, challenge, options);
  }

  async findPrivateKey(ref: ObjectRef): Promise<TokenKey> {
    return this.#sessions.findPrivateKey(ref);
  }

  async publicKey(ref: ObjectRef): Promise<PublicKey> {
    return this.use((session) => session.publicKey(ref));
  }

  /** Stops the workers (after their batches in flight) and closes every session. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#sessions.close();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
