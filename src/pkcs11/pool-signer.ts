// The signing half of a SessionPool: a call alone signs directly on one of the set's sessions
// (signOn, the C_SignInit + C_SignAsync that Session.signChallenge makes too); concurrent calls go
// to signing workers (sign-workers.ts: threads, or processes) that sign in batches. The sessions
// are session-set.ts's.
import { SessionClosedError } from './errors.js';
import type { ObjectRef, TokenKey } from './objects.js';
import { DEFAULT_SIGN_OPTIONS, finishSignature, prepareSignature, type PreparedSignature, type SignOptions } from './signing.js';
import { signOn } from './session-signing.js';
import { SignWorkers, type SignJob, type WorkerKind } from './sign-workers.js';
import { POOL_CLOSED, type SessionSet } from './session-set.js';

export class PoolSigner {
  readonly #sessions: SessionSet;
  #workers: SignWorkers | undefined;
  /** sign calls under way: one alone takes the direct path. */
  #signing = 0;

  constructor(sessions: SessionSet) {
    this.#sessions = sessions;
  }

  /**
   * Starts `count` signing workers: threads on the set's login, or processes that each log in
   * with the set's PIN, counted like every login. The set resets and closes them with its sessions.
   */
  async startWorkers(count: number, kind: WorkerKind): Promise<void> {
    const sessions = this.#sessions;
    const { token } = sessions;
    this.#workers = await SignWorkers.start(
      kind === 'process'
        ? { kind: 'process', modulePath: token.module.path, serial: token.serial, label: token.label, login: (send) => sessions.loginElsewhere(send) }
        : { kind: 'thread', modulePath: token.module.path, slot: token.slot },
      count,
    );
    sessions.attach(this.#workers);
  }

  /** What the signing workers are, once started. */
  get workerKind(): WorkerKind | undefined {
    return this.#workers?.kind;
  }

  /** Signing workers running now (0 once closed). */
  get workers(): number {
    return this.#workers?.size ?? 0;
  }

  /**
   * Signs a challenge with a private key of the token. Calls alone sign on one of the set's
   * sessions; concurrent calls go to the signing workers in batches.
   */
  sign(key: ObjectRef | TokenKey, challenge: Uint8Array | string, options: SignOptions = DEFAULT_SIGN_OPTIONS): Promise<Buffer> {
    // The common case of a busy pool (others under way, the key already found, the sessions
    // usable) goes straight to the workers as one promise chain: at tens of thousands of calls a
    // second, every async layer and its promise is a measurable share of the main thread's work.
    const sessions = this.#sessions;
    const workers = this.#workers;
    if (this.#signing === 0 || !workers || workers.size === 0 || !sessions.usable) return this.#sign(key, challenge, options, 0);
    const resolved = sessions.foundKey(key);
    if (!resolved || resolved.alwaysAuthenticate) return this.#sign(key, challenge, options, 0);
    const generation = sessions.generation;
    let prepared: PreparedSignature;
    try {
      // A token blocked while the pool runs (the blocklist refreshed) signs nothing more.
      sessions.admit();
      prepared = prepareSignature(resolved, challenge, options);
    } catch (err) {
      return Promise.reject(err);
    }
    this.#signing++;
    return workers.sign(workJob(resolved, prepared)).then(
      (output) => {
        this.#signing--;
        return finishSignature(prepared, output);
      },
      (err: unknown) => {
        this.#signing--;
        // As the general path does: a session lost to re-insertion is replaced and the call retried once.
        const explained = sessions.explain(err);
        if (!sessions.retry(explained, 0, generation)) throw explained;
        return this.#sign(key, challenge, options, 1);
      },
    );
  }

  async #sign(key: ObjectRef | TokenKey, challenge: Uint8Array | string, options: SignOptions, firstAttempt: number): Promise<Buffer> {
    // One flat loop rather than the set's use(): on this path every extra async layer shows up in
    // single-signature latency (bench/sign.ts measures it against pkcs11js).
    const sessions = this.#sessions;
    // A token blocked while the pool runs (the blocklist refreshed) signs nothing more.
    sessions.admit();
    this.#signing++;
    try {
      for (let attempt = firstAttempt; ; attempt++) {
        if (!sessions.usable) await sessions.ready();
        const generation = sessions.generation;
        try {
          // A cached key costs no await: alone means alone now (of a burst made in one tick, the
          // first call signs directly and the rest, which find it under way, go to the workers).
          const resolved = sessions.foundKey(key) ?? (await sessions.key(key));
          const workers = this.#workers;
          // Alone, a signature is quickest as C_SignInit + C_SignAsync here (a worker adds a
          // thread hop each way); in company, worker batches win. A key that needs a
          // context-specific login (a PIN per signature) always signs here: PINs stay here.
          if (workers && workers.size > 0 && this.#signing > 1 && !resolved.alwaysAuthenticate) {
            return await this.#signOnWorker(workers, resolved, prepareSignature(resolved, challenge, options));
          }
          // Checked here too: close() may have begun while the key was looked up.
          if (sessions.closed) throw new SessionClosedError(POOL_CLOSED);
          const session = sessions.idle() ?? (await sessions.acquire());
          // The direct path: what Session.signChallenge does minus its per-session operation
          // queue, which the set makes redundant (this call holds the session alone, and it
          // closes only once given back). Inline, because each async layer here costs a
          // measurable share of a fast signature.
          sessions.lend(session);
          try {
            if (resolved.alwaysAuthenticate) return await session.signChallenge(resolved, challenge, options);
            const prepared = prepareSignature(resolved, challenge, options);
            try {
              return await signOn(sessions.token.module.raw, session.handle, resolved, prepared);
            } catch (err) {
              throw sessions.explain(err);
            }
          } finally {
            sessions.giveBack(session);
          }
        } catch (err) {
          if (!sessions.retry(err, attempt, generation)) throw err;
        }
      }
    } finally {
      this.#signing--;
    }
  }

  async #signOnWorker(workers: SignWorkers, key: TokenKey, prepared: PreparedSignature): Promise<Buffer> {
    try {
      return finishSignature(prepared, await workers.sign(workJob(key, prepared)));
    } catch (err) {
      throw this.#sessions.explain(err);
    }
  }
}

function workJob(key: TokenKey, prepared: PreparedSignature): SignJob {
  return { key: key.handle, keyLabel: key.label, keyId: key.id, mechanism: prepared.mechanism, mechanismId: prepared.algorithm, input: prepared.input, outputLength: prepared.outputLength };
}
