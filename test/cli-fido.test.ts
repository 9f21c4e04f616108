// `tokengate fido …` against the simulated key over UDP, as a user would run it: info, status,
// enroll and sign with the PIN from TOKENGATE_PIN, wrong PINs with the key's own counts and exit
// codes (3, then 9 when the key wants re-plugging), and the assertions checked by libfido2's
// `fido2-assert -V`, a verifier we did not write (tampered ones refused). Also `npm run fido-sim`.
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode } from 'cborg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedAuthenticator } from '../native-fixtures/fido/authenticator.js';
import { runCli } from './helpers/cli.js';

const PIN = '2468-door';
const RP = 'door.example.com';
const dir = mkdtempSync(join(tmpdir(), 'tokengate-cli-fido-'));
let sim: SimulatedAuthenticator;
let device: string;
let close: () => Promise<void>;

beforeAll(async () => {
  sim = new SimulatedAuthenticator({ pin: PIN });
  const server = await sim.serveUdp();
  device = `udp:127.0.0.1:${server.port}`;
  close = () => sim.close();
});
afterAll(() => close());

const env = (extra: Record<string, string> = {}) => ({ ...process.env, ...extra });
const fido = (args: string[], extra?: Record<string, string>) => runCli(['fido', ...args, '--device', device], env(extra));

interface Credential {
  credentialId: string;
  publicKeyPem: string;
  algorithm: 'ES256' | 'EdDSA';
}
interface Assertion {
  authenticatorData: string;
  signature: string;
  clientDataJSON: string;
  userVerified: boolean;
}

/** libfido2's verdict: 1. SHA-256(clientDataJSON), 2. rpId, 3. authData (CBOR byte string), 4. signature. */
function fido2AssertVerify(credential: Credential, a: Assertion, flags: string[] = ['-p', '-v']): number | null {
  const keyFile = join(dir, `${credential.algorithm}.pem`);
  writeFileSync(keyFile, credential.publicKeyPem);
  const clientDataHash = createHash('sha256').update(Buffer.from(a.clientDataJSON, 'base64url')).digest();
  const input = [
    clientDataHash.toString('base64'),
    RP,
    Buffer.from(encode(Buffer.from(a.authenticatorData, 'base64url'))).toString('base64'),
    Buffer.from(a.signature, 'base64url').toString('base64'),
  ].join('\n');
  const r = spawnSync('fido2-assert', ['-V', ...flags, keyFile, credential.algorithm === 'EdDSA' ? 'eddsa' : 'es256'], { input: `${input}\n`, encoding: 'utf8' });
  return r.status;
}

async function enrollAndSign(alg: 'ES256' | 'EdDSA'): Promise<{ credential: Credential; assertion: Assertion }> {
  const enrolled = await fido(['enroll', '--rp', RP, '--user', 'ada', '--alg', alg, '--json'], { TOKENGATE_PIN: PIN });
  expect(enrolled.status, enrolled.stderr).toBe(0);
  const credential = JSON.parse(enrolled.stdout) as Credential;
  const challengeFile = join(dir, 'challenge.bin');
  writeFileSync(challengeFile, randomBytes(32));
  const out = join(dir, `assertion-${alg}.json`);
  const signed = await fido(['sign', '--rp', RP, '--credential', credential.credentialId, '--in', challengeFile, '--out', out], { TOKENGATE_PIN: PIN });
  expect(signed.status, signed.stderr).toBe(0);
  expect(signed.stderr).toContain('touch your security key');
  return { credential, assertion: JSON.parse(readFileSync(out, 'utf8')) as Assertion };
}

