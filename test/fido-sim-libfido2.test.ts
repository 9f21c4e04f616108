// The simulated key checked by libfido2 1.12, the C library most FIDO tools sit on: its own
// CTAPHID framing (through fido_dev_set_io_functions over UDP), its CBOR parser that refuses map
// keys out of CTAP2 canonical order, its PIN protocol and its packed self-attestation check; then
// fido2-assert -V verifies the assertions against the credential's public key, and refuses
// tampered ones.
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createPublicKey } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Status } from '../native-fixtures/fido/constants.js';
import { runPeer, serveSim, type ServedSim } from './helpers/fido-sim.js';

const SHIM = 'libfido2_udp.py';
const PIN = '2468';
const dir = mkdtempSync(join(tmpdir(), 'tokengate-fido-sim-'));
let served: ServedSim | undefined;

afterEach(async () => {
  await served?.close();
  served = undefined;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Info {
  is_fido2: boolean;
  supports_pin: boolean;
  has_pin: boolean;
  supports_permissions: boolean;
  ctaphid_protocol: number;
  retry_count: number | null;
}

interface Registered {
  fmt: string;
  cred_flags: number;
  verify_self: number;
  credential_id: string;
  public_key: string;
  rp_id: string;
  assertions: { count: number; client_data_hash: string; auth_data_cbor: string; signature: string; flags: number; sigcount: number }[];
}

function fido2AssertVerify(input: string, pem: string, type: string, flags: string[] = []): Promise<{ code: number; stderr: string }> {
  const inputFile = join(dir, `assert-${Math.random().toString(36).slice(2)}`);
  const keyFile = `${inputFile}.pem`;
  writeFileSync(inputFile, input);
  writeFileSync(keyFile, pem);
  return new Promise((resolve) => {
    execFile('fido2-assert', ['-V', ...flags, '-i', inputFile, keyFile, type], { timeout: 15_000 }, (error, _stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stderr });
    });
  });
}

