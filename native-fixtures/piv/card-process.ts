// The emulated card's own process. Our PKCS#11 calls are synchronous: a card answering in the
// test's process would never get to answer. The parent sends the card's material and commands
// over Node IPC; this process stays connected to vpcd until told to pull the card out.
import { PivApplet, type PivAppletOptions } from './applet.js';
import { VpcdLink } from './vpcd-link.js';

export type ToCard =
  | { type: 'start'; host: string; port: number; card: Omit<PivAppletOptions, 'secretKey' | 'certificate' | 'guid'> & { secretKey: string; certificate: string; guid: string } }
  | { type: 'remove'; id: number }
  | { type: 'insert'; id: number }
  | { type: 'state'; id: number }
  | { type: 'stop' };

export type FromCard = { type: 'started' } | { type: 'done'; id: number; state?: unknown } | { type: 'error'; id?: number; message: string };

const send = (message: FromCard) => process.send?.(message);
const trace = process.env.TOKENGATE_PIV_TRACE ? (line: string) => process.stderr.write(`[piv] ${line}\n`) : undefined;
let link: VpcdLink | undefined;
let applet: PivApplet | undefined;

process.on('message', (message: ToCard) => {
  void (async () => {
    try {
      switch (message.type) {
        case 'start': {
          const { card } = message;
          applet = new PivApplet({
            ...card,
            secretKey: Buffer.from(card.secretKey, 'hex'),
            certificate: Buffer.from(card.certificate, 'base64'),
            guid: Buffer.from(card.guid, 'hex'),
          });
          const a = applet;
          link = new VpcdLink(message.host, message.port, { apdu: (cmd) => a.process(cmd), reset: () => a.reset() }, trace);
          await link.connect();
          send({ type: 'started' });
          return;
        }
        case 'remove':
          await link?.pull();
          send({ type: 'done', id: message.id });
          return;
        case 'insert':
          await link?.connect();
          send({ type: 'done', id: message.id });
          return;
        case 'state': {
          const s = applet?.state;
          // The counters and the verified flag; never the PIN or PUK themselves.
          send({ type: 'done', id: message.id, state: s && { pinTriesLeft: s.pinTriesLeft, pukTriesLeft: s.pukTriesLeft, verified: s.verified, inserted: link?.connected ?? false } });
          return;
        }
        case 'stop':
          await link?.disconnect();
          process.exit(0);
      }
    } catch (err) {
      send({ type: 'error', id: 'id' in message ? message.id : undefined, message: err instanceof Error ? err.message : String(err) });
    }
  })();
});
process.on('disconnect', () => process.exit(0));
