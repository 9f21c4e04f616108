// Every command that takes a PIN counts it: on SoftHSM (which never locks), each of login, sign,
// change-pin, keygen, import-cert, enroll and unblock-pin (its SO PIN) run with a wrong secret
// locks the token after exactly the limit; the right secret is then refused with exit 4 without
// reaching the token (SoftHSM's COUNT_LOW flag, cleared by any correct PIN, stays set), and
// `status` says so. init-token is not here: it sets an SO PIN and a user PIN, it never checks one.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Pkcs11Module } from '../src/index.js';
import { runCli, type CliRun } from './helpers/cli.js';
import { useSoftHsm } from './helpers/softhsm.js';

const COMMANDS = ['login', 'sign', 'change-pin', 'keygen', 'import-cert', 'enroll', 'unblock-pin'] as const;
type Command = (typeof COMMANDS)[number];
const P256 = [{ type: 'ec-p256', label: 'p256', id: '01' }] as const;
const hsm = useSoftHsm({ tokens: [...COMMANDS.map((label) => ({ label, keys: P256 })), { label: 'racing', keys: [] }] });
const work = mkdtempSync(join(tmpdir(), 'tokengate-cli-lockout-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

type Run = CliRun;

function tokengate(args: string[], env: Record<string, string>): Promise<Run> {
  return runCli([...args, '--module', hsm.current.modulePath], { ...process.env, ...hsm.current.env, TOKENGATE_STATE_DIR: join(work, 'state'), ...env });
}

/** The command's own arguments, and the environment that carries `secret` where it takes its checked secret. */
function invocation(command: Command, secret: string): { args: string[]; env: Record<string, string> } {
  const inFile = join(work, 'data.bin');
  writeFileSync(inFile, 'open the door');
  const base = ['--token', command];
  switch (command) {
    case 'sign':
      return { args: ['sign', ...base, '--in', inFile, '--out', join(work, `${command}.sig`)], env: { TOKENGATE_PIN: secret } };
    case 'change-pin':
      return { args: ['change-pin', ...base], env: { TOKENGATE_PIN: secret, TOKENGATE_NEW_PIN: '13572468' } };
    case 'keygen':
      return { args: ['keygen', ...base, '--label', 'new-key'], env: { TOKENGATE_PIN: secret } };
    case 'import-cert':
      return { args: ['import-cert', ...base, '--in', inFile], env: { TOKENGATE_PIN: secret } };
    case 'enroll':
      return { args: ['enroll', ...base, '--verifier', 'http://127.0.0.1:9', '--username', 'ivy'], env: { TOKENGATE_PIN: secret, TOKENGATE_API_KEY: 'tgk_unused' } };
    case 'unblock-pin':
      return { args: ['unblock-pin', ...base, '--with', 'so-pin'], env: { TOKENGATE_SO_PIN: secret, TOKENGATE_NEW_PIN: '13572468' } };
    default:
      return { args: ['login', ...base], env: { TOKENGATE_PIN: secret } };
  }
}

async function run(command: Command, secret: string, extra: string[] = []): Promise<Run> {
  const { args, env } = invocation(command, secret);
  return tokengate([...args, ...extra], env);
}

async function countLowFlag(label: string): Promise<boolean> {
  // Read straight from the token, no guard in the way: SoftHSM clears COUNT_LOW on any correct PIN.
  await using mod = await Pkcs11Module.load(hsm.current.modulePath, { loginGuard: 'none' });
  const { flags } = mod.token({ label }).info();
  return label === 'unblock-pin' ? flags.soPinCountLow : flags.userPinCountLow;
}

describe('every CLI command that takes a PIN counts it', () => {
  it.each(COMMANDS)('%s: locks after exactly 3 wrong secrets; the right one is then refused (exit 4) untouched', async (command) => {
    const fx = hsm.current.tokens[COMMANDS.indexOf(command)]!;
    const right = command === 'unblock-pin' ? fx.soPin : fx.userPin;
    const what = command === 'unblock-pin' ? 'SO PIN' : 'PIN';
    const first = await run(command, '999991');
    expect(first.stderr).toContain(`wrong ${what} — 2 tries left [ERR_PIN_INCORRECT]`);
    expect(first.status).toBe(3);
    const second = await run(command, '999992');
    expect(second.stderr).toContain(`wrong ${what} — 1 try left`);
    expect(second.status).toBe(3);
    // Not on a terminal and not allowed: the last try is kept, nothing sent.
    const kept = await run(command, '999993');
    expect(kept.stderr).toContain('[ERR_FINAL_TRY_REFUSED]');
    expect(kept.status).toBe(2);
    const locking = await run(command, '999993', ['--allow-final-try']);
    expect(locking.stderr).toContain(`the ${what} is now locked`);
    expect(locking.status).toBe(4);
    const refused = await run(command, right, ['--allow-final-try']);
    expect(refused.stderr).toContain('[ERR_PIN_LOCKED]');
    expect(refused.status).toBe(4);
    expect(await countLowFlag(command)).toBe(true);

    const status = await tokengate(['status', '--token', command, '--json'], {});
    expect(status.status).toBe(0);
    const shown = JSON.parse(status.stdout) as Record<string, unknown>;
    expect(shown[command === 'unblock-pin' ? 'soPin' : 'pin']).toMatchObject({ pinStatus: 'locked', failures: 3, retriesLeft: 0, source: 'host' });
  }, 120_000);

  it('twenty processes racing through login and change-pin still let exactly 3 wrong PINs through', async () => {
    const attempt = (i: number) =>
      i % 2 === 0
        ? tokengate(['login', '--token', 'racing', '--allow-final-try'], { TOKENGATE_PIN: '999990' })
        : tokengate(['change-pin', '--token', 'racing', '--allow-final-try'], { TOKENGATE_PIN: '999990', TOKENGATE_NEW_PIN: '13572468' });
    // SoftHSM 2.6 answers C_Login and C_SetPIN with CKR_GENERAL_ERROR, before it checks the PIN,
    // when it meets another process rewriting the token's file (a wrong PIN's COUNT_LOW): that
    // run tried no PIN and counted none, so it is made again until it gets a verdict.
    const noVerdict = (r: Awaited<ReturnType<typeof attempt>>) => r.status === 1 && r.stderr.includes('CKR_GENERAL_ERROR');
    const runs = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        let run = await attempt(i);
        for (let again = 0; again < 5 && noVerdict(run); again++) run = await attempt(i);
        return run;
      }),
    );
    const wrong = runs.filter((r) => r.status === 3);
    const lockedNow = runs.filter((r) => r.status === 4 && r.stderr.includes('is now locked'));
    const refused = runs.filter((r) => r.status === 4 && !r.stderr.includes('is now locked'));
    expect([wrong.length, lockedNow.length, refused.length]).toEqual([2, 1, 17]);
    const status = JSON.parse((await tokengate(['status', '--token', 'racing', '--json'], {})).stdout) as { pin: unknown };
    expect(status.pin).toMatchObject({ pinStatus: 'locked', failures: 3 });
  }, 180_000);
});
