// Module discovery: the real registry of this machine, and a fake one in a temp directory.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { discoverModules, Pkcs11Module } from '../src/index.js';

describe('discoverModules on this machine', () => {
  const found = discoverModules();

  it('finds SoftHSM and OpenSC, each once', () => {
    const names = found.map((m) => m.path);
    expect(names.filter((p) => p.endsWith('libsofthsm2.so'))).toHaveLength(1);
    expect(names.filter((p) => p.endsWith('/opensc-pkcs11.so'))).toHaveLength(1);
    // OpenSC and SoftHSM register with p11-kit on Debian, so that is where they are found.
    expect(found.find((m) => m.path.endsWith('libsofthsm2.so'))!.source).toBe('p11-kit');
    expect(found.some((m) => m.path.endsWith('p11-kit-trust.so'))).toBe(false);
  });

  it('lists modules that load and answer C_GetInfo', async () => {
    // OpenSC initialises with no reader attached; SoftHSM would need a configuration first.
    await using mod = await Pkcs11Module.load(found.find((m) => m.path.endsWith('/opensc-pkcs11.so'))!.path);
    expect(mod.info().manufacturer).toMatch(/OpenSC/);
  });
});

describe('discoverModules on a fake registry', () => {
  const root = mkdtempSync(join(tmpdir(), 'tokengate-discovery-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const conf = join(root, 'modules');
  const libs = join(root, 'lib');
  mkdirSync(conf);
  mkdirSync(libs);
  writeFileSync(join(libs, 'relative.so'), '');
  writeFileSync(join(libs, 'absolute.so'), '');
  symlinkSync(join(libs, 'absolute.so'), join(libs, 'alias.so'));
  writeFileSync(join(conf, 'rel.module'), '# comment\nmodule: relative.so\n');
  writeFileSync(join(conf, 'abs.module'), `module: ${join(libs, 'absolute.so')}\npriority: 2\n`);
  writeFileSync(join(conf, 'missing.module'), 'module: not-there.so\n');
  writeFileSync(join(conf, 'trust.module'), 'module: p11-kit-trust.so\n');
  writeFileSync(join(conf, 'nokey.module'), 'priority: 1\n');
  writeFileSync(join(conf, 'README'), 'module: relative.so\n');

  const found = discoverModules({
    configDirs: [conf, join(root, 'does-not-exist')],
    moduleDirs: [libs],
    wellKnownPaths: [join(libs, 'alias.so'), join(libs, 'gone.so'), join(libs, 'relative.so')],
  });

  it('resolves relative and absolute module: keys and names entries after their file', () => {
    expect(found.filter((m) => m.source === 'p11-kit')).toEqual([
      { path: join(libs, 'absolute.so'), name: 'abs', source: 'p11-kit' },
      { path: join(libs, 'relative.so'), name: 'rel', source: 'p11-kit' },
    ]);
  });

  it('skips missing libraries, non-.module files and the trust module, and collapses symlinks and repeats', () => {
    expect(found).toHaveLength(2);
    expect(found.some((m) => m.path.endsWith('alias.so') || m.path.endsWith('gone.so'))).toBe(false);
  });
});