/** libfido2's raw public key (es256: x ‖ y; eddsa: 32 bytes) as a PEM SubjectPublicKeyInfo. */
function pemOf(kind: 'es256' | 'eddsa', raw: Buffer): string {
  const jwk =
    kind === 'es256'
      ? { kty: 'EC', crv: 'P-256', x: raw.subarray(0, 32).toString('base64url'), y: raw.subarray(32, 64).toString('base64url') }
      : { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') };
  return createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString();
}

describe('libfido2 against the simulated key', () => {
  it('opens it as a FIDO2 key with a PIN and reads the retry count', async () => {
    served = await serveSim({ pin: PIN, retries: 5 });
    const info = await runPeer<Info>(SHIM, served.port, 'info');
    expect(info).toMatchObject({ is_fido2: true, supports_pin: true, has_pin: true, supports_permissions: true, ctaphid_protocol: 2, retry_count: 5 });
  });

  it('sees no PIN on a fresh key, and no permission tokens on a CTAP 2.0 one', async () => {
    served = await serveSim({ pinUvAuthToken: false, pinProtocols: [1] });
    const info = await runPeer<Info>(SHIM, served.port, 'info');
    expect(info).toMatchObject({ is_fido2: true, supports_pin: true, has_pin: false, supports_permissions: false });
  });

  it('falls back to U2F when getInfo comes back with map keys out of canonical order', async () => {
    // libfido2 refuses the reply (ctap_check_cbor) and then treats the key as U2F-only: so it
    // does check the order, and the simulator's normal replies (the other tests) pass that check.
    served = await serveSim({ pin: PIN, faults: { nonCanonicalNext: 1, nonCanonicalKind: 'unsorted' } });
    const info = await runPeer<Info>(SHIM, served.port, 'info');
    expect(info.is_fido2).toBe(false);
    expect(served.sim.faults.nonCanonicalNext).toBe(0);
  });

  it('answers a wrong PIN with FIDO_ERR_PIN_INVALID and one retry fewer', async () => {
    served = await serveSim({ pin: PIN });
    expect(await runPeer(SHIM, served.port, 'wrong-pin', '1357')).toMatchObject({ error: Status.PIN_INVALID, error_name: 'FIDO_ERR_PIN_INVALID', retry_count: 7 });
    expect(served.sim.retriesLeft).toBe(7);
  });

  it('is served standalone by `npm run fido-sim` (main.ts): flags and FIDO_SIM_PIN honoured, SIGTERM stops it', async () => {
    const tsx = fileURLToPath(new URL('../node_modules/.bin/tsx', import.meta.url));
    const main = fileURLToPath(new URL('../native-fixtures/fido/main.ts', import.meta.url));
    const child = spawn(tsx, [main, '--udp', '127.0.0.1:0', '--retries', '3', '--per-cycle', '2', '--protocols', '1', '--no-permissions-token'], {
      env: { ...process.env, FIDO_SIM_PIN: PIN },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      let out = '';
      const port = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no listening line within 20 s: ${out}`)), 20_000);
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          const m = /^fido-sim listening on udp:127\.0\.0\.1:(\d+)\n/.exec(out);
          if (m) {
            clearTimeout(timer);
            resolve(Number(m[1]));
          }
        });
        child.once('exit', (code) => reject(new Error(`fido-sim exited (${code}): ${out}`)));
      });
      expect(await runPeer<Info>(SHIM, port, 'info')).toMatchObject({ is_fido2: true, has_pin: true, supports_permissions: false, retry_count: 3 });
      expect(await runPeer(SHIM, port, 'wrong-pin', '1357')).toMatchObject({ error: Status.PIN_INVALID, retry_count: 2 });
      expect(await runPeer(SHIM, port, 'wrong-pin', '1357')).toMatchObject({ error: Status.PIN_AUTH_BLOCKED, retry_count: 1 });
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const [code] = await exited;
      expect(code).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 40_000);

  for (const kind of ['es256', 'eddsa'] as const) {
    it(`makes an ${kind} credential and assertions with the PIN that fido2-assert -V verifies`, async () => {
      served = await serveSim({ pin: PIN });
      const r = await runPeer<Registered>(SHIM, served.port, 'register-and-sign', kind, PIN);
      expect(r).toMatchObject({ fmt: 'packed', cred_flags: 0x45, verify_self: 0 });
      expect(served.sim.credentials).toHaveLength(1);
      expect(Buffer.from(served.sim.credentials[0]!.id).toString('base64')).toBe(r.credential_id);
      const pem = pemOf(kind, Buffer.from(r.public_key, 'base64'));
      const [first, second] = r.assertions;
      expect(first).toMatchObject({ count: 1, flags: 0x05 });
      expect(second!.sigcount).toBe(first!.sigcount + 1);
      // libfido2 asked for the token with permissions (0x09), bound to the RP.
      const tokenRequests = served.sim.requests.filter((q) => q.command === 0x06 && q.params?.get(2) === 0x09);
      expect(tokenRequests.map((q) => [q.params?.get(9), q.params?.get(10)])).toEqual([
        [0x01, 'example.org'],
        [0x02, 'example.org'],
        [0x02, 'example.org'],
      ]);

      for (const a of r.assertions) {
        const input = `${a.client_data_hash}\n${r.rp_id}\n${a.auth_data_cbor}\n${a.signature}\n`;
        expect(await fido2AssertVerify(input, pem, kind, ['-p', '-v'])).toMatchObject({ code: 0 });
      }
      const a = first!;
      const sig = Buffer.from(a.signature, 'base64');
      sig[sig.length - 4]! ^= 0x01;
      const badSig = await fido2AssertVerify(`${a.client_data_hash}\n${r.rp_id}\n${a.auth_data_cbor}\n${sig.toString('base64')}\n`, pem, kind);
      expect(badSig.code).toBe(1);
      expect(badSig.stderr).toMatch(/FIDO_ERR_INVALID_SIG/);
      const authData = Buffer.from(a.auth_data_cbor, 'base64');
      authData[authData.length - 1]! ^= 0x01; // the signature counter's last byte
      const badData = await fido2AssertVerify(`${a.client_data_hash}\n${r.rp_id}\n${authData.toString('base64')}\n${a.signature}\n`, pem, kind);
      expect(badData.code).toBe(1);
      const wrongRp = await fido2AssertVerify(`${a.client_data_hash}\nexample.com\n${a.auth_data_cbor}\n${a.signature}\n`, pem, kind);
      expect(wrongRp.code).toBe(1);
    });
  }
});
