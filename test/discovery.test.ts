// Module discovery: the real registry of this machine (every entry is loaded and asked for its
// info), and a fake p11-kit registry in a temp directory with fake libraries.
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { discoverModules, Pkcs11Module, type DiscoveredModule } from '../src/index.js';
import { useSoftHsm } from './helpers/softhsm.js';

// SoftHSM's C_Initialize needs a configuration with a token directory; no tokens are needed.
useSoftHsm({ tokens: [] });

describe('discoverModules on this machine', () => {
  const found = discoverModules();
  const named = (file: string): DiscoveredModule[] => found.filter((m) => basename(m.path) === file);

  it('finds SoftHSM and OpenSC through p11-kit, each once, and leaves out the trust module', () => {
    expect(named('libsofthsm2.so')).toEqual([expect.objectContaining({ name: 'softhsm2', source: 'p11-kit' })]);
    // Debian's opensc-pkcs11.module names the library relatively: it resolves in p11-kit's module directory.
    expect(named('opensc-pkcs11.so')).toEqual([expect.objectContaining({ name: 'opensc-pkcs11', source: 'p11-kit' })]);
    expect(basename(dirname(named('opensc-pkcs11.so')[0]!.path))).toBe('pkcs11');
    expect(found.some((m) => basename(m.path) === 'p11-kit-trust.so')).toBe(false);
    // /usr/lib/softhsm/libsofthsm2.so and the multiarch path are one file: listed once.
    expect(new Set(found.map((m) => realpathSync(m.path))).size).toBe(found.length);
  });

  it('lists only modules that load and answer C_GetInfo', async () => {
    expect(found.length).toBeGreaterThanOrEqual(2);
    for (const entry of found) {
      await using mod = await Pkcs11Module.load(entry.path);
      const info = mod.info();
      expect(info.path).toBe(realpathSync(entry.path));
      expect(info.cryptokiVersion).toMatch(/^[23]\.\d+$/u);
      expect(info.manufacturer.length).toBeGreaterThan(0);
    }
  });
});

describe('discoverModules on a fake registry', () => {
  const root = mkdtempSync(join(tmpdir(), 'tokengate-discovery-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  // p11-kit's three directories, highest priority first.
  const user = join(root, 'user');
  const system = join(root, 'etc');
  const pkg = join(root, 'share');
  const libs = join(root, 'lib');
  for (const dir of [user, system, pkg, libs, join(libs, 'dir.so')]) mkdirSync(dir);
  for (const lib of ['relative.so', 'absolute.so', 'card-old.so', 'card-new.so', 'merged.so', 'libykcs11.so.2', 'p11-kit-trust.so']) {
    writeFileSync(join(libs, lib), '');
  }
  symlinkSync(join(libs, 'absolute.so'), join(libs, 'alias.so'));

  writeFileSync(join(pkg, 'rel.module'), '# a relative name: looked up in the module directories\nmodule: relative.so\n');
  writeFileSync(join(pkg, 'abs.module'), `module: ${join(libs, 'absolute.so')}\npriority: 2\n`);
  writeFileSync(join(pkg, 'dup.module'), 'module: alias.so\n'); // the same file as abs, through a symlink
  writeFileSync(join(pkg, 'missing.module'), 'module: not-there.so\n');
  writeFileSync(join(pkg, 'trust.module'), 'module: p11-kit-trust.so\ntrust-policy: yes\n');
  writeFileSync(join(pkg, 'nokey.module'), '# module: commented-out.so\npriority: 1\n');
  writeFileSync(join(pkg, 'README'), 'module: relative.so\n');
  // Same name in two directories: the higher-priority file's module: wins...
  writeFileSync(join(pkg, 'card.module'), 'module: card-old.so\n');
  writeFileSync(join(user, 'card.module'), 'module: card-new.so\nenable-in: firefox\n');
  // ...and a higher-priority file without one takes it from the lower (p11-kit merges key by key).
  writeFileSync(join(system, 'merge.module'), 'disable-in: p11-kit-proxy\n');
  writeFileSync(join(pkg, 'merge.module'), 'module: merged.so\n');

  const found = discoverModules({
    configDirs: [user, system, pkg, join(root, 'does-not-exist')],
    moduleDirs: [join(root, 'no-such-lib-dir'), libs],
    wellKnownPaths: [join(libs, 'alias.so'), join(libs, 'gone.so'), join(libs, 'relative.so'), join(libs, 'dir.so'), join(libs, 'libykcs11.so.2')],
  });

  it('reads relative and absolute module: keys, by file name, honouring priority, then the well-known paths', () => {
    expect(found).toEqual([
      { path: join(libs, 'absolute.so'), name: 'abs', source: 'p11-kit' },
      { path: join(libs, 'card-new.so'), name: 'card', source: 'p11-kit' },
      { path: join(libs, 'merged.so'), name: 'merge', source: 'p11-kit' },
      { path: join(libs, 'relative.so'), name: 'rel', source: 'p11-kit' },
      { path: join(libs, 'libykcs11.so.2'), name: 'ykcs11', source: 'well-known' },
    ]);
  });

  it('skips missing libraries, directories, key-less and non-.module files and the trust module; symlinks and repeats collapse', () => {
    const paths = found.map((m) => basename(m.path));
    for (const absent of ['not-there.so', 'gone.so', 'dir.so', 'p11-kit-trust.so', 'alias.so', 'card-old.so']) {
      expect(paths).not.toContain(absent);
    }
    expect(found.map((m) => m.name)).not.toContain('dup');
  });

  it('finds nothing in empty or missing directories', () => {
    expect(discoverModules({ configDirs: [join(root, 'nope')], moduleDirs: [], wellKnownPaths: [] })).toEqual([]);
  });
});
