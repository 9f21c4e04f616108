// Where mails go: an SMTP server (nodemailer), or an outbox directory of `.eml` files — the
// embedded default, so the demo works offline and a person can open what was "sent".
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import nodemailer from 'nodemailer';

export type MailTransportConfig =
  | { readonly kind: 'smtp'; readonly host: string; readonly port: number; readonly secure?: boolean; readonly user?: string; readonly password?: string; readonly requireTls?: boolean }
  | { readonly kind: 'outbox'; readonly dir: string };

export interface OutgoingMail {
  readonly id: string;
  readonly from: string;
  readonly to: string;
  readonly subject: string;
  readonly text: string;
}

export interface MailSender {
  send(mail: OutgoingMail): Promise<void>;
  close(): void;
}

export function createMailSender(config: MailTransportConfig): MailSender {
  if (config.kind === 'outbox') {
    mkdirSync(config.dir, { recursive: true, mode: 0o700 });
    const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
    return {
      async send(mail) {
        const info = await transport.sendMail({ from: mail.from, to: mail.to, subject: mail.subject, text: mail.text, messageId: `<${mail.id}@tokengate>` });
        // Owner-only: the file holds a security token.
        writeFileSync(join(config.dir, `${mail.id}.eml`), info.message as Buffer, { mode: 0o600 });
      },
      close: () => transport.close(),
    };
  }
  const transport = nodemailer.createTransport({
    host: config.host,
    port: config.port,
    secure: config.secure ?? false,
    requireTLS: config.requireTls ?? false,
    ...(config.user ? { auth: { user: config.user, pass: config.password ?? '' } } : {}),
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 20_000,
  });
  return {
    async send(mail) {
      await transport.sendMail({ from: mail.from, to: mail.to, subject: mail.subject, text: mail.text, messageId: `<${mail.id}@tokengate>` });
    },
    close: () => transport.close(),
  };
}
