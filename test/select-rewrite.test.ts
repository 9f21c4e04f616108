// Finding a token again while another process rewrites its file. SoftHSM rewrites a token's file
// on every wrong PIN (CKF_USER_PIN_COUNT_LOW), and a read that meets the rewrite answers
// CKR_GENERAL_ERROR; a lookup must not take that for the token being gone (select.ts reads such
// a slot again for a while). Real: SoftHSM with a second process typing wrong PINs. Fast: the
// in-memory PKCS#11 answering CKR_GENERAL_ERROR a few times, or for good.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HostLockout, Pkcs11Module } from '../src/index.js';
import { FakePkcs11 } from './helpers/fake-pkcs11.js';
import { useSoftHsm } from './helpers/softhsm.js';

const hsm = useSoftHsm({ tokens: [{ label: 'mistyped' }, { label: 'beside' }] });
let mod: Pkcs11Module;
beforeAll(async () => {
  mod = await Pkcs11Module.load(hsm.current.modulePath);
});
afterAll(async () => {
  await mod?.close();
});

describe('a token whose file another process is rewriting', () => {
  it('is found again by serial and by label every time while SoftHSM rewrites it (a second process typing wrong PINs)', async () => {
    const token = mod.token({ label: 'mistyped' });
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./helpers/mistyper.ts', import.meta.url)), hsm.current.modulePath, 'mistyped'], {
      env: { ...process.env, ...hsm.current.env },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const lines = createInterface({ input: child.stdout! });
    const exited = once(child, 'exit');
    try {
      const [first] = (await Promise.race([once(lines, 'line'), exited.then(() => ['exited'])])) as string[];
      expect(first).toBe('typing');
      let missing = 0;
      const lookups = 1500;
      for (let i = 0; i < lookups; i++) {
        if (!token.isPresent()) missing++;
        if (i % 10 === 0) {
          try {
            expect(mod.token({ label: 'mistyped' }).serial).toBe(token.serial);
          } catch {
            missing++;
          }
        }
      }
      expect(missing).toBe(0);
    } finally {
      child.stdin!.end('stop\n');
    }
    const [typed] = (await once(lines, 'line')) as string[];
    await exited;
    // The rewrites did happen meanwhile: the other process got its wrong-PIN answers.
    expect(Number(typed)).toBeGreaterThan(100);
  }, 60_000);
});

describe('on an in-memory PKCS#11', () => {
  const SOFT = { label: 'soft', serial: 'S0FT0001', userPin: '123456', soPin: '87654321' };
  const CARD = { label: 'card', serial: 'CARD0001', userPin: '246810', soPin: '13572468', pinTries: 3 };

  async function setUp() {
    const fake = new FakePkcs11([SOFT, CARD]);
    const lockout = new HostLockout({ stateDir: mkdtempSync(join(tmpdir(), 'tokengate-rewrite-')) });
    const module = await Pkcs11Module.load(FakePkcs11.modulePath(), { binding: fake.binding, loginGuard: lockout });
    return { fake, lockout, module };
  }

  it('a slot that answers CKR_GENERAL_ERROR a few times in a row is read again, and its token found', async () => {
    const { fake, lockout, module } = await setUp();
    try {
      const token = module.token({ label: 'soft' });
      const reads = () => fake.calls.filter((c) => c === 'C_GetTokenInfo').length;
      fake.failNext('C_GetTokenInfo', 'CKR_GENERAL_ERROR', 4);
      const before = reads();
      expect(token.isPresent()).toBe(true);
      expect(reads() - before).toBeGreaterThan(4);
      fake.failNext('C_GetTokenInfo', 'CKR_GENERAL_ERROR', 3);
      expect(module.token({ label: 'soft' }).serial).toBe(SOFT.serial);
    } finally {
      await module.close();
      lockout.close();
    }
  });

  it('one that stays unreadable is not there: ERR_TOKEN_NOT_PRESENT after a bounded wait', async () => {
    const { fake, lockout, module } = await setUp();
    try {
      const token = module.token({ label: 'soft' });
      fake.failNext('C_GetTokenInfo', 'CKR_GENERAL_ERROR', Infinity);
      const started = performance.now();
      expect(token.isPresent()).toBe(false);
      expect(() => module.token({ label: 'soft' })).toThrow(expect.objectContaining({ code: 'ERR_TOKEN_NOT_PRESENT' }));
      // Two lookups, each waiting ~50 ms for a rewrite that never ends; not more than a moment.
      expect(performance.now() - started).toBeLessThan(2000);
    } finally {
      fake.failNext('C_GetTokenInfo', 'CKR_GENERAL_ERROR', 0);
      await module.close();
      lockout.close();
    }
  });
});
