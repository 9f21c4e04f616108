// The card's side of vpcd (vsmartcard's virtual reader driver for pcscd): a TCP client. Every
// message both ways is a 2-byte big-endian length and a payload; a 1-byte payload from vpcd is a
// control code (0 power off, 1 power on, 2 reset, 4 ask for the ATR), anything longer a command APDU.
import { Socket } from 'node:net';

export const ATR = Buffer.from('3b951381018073ff01000b', 'hex');

export interface CardBehaviour {
  apdu(command: Buffer): Buffer;
  /** Power off, power on or reset: the card's volatile state is gone. */
  reset(): void;
}

export class VpcdLink {
  #socket: Socket | undefined;
  #buffer = Buffer.alloc(0);
  #onPresenceCheck: (() => void) | undefined;

  constructor(
    readonly host: string,
    readonly port: number,
    readonly card: CardBehaviour,
    readonly trace: (line: string) => void = () => {},
  ) {}

  get connected(): boolean {
    return this.#socket !== undefined && !this.#socket.destroyed;
  }

  /** Connects (the card goes into the reader); retries until vpcd listens or the deadline passes. */
  async connect(deadlineMs = 20_000): Promise<void> {
    const until = Date.now() + deadlineMs;
    for (;;) {
      try {
        await this.#tryConnect();
        return;
      } catch (err) {
        if (Date.now() > until) throw err;
        // vpcd listens only once pcscd has loaded the reader: poll for it.
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }

  #tryConnect(): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = new Socket();
      socket.once('error', reject);
      socket.connect(this.port, this.host, () => {
        socket.off('error', reject);
        socket.on('error', () => socket.destroy());
        socket.setNoDelay(true);
        this.#socket = socket;
        this.#buffer = Buffer.alloc(0);
        socket.on('data', (chunk) => this.#onData(chunk));
        socket.on('close', () => {
          if (this.#socket === socket) this.#socket = undefined;
        });
        resolve();
      });
    });
  }

  /**
   * Pulls the card out the way a reader's card-detect switch reports it: the card keeps answering
   * until pcscd next asks whether it is there (vpcd asks for the ATR), and is gone from that
   * question on. Dropping the connection at a random instant instead makes a transmit fail inside
   * a transaction pcscd still thinks valid, which OpenSC 0.23 mishandles (OpenSC issue 2707, fixed
   * in 0.24: a failed re-select after SCardBeginTransaction leaves the card mutex locked and the
   * next call deadlocks). `deadlineMs` bounds the wait for that question.
   */
  pull(deadlineMs = 5_000): Promise<void> {
    const socket = this.#socket;
    if (!socket || socket.destroyed) return this.disconnect();
    return new Promise((resolve) => {
      const timer = setTimeout(() => void this.disconnect().then(resolve), deadlineMs);
      this.#onPresenceCheck = () => {
        clearTimeout(timer);
        void this.disconnect().then(resolve);
      };
    });
  }

  /** Drops the connection at once (the card is gone mid-whatever), e.g. when the emulator stops. */
  disconnect(): Promise<void> {
    const socket = this.#socket;
    this.#socket = undefined;
    this.#onPresenceCheck = undefined;
    this.card.reset();
    if (!socket || socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      socket.once('close', () => resolve());
      socket.destroy();
    });
  }

  #onData(chunk: Buffer): void {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    while (this.#buffer.length >= 2) {
      const length = this.#buffer.readUInt16BE(0);
      if (this.#buffer.length < 2 + length) return;
      const message = this.#buffer.subarray(2, 2 + length);
      this.#buffer = this.#buffer.subarray(2 + length);
      this.#handle(Buffer.from(message));
    }
  }

  #send(payload: Buffer): void {
    const header = Buffer.alloc(2);
    header.writeUInt16BE(payload.length);
    this.#socket?.write(Buffer.concat([header, payload]));
  }

  #handle(message: Buffer): void {
    if (message.length === 1) {
      const code = message[0]!;
      this.trace(`control ${code}`);
      if (code === 4 && this.#onPresenceCheck) return this.#onPresenceCheck();
      if (code === 4) this.#send(ATR);
      else this.card.reset(); // 0 off, 1 on, 2 reset
      return;
    }
    const response = this.card.apdu(message);
    this.trace(`> ${maskSecrets(message)}\n< ${response.toString('hex')}`);
    this.#send(response);
  }
}

/** PIN, PUK and new PINs travel in VERIFY, CHANGE REFERENCE DATA and RESET RETRY COUNTER: never traced. */
export function maskSecrets(apdu: Buffer): string {
  const ins = apdu[1];
  if ((ins === 0x20 || ins === 0x24 || ins === 0x2c) && apdu.length > 5) return `${apdu.subarray(0, 5).toString('hex')} <${apdu.length - 5} secret bytes>`;
  return apdu.toString('hex');
}
