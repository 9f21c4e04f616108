import { execFile } from 'node:child_process';
import { renameSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { defaultAlgorithm, verifySignature, type TokenKey } from '../src/index.js';
import { LABELS, openPool, publicKeyPem, signAndVerifyMany } from './helpers/pool-signing.js';
import { useSoftHsm } from './helpers/softhsm.js';

const hsm = useSoftHsm();
// SoftHSM is a software token, whose pool signs in processes by default; these tests cover the
// threads (pool-processes.test.ts the processes, and the default's choice).
const THREADS = { workerProcesses: false } as const;
const CKR_OBJECT_HANDLE_INVALID = 0x82;
const CKR_SESSION_HANDLE_INVALID = 0xb3;

describe('SessionPool signing', () => {
  it('signs 300 concurrent challenges across all four key types on its workers, all verifiable', async () => {
    const fx = hsm.current;
    const { module, pool } = await openPool(fx, 2, THREADS);
    await using _m = module;
    await using _p = pool;
    expect(pool.workers).toBe(2);
    await signAndVerifyMany(fx, pool, 300);
  });

  it('starts one worker per CPU (at most 4) by default, and refuses a bad worker count', async () => {
    const fx = hsm.current;
    const { module, pool } = await openPool(fx, 'auto', THREADS);
    await using _m = module;
    await using _p = pool;
    expect(pool.workers).toBe(Math.min(4, availableParallelism()));
    for (const workers of [-1, 1.5]) {
      await expect(pool.token.openPool({ pin: fx.tokens[0]!.userPin, workers })).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    }
  });

  it('signs the same way without workers', async () => {
    const fx = hsm.current;
    const { module, pool } = await openPool(fx, 0);
    await using _m = module;
    await using _p = pool;
    expect(pool.workers).toBe(0);
    await signAndVerifyMany(fx, pool, 40);
  });

  it('signs one call at a time, each verifiable', async () => {
    const fx = hsm.current;
    const { module, pool } = await openPool(fx, 2, THREADS);
    await using _m = module;
    await using _p = pool;
    for (const label of LABELS) {
      const key = await pool.findPrivateKey({ label });
      const sig = await pool.signChallenge({ label }, `alone ${label}`);
      expect(verifySignature(publicKeyPem(fx, label), `alone ${label}`, sig, { algorithm: defaultAlgorithm(key) })).toBe(true);
    }
  });

  it('keeps its login when other sessions with the token close', async () => {
    const fx = hsm.current;
    const { module, pool } = await openPool(fx, 2, THREADS);
    await using _m = module;
    await using _p = pool;
    await pool.signChallenge({ label: 'p256' }, 'before');
    const other = await pool.token.openSession();
    expect(await other.isLoggedIn()).toBe(true); // the pool's login covers the whole application
    await other.close();
    const [alone] = await Promise.all([pool.signChallenge({ label: 'p256' }, 'after')]);
    const together = await Promise.all(LABELS.map((label) => pool.signChallenge({ label }, 'after')));
    expect(verifySignature(publicKeyPem(fx, 'p256'), 'after', alone!, { algorithm: 'ECDSA-SHA256' })).toBe(true);
    expect(verifySignature(publicKeyPem(fx, 'rsa2048'), 'after', together[2]!, { algorithm: 'RSA-PKCS1-SHA256' })).toBe(true);
  });

  it('rebuilds its sessions and its workers\' sessions after they are all closed, and the calls succeed', async () => {
    const fx = hsm.current;
    const { module, pool } = await openPool(fx, 2, THREADS);
    await using _m = module;
    await using _p = pool;
    await signAndVerifyMany(fx, pool, 8);
    // Every session of the application on this token goes (and with the last one, the login).
    module.raw.C_CloseAllSessions(pool.token.slot);
    await signAndVerifyMany(fx, pool, 60);
    expect(pool.workers).toBe(2);
  });

  it('refuses a key of the wrong type, alone and in company', async () => {
    const fx = hsm.current;
    const { module, pool } = await openPool(fx, 2, THREADS);
    await using _m = module;
    await using _p = pool;
    await expect(pool.signChallenge({ label: 'p256' }, 'x', { algorithm: 'RSA-PKCS1-SHA256' })).rejects.toMatchObject({
      code: 'ERR_KEY_TYPE_MISMATCH',
    });
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        i % 2 === 0 ? pool.signChallenge({ label: 'ed25519' }, 'x', { algorithm: 'ECDSA-SHA256' }) : pool.signChallenge({ label: 'ed25519' }, 'x'),
      ),
    );
    results.forEach((r, i) => {
      if (i % 2 === 0) expect(r).toMatchObject({ status: 'rejected', reason: { code: 'ERR_KEY_TYPE_MISMATCH' } });
      else expect(r.status).toBe('fulfilled');
    });
  });

  it('reports a worker\'s CKR as the same typed error a session gives, with rv, rvName and fn', async () => {
    const fx = hsm.current;
    const { module, pool } = await openPool(fx, 2, THREADS);
    await using _m = module;
    await using _p = pool;
    const real = await pool.findPrivateKey({ label: 'p256' });
    const bogus: TokenKey = { ...real, handle: Buffer.from(real.handle).fill(0x7f) };
    const expected = { code: 'ERR_KEY_NOT_FOUND', rv: CKR_OBJECT_HANDLE_INVALID, rvName: 'CKR_OBJECT_HANDLE_INVALID', fn: 'C_SignInit' };
    // Alone: the direct path, on one of the pool's sessions.
    await expect(pool.signChallenge(bogus, 'x')).rejects.toMatchObject(expected);
    // In company (all but the first call of the burst): the worker path; the good calls beside them are unaffected.
    const results = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => pool.signChallenge(i % 2 ? real : bogus, 'x')));
    results.forEach((r, i) => {
      if (i % 2) expect(r.status).toBe('fulfilled');
      else expect(r).toMatchObject({ status: 'rejected', reason: expected });
    });
    // The worker that met the error signs on.
    await signAndVerifyMany(fx, pool, 12);
  });
});

