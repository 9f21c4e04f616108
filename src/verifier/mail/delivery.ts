// Delivers queued mails after the transactions that queued them commit: at once when kicked, and
// on a timer for retries, with a growing delay. A mail is claimed with a lease, so a deliverer
// that dies mid-send leaves it for another; an SMTP outage loses nothing, it only waits, and a
// store outage after a send does not send it twice (the send is recorded once the store is back).
import type { ServerSecret } from '../server-secret.js';
import type { MailQueue } from './queue.js';
import { openMailBody } from './seal.js';
import type { MailSender } from './transport.js';

export interface MailDeliveryOptions {
  readonly queue: MailQueue;
  readonly sender: MailSender;
  readonly secret: ServerSecret;
  readonly from: string;
  /** How often due retries are looked for. */
  readonly pollMs?: number;
  /** The first retry's delay; it doubles per attempt, up to an hour. */
  readonly retryBaseMs?: number;
  /** The clock (the store's times come from it too). */
  readonly now?: () => number;
  /** Called with each failure (an SMTP error line, no secret), e.g. for the log. */
  readonly onError?: (error: Error) => void;
  /** How long a claimed mail is left to its deliverer before another may send it (default 1 minute). */
  readonly leaseMs?: number;
}

const LEASE_MS = 60_000;
const BATCH = 20;

export class MailDelivery {
  readonly #options: MailDeliveryOptions;
  readonly #timer: NodeJS.Timeout;
  #running: Promise<void> | undefined;
  #again = false;
  #closed = false;

  constructor(options: MailDeliveryOptions) {
    this.#options = options;
    this.#timer = setInterval(() => this.kick(), options.pollMs ?? 5_000);
    this.#timer.unref();
  }

  /** Starts a delivery round now (or right after the one running). */
  kick(): void {
    if (this.#closed) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#round().finally(() => {
      this.#running = undefined;
      if (this.#again) {
        this.#again = false;
        this.kick();
      }
    });
  }

  /** Resolves when the current round (and any it asked for) has finished. */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  async #round(): Promise<void> {
    const { queue, sender, secret, from } = this.#options;
    const now = this.#options.now ?? Date.now;
    for (;;) {
      let batch;
      try {
        batch = await queue.claimDue(new Date(now()), BATCH, this.#options.leaseMs ?? LEASE_MS);
      } catch (err) {
        this.#options.onError?.(err as Error);
        return;
      }
      if (batch.length === 0) return;
      for (const mail of batch) {
        try {
          await sender.send({ id: mail.id, from, to: mail.to, subject: mail.subject, text: openMailBody(secret, mail.sealedBody) });
        } catch (err) {
          const reason = err instanceof Error ? err.message : String(err);
          const delay = Math.min(3_600_000, (this.#options.retryBaseMs ?? 30_000) * 2 ** Math.min(mail.attempts, 20));
          await queue.markFailed(mail.id, reason, new Date(now() + delay)).catch(() => {});
          this.#options.onError?.(err instanceof Error ? err : new Error(reason));
          continue;
        }
        await this.#recordSent(mail.id);
      }
      if (batch.length < BATCH) return;
    }
  }

  /**
   * Records a sent mail, retrying while the store is away: a mail sent but not recorded would be
   * sent again once its lease ran out. Gives up only when closing (the lease then decides).
   */
  async #recordSent(id: string): Promise<void> {
    const now = this.#options.now ?? Date.now;
    for (let wait = 100; ; wait = Math.min(wait * 2, 2000)) {
      try {
        await this.#options.queue.markSent(id, new Date(now()));
        return;
      } catch (err) {
        this.#options.onError?.(err as Error);
        if (this.#closed) return;
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    await this.idle();
    this.#options.sender.close();
  }
}
