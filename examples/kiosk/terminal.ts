// The kiosk's keyboard and screen. A PIN is masked and can never be revealed (no ctrl+t toggle).
// Between prompts the terminal is kept raw and silent and whatever is typed is dropped: keys hit
// during the result screen are neither echoed nor handed to the next visitor's PIN prompt.
import { confirm, password } from '@inquirer/prompts';
import type { PinSource } from './kiosk.js';

/** Raw, unechoed, discarded input whenever no prompt is asking; Ctrl-C still stops the kiosk. */
export class QuietTerminal {
  readonly #input: NodeJS.ReadStream;
  #quiet = false;
  readonly #drop = (chunk: Buffer | string): void => {
    // Raw mode turns Ctrl-C into a byte instead of a signal: give it its meaning back.
    if (typeof chunk === 'string' ? chunk.includes('\x03') : chunk.includes(0x03)) process.kill(process.pid, 'SIGINT');
  };

  constructor(input: NodeJS.ReadStream = process.stdin) {
    this.#input = input;
  }

  /** From now until the next prompt: nothing typed shows or counts. */
  hush(): void {
    if (!this.#input.isTTY || this.#quiet) return;
    this.#quiet = true;
    this.#input.setRawMode(true);
    this.#input.on('data', this.#drop);
    this.#input.resume();
  }

  /** Runs a prompt; what was typed before it has been dropped, and the terminal is hushed after. */
  async prompt<T>(ask: () => Promise<T>): Promise<T> {
    if (this.#quiet) {
      this.#input.off('data', this.#drop);
      this.#quiet = false;
    }
    try {
      return await ask();
    } finally {
      this.hush();
    }
  }

  /** Leaves the terminal as it was found. */
  release(): void {
    if (!this.#quiet) return;
    this.#input.off('data', this.#drop);
    this.#input.setRawMode(false);
    this.#input.pause();
    this.#quiet = false;
  }
}

/** Masked prompts (@inquirer/prompts) through the quiet terminal; a pulled card or the idle timeout aborts them. */
export function terminalPins(terminal: QuietTerminal): PinSource {
  return {
    pin: (prompt, signal) => {
      const left = prompt.retriesLeft === undefined ? '' : ` (${prompt.retriesLeft} ${prompt.retriesLeft === 1 ? 'try' : 'tries'} left)`;
      return terminal.prompt(() => password({ message: `${prompt.holder}, your PIN${left}:`, mask: '*', toggleMask: false }, { signal }));
    },
    confirmFinalTry: (prompt, signal) =>
      terminal.prompt(() => confirm({ message: `This is your last try: a wrong PIN locks the ${prompt.kind === 'fido' ? 'key' : 'card'}. Go on?`, default: false }, { signal })),
    touch: () => console.log('  Touch your key…'),
  };
}
