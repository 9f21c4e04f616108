// Each entry point loads what it should and nothing more, checked in a fresh Node process: the
// native addons mapped into it (/proc/self/maps) and the CommonJS packages in its require cache.
//   tokengate           the token library: pkcs11js, but no Fastify, pg, SQLite or argon2, nor node-hid
//   tokengate/client    the same, plus nothing of the verifier's server
//   tokengate/verifier  the verifier: its server and stores, and no PKCS#11 addon
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

interface Loaded {
  packages: string[];
  addons: string[];
}

function loadedBy(entry: string): Loaded {
  const script = `
    import { createRequire } from 'node:module';
    import { readFileSync } from 'node:fs';
    await import(${JSON.stringify(entry)});
    const cache = Object.keys(createRequire(import.meta.url).cache);
    const packages = [...new Set(cache.map((p) => /node_modules\\/((?:@[^/]+\\/)?[^/]+)/.exec(p)?.[1]).filter(Boolean))];
    const addons = [...new Set(readFileSync('/proc/self/maps', 'utf8').split('\\n').map((l) => l.split(/\\s+/)[5]).filter((p) => p && p.endsWith('.node')))];
    console.log(JSON.stringify({ packages, addons }));
  `;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Loaded;
}

const SERVER = ['fastify', 'pg', 'better-sqlite3', '@node-rs/argon2', 'nodemailer'];

describe('entry points', () => {
  it('tokengate loads the PKCS#11 addon and none of the verifier\'s dependencies', () => {
    const { packages, addons } = loadedBy('./src/index.ts');
    expect(packages).toContain('pkcs11js');
    expect(addons.some((a) => a.includes('pkcs11js'))).toBe(true);
    for (const heavy of SERVER) expect(packages, heavy).not.toContain(heavy);
    expect(addons.filter((a) => !a.includes('pkcs11js'))).toEqual([]);
    expect(packages).not.toContain('node-hid'); // loaded when a security key is listed or opened
  });

  it('tokengate/client loads the token library and nothing of the verifier\'s server', () => {
    const { packages } = loadedBy('./src/client/index.ts');
    expect(packages).toContain('pkcs11js');
    for (const heavy of SERVER) expect(packages, heavy).not.toContain(heavy);
  });

  it('tokengate/verifier loads its server and stores, and no PKCS#11 addon', () => {
    const { packages, addons } = loadedBy('./src/verifier/index.ts');
    expect(packages).toEqual(expect.arrayContaining(['fastify', 'pg', 'better-sqlite3']));
    expect(packages).not.toContain('pkcs11js');
    expect(packages).not.toContain('node-hid'); // security keys are checked in pure JS
    expect(addons.some((a) => a.includes('pkcs11js') || a.includes('HID'))).toBe(false);
  });
});
