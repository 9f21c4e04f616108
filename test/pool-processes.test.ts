// SessionPool with workerProcesses: the signing workers are processes of their own, each logged in
// with the pool's PIN over its pipe. Real SoftHSM; signatures checked by node:crypto too.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TokengateError } from '../src/index.js';
import { nodeVerifies, openPool, publicKeyPem, signAndVerifyMany } from './helpers/pool-signing.js';
import { useSoftHsm } from './helpers/softhsm.js';

const hsm = useSoftHsm();

/** This process's signing children: pid, command line and environment, from /proc. */
function signingChildren(): Array<{ pid: number; cmdline: string; environ: string }> {
  const children: Array<{ pid: number; cmdline: string; environ: string }> = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/u.test(name)) continue;
    try {
      // Field 4 of stat is the parent pid; the name in field 2 may hold spaces, so split after it.
      const ppid = Number(readFileSync(`/proc/${name}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
      if (ppid !== process.pid) continue;
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (cmdline.includes('sign-worker-process')) children.push({ pid: Number(name), cmdline, environ: readFileSync(`/proc/${name}/environ`, 'utf8') });
    } catch {
      // The process ended while we looked.
    }
  }
  return children;
}

describe('SessionPool with worker processes', () => {
  it('signs in processes by default on a software token (SoftHSM), in threads when asked, and refuses a bad choice before logging in', async () => {
    const fx = hsm.current;
    {
      const { module, pool } = await openPool(fx, 2);
      await using _m = module;
      await using _p = pool;
      expect(pool.token.inHardwareSlot).toBe(false);
      expect(pool.workerKind).toBe('process');
      expect(signingChildren()).toHaveLength(2);
      await signAndVerifyMany(fx, pool, 40);
    }
    {
      const { module, pool } = await openPool(fx, 2, { workerProcesses: false });
      await using _m = module;
      await using _p = pool;
      expect(pool.workerKind).toBe('thread');
      expect(signingChildren()).toEqual([]);
      await signAndVerifyMany(fx, pool, 40);
    }
    const { module, pool } = await openPool(fx, 0);
    await using _m = module;
    await using _p = pool;
    expect(pool.workerKind).toBeUndefined();
    // A wrong PIN with the bad option: refused for the option, the PIN never tried (not counted).
    const right = fx.tokens[0]!.userPin;
    const wrong = (right[0] === '9' ? '8' : '9').repeat(right.length);
    const before = pool.token.loginGuard!.count(pool.token.guardIdentity, 'user');
    await expect(pool.token.openPool({ pin: wrong, workerProcesses: 'yes' as unknown as boolean })).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    expect(pool.token.loginGuard!.count(pool.token.guardIdentity, 'user')).toEqual(before);
    await expect(pool.token.openPool({ pin: wrong, workers: 0 })).rejects.toMatchObject({ code: 'ERR_PIN_INCORRECT' });
    expect(pool.token.loginGuard!.count(pool.token.guardIdentity, 'user').failures).toBe(before.failures + 1);
  });

  it('signs 300 concurrent challenges across all four key types in two processes, all verifiable', async () => {
    const fx = hsm.current;
    const { module, pool } = await openPool(fx, 2, { workerProcesses: true });
    await using _m = module;
    await using _p = pool;
    expect(pool.workers).toBe(2);
    expect(signingChildren()).toHaveLength(2);
    await signAndVerifyMany(fx, pool, 300);
  });

  it('never puts the PIN in a worker process\'s command line or environment, and ends its processes on close', async () => {
    const fx = hsm.current;
    const pin = fx.tokens[0]!.userPin;
    // As the CLI is used: the PIN in TOKENGATE_PIN of the pool's own environment.
    process.env.TOKENGATE_PIN = pin;
    try {
      const { module, pool } = await openPool(fx, 2, { workerProcesses: true });
      await using _m = module;
      await signAndVerifyMany(fx, pool, 40);
      const children = signingChildren();
      expect(children).toHaveLength(2);
      for (const child of children) {
        expect(child.cmdline).not.toContain(pin);
        expect(child.environ).not.toContain(pin);
        expect(child.environ).toContain('SOFTHSM2_CONF='); // the module's own settings still reach it
      }
      await pool.close();
      expect(pool.workers).toBe(0);
      // close() resolves once every worker has exited.
      expect(signingChildren().filter((c) => children.some((old) => old.pid === c.pid))).toEqual([]);
    } finally {
      delete process.env.TOKENGATE_PIN;
    }
  });

  it('fails the calls a killed worker process held with a typed error, leaves none waiting, and signs on', async () => {
    const fx = hsm.current;
    const { module, pool } = await openPool(fx, 2, { workerProcesses: true });
    await using _m = module;
    await using _p = pool;
    const [victim] = signingChildren();
    const pem = publicKeyPem(fx, 'rsa2048');
    const challenges = Array.from({ length: 400 }, (_, i) => `challenge ${i}`);
    // RSA-2048, slow enough that both workers still hold batches when the first answer is back.
    const calls = challenges.map((c) => pool.signChallenge({ label: 'rsa2048' }, c));
    await Promise.race(calls);
    process.kill(victim!.pid, 'SIGKILL');
    let deadline: NodeJS.Timeout | undefined;
    const settled = await Promise.race([
      Promise.allSettled(calls),
      new Promise<never>((_, reject) => (deadline = setTimeout(() => reject(new Error('calls still waiting 10 s after the kill')), 10_000))),
    ]).finally(() => clearTimeout(deadline));
    const failed = settled.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    // The killed worker's batches: each call fails on its own, typed, and says why.
    expect(failed.length).toBeGreaterThan(0);
    for (const { reason } of failed) {
      expect(reason).toBeInstanceOf(TokengateError);
      expect(reason).toMatchObject({ code: 'ERR_PKCS11', message: 'a signing worker stopped' });
    }
    // Every other call got a signature that verifies.
    settled.forEach((r, i) => {
      if (r.status === 'fulfilled') expect(nodeVerifies(pem, 'RSA-PKCS1-SHA256', 'raw', challenges[i]!, r.value), `#${i}`).toBe(true);
    });
    // The other worker goes on, alone, and so does the pool.
    expect(pool.workers).toBe(1);
    expect(signingChildren().map((c) => c.pid)).not.toContain(victim!.pid);
    await signAndVerifyMany(fx, pool, 80);
  });

  it('starts its processes again after its own sessions were all closed, the calls succeed, and close ends them all', async () => {
    const fx = hsm.current;
    const { module, pool } = await openPool(fx, 2, { workerProcesses: true });
    await using _m = module;
    await signAndVerifyMany(fx, pool, 8);
    expect(signingChildren()).toHaveLength(2);
    // Every session of this process on the token goes, and with the last one the login: the pool
    // rebuilds and logs in again, and its processes (logged in on their own) are started afresh;
    // meanwhile it signs on its own sessions.
    module.raw.C_CloseAllSessions(pool.token.slot);
    await signAndVerifyMany(fx, pool, 60);
    await signAndVerifyMany(fx, pool, 60);
    // close() waits for a relaunch under way, then ends its processes too.
    await pool.close();
    expect(pool.workers).toBe(0);
    expect(signingChildren()).toEqual([]);
  });
});