describe('tokengate fido against the simulated key over UDP', () => {
  it('says what the key is and its PIN state, counted by the key', async () => {
    const info = await fido(['info', '--json']);
    expect(info.status, info.stderr).toBe(0);
    expect(JSON.parse(info.stdout)).toMatchObject({ protocol: 'ctap2', pinProtocol: 2, versions: expect.arrayContaining(['FIDO_2_1']) });
    const status = await fido(['status', '--json']);
    expect(JSON.parse(status.stdout)).toMatchObject({ pinSet: true, retriesLeft: 8, blocked: false, authBlocked: false, source: 'token' });
  });

  it.each(['ES256', 'EdDSA'] as const)('enrolls and signs (%s); fido2-assert -V accepts the assertion with UP and UV, and refuses it tampered', async (alg) => {
    const { credential, assertion } = await enrollAndSign(alg);
    expect(assertion.userVerified).toBe(true);
    expect(fido2AssertVerify(credential, assertion)).toBe(0);
    const signature = Buffer.from(assertion.signature, 'base64url');
    signature[signature.length - 3]! ^= 0x01;
    expect(fido2AssertVerify(credential, { ...assertion, signature: signature.toString('base64url') })).toBe(1);
    const otherChallenge = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(assertion.clientDataJSON, 'base64url').toString()), challenge: 'AAAA' }));
    expect(fido2AssertVerify(credential, { ...assertion, clientDataJSON: otherChallenge.toString('base64url') })).toBe(1);
  });

  it('refuses a PIN on the command line; counts wrong PINs as the key does (exit 3), then exit 9 until re-plugged', async () => {
    const onArgv = await fido(['status', '--pin', PIN]);
    expect(onArgv.status).toBe(2);
    expect(onArgv.stdout + onArgv.stderr).not.toContain(PIN);
    // /dev/null is no challenge: refused before the PIN is sent — nothing counted.
    const empty = await fido(['sign', '--rp', RP, '--credential', 'AAAA', '--in', '/dev/null', '--out', join(dir, 'x')], { TOKENGATE_PIN: 'wrong-pin' });
    expect(empty.status).toBe(2);
    expect(sim.retriesLeft).toBe(8);
    const challengeFile = join(dir, 'c2.bin');
    writeFileSync(challengeFile, randomBytes(32));
    const sign = (pin: string) => fido(['sign', '--rp', RP, '--credential', 'AAAA', '--in', challengeFile, '--out', join(dir, 'x')], { TOKENGATE_PIN: pin });
    for (const left of [7, 6]) {
      const wrong = await sign('wrong-pin');
      expect(wrong.status).toBe(3);
      expect(wrong.stderr).toContain(`${left} tries left`);
      expect(wrong.stderr).not.toContain('wrong-pin');
      expect(sim.retriesLeft).toBe(left);
    }
    const third = await sign('wrong-pin');
    expect(third.status).toBe(9);
    expect(third.stderr).toMatch(/unplug/);
    const status = await fido(['status', '--json']);
    expect(status.status).toBe(9);
    expect(JSON.parse(status.stdout)).toMatchObject({ authBlocked: true, retriesLeft: 5 });
    // The right PIN cannot help now, and costs nothing.
    expect((await sign(PIN)).status).toBe(9);
    expect(sim.retriesLeft).toBe(5);
    sim.powerCycle();
    const after = await fido(['status', '--json']);
    expect(JSON.parse(after.stdout)).toMatchObject({ authBlocked: false, retriesLeft: 5 });
  });
});

describe('npm run fido-sim', () => {
  it('starts a simulated key on its own and prints where; tokengate fido talks to it', async () => {
    const child = spawn('npm', ['run', '--silent', 'fido-sim', '--', '--udp', '127.0.0.1:0', '--retries', '2'], {
      env: env({ FIDO_SIM_PIN: PIN }),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    try {
      const address = await new Promise<string>((resolve, reject) => {
        let text = '';
        const timer = setTimeout(() => reject(new Error(`fido-sim did not start: ${text}`)), 20_000);
        child.stdout!.on('data', (c: Buffer) => {
          text += c.toString();
          const m = /listening on (udp:[\d.]+:\d+)/.exec(text);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]!);
          }
        });
      });
      const status = await runCli(['fido', 'status', '--device', address, '--json'], env());
      expect(JSON.parse(status.stdout)).toMatchObject({ pinSet: true, retriesLeft: 2, finalTry: false });
    } finally {
      process.kill(-child.pid!, 'SIGTERM');
    }
  });
});
