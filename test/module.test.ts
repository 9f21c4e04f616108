// Integration: loading, sharing and closing a PKCS#11 library; choosing tokens; slots and info.
// Independent probes: a bare pkcs11js instance tells whether the library is still initialised,
// graphene-pk11 plays "another component in the same process", a child process plays "another
// process", and pkcs11-tool reports what the module says about itself.
import { execFileSync, fork } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ModuleLoadError,
  Pkcs11Module,
  TokenNotPresentError,
  moduleReferenceCount,
  verifySignature,
} from '../src/index.js';
import { pkcs11js } from '../src/pkcs11/native.js';
import { useSoftHsm } from './helpers/softhsm.js';

const require = createRequire(import.meta.url);
const graphene = require('graphene-pk11') as typeof import('graphene-pk11');
const repoRoot = fileURLToPath(new URL('..', import.meta.url));

// Two tokens share a label, so choosing by label can be ambiguous.
const hsm = useSoftHsm({
  tokens: [{ label: 'tokengate-test' }, { label: 'twin', keys: [] }, { label: 'twin', keys: [] }],
});

let scratchDir: string;
beforeAll(() => {
  scratchDir = mkdtempSync(join(tmpdir(), 'tokengate-module-'));
});
afterAll(() => {
  if (scratchDir) rmSync(scratchDir, { recursive: true, force: true });
});

// Every test leaves the library unloaded, so the next one starts from nothing.
afterEach(() => {
  expect(moduleReferenceCount(hsm.current.modulePath)).toBe(0);
});

const main = () => hsm.current.tokens[0]!;
const p256Pem = () => main().keys.find((k) => k.label === 'p256')!.publicKeyPem;

/**
 * Asks the library, through a pkcs11js instance of the test's own, whether it is initialised in
 * this process: C_Initialize succeeds only when nobody holds it (and then the probe finalizes).
 */
function libraryIsInitialized(path: string): boolean {
  const probe = new pkcs11js.PKCS11();
  probe.load(path);
  try {
    try {
      probe.C_Initialize();
    } catch (err) {
      if ((err as { code?: number }).code === pkcs11js.CKR_CRYPTOKI_ALREADY_INITIALIZED) return true;
      throw err;
    }
    probe.C_Finalize();
    return false;
  } finally {
    probe.close();
  }
}

async function signOnce(mod: Pkcs11Module, challenge: string): Promise<boolean> {
  await using session = await mod.token({ serial: main().serial }).openSession();
  await session.login(main().userPin);
  const sig = await session.signChallenge({ label: 'p256' }, challenge);
  return verifySignature(p256Pem(), challenge, sig, { algorithm: 'ECDSA-SHA256' });
}

