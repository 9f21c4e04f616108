// The kiosk's start-up, for an admin who mistypes: every bad option, file or module is one line
// that names it, exit 2, and no stack trace (--debug adds it); SIGTERM ends a running kiosk
// cleanly, exit 0, with nothing on stderr.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { useSoftHsm } from './helpers/softhsm.js';

const hsm = useSoftHsm({ tokens: [{ label: 'settings card', keys: [] }] });
const main = fileURLToPath(new URL('../examples/kiosk/main.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tokengate-kiosk-settings-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function kiosk(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', main, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...hsm.current.env, TOKENGATE_STATE_DIR: join(dir, 'state') },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 30_000,
  });
}

describe('kiosk start-up', () => {
  it('refuses each bad setting in one line with exit 2, and shows the stack only with --debug', () => {
    const badJson = join(dir, 'bad.json');
    writeFileSync(badJson, '{ "module": ');
    const unknownKey = join(dir, 'unknown.json');
    writeFileSync(unknownKey, JSON.stringify({ idle: 3 }));
    const cases: Array<[string[], string]> = [
      [['--module', '/nope.so'], 'kiosk: PKCS#11 module not found: /nope.so [ERR_MODULE_LOAD]'],
      [['--config', join(dir, 'missing.json')], `kiosk: cannot read --config ${join(dir, 'missing.json')}: no such file`],
      [['--config', badJson], `kiosk: --config ${badJson} is not valid JSON`],
      [['--config', unknownKey], `kiosk: --config ${unknownKey}: unknown setting "idle"`],
      [['--bogus'], 'kiosk: unknown option --bogus (see --help)'],
      [['--idle-timeout', 'abc'], 'kiosk: --idle-timeout (seconds) must be a whole number from 1 to 3600'],
      [['--max-failures', '0'], 'kiosk: --max-failures must be a whole number from 1 to 100'],
      [['--verifier', '127.0.0.1:8787'], 'kiosk: --verifier must be a URL such as http://127.0.0.1:8787'],
    ];
    for (const [args, line] of cases) {
      const r = kiosk(args);
      expect(r.status, args.join(' ')).toBe(2);
      const lines = r.stderr.trim().split('\n');
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toContain(line);
    }
    const debug = kiosk(['--module', '/nope.so', '--debug']);
    expect(debug.status).toBe(2);
    expect(debug.stderr).toMatch(/\n\s+at /);
    const help = kiosk(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('--idle-timeout SEC');
  });

  it('ends on SIGTERM with exit 0 and nothing on stderr, also with a visit under way', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', main, '--module', hsm.current.modulePath, '--verifier', 'http://127.0.0.1:1'], {
      env: { ...process.env, ...hsm.current.env, TOKENGATE_STATE_DIR: join(dir, 'state') },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    // Wait for the visit to start: the card is in, so the kiosk is at work on it.
    await new Promise<void>((resolve, reject) => {
      const deadline = setTimeout(() => reject(new Error(`no visit started: ${stdout}`)), 30_000);
      child.stdout.on('data', (c: Buffer) => {
        stdout += c.toString();
        if (stdout.includes('Card "settings card"')) {
          clearTimeout(deadline);
          resolve();
        }
      });
    });
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).toBe('');
  }, 60_000);
});
