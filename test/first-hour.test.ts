// The README's "Your first hour" walkthrough, played exactly as written: its shell blocks are read
// from README.md and typed line by line into real shells in tmux (one per "# terminal N"), in a
// fresh HOME. Secrets are typed at the masked prompts, as a person would; the only edits are the
// two a person makes too: pasting the API key and the credential id that a command printed.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { startInTerminal, type Terminal } from './helpers/terminal.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const home = mkdtempSync(join(tmpdir(), 'tokengate-first-hour-home-'));
const SO_PIN = '87654321';
const PIN = '246813';
const PASSWORD = 'dana’s long passphrase';
const terminals = new Map<string, { t: Terminal; commands: number }>();
afterAll(() => {
  for (const { t } of terminals.values()) {
    t.keys('C-c'); // a program still running (after a failure) is ended as a person would
    t.stop();
  }
  try {
    rmSync(home, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  } catch {
    // A program of the shells may still be writing as it ends; the directory is in tmp.
  }
});

interface Block {
  terminal: string;
  lines: string[];
}

function walkthrough(): Block[] {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('<!-- first-hour:start -->'), readme.indexOf('<!-- first-hour:end -->'));
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => {
    const [head, ...lines] = m[1]!.trimEnd().split('\n');
    return { terminal: /^# (terminal \d+)/.exec(head!)![1]!, lines };
  });
}

function shell(name: string): { t: Terminal; commands: number } {
  let entry = terminals.get(name);
  if (!entry) {
    // A numbered prompt, so "the command has finished" is an event on the screen.
    // PCSCLITE_CSOCK_NAME: a machine with no card reader service. Other test files run a private
    // pcscd with an emulated card meanwhile, and the walkthrough's commands, told no --module,
    // would find that card through OpenSC before the SoftHSM one.
    const t = startInTerminal(['bash', '--norc', '--noprofile', '-i'], {
      HOME: home,
      PATH: process.env.PATH ?? '',
      TERM: 'xterm',
      PS1: 'ready[\\#]$ ',
      PCSCLITE_CSOCK_NAME: join(home, 'no-pcscd'),
    });
    entry = { t, commands: 1 };
    terminals.set(name, entry);
  }
  return entry;
}

// The masked prompts a person answers, by their text.
const ANSWERS: Array<[string, string]> = [
  ['SO PIN', SO_PIN],
  ['New PIN again', PIN],
  ['New PIN', PIN],
  ['PIN', PIN],
  ['New password', PASSWORD],
  ['Again', PASSWORD],
];
const ACTIVE = new RegExp(`^\\? (${ANSWERS.map(([p]) => p).join('|')}):? *$`, 'm');

/** Types a line, answers its prompts, and returns the screen once the shell is back. */
async function run(name: string, line: string): Promise<string> {
  const entry = shell(name);
  const { t } = entry;
  await t.waitFor(new RegExp(`ready\\[${entry.commands}\\]\\$ *$`, 'm'), 1, 30_000);
  t.type(line);
  entry.commands++;
  const done = new RegExp(`ready\\[${entry.commands}\\]\\$`);
  if (/verifier serve/.test(line)) return t.waitFor(/listening on http:\/\/127\.0\.0\.1:8787/, 1, 60_000);
  if (/examples\/kiosk\/main\.ts/.test(line)) return t.waitFor(/Present your card/, 1, 60_000);
  for (;;) {
    const screen = await t.waitFor(new RegExp(`${done.source}|${ACTIVE.source}`, 'm'), 1, 120_000);
    if (done.test(screen)) return screen;
    const prompt = ACTIVE.exec(screen)![1]!;
    const answered = (screen.match(new RegExp(`^✔ ${prompt}:? `, 'gm')) ?? []).length;
    t.type(ANSWERS.find(([p]) => p === prompt)![1]);
    await t.waitFor(new RegExp(`^✔ ${prompt}:? `, 'm'), answered + 1, 30_000);
  }
}

describe('the README\'s first hour, as written', () => {
  it('a token, the verifier, a user, the enrolment, the policy, the door: the first correct PIN grants; the lost card is refused', async () => {
    const blocks = walkthrough();
    expect(blocks.map((b) => b.terminal)).toEqual(['terminal 1', 'terminal 2', 'terminal 3', 'terminal 2']);
    let apiKey = '';
    let credentialId = '';
    for (const [index, block] of blocks.entries()) {
      for (const written of block.lines) {
        // What a person pastes from the output above.
        const line = written.replace('tgk_…', apiKey).replace('block ID', `block ${credentialId}`);
        const screen = await run(block.terminal, line);
        expect(screen).not.toMatch(/\n\s+at .*\(.*:\d+:\d+\)/); // never a stack trace
        if (line.includes('api-key create')) apiKey = /(tgk_[A-Za-z0-9_-]+)/.exec(screen)![1]!;
        if (line.includes('credential list')) credentialId = /^([0-9a-f-]{36}) /m.exec(screen)![1]!;
        if (line.includes('enroll')) expect(screen).toContain('a kiosk sends no password');
        expect(screen, line).not.toMatch(/tokengate: .*\[ERR_/);
      }
      if (index === 2) {
        // At the door: the first correct PIN opens it.
        const door = terminals.get('terminal 3')!.t;
        await door.waitFor(/Dana Example, your PIN \(3 tries left\):/, 1, 30_000);
        door.type(PIN);
        const screen = await door.waitFor(/ACCESS GRANTED — welcome, Dana Example/, 1, 30_000);
        expect(screen).not.toContain(PIN);
      }
    }
    // Blocked at the verifier: the door's next visit (after its idle reset) refuses the card.
    await terminals.get('terminal 3')!.t.waitFor(/ACCESS DENIED — this token is blocked/, 1, 60_000);
    if (process.env.FIRST_HOUR_SHOW) for (const [name, { t }] of terminals) console.log(`=== ${name}\n${t.screen()}`);
    // Ctrl-C ends the door and the verifier, as it would for a person: each shell gets its prompt back.
    for (const name of ['terminal 3', 'terminal 1']) {
      const entry = terminals.get(name)!;
      entry.t.keys('C-c');
      await entry.t.waitFor(new RegExp(`ready\\[${entry.commands}\\]\\$ *$`, 'm'), 1, 30_000);
    }
  }, 400_000);
});