describe('SessionPool close', () => {
  it('terminates its workers, is idempotent, and refuses further calls with ERR_SESSION_CLOSED', async () => {
    const fx = hsm.current;
    const { module, pool } = await openPool(fx, 2, THREADS);
    await using _m = module;
    await pool.signChallenge({ label: 'p256' }, 'x');
    expect(pool.workers).toBe(2);
    await pool.close();
    expect(pool.workers).toBe(0);
    await pool.close();
    await expect(pool.signChallenge({ label: 'p256' }, 'x')).rejects.toMatchObject({ code: 'ERR_SESSION_CLOSED' });
    await expect(Promise.all([pool.signChallenge({ label: 'p256' }, 'x'), pool.signChallenge({ label: 'p384' }, 'x')])).rejects.toMatchObject({
      code: 'ERR_SESSION_CLOSED',
    });
    await expect(pool.publicKey({ label: 'p256' })).rejects.toMatchObject({ code: 'ERR_SESSION_CLOSED' });
  });

  it('settles every call in flight when closed under load: signed, or ERR_SESSION_CLOSED', async () => {
    const fx = hsm.current;
    const { module, pool } = await openPool(fx, 2, THREADS);
    await using _m = module;
    const calls = Array.from({ length: 200 }, (_, i) => pool.signChallenge({ label: LABELS[i % 4]! }, `c${i}`));
    const closed = pool.close();
    const results = await Promise.allSettled(calls);
    await closed;
    expect(pool.workers).toBe(0);
    for (const r of results) {
      if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'ERR_SESSION_CLOSED' });
    }
  });

  it.each([false, 'auto'] as const)('lets a process that closes its pool exit by itself (workerProcesses: %s)', async (workerProcesses) => {
    const fx = hsm.current;
    const script = join(fx.dir, `close-and-exit-${workerProcesses}.mts`);
    const index = new URL('../src/index.ts', import.meta.url).href;
    writeFileSync(
      script,
      `import { Pkcs11Module } from ${JSON.stringify(index)};
const module = await Pkcs11Module.load(${JSON.stringify(fx.modulePath)});
const pool = await module.token({ label: ${JSON.stringify(fx.tokens[0]!.label)} }).openPool({ pin: process.env.TEST_PIN, workers: 2, workerProcesses: ${JSON.stringify(workerProcesses)} });
const signatures = await Promise.all(Array.from({ length: 50 }, (_, i) => pool.signChallenge({ label: 'p256' }, 'c' + i)));
const running = pool.workers;
await pool.close();
await module.close();
console.log(JSON.stringify({ signed: signatures.length, running, after: pool.workers }));
`,
    );
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', tsx, script], {
      env: { ...process.env, ...fx.env, TEST_PIN: fx.tokens[0]!.userPin },
      timeout: 60_000, // a hung process fails the test instead of hanging the suite
    });
    expect(JSON.parse(stdout.trim().split('\n').at(-1)!)).toEqual({ signed: 50, running: 2, after: 0 });
  });
});

describe('SessionPool with a removed token', () => {
  // A fixture of its own: pulling the token out leaves this SoftHSM unusable until finalized.
  const removable = useSoftHsm({ tokens: [{ label: 'tokengate-removable' }] });

  it('fails calls on its workers with ERR_TOKEN_REMOVED, keeping the CKR', async () => {
    const fx = removable.current;
    const { module, pool } = await openPool(fx, 2, THREADS);
    await using _m = module;
    await using _p = pool;
    await Promise.all(LABELS.map((label) => pool.signChallenge({ label }, 'present')));
    // Pull it out: its sessions die, and the module no longer lists it.
    module.raw.C_CloseAllSessions(pool.token.slot);
    const tokens = join(fx.dir, 'tokens');
    for (const name of readdirSync(tokens)) renameSync(join(tokens, name), join(fx.dir, `removed-${name}`));
    // A call still looking its key up (by id: not cached yet) keeps the next ones company, so
    // they all go to the workers rather than the first of them signing alone.
    // Its rejection is caught at once: it may settle while the others are still awaited.
    const lookingUp = pool.signChallenge({ id: '03' }, 'gone').then(() => undefined, (err: unknown) => err);
    const results = await Promise.allSettled(Array.from({ length: 16 }, (_, i) => pool.signChallenge({ label: LABELS[i % 4]! }, 'gone')));
    expect(await lookingUp).toMatchObject({ code: 'ERR_TOKEN_REMOVED' });
    for (const r of results) {
      expect(r).toMatchObject({
        status: 'rejected',
        reason: { code: 'ERR_TOKEN_REMOVED', rv: CKR_SESSION_HANDLE_INVALID, rvName: 'CKR_SESSION_HANDLE_INVALID', fn: 'C_SignInit' },
      });
    }
    await pool.close();
    expect(pool.workers).toBe(0);
  });
});
