// The token commands of `tokengate` against SoftHSM: output, --json shapes, every exit code, PINs
// only from the environment, a file descriptor or a prompt, and a signature that openssl verifies.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync, readdirSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { useSoftHsm } from './helpers/softhsm.js';

const hsm = useSoftHsm({ tokens: [{ label: 'cli-card' }, { label: 'watched-card', keys: [] }] });
const main = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'tokengate-cli-token-'));

function tokengate(args: string[], env: Record<string, string> = {}, stdio?: Parameters<typeof spawnSync>[2]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', main, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...hsm.current.env, TOKENGATE_STATE_DIR: join(work, 'state'), ...env },
    ...stdio,
  });
  return { status: r.status, stdout: String(r.stdout), stderr: String(r.stderr) };
}

const card = () => ['--module', hsm.current.modulePath, '--token', 'cli-card'];
const pin = () => ({ TOKENGATE_PIN: hsm.current.tokens[0]!.userPin });

describe('tokengate token commands', () => {
  it('status --json: PIN and SO PIN status with tries left and who counts them', () => {
    const r = tokengate(['status', ...card(), '--json']);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ label: 'cli-card', serial: hsm.current.tokens[0]!.serial, pin: { pinStatus: 'ok', retriesLeft: 3, source: 'host' }, soPin: { pinStatus: 'ok' } });
  });

  it('login takes the PIN from the environment or a file descriptor, never from the command line', () => {
    expect(tokengate(['login', ...card()], pin()).status).toBe(0);
    const r = spawnSync('bash', ['-c', `printf '%s\\n' "$P" | ${JSON.stringify(process.execPath)} --import tsx ${JSON.stringify(main)} login --module ${hsm.current.modulePath} --token cli-card --pin-fd 0`], {
      encoding: 'utf8',
      env: { ...process.env, ...hsm.current.env, TOKENGATE_STATE_DIR: join(work, 'state'), P: hsm.current.tokens[0]!.userPin },
    });
    expect(r.status).toBe(0);
    const onLine = tokengate(['login', ...card(), '--pin', hsm.current.tokens[0]!.userPin]);
    expect(onLine.status).toBe(2);
    expect(onLine.stderr).toContain('shell history');
    expect(onLine.stderr).not.toContain(hsm.current.tokens[0]!.userPin);
    expect(tokengate(['login', ...card()]).status).toBe(2); // no PIN and no terminal
  });

  it('exit codes for a wrong PIN (3), a refused final try (2), a locked PIN (4), an absent token (5), a blocked one (6)', () => {
    const env = { TOKENGATE_STATE_DIR: join(work, 'lock-state') };
    expect(tokengate(['login', ...card()], { ...env, TOKENGATE_PIN: '0000' })).toMatchObject({ status: 3 });
    const second = tokengate(['login', ...card()], { ...env, TOKENGATE_PIN: '1111' });
    expect(second.status).toBe(3);
    expect(second.stderr).toContain('[ERR_PIN_INCORRECT]');
    const refused = tokengate(['login', ...card()], { ...env, TOKENGATE_PIN: '2222' });
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain('--allow-final-try');
    expect(tokengate(['login', ...card(), '--allow-final-try'], { ...env, TOKENGATE_PIN: '2222' }).status).toBe(4);
    const locked = tokengate(['login', ...card()], { ...env, ...pin() });
    expect(locked.status).toBe(4);
    expect(locked.stderr).toContain('[ERR_PIN_LOCKED]');
    expect(JSON.parse(tokengate(['status', ...card(), '--json'], env).stdout)).toMatchObject({ pin: { pinStatus: 'locked', retriesLeft: 0 } });

    expect(tokengate(['status', '--module', hsm.current.modulePath, '--token', 'no-such-card']).status).toBe(5);
    const blocklist = join(work, 'blocklist.json');
    writeFileSync(blocklist, JSON.stringify({ serials: [hsm.current.tokens[0]!.serial], certificateFingerprints: [] }));
    const blocked = tokengate(['status', ...card(), '--blocklist', blocklist, '--json']);
    expect(JSON.parse(blocked.stdout)).toMatchObject({ blocked: true });
    expect(blocked.status).toBe(6);
    expect(tokengate(['login', ...card(), '--blocklist', blocklist], pin()).status).toBe(6);
  });

  it('sign makes a signature openssl verifies; verify says valid (0) or not (7)', () => {
    const data = join(work, 'data.txt');
    const sig = join(work, 'data.sig');
    const pub = join(work, 'p256.pem');
    writeFileSync(data, 'open the door at 09:00');
    writeFileSync(pub, hsm.current.tokens[0]!.keys.find((k) => k.label === 'p256')!.publicKeyPem);
    const signed = tokengate(['sign', ...card(), '--key', 'p256', '--in', data, '--out', sig, '--format', 'der', '--json'], pin());
    expect(signed.stderr).toBe('');
    expect(signed.status).toBe(0);
    expect(JSON.parse(signed.stdout)).toMatchObject({ algorithm: 'ECDSA-SHA256', format: 'der', key: 'p256' });
    expect(execFileSync('openssl', ['dgst', '-sha256', '-verify', pub, '-signature', sig, data], { encoding: 'utf8' })).toContain('Verified OK');
    expect(tokengate(['verify', ...card(), '--key', 'p256', '--in', data, '--signature', sig, '--format', 'der']).status).toBe(0);
    writeFileSync(data, 'open the door at 23:00');
    const bad = tokengate(['verify', ...card(), '--key', 'p256', '--in', data, '--signature', sig, '--format', 'der', '--json']);
    expect(bad.status).toBe(7);
    expect(JSON.parse(bad.stdout)).toMatchObject({ valid: false });
    // With the certificate from a file instead of the token.
    const cert = join(work, 'p256.crt');
    writeFileSync(cert, hsm.current.tokens[0]!.keys.find((k) => k.label === 'p256')!.certificatePem);
    writeFileSync(data, 'open the door at 09:00');
    expect(tokengate(['verify', '--in', data, '--signature', sig, '--cert', cert, '--mechanism', 'ECDSA-SHA256', '--format', 'der']).status).toBe(0);
  });

  it('watch --json prints one line per event: a token that goes away is reported', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', main, 'watch', '--module', hsm.current.modulePath, '--json'], {
      env: { ...process.env, ...hsm.current.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const lines = createInterface({ input: child.stdout });
      const seen = (type: string) => new Promise<string>((resolve) => lines.on('line', (line) => line.includes(`"${type}"`) && line.includes('watched-card') && resolve(line)));
      const inserted = seen('inserted');
      const removed = seen('removed');
      const deadline = AbortSignal.timeout(20_000);
      // The stream starts with what is present; once the card is reported, pull it out (its files moved away).
      await inserted;
      const tokens = join(hsm.current.dir, 'tokens');
      const watched = readdirSync(tokens).find((d) => readFileSync(join(tokens, d, 'token.object')).includes(Buffer.from('watched-card')));
      expect(watched).toBeDefined();
      mkdirSync(join(hsm.current.dir, 'away'), { recursive: true });
      renameSync(join(tokens, watched!), join(hsm.current.dir, 'away', watched!));
      const line = await Promise.race([removed, new Promise<string>((_, reject) => deadline.addEventListener('abort', () => reject(new Error('no removed event'))))]);
      expect(JSON.parse(line)).toMatchObject({ type: 'removed', label: 'watched-card' });
    } finally {
      child.kill('SIGINT');
    }
  });
});
