// The tokengate executable against SoftHSM: output, --json shape, exit codes.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { useSoftHsm } from './helpers/softhsm.js';

const hsm = useSoftHsm({ tokens: [{ label: 'cli-token', keys: [] }] });
const main = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));

function tokengate(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', main, ...args], { encoding: 'utf8', env: { ...process.env, ...hsm.current.env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('tokengate CLI', () => {
  it('tokens --json lists the SoftHSM token with its serial and PIN status', () => {
    const r = tokengate('tokens', '--module', hsm.current.modulePath, '--json');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { module: string; tokens: Array<{ label: string; serial: string; pinStatus: string }> };
    expect(out.tokens).toEqual([expect.objectContaining({ label: 'cli-token', serial: hsm.current.tokens[0]!.serial, pinStatus: 'ok' })]);
  });

  it('tokens prints a table; modules finds SoftHSM', () => {
    const table = tokengate('tokens', '--module', hsm.current.modulePath);
    expect(table.status).toBe(0);
    expect(table.stdout).toContain(hsm.current.tokens[0]!.serial);
    const modules = tokengate('modules', '--json');
    expect(modules.status).toBe(0);
    expect((JSON.parse(modules.stdout) as Array<{ path: string }>).some((m) => m.path.endsWith('libsofthsm2.so'))).toBe(true);
  });

  it('a reader that stops early (`tokengate --help | head -1`) ends the output quietly: exit 0, no EPIPE trace', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', main, '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
    // Closed before the help is written: every write the CLI makes meets a closed pipe.
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });

  it('exits 2 on usage errors and 1 with one line and the code on a bad module', () => {
    expect(tokengate().status).toBe(2);
    expect(tokengate('frobnicate').status).toBe(2);
    expect(tokengate('tokens', '--bogus').status).toBe(2);
    const bad = tokengate('tokens', '--module', '/nonexistent/libnothing.so');
    expect(bad.status).toBe(1);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toContain('[ERR_MODULE_LOAD]');
  });
});
