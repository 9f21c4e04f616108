// The package as a user installs it: test/pack/check-package.sh packs the tarball, lints it
// (publint, attw), installs it into an empty project under Node 20 (the machine's), 22 and 24
// (each compiling the native addons for itself), runs the CLI, imports each entry point, signs on
// SoftHSM, logs in to a verifier, and type-checks the README's TypeScript examples (and
// test/pack/consumer/types.ts) against the packed declarations with the oldest and newest
// @types/node. The script runs once; each test below reads its own lines.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const MAJORS = ['20', '22', '24'];

let lines: string[] = [];
let exitCode: number | null = null;

function run(): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['test/pack/check-package.sh', ...MAJORS], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => {
      lines = out.split('\n');
      exitCode = code;
      resolve();
    });
  });
}

/** The script's first FAIL line and what it printed after it, to show in an assertion message. */
function failure(): string {
  const at = lines.findIndex((l) => l.startsWith('FAIL'));
  return at < 0 ? lines.slice(-20).join('\n') : lines.slice(at, at + 40).join('\n');
}

function expectOk(prefix: string | RegExp): void {
  const found = lines.some((l) => (typeof prefix === 'string' ? l.startsWith(`ok ${prefix}`) : prefix.test(l)));
  expect(found, `no "ok ${String(prefix)}" line; the check stopped at:\n${failure()}`).toBe(true);
}

describe('the packed tarball, installed', () => {
  beforeAll(run, 12 * 60_000);

  it('the check script ran every check and exited 0', () => {
    expect(lines.filter((l) => l.startsWith('FAIL')), failure()).toEqual([]);
    expect(exitCode, failure()).toBe(0);
    expect(lines).toContain('package checks: all passed');
  });

  it('npm pack ships dist/ with every file package.json names and source maps that embed their sources', () => {
    expectOk('npm pack: tokengate-');
    expectOk('tarball: the ');
    expectOk('tarball: only dist/, README.md, package.json and LICENSE ship');
    expectOk('tarball: every source map embeds the sources it names');
  });

  it('publint --strict and attw --profile esm-only find no problems', () => {
    expectOk('publint --strict');
    expectOk('attw --profile esm-only: no problems');
  });

  for (const major of MAJORS) {
    it(`Node ${major}: installs (addons built from source), runs the CLI, imports each entry point, signs on SoftHSM, logs in to a verifier`, () => {
      const v = `node v${major}.`;
      expectOk(new RegExp(`^ok node v${major}\\.\\d+\\.\\d+: npm install <tarball> built pkcs11js and better-sqlite3 from source`));
      expectOk(`${v}`);
      for (const check of [
        /: npx tokengate --help exits 0/,
        /: import\('tokengate'\) from the installed package/,
        /: import\('tokengate\/client'\) from the installed package/,
        /: import\('tokengate\/verifier'\) from the installed package/,
        /: import\('tokengate\/dist\/…'\) is refused/,
        /: verifySignature accepts it$/,
        /: verifySignature refuses it for another challenge$/,
        /: password \+ security token logs alice in$/,
        /: a wrong security token is refused with ERR_INVALID_CREDENTIALS$/,
        /: the password alone logs alice in from a trusted range$/,
      ]) {
        expectOk(new RegExp(`^ok node v${major}\\.\\d+\\.\\d+${check.source}`));
      }
    });
  }

  it('the README\'s examples type-check against the packed declarations with the oldest and the newest @types/node, skipLibCheck off', () => {
    expectOk(/^ok types: the README's examples \([1-9]\d* blocks, .* with @types\/node 20\.\d+\.\d+ \(\^20/);
    expectOk(/^ok types: the README's examples \([1-9]\d* blocks, .* with @types\/node \d+\.\d+\.\d+ \(latest\)/);
  });
});
