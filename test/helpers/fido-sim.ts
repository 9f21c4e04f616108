// Test-side helpers for the simulated FIDO2 key: start one on UDP for a peer, run a peer script
// (python-fido2 or the libfido2 shim, under Debian's /usr/bin/python3) without blocking the event
// loop the simulator answers on, and turn a COSE key into a node:crypto key to verify with.
import { execFile } from 'node:child_process';
import { createPublicKey, type KeyObject } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { decode } from 'cborg';
import { SimulatedAuthenticator, type SimulatedAuthenticatorOptions } from '../../native-fixtures/fido/authenticator.js';

export const peersDir = fileURLToPath(new URL('../../native-fixtures/fido/peers/', import.meta.url));
export const PYTHON = '/usr/bin/python3';

export interface ServedSim {
  sim: SimulatedAuthenticator;
  port: number;
  close(): Promise<void>;
}

export async function serveSim(options: SimulatedAuthenticatorOptions = {}): Promise<ServedSim> {
  const sim = new SimulatedAuthenticator(options);
  const server = await sim.serveUdp({ host: '127.0.0.1', port: 0 });
  return { sim, port: server.port, close: () => sim.close() };
}

/** Runs `script PORT SCENARIO ARGS…` asynchronously and parses its one line of JSON. */
export function runPeer<T = Record<string, unknown>>(script: string, port: number, scenario: string, ...args: string[]): Promise<T> {
  return new Promise((resolve, reject) => {
    execFile(PYTHON, [script, String(port), scenario, ...args], { cwd: peersDir, timeout: 30_000, env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`${script} ${scenario} failed: ${error.message}\n${stderr}`));
      try {
        resolve(JSON.parse(stdout) as T);
      } catch {
        reject(new Error(`${script} ${scenario} printed no JSON:\n${stdout}\n${stderr}`));
      }
    });
  });
}

/** A COSE_Key (EC2 P-256 or OKP Ed25519) as a node:crypto public key. */
export function coseToKey(cose: Uint8Array): KeyObject {
  const map = decode(cose, { useMaps: true }) as Map<number, number | Uint8Array>;
  const b64 = (v: unknown) => Buffer.from(v as Uint8Array).toString('base64url');
  if (map.get(1) === 2) return createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: b64(map.get(-2)), y: b64(map.get(-3)) }, format: 'jwk' });
  if (map.get(1) === 1 && map.get(-1) === 6) return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64(map.get(-2)) }, format: 'jwk' });
  throw new Error(`not a COSE key this test knows: kty ${String(map.get(1))}`);
}
