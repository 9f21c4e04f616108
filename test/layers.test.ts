// The layers' one direction, enforced by dependency-cruiser with the rules in
// .dependency-cruiser.cjs: the tree has no wrong-way import, and a wrong-way import (a fixture of
// the verifier importing the PKCS#11 layer) is caught, so the rule is not one that always passes.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const config = fileURLToPath(new URL('../.dependency-cruiser.cjs', import.meta.url));

interface Violation {
  from: string;
  to: string;
  rule: { name: string };
}

function cruise(cwd: string, paths: string[]): Violation[] {
  const r = spawnSync(process.execPath, [fileURLToPath(new URL('../node_modules/dependency-cruiser/bin/dependency-cruise.mjs', import.meta.url)), ...paths, '--config', config, '--output-type', 'json', '--no-progress'], {
    cwd,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  expect(r.stdout.length, r.stderr).toBeGreaterThan(0);
  return (JSON.parse(r.stdout) as { summary: { violations: Violation[] } }).summary.violations;
}

describe('layers', () => {
  it('src and examples import only the way the layers point', () => {
    const violations = cruise(root, ['src', 'examples']);
    expect(violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`)).toEqual([]);
  }, 60_000);

  it('a wrong-way import fails', () => {
    const violations = cruise(fileURLToPath(new URL('./fixtures/wrong-way', import.meta.url)), ['src']);
    expect(violations.map((v) => [v.rule.name, v.from, v.to])).toEqual([['verifier-loads-no-token-layer', 'src/verifier/server.ts', 'src/pkcs11/session.ts']]);
  }, 60_000);
});