describe('loading and sharing', () => {
  it('shares one reference-counted instance per path and finalizes only at the last close', async () => {
    const path = hsm.current.modulePath;
    expect(libraryIsInitialized(path)).toBe(false);
    const a = await Pkcs11Module.load(path);
    const b = await Pkcs11Module.load(path);
    expect(moduleReferenceCount(path)).toBe(2);
    expect(a).not.toBe(b);
    expect(a.raw).toBe(b.raw); // one pkcs11js instance, one C_Initialize
    expect(a.path).toBe(realpathSync(path));

    const session = await a.token({ serial: main().serial }).openSession();
    await session.login(main().userPin);
    await b.close();
    expect(moduleReferenceCount(path)).toBe(1);
    expect(libraryIsInitialized(path)).toBe(true);
    // A's session lives on after B closed.
    const sig = await session.signChallenge({ label: 'p256' }, 'after-b-closed');
    expect(verifySignature(p256Pem(), 'after-b-closed', sig, { algorithm: 'ECDSA-SHA256' })).toBe(true);
    await session.close();

    await a.close();
    expect(moduleReferenceCount(path)).toBe(0);
    expect(libraryIsInitialized(path)).toBe(false);
  });

  it('shares through a symlink to the same file', async () => {
    const link = join(scratchDir, 'softhsm-link.so');
    symlinkSync(hsm.current.modulePath, link);
    const a = await Pkcs11Module.load(hsm.current.modulePath);
    const b = await Pkcs11Module.load(link);
    try {
      expect(a.raw).toBe(b.raw);
      expect(moduleReferenceCount(link)).toBe(2);
      expect(moduleReferenceCount(hsm.current.modulePath)).toBe(2);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('closes with `await using`, and close is idempotent', async () => {
    const path = hsm.current.modulePath;
    const outer = await Pkcs11Module.load(path);
    let inner: Pkcs11Module | undefined;
    {
      await using mod = await Pkcs11Module.load(path);
      inner = mod;
      expect(moduleReferenceCount(path)).toBe(2);
      expect(await signOnce(mod, 'inside using')).toBe(true);
    }
    expect(inner.closed).toBe(true);
    expect(moduleReferenceCount(path)).toBe(1);
    // Closing again (explicitly, and through dispose) releases nothing more.
    await inner.close();
    await inner[Symbol.asyncDispose]();
    expect(moduleReferenceCount(path)).toBe(1);
    expect(await signOnce(outer, 'outer still works')).toBe(true);
    await outer.close();
    await outer.close();
    expect(moduleReferenceCount(path)).toBe(0);
  });

  it('gives ERR_MODULE_CLOSED for a closed handle, and for its tokens and sessions', async () => {
    const path = hsm.current.modulePath;
    const other = await Pkcs11Module.load(path);
    const mod = await Pkcs11Module.load(path);
    const token = mod.token({ serial: main().serial });
    const session = await token.openSession();
    await session.login(main().userPin);
    await mod.close();
    const closed = { code: 'ERR_MODULE_CLOSED' };
    // The other handle keeps the library alive; this one is still closed.
    expect(() => mod.tokens()).toThrow(expect.objectContaining(closed));
    expect(() => mod.slots()).toThrow(expect.objectContaining(closed));
    expect(() => mod.info()).toThrow(expect.objectContaining(closed));
    expect(() => mod.token({ label: 'tokengate-test' })).toThrow(expect.objectContaining(closed));
    expect(() => mod.raw).toThrow(expect.objectContaining(closed));
    expect(() => token.info()).toThrow(expect.objectContaining(closed));
    await expect(token.openSession()).rejects.toMatchObject(closed);
    await expect(session.signChallenge({ label: 'p256' }, 'x')).rejects.toMatchObject(closed);
    await expect(session.isLoggedIn()).rejects.toMatchObject(closed);
    expect(other.tokens().some((t) => t.serial === main().serial)).toBe(true);
    // Closing a session of a closed module is quiet.
    await session.close();
    await other.close();
    expect(() => other.tokens()).toThrow(expect.objectContaining(closed));
  });
});

describe('load failures are ModuleLoadError', () => {
  it.each([
    ['a missing path', () => join(scratchDir, 'does-not-exist.so')],
    ['an empty path', () => ''],
    ['a directory', () => scratchDir],
    ['an executable that is not a library', () => '/bin/ls'],
    ['a text file', () => {
      const file = join(scratchDir, 'not-a-module.so');
      writeFileSync(file, 'this is not a shared object\n');
      return file;
    }],
    ['a shared library that is not a PKCS#11 module', () => {
      // Any shared object without C_GetFunctionList: this process's own libc.
      const libc = readFileSync('/proc/self/maps', 'utf8').match(/\/\S*\/libc\.so\.6$/m)?.[0];
      expect(libc).toBeDefined();
      return libc!;
    }],
  ])('%s', async (_what, path) => {
    const p = path();
    const err = await Pkcs11Module.load(p).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ModuleLoadError);
    expect(err).toMatchObject({ code: 'ERR_MODULE_LOAD', name: 'ModuleLoadError' });
    if (p) expect(moduleReferenceCount(p)).toBe(0);
  });

  it('a non-string path', async () => {
    await expect(Pkcs11Module.load(undefined as unknown as string)).rejects.toMatchObject({ code: 'ERR_MODULE_LOAD' });
    await expect(Pkcs11Module.load(42 as unknown as string)).rejects.toMatchObject({ code: 'ERR_MODULE_LOAD' });
  });

  it('a module whose C_Initialize fails, and the library can be loaded properly afterwards', async () => {
    const badConf = join(scratchDir, 'bad-softhsm2.conf');
    mkdirSync(join(scratchDir, 'x'), { recursive: true });
    writeFileSync(badConf, `directories.tokendir = ${join(scratchDir, 'x', 'missing')}\nobjectstore.backend = file\n`);
    const saved = process.env.SOFTHSM2_CONF;
    try {
      await expect(Pkcs11Module.load(hsm.current.modulePath, { env: { SOFTHSM2_CONF: badConf } })).rejects.toMatchObject({
        code: 'ERR_MODULE_LOAD',
      });
      expect(moduleReferenceCount(hsm.current.modulePath)).toBe(0);
    } finally {
      process.env.SOFTHSM2_CONF = saved;
    }
    await using mod = await Pkcs11Module.load(hsm.current.modulePath);
    expect(await signOnce(mod, 'after a failed load')).toBe(true);
  });
});

describe('other users of the same library', () => {
  it('shares a library graphene-pk11 initialised first, and leaves it initialised for graphene', async () => {
    const path = hsm.current.modulePath;
    const g = graphene.Module.load(path, 'SoftHSM');
    g.initialize();
    try {
      let slot: import('graphene-pk11').Slot | undefined;
      const slots = g.getSlots(true);
      for (let i = 0; i < slots.length; i++) {
        if (slots.items(i).getToken().serialNumber.trim() === main().serial) slot = slots.items(i);
      }
      expect(slot).toBeDefined();
      const gs = slot!.open(graphene.SessionFlag.SERIAL_SESSION);
      try {
        {
          // Our C_Initialize meets CKR_CRYPTOKI_ALREADY_INITIALIZED and shares.
          await using mod = await Pkcs11Module.load(path);
          expect(mod.tokens().some((t) => t.serial === main().serial)).toBe(true);
          expect(await signOnce(mod, 'shared with graphene')).toBe(true);
        }
        expect(moduleReferenceCount(path)).toBe(0);
        // Our last close did not C_Finalize graphene's library: its open session still works.
        expect(libraryIsInitialized(path)).toBe(true);
        expect(gs.lib.C_GetSessionInfo(gs.handle).slotID.equals(slot!.handle)).toBe(true);
        expect(gs.find({ class: graphene.ObjectClass.PUBLIC_KEY }).length).toBe(4);
        expect(g.getSlots(true).length).toBe(slots.length);
      } finally {
        gs.close();
      }
    } finally {
      g.finalize();
      g.close();
    }
    expect(libraryIsInitialized(path)).toBe(false);
    // And afterwards the library is ours to initialise again.
    await using again = await Pkcs11Module.load(path);
    expect(await signOnce(again, 'after graphene finalized')).toBe(true);
  });

  it('a child process initialises its own instance and signs while the parent holds the module', async () => {
    const fx = hsm.current;
    await using mod = await Pkcs11Module.load(fx.modulePath);
    await using session = await mod.token({ serial: main().serial }).openSession();
    await session.login(main().userPin);

    const script = join(scratchDir, 'child.mts');
    writeFileSync(
      script,
      `import { Pkcs11Module, moduleReferenceCount } from ${JSON.stringify(pathToFileURL(join(repoRoot, 'src/index.ts')).href)};
const [modulePath, serial, pin, challenge] = process.argv.slice(2);
const refsBefore = moduleReferenceCount(modulePath);
const mod = await Pkcs11Module.load(modulePath);
try {
  const session = await mod.token({ serial }).openSession();
  await session.login(pin);
  const sig = await session.signChallenge({ label: 'p256' }, challenge);
  await session.close();
  process.send({ pid: process.pid, refsBefore, sig: sig.toString('hex') });
} finally {
  await mod.close();
}
`,
    );
    const challenge = `child-${process.pid}`;
    const child = fork(script, [fx.modulePath, main().serial, main().userPin, challenge], {
      cwd: repoRoot,
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, ...fx.env },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const result = await new Promise<{ message: { pid: number; refsBefore: number; sig: string } | undefined; code: number | null }>(
      (resolve, reject) => {
        let message: { pid: number; refsBefore: number; sig: string } | undefined;
        const deadline = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`child did not finish in time: ${stderr}`));
        }, 20_000);
        child.on('message', (m) => (message = m as typeof message));
        child.on('error', (e) => {
          clearTimeout(deadline);
          reject(e);
        });
        child.on('exit', (code) => {
          clearTimeout(deadline);
          resolve({ message, code });
        });
      },
    );
    expect(result.code, stderr).toBe(0);
    expect(result.message).toBeDefined();
    expect(result.message!.pid).not.toBe(process.pid);
    expect(result.message!.refsBefore).toBe(0); // nothing inherited: the child loaded its own
    expect(verifySignature(p256Pem(), challenge, Buffer.from(result.message!.sig, 'hex'), { algorithm: 'ECDSA-SHA256' })).toBe(true);
    // The child's C_Finalize at exit did nothing to the parent's instance.
    expect(moduleReferenceCount(fx.modulePath)).toBe(1);
    const sig = await session.signChallenge({ label: 'p256' }, 'parent after child');
    expect(verifySignature(p256Pem(), 'parent after child', sig, { algorithm: 'ECDSA-SHA256' })).toBe(true);
  });
});

