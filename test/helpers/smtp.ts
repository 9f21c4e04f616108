// A real SMTP server on loopback (the smtp-server package) that parses what it receives
// (mailparser), for the verifier's mail tests: wait for the next mail to an address, by event,
// with a deadline. It can be told to refuse mail for a while, like a server that is down.
import { EventEmitter, once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  /** The Message-ID header (the verifier's is `<outbox id@tokengate>`). */
  readonly messageId: string;
}

export interface SmtpPeer {
  readonly port: number;
  readonly received: ReceivedMail[];
  /** While true, every message is refused with a 451 (try again later). */
  refusing: boolean;
  nextMail(to: string, deadlineMs?: number): Promise<ReceivedMail>;
  stop(): Promise<void>;
}

export async function startSmtpPeer(): Promise<SmtpPeer> {
  const events = new EventEmitter();
  const received: ReceivedMail[] = [];
  const waiting = new Map<string, number>();
  const peer = { refusing: false };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, _session, callback) {
      if (peer.refusing) {
        stream.resume();
        stream.on('end', () => callback(Object.assign(new Error('try again later'), { responseCode: 451 })));
        return;
      }
      simpleParser(stream)
        .then((parsed) => {
          const to = Array.isArray(parsed.to) ? parsed.to[0]?.text : parsed.to?.text;
          const mail = { to: to ?? '', subject: parsed.subject ?? '', text: parsed.text ?? '', messageId: parsed.messageId ?? '' };
          received.push(mail);
          events.emit('mail', mail);
          callback();
        })
        .catch((err: Error) => callback(err));
    },
  });
  // A client that vanishes mid-conversation (a verifier killed with SIGKILL while it sends)
  // reaches the server as an ECONNRESET 'error' event; like any mail server, the peer drops that
  // connection and keeps serving the others instead of ending the process that hosts it.
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  return Object.assign(peer, {
    port,
    received,
    async nextMail(to: string, deadlineMs = 10_000): Promise<ReceivedMail> {
      // The n-th call for an address returns its n-th mail, whether it came before or after.
      const seen = waiting.get(to) ?? 0;
      waiting.set(to, seen + 1);
      const signal = AbortSignal.timeout(deadlineMs);
      for (;;) {
        const mine = received.filter((m) => m.to === to);
        if (mine.length > seen) return mine[seen]!;
        try {
          await once(events, 'mail', { signal });
        } catch {
          throw new Error(`no mail to ${to} within ${deadlineMs} ms`);
        }
      }
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}
