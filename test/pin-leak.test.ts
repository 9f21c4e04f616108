// A PIN never shows: a whole lockout lifecycle with distinctive "canary" PINs, capturing every
// error (message, stack, causes, enumerable fields, util.inspect), everything written to stdout,
// stderr and the console, and every byte the host lockout stores, then searching all of it.
import { readdirSync, readFileSync, rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { HostLockout, Pkcs11Module } from '../src/index.js';
import { useSoftHsm } from './helpers/softhsm.js';

const USER_PIN = 'Qx7user-canary';
const SO_PIN = 'Zk4so-canary';
const WRONG = ['Wr1wrong-canary', 'Wr2wrong-canary', 'Wr3wrong-canary'];
const NEW_PIN = 'Nw5new-canary';
const CANARIES = [USER_PIN, SO_PIN, NEW_PIN, ...WRONG];

const hsm = useSoftHsm({ tokens: [{ label: 'leak-check', userPin: USER_PIN, soPin: SO_PIN, keys: [{ type: 'ec-p256', label: 'p256', id: '01' }] }] });
const stateDir = mkdtempSync(join(tmpdir(), 'tokengate-leak-'));
afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

/** Everything an error could show: message, stack, fields, the cause chain, and inspect output. */
function errorText(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e !== undefined && e !== null && depth < 10; depth++) {
    if (e instanceof Error) {
      parts.push(e.message, e.stack ?? '', JSON.stringify({ ...e }));
      e = e.cause;
    } else {
      parts.push(String(e));
      break;
    }
  }
  parts.push(inspect(err, { depth: 10, showHidden: true }));
  return parts.join('\n');
}

function filesUnder(dir: string): Buffer[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((d) => d.isFile())
    .map((d) => readFileSync(join(d.parentPath, d.name)));
}

describe('PINs in output', () => {
  it('never appear in errors, console, stdout/stderr or the lockout state, through a whole lifecycle', async () => {
    const captured: string[] = [];
    const errors: unknown[] = [];
    const outWrite = process.stdout.write.bind(process.stdout);
    const errWrite = process.stderr.write.bind(process.stderr);
    const capture = (chunk: unknown): boolean => {
      captured.push(String(chunk));
      return true;
    };
    process.stdout.write = capture as typeof process.stdout.write;
    process.stderr.write = capture as typeof process.stderr.write;
    // vitest routes console output around process.stdout; catch it at the console too.
    const consoleMethods = ['log', 'info', 'warn', 'error', 'debug'] as const;
    const originals = consoleMethods.map((m) => console[m]);
    for (const m of consoleMethods) console[m] = (...args: unknown[]) => void captured.push(args.map((a) => (typeof a === 'string' ? a : inspect(a))).join(' '));
    const attempt = async (body: () => Promise<unknown>): Promise<void> => {
      try {
        await body();
      } catch (err) {
        errors.push(err);
      }
    };
    try {
      using lockout = new HostLockout({ stateDir });
      await using mod = await Pkcs11Module.load(hsm.current.modulePath, { loginGuard: lockout });
      const token = mod.token({ label: 'leak-check' });
      const login = async (pin: string, allowFinalTry = false) => {
        await using s = await token.openSession();
        await s.login(pin, { allowFinalTry });
      };
      await attempt(() => login(WRONG[0]!));
      await attempt(() => login(WRONG[1]!));
      await attempt(() => login(WRONG[2]!)); // final try refused
      await attempt(() => login(WRONG[2]!, true)); // locked now
      await attempt(() => login(USER_PIN, true)); // refused: locked
      await attempt(() => token.unblockPin({ soPin: WRONG[0]!, newPin: NEW_PIN })); // wrong SO PIN
      await attempt(() => token.unblockPin({ puk: WRONG[1]!, newPin: NEW_PIN })); // SoftHSM: a wrong old PIN, on the PUK's count
      await attempt(() => token.changePin(WRONG[0]!, 'x'.repeat(300))); // bad length
      await token.unblockPin({ soPin: SO_PIN, newPin: NEW_PIN });
      await login(NEW_PIN);
      await using pool = await token.openPool({ pin: NEW_PIN, workers: 1 });
      await pool.signChallenge({ label: 'p256' }, 'signed');
      console.log(inspect(pool, { depth: 5, showHidden: true }), inspect(lockout, { depth: 5 }), inspect(token, { depth: 3 }));
      await attempt(() => token.openPool({ pin: WRONG[0]!, workers: 0 }));
    } finally {
      process.stdout.write = outWrite;
      process.stderr.write = errWrite;
      consoleMethods.forEach((m, i) => (console[m] = originals[i]!));
    }

    expect(errors.map((e) => (e as { code?: string }).code)).toEqual([
      'ERR_PIN_INCORRECT',
      'ERR_PIN_INCORRECT',
      'ERR_FINAL_TRY_REFUSED',
      'ERR_PIN_LOCKED', // the last try, wrong: locked now
      'ERR_PIN_LOCKED',
      'ERR_PIN_INCORRECT',
      'ERR_PIN_INCORRECT',
      'ERR_PIN_LENGTH',
      expect.stringMatching(/^ERR_/),
    ]);
    const haystacks = [...errors.map(errorText), captured.join(''), ...filesUnder(stateDir).map((b) => b.toString('latin1'))];
    expect(captured.join('').length).toBeGreaterThan(0);
    for (const canary of CANARIES) {
      for (const text of haystacks) expect(text.includes(canary), `a PIN leaked: ${canary.slice(0, 3)}…`).toBe(false);
    }
  });
});
