// The contract between the verifier's store (which queues mails in the same transaction as the
// change that causes them) and the mail delivery loop (which sends them after commit, with retries).
// A queued mail may carry a secret (a new security token), so its body is stored sealed — encrypted
// with a key derived from the server secret, which lives outside the database — and erased once sent.

/** A mail waiting to be delivered; `sealedBody` is opaque to the store. */
export interface QueuedMail {
  readonly id: string;
  readonly to: string;
  readonly subject: string;
  /** The text body, sealed by `sealMailBody` (AES-256-GCM); never stored in clear. */
  readonly sealedBody: Uint8Array;
  /** Deliveries tried so far (0 for a new mail). */
  readonly attempts: number;
}

/** A new mail, as the store's transaction queues it. */
export interface NewMail {
  readonly to: string;
  readonly subject: string;
  readonly sealedBody: Uint8Array;
}

export interface MailQueue {
  /**
   * Claims up to `limit` mails that are due at `now` and not claimed by another deliverer, for
   * `leaseMs`: a deliverer that dies mid-send leaves them due again when the lease runs out.
   */
  claimDue(now: Date, limit: number, leaseMs: number): Promise<QueuedMail[]>;
  /** Delivered: the mail is kept for audit, its sealed body erased. */
  markSent(id: string, at: Date): Promise<void>;
  /** Not delivered: due again at `retryAt`; `reason` has no secret in it (an SMTP error line). */
  markFailed(id: string, reason: string, retryAt: Date): Promise<void>;
}
