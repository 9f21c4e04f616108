// The command line as a newcomer meets it (SoftHSM): help for every command, one clear line (with
// its code, no stack) for a mistyped option, a missing file, a file that is not a certificate, a
// key that is not there and a PIN of the wrong length; `keys` lists what is on the token and
// `export` gets its certificate and public key out, which openssl uses to check a `tokengate sign`
// signature; `verify` takes a DER signature without being told, and hints when told wrong.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { useSoftHsm } from './helpers/softhsm.js';

const hsm = useSoftHsm({ tokens: [{ label: 'first-hour' }] });
const main = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'tokengate-cli-first-hour-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function tokengate(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', main, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...hsm.current.env, TOKENGATE_STATE_DIR: join(work, 'state'), ...env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
const mod = () => ['--module', hsm.current.modulePath];
const pin = () => ({ TOKENGATE_PIN: hsm.current.tokens[0]!.userPin });

/** One line on stderr, with the error's code in brackets, and no stack trace. */
function oneLine(stderr: string, code: string): string {
  const lines = stderr.trim().split('\n');
  expect(lines, stderr).toHaveLength(1);
  expect(lines[0]).toMatch(new RegExp(`^tokengate: .+ \\[${code}\\]$`));
  expect(stderr).not.toMatch(/\n\s+at /);
  return lines[0]!;
}

describe('tokengate for a newcomer', () => {
  it('has help for every command: tokengate help, help COMMAND, COMMAND --help', () => {
    const all = tokengate(['help']);
    expect(all.status).toBe(0);
    for (const command of ['keys', 'export', 'sign', 'verify', 'unblock-pin']) expect(all.stdout).toContain(`  ${command}`);
    const sign = tokengate(['help', 'sign']);
    expect(sign.status).toBe(0);
    expect(sign.stdout).toContain('tokengate sign --in FILE --out FILE');
    expect(tokengate(['sign', '--help']).stdout).toBe(sign.stdout);
    expect(oneLine(tokengate(['help', 'nosuch']).stderr, 'ERR_USAGE')).toContain('no command "nosuch"');
  });

  it('says in one line what is wrong and what to do, with the code, and exits 2', () => {
    const unknown = tokengate(['status', '--policy', 'x', ...mod()]);
    expect(unknown.status).toBe(2);
    expect(oneLine(unknown.stderr, 'ERR_USAGE')).toBe('tokengate: unknown option --policy (see tokengate --help) [ERR_USAGE]');
    const missing = tokengate(['verify', '--in', join(work, 'nope.txt'), '--signature', join(work, 'nope.sig'), ...mod()]);
    expect(missing.status).toBe(2);
    expect(oneLine(missing.stderr, 'ERR_USAGE')).toContain(`cannot read --in ${join(work, 'nope.txt')}: no such file`);
    const notCert = join(work, 'not-a-cert.txt');
    writeFileSync(notCert, 'hello');
    const bad = tokengate(['verify', '--in', notCert, '--signature', notCert, '--cert', notCert, ...mod()]);
    expect(bad.status).toBe(2);
    expect(oneLine(bad.stderr, 'ERR_USAGE')).toContain('is not an X.509 certificate (PEM or DER)');
    const noKey = tokengate(['sign', '--key', 'nosuch', '--in', notCert, '--out', join(work, 'x.sig'), ...mod()], pin());
    expect(oneLine(noKey.stderr, 'ERR_KEY_NOT_FOUND')).toContain('no key labelled or numbered "nosuch" on the token (tokengate keys lists them)');
    // A PIN of the wrong length: refused before anything is counted, a usage mistake.
    const short = tokengate(['login', ...mod()], { TOKENGATE_PIN: '1' });
    expect(short.status).toBe(2);
    expect(oneLine(short.stderr, 'ERR_PIN_LENGTH')).toContain('PIN must be');
    expect(JSON.parse(tokengate(['status', '--json', ...mod()]).stdout).pin).toMatchObject({ failures: 0 });
  });

  it('keys lists the token\'s keys and certificates; export gets them out; openssl checks a signature with them', () => {
    const keys = tokengate(['keys', '--json', ...mod()]);
    expect(keys.status).toBe(0);
    const entries = JSON.parse(keys.stdout) as Array<{ label: string; id: string; certificate: boolean; subject?: string }>;
    expect(entries.map((e) => e.label).sort()).toEqual(['ed25519', 'p256', 'p384', 'rsa2048']);
    expect(entries.find((e) => e.label === 'p256')).toMatchObject({ id: '01', certificate: true, subject: expect.stringContaining('p256') });
    const table = tokengate(['keys', ...mod()]).stdout;
    expect(table.split('\n')[0]).toMatch(/^label\s+id\s+type\s+certificate\s+subject$/);
    expect(table).not.toContain("'");

    const cert = join(work, 'p256.crt');
    const pub = join(work, 'p256.pub.pem');
    expect(tokengate(['export', '--key', 'p256', '--cert', '--out', cert, ...mod()]).status).toBe(0);
    expect(tokengate(['export', '--key', '01', '--public-key', '--out', pub, ...mod()]).status).toBe(0);
    expect(readFileSync(cert, 'utf8')).toBe(`${hsm.current.tokens[0]!.keys.find((k) => k.label === 'p256')!.certificatePem.trim()}\n`);
    const stdoutPem = tokengate(['export', '--key', 'p256', '--public-key', ...mod()]).stdout;
    expect(stdoutPem).toBe(readFileSync(pub, 'utf8'));
    const der = join(work, 'p256.der');
    expect(tokengate(['export', '--key', 'p256', '--cert', '--format', 'der', '--out', der, ...mod()]).status).toBe(0);
    expect(execFileSync('openssl', ['x509', '-inform', 'der', '-in', der, '-noout', '-subject'], { encoding: 'utf8' })).toContain('p256');

    const msg = join(work, 'msg.txt');
    const sig = join(work, 'msg.sig');
    writeFileSync(msg, 'open the door at 09:00');
    expect(tokengate(['sign', '--key', 'p256', '--in', msg, '--out', sig, '--format', 'der', ...mod()], pin()).status).toBe(0);
    expect(execFileSync('openssl', ['dgst', '-sha256', '-verify', pub, '-signature', sig, msg], { encoding: 'utf8' })).toContain('Verified OK');
    const fromCert = execFileSync('openssl', ['x509', '-in', cert, '-pubkey', '-noout'], { encoding: 'utf8' });
    expect(fromCert).toBe(readFileSync(pub, 'utf8'));

    // A DER signature, checked without --format: taken as what it is. Told "raw": a hint.
    const detected = tokengate(['verify', '--in', msg, '--signature', sig, '--cert', cert]);
    expect(detected).toMatchObject({ status: 0, stdout: 'signature valid (ECDSA-SHA256, der)\n' });
    const told = tokengate(['verify', '--in', msg, '--signature', sig, '--cert', cert, '--format', 'raw']);
    expect(told.status).toBe(7);
    expect(told.stdout).toContain('NOT valid as raw — it is a valid der signature: pass --format der');
  });
});
