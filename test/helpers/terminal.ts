// A program in a real terminal: tmux on a private socket, a pane of fixed size. Keys go in with
// send-keys; the screen is read with capture-pane whenever the pane's output changes (pipe-pane
// into a file, watched with fs.watch), so waiting for text is waiting for an event, with a deadline.
import { execFileSync } from 'node:child_process';
import { watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Terminal {
  /** Types `text` (literally), then Enter unless told not to. */
  type(text: string, enter?: boolean): void;
  /** Sends tmux key names (e.g. 'Enter', 'C-c'). */
  keys(...names: string[]): void;
  screen(): string;
  /**
   * The screen (with its scrollback) once `pattern` occurs in it `times` times (checked on every
   * output change), or an error after the deadline.
   */
  waitFor(pattern: RegExp, times?: number, deadlineMs?: number): Promise<string>;
  stop(): void;
}

let count = 0;

export function startInTerminal(command: readonly string[], env: Record<string, string>): Terminal {
  const socket = `tokengate-test-${process.pid}-${++count}`;
  const session = 'kiosk';
  const log = join(tmpdir(), `${socket}.log`);
  writeFileSync(log, '');
  const tmux = (...args: string[]) => execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });
  const quoted = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const line = ['env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...command].map(quoted).join(' ');
  tmux('new-session', '-d', '-s', session, '-x', '120', '-y', '50', line);
  tmux('set-option', '-t', session, 'remain-on-exit', 'on');
  tmux('pipe-pane', '-t', session, '-o', `cat >> ${quoted(log)}`);
  const screen = () => tmux('capture-pane', '-t', session, '-p', '-S', '-200');
  return {
    type(text, enter = true) {
      tmux('send-keys', '-t', session, '-l', text);
      if (enter) tmux('send-keys', '-t', session, 'Enter');
    },
    keys(...names) {
      tmux('send-keys', '-t', session, ...names);
    },
    screen,
    waitFor(pattern, times = 1, deadlineMs = 20_000) {
      const global = new RegExp(pattern.source, pattern.flags.includes('g') ? pattern.flags : `${pattern.flags}g`);
      return new Promise((resolve, reject) => {
        const watcher = watch(log);
        const finish = (error?: Error, text?: string) => {
          clearTimeout(timer);
          watcher.close();
          if (error) reject(error);
          else resolve(text!);
        };
        const check = () => {
          const text = screen();
          if ((text.match(global) ?? []).length >= times) finish(undefined, text);
        };
        const timer = setTimeout(() => finish(new Error(`the terminal did not show ${pattern} ×${times} within ${deadlineMs} ms; it shows:\n${screen()}`)), deadlineMs);
        watcher.on('change', check);
        check();
      });
    },
    stop() {
      try {
        tmux('kill-server');
      } catch {
        // Already gone.
      }
    },
  };
}