describe('tokens, slots and info', () => {
  it('tokens() lists the fixture tokens with serial, label, PIN status and PIN length', async () => {
    await using mod = await Pkcs11Module.load(hsm.current.modulePath);
    const tokens = mod.tokens();
    const ours = tokens.filter((t) => t.serial === main().serial);
    expect(ours).toHaveLength(1);
    const t = ours[0]!;
    expect(t.label).toBe('tokengate-test');
    expect(t.pinStatus).toBe('ok');
    expect(t.soPinStatus).toBe('ok');
    expect(t.pinLength).toEqual({ min: 4, max: 255 });
    expect(t.flags.tokenInitialized).toBe(true);
    expect(t.flags.userPinInitialized).toBe(true);
    expect(t.flags.loginRequired).toBe(true);
    expect(t.manufacturer).toBe('SoftHSM project');
    expect(t.model).toBe('SoftHSM v2');
    expect(t.hardwareVersion).toMatch(/^\d+\.\d+$/);
    // SoftHSM answers CK_UNAVAILABLE_INFORMATION for the count and CK_EFFECTIVELY_INFINITE for the limit.
    expect(t.sessionCount).toBeUndefined();
    expect(t.maxSessionCount).toBe(Infinity);
    expect(tokens.filter((x) => x.label === 'twin')).toHaveLength(2);
    // Serials as pkcs11-tool reads them.
    const listed = execFileSync('pkcs11-tool', ['--module', hsm.current.modulePath, '--list-token-slots'], {
      env: { ...process.env, ...hsm.current.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }).toString();
    const serials = [...listed.matchAll(/serial num\s*:\s*(\S+)/g)].map((m) => m[1]!).sort();
    expect(tokens.map((x) => x.serial).filter(Boolean).sort()).toEqual(serials);
  });

  it('token() by label, by serial, and by a string that is either', async () => {
    await using mod = await Pkcs11Module.load(hsm.current.modulePath);
    const byLabel = mod.token({ label: 'tokengate-test' });
    const bySerial = mod.token({ serial: main().serial });
    const byString = mod.token('tokengate-test');
    const bySerialString = mod.token(main().serial);
    for (const t of [byLabel, bySerial, byString, bySerialString]) {
      expect(t.serial).toBe(main().serial);
      expect(t.label).toBe('tokengate-test');
      expect(t.info().pinStatus).toBe('ok');
      expect(t.isPresent()).toBe(true);
    }
    const twins = mod.tokens().filter((t) => t.label === 'twin');
    for (const twin of twins) expect(mod.token({ serial: twin.serial }).label).toBe('twin');
  });

  it('token() refuses a wrong label or serial, a shared label, and an empty selector', async () => {
    await using mod = await Pkcs11Module.load(hsm.current.modulePath);
    const notPresent = { code: 'ERR_TOKEN_NOT_PRESENT' };
    expect(() => mod.token({ label: 'no-such-token' })).toThrow(expect.objectContaining(notPresent));
    expect(() => mod.token({ label: 'no-such-token' })).toThrow(TokenNotPresentError);
    expect(() => mod.token({ serial: '0000000000000000' })).toThrow(expect.objectContaining(notPresent));
    expect(() => mod.token('no-such-token')).toThrow(expect.objectContaining(notPresent));
    // A label is matched exactly, not as a prefix or case-insensitively.
    expect(() => mod.token({ label: 'tokengate' })).toThrow(expect.objectContaining(notPresent));
    expect(() => mod.token({ label: 'TOKENGATE-TEST' })).toThrow(expect.objectContaining(notPresent));
    expect(() => mod.token({ label: 'twin' })).toThrow(expect.objectContaining({ code: 'ERR_TOKEN_AMBIGUOUS' }));
    for (const bad of ['', { label: '' }, { serial: '' }, {}]) {
      expect(() => mod.token(bad as never), JSON.stringify(bad)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    }
  });

  it('info() describes the library as pkcs11-tool does', async () => {
    await using mod = await Pkcs11Module.load(hsm.current.modulePath);
    const info = mod.info();
    expect(Object.keys(info).sort()).toEqual(['cryptokiVersion', 'description', 'libraryVersion', 'manufacturer', 'path']);
    expect(info.path).toBe(realpathSync(hsm.current.modulePath));
    expect(info.cryptokiVersion).toMatch(/^\d+\.\d+$/);
    expect(info.libraryVersion).toMatch(/^\d+\.\d+$/);
    for (const text of [info.manufacturer, info.description]) {
      expect(text.length).toBeGreaterThan(0);
      expect(text).toBe(text.trim());
    }
    const shown = execFileSync('pkcs11-tool', ['--module', hsm.current.modulePath, '--show-info'], {
      env: { ...process.env, ...hsm.current.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }).toString();
    expect(shown).toMatch(new RegExp(`Cryptoki version ${info.cryptokiVersion.replace('.', '\\.')}`));
    expect(shown).toMatch(new RegExp(`Manufacturer\\s+${info.manufacturer}\\s*\\n`));
    expect(shown).toContain(`${info.description} (ver ${info.libraryVersion})`);
  });

  it('slots() lists every slot, and the present ones match tokens() and pkcs11-tool', async () => {
    await using mod = await Pkcs11Module.load(hsm.current.modulePath);
    const all = mod.slots();
    const present = mod.slots({ tokenPresent: true });
    expect(present.length).toBe(mod.tokens().length);
    expect(all.length).toBeGreaterThanOrEqual(present.length);
    for (const s of present) {
      expect(typeof s.id).toBe('bigint');
      expect(s.flags.tokenPresent).toBe(true);
      expect(s.description).toBe(s.description.trim());
      expect(s.manufacturer.length).toBeGreaterThan(0);
      expect(all.some((a) => a.id === s.id)).toBe(true);
    }
    expect(new Set(all.map((s) => s.id)).size).toBe(all.length);
    const listed = execFileSync('pkcs11-tool', ['--module', hsm.current.modulePath, '--list-slots'], {
      env: { ...process.env, ...hsm.current.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }).toString();
    const ids = [...listed.matchAll(/^Slot \d+ \((0x[0-9a-f]+)\)/gm)].map((m) => BigInt(m[1]!)).sort();
    expect(all.map((s) => s.id).sort()).toEqual(ids);
  });
});
