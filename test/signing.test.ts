// Integration: every signature algorithm signs on SoftHSM, and every signature is checked by code
// that is not the library's: node:crypto against the fixture's own copy of the public key, and the
// openssl command line. The library's verifySignature must agree with both.
import { execFileSync } from 'node:child_process';
import { X509Certificate as NodeX509, constants, createPublicKey, randomBytes, verify, webcrypto, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GeneratedKey } from '../native-fixtures/softhsm/keys.js';
import {
  Pkcs11Module,
  verifySignature,
  verifySignatureAsync,
  type Session,
  type SignatureAlgorithm,
  type SignatureFormat,
} from '../src/index.js';
import { useSoftHsm } from './helpers/softhsm.js';

const hsm = useSoftHsm();

let mod: Pkcs11Module;
let session: Session;
let workDir: string;

beforeAll(async () => {
  const fx = hsm.current;
  workDir = mkdtempSync(join(tmpdir(), 'tokengate-signing-'));
  mod = await Pkcs11Module.load(fx.modulePath);
  session = await mod.token({ serial: fx.tokens[0]!.serial }).openSession();
  await session.login(fx.tokens[0]!.userPin);
});

afterAll(async () => {
  await session?.close();
  await mod?.close();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

function fixtureKey(label: string): GeneratedKey {
  const key = hsm.current.tokens[0]!.keys.find((k) => k.label === label);
  if (!key) throw new Error(`no fixture key ${label}`);
  return key;
}

// --- independent verifiers ------------------------------------------------------------------

/** r‖s → ECDSA-Sig-Value, written here from X9.62 so the library's converter is not trusted. */
function p1363ToDer(raw: Buffer): Buffer {
  const integer = (half: Buffer): Buffer => {
    let v = half;
    while (v.length > 1 && v[0] === 0 && !(v[1]! & 0x80)) v = v.subarray(1);
    if (v[0]! & 0x80) v = Buffer.concat([Buffer.from([0]), v]);
    return Buffer.concat([Buffer.from([0x02, v.length]), v]);
  };
  const body = Buffer.concat([integer(raw.subarray(0, raw.length / 2)), integer(raw.subarray(raw.length / 2))]);
  const length = body.length < 0x80 ? Buffer.from([body.length]) : Buffer.from([0x81, body.length]);
  return Buffer.concat([Buffer.from([0x30]), length, body]);
}

interface Case {
  label: string;
  algorithm: SignatureAlgorithm;
  format: SignatureFormat;
  /** Signature length when it is fixed. */
  length?: number;
}

const CASES: Case[] = [
  { label: 'p256', algorithm: 'ECDSA-SHA256', format: 'raw', length: 64 },
  { label: 'p256', algorithm: 'ECDSA-SHA256', format: 'der' },
  { label: 'p384', algorithm: 'ECDSA-SHA384', format: 'raw', length: 96 },
  { label: 'p384', algorithm: 'ECDSA-SHA384', format: 'der' },
  { label: 'rsa2048', algorithm: 'RSA-PKCS1-SHA256', format: 'raw', length: 256 },
  { label: 'rsa2048', algorithm: 'RSA-PSS-SHA256', format: 'raw', length: 256 },
  { label: 'ed25519', algorithm: 'Ed25519', format: 'raw', length: 64 },
];

function nodeVerifies(c: Case, pem: string, data: Buffer, sig: Buffer): boolean {
  const key = createPublicKey(pem);
  switch (c.algorithm) {
    case 'ECDSA-SHA256':
    case 'ECDSA-SHA384':
      return verify(c.algorithm === 'ECDSA-SHA256' ? 'sha256' : 'sha384', data, { key, dsaEncoding: c.format === 'der' ? 'der' : 'ieee-p1363' }, sig);
    case 'RSA-PKCS1-SHA256':
      return verify('sha256', data, { key, padding: constants.RSA_PKCS1_PADDING }, sig);
    case 'RSA-PSS-SHA256':
      return verify('sha256', data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, sig);
    case 'Ed25519':
      return verify(null, data, key, sig);
  }
}

let fileCounter = 0;

/** Runs the openssl command line on the signature; true when it prints success and exits 0. */
function opensslVerifies(c: Case, pem: string, data: Buffer, sig: Buffer): boolean {
  const n = ++fileCounter;
  const pub = join(workDir, `pub-${n}.pem`);
  const dataFile = join(workDir, `data-${n}.bin`);
  const sigFile = join(workDir, `sig-${n}.bin`);
  writeFileSync(pub, pem);
  writeFileSync(dataFile, data);
  // openssl wants DER ECDSA signatures: convert raw ones with the converter above.
  writeFileSync(sigFile, c.algorithm.startsWith('ECDSA') && c.format === 'raw' ? p1363ToDer(sig) : sig);
  let args: string[];
  switch (c.algorithm) {
    case 'ECDSA-SHA256':
    case 'RSA-PKCS1-SHA256':
      args = ['dgst', '-sha256', '-verify', pub, '-signature', sigFile, dataFile];
      break;
    case 'ECDSA-SHA384':
      args = ['dgst', '-sha384', '-verify', pub, '-signature', sigFile, dataFile];
      break;
    case 'RSA-PSS-SHA256':
      args = ['dgst', '-sha256', '-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:32', '-verify', pub, '-signature', sigFile, dataFile];
      break;
    case 'Ed25519':
      args = ['pkeyutl', '-verify', '-pubin', '-inkey', pub, '-rawin', '-in', dataFile, '-sigfile', sigFile];
      break;
  }
  try {
    const out = execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
    return /Verified OK|Signature Verified Successfully/.test(out);
  } catch {
    return false; // openssl exits non-zero on a bad signature
  }
}

function tamper(buf: Buffer, index = 0): Buffer {
  const copy = Buffer.from(buf);
  copy[index % copy.length]! ^= 0x01;
  return copy;
}

// --- the tests --------------------------------------------------------------------------------

describe.each(CASES)('$algorithm ($format) with $label', (c) => {
  it('signs a random challenge verifiably by node:crypto, openssl and verifySignature', async () => {
    const pem = fixtureKey(c.label).publicKeyPem;
    const challenge = randomBytes(32);
    const sig = await session.signChallenge({ label: c.label }, challenge, { algorithm: c.algorithm, format: c.format });
    expect(Buffer.isBuffer(sig)).toBe(true);
    if (c.length !== undefined) expect(sig.length).toBe(c.length);
    if (c.format === 'der') expect(sig[0]).toBe(0x30);

    expect(nodeVerifies(c, pem, challenge, sig)).toBe(true);
    expect(opensslVerifies(c, pem, challenge, sig)).toBe(true);
    expect(verifySignature(pem, challenge, sig, { algorithm: c.algorithm, format: c.format })).toBe(true);
  });

  it('fails verification for a tampered challenge or signature, everywhere', async () => {
    const pem = fixtureKey(c.label).publicKeyPem;
    const challenge = randomBytes(48);
    const sig = await session.signChallenge({ label: c.label }, challenge, { algorithm: c.algorithm, format: c.format });
    const opts = { algorithm: c.algorithm, format: c.format };

    const badChallenge = tamper(challenge, 7);
    expect(nodeVerifies(c, pem, badChallenge, sig)).toBe(false);
    expect(opensslVerifies(c, pem, badChallenge, sig)).toBe(false);
    expect(verifySignature(pem, badChallenge, sig, opts)).toBe(false);

    // Flip a bit well inside the signature value (past any DER header).
    const badSig = tamper(sig, sig.length - 5);
    expect(nodeVerifies(c, pem, challenge, badSig)).toBe(false);
    expect(opensslVerifies(c, pem, challenge, badSig)).toBe(false);
    expect(verifySignature(pem, challenge, badSig, opts)).toBe(false);

    // A signature that is not even the right shape is a `false`, not an exception.
    expect(verifySignature(pem, challenge, sig.subarray(0, 10), opts)).toBe(false);
    expect(verifySignature(pem, challenge, new Uint8Array(0), opts)).toBe(false);
  });

  it('is not accepted under another key', async () => {
    const other = c.label === 'p256' ? 'p384' : 'p256';
    const challenge = randomBytes(32);
    const sig = await session.signChallenge({ label: c.label }, challenge, { algorithm: c.algorithm, format: c.format });
    expect(verifySignature(fixtureKey(other).publicKeyPem, challenge, sig, { algorithm: c.algorithm, format: c.format })).toBe(false);
  });
});

describe('signChallenge details', () => {
  it('uses the key’s default algorithm: ECDSA with the curve’s hash, PKCS#1 v1.5 for RSA, raw format', async () => {
    const challenge = randomBytes(20);
    const expectations: Array<[string, Case]> = [
      ['p256', { label: 'p256', algorithm: 'ECDSA-SHA256', format: 'raw' }],
      ['p384', { label: 'p384', algorithm: 'ECDSA-SHA384', format: 'raw' }],
      ['rsa2048', { label: 'rsa2048', algorithm: 'RSA-PKCS1-SHA256', format: 'raw' }],
      ['ed25519', { label: 'ed25519', algorithm: 'Ed25519', format: 'raw' }],
    ];
    for (const [label, c] of expectations) {
      const sig = await session.signChallenge({ label }, challenge);
      expect(nodeVerifies(c, fixtureKey(label).publicKeyPem, challenge, sig), label).toBe(true);
    }
  });

  it('signs a string challenge as its UTF-8 bytes', async () => {
    const text = `nonce-${randomBytes(8).toString('hex')}-ü€`;
    const sig = await session.signChallenge({ label: 'p256' }, text);
    const c: Case = { label: 'p256', algorithm: 'ECDSA-SHA256', format: 'raw' };
    expect(nodeVerifies(c, fixtureKey('p256').publicKeyPem, Buffer.from(text, 'utf8'), sig)).toBe(true);
    expect(verifySignature(fixtureKey('p256').publicKeyPem, text, sig, { algorithm: 'ECDSA-SHA256' })).toBe(true);
  });

  it('signs exactly the bytes of a Uint8Array view into a larger buffer', async () => {
    const backing = randomBytes(100);
    const view = new Uint8Array(backing.buffer, backing.byteOffset + 30, 40);
    for (const c of [CASES[0]!, CASES[4]!, CASES[6]!]) {
      const sig = await session.signChallenge({ label: c.label }, view, { algorithm: c.algorithm, format: c.format });
      expect(nodeVerifies(c, fixtureKey(c.label).publicKeyPem, Buffer.from(view), sig), c.algorithm).toBe(true);
    }
  });

  it('signs with a TokenKey found once and reused', async () => {
    const key = await session.findPrivateKey({ id: '03' });
    const challenge = randomBytes(32);
    const sig = await session.signChallenge(key, challenge, { algorithm: 'RSA-PSS-SHA256' });
    expect(nodeVerifies(CASES[5]!, fixtureKey('rsa2048').publicKeyPem, challenge, sig)).toBe(true);
  });

  it('signs large challenges', async () => {
    const challenge = randomBytes(64 * 1024);
    for (const c of CASES) {
      const sig = await session.signChallenge({ label: c.label }, challenge, { algorithm: c.algorithm, format: c.format });
      expect(nodeVerifies(c, fixtureKey(c.label).publicKeyPem, challenge, sig), `${c.algorithm} ${c.format}`).toBe(true);
    }
  });

  it('runs many concurrent signChallenge calls on ONE session without CKR_OPERATION_ACTIVE', async () => {
    const jobs = Array.from({ length: 70 }, (_, i) => {
      const c = CASES[i % CASES.length]!;
      const challenge = randomBytes(16 + (i % 17));
      return { c, challenge, promise: session.signChallenge({ label: c.label }, challenge, { algorithm: c.algorithm, format: c.format }) };
    });
    // Other work on the same session interleaved with the signatures.
    const side = [session.listKeys(), session.findCertificate({ label: 'p256' }), session.isLoggedIn()];
    const results = await Promise.allSettled(jobs.map((j) => j.promise));
    const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as { code?: string; rvName?: string }] : []));
    expect(failures.map((f) => `${f.code}/${f.rvName}`)).toEqual([]);
    results.forEach((r, i) => {
      const { c, challenge } = jobs[i]!;
      const sig = (r as PromiseFulfilledResult<Buffer>).value;
      expect(nodeVerifies(c, fixtureKey(c.label).publicKeyPem, challenge, sig), `job ${i} ${c.algorithm}`).toBe(true);
    });
    const [keys, cert, loggedIn] = await Promise.all(side);
    expect((keys as unknown[]).length).toBe(4);
    expect(cert).toBeDefined();
    expect(loggedIn).toBe(true);
  });

  it('keeps the session usable after a failed operation in the queue', async () => {
    const bad = session.signChallenge({ label: 'nope' }, 'x');
    const good = session.signChallenge({ label: 'p256' }, 'after');
    await expect(bad).rejects.toMatchObject({ code: 'ERR_KEY_NOT_FOUND' });
    const sig = await good;
    expect(verifySignature(fixtureKey('p256').publicKeyPem, 'after', sig, { algorithm: 'ECDSA-SHA256' })).toBe(true);
  });
});

describe('verifySignature', () => {
  it('accepts the public key in every supported form', async () => {
    const challenge = randomBytes(32);
    for (const c of [CASES[0]!, CASES[2]!, CASES[4]!, CASES[6]!]) {
      const fk = fixtureKey(c.label);
      const sig = await session.signChallenge({ label: c.label }, challenge, { algorithm: c.algorithm });
      const keyObject: KeyObject = createPublicKey(fk.publicKeyPem);
      const spki = keyObject.export({ type: 'spki', format: 'der' });
      const importAlg =
        c.algorithm === 'Ed25519'
          ? { name: 'Ed25519' }
          : c.algorithm.startsWith('RSA')
            ? { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }
            : { name: 'ECDSA', namedCurve: c.label === 'p256' ? 'P-256' : 'P-384' };
      const forms = {
        pem: fk.publicKeyPem,
        keyObject,
        spki: new Uint8Array(spki),
        cryptoKey: await webcrypto.subtle.importKey('spki', spki, importAlg, true, ['verify']),
        peculiarCertificate: new X509Certificate(fk.certificatePem),
        nodeCertificate: new NodeX509(fk.certificatePem),
        tokenPublicKey: await session.publicKey({ label: c.label }),
      };
      for (const [form, key] of Object.entries(forms)) {
        expect(verifySignature(key, challenge, sig, { algorithm: c.algorithm }), `${c.algorithm} ${form}`).toBe(true);
        expect(verifySignature(key, tamper(challenge), sig, { algorithm: c.algorithm }), `${c.algorithm} ${form} tampered`).toBe(false);
      }
    }
  });

  it('does not accept a signature under the wrong algorithm or format', async () => {
    const challenge = randomBytes(32);
    const rsaPem = fixtureKey('rsa2048').publicKeyPem;
    const pss = await session.signChallenge({ label: 'rsa2048' }, challenge, { algorithm: 'RSA-PSS-SHA256' });
    const pkcs1 = await session.signChallenge({ label: 'rsa2048' }, challenge, { algorithm: 'RSA-PKCS1-SHA256' });
    expect(verifySignature(rsaPem, challenge, pss, { algorithm: 'RSA-PKCS1-SHA256' })).toBe(false);
    expect(verifySignature(rsaPem, challenge, pkcs1, { algorithm: 'RSA-PSS-SHA256' })).toBe(false);

    const p256Pem = fixtureKey('p256').publicKeyPem;
    const raw = await session.signChallenge({ label: 'p256' }, challenge, { algorithm: 'ECDSA-SHA256', format: 'raw' });
    const der = await session.signChallenge({ label: 'p256' }, challenge, { algorithm: 'ECDSA-SHA256', format: 'der' });
    expect(verifySignature(p256Pem, challenge, raw, { algorithm: 'ECDSA-SHA256', format: 'der' })).toBe(false);
    expect(verifySignature(p256Pem, challenge, der, { algorithm: 'ECDSA-SHA256', format: 'raw' })).toBe(false);
    expect(verifySignature(p256Pem, challenge, raw, { algorithm: 'ECDSA-SHA384' })).toBe(false);
    // An RSA key cannot verify an ECDSA signature, and that is a `false` too.
    expect(verifySignature(rsaPem, challenge, raw, { algorithm: 'ECDSA-SHA256' })).toBe(false);
  });

  it('verifySignatureAsync (on the thread pool) agrees with it: valid, tampered, other format, truncated', async () => {
    const challenge = randomBytes(32);
    for (const c of CASES) {
      const pem = fixtureKey(c.label).publicKeyPem;
      const sig = await session.signChallenge({ label: c.label }, challenge, { algorithm: c.algorithm, format: c.format });
      const opts = { algorithm: c.algorithm, format: c.format };
      const otherFormat = { algorithm: c.algorithm, format: c.format === 'der' ? ('raw' as const) : ('der' as const) };
      const checks: Array<[Uint8Array, Uint8Array, typeof opts]> = [
        [challenge, sig, opts],
        [tamper(challenge), sig, opts],
        [challenge, sig.subarray(0, 10), opts],
        [challenge, new Uint8Array(0), opts],
        [challenge, sig, otherFormat],
      ];
      const sync = checks.map(([data, signature, o]) => verifySignature(pem, data, signature, o));
      const pooled = await Promise.all(checks.map(([data, signature, o]) => verifySignatureAsync(pem, data, signature, o)));
      expect(pooled, `${c.label} ${c.algorithm} ${String(c.format)}`).toEqual(sync);
      expect(pooled.slice(0, 4)).toEqual([true, false, false, false]);
    }
    await expect(verifySignatureAsync(fixtureKey('p256').publicKeyPem, 'x', Buffer.alloc(64), { algorithm: 'ECDSA-SHA1' as SignatureAlgorithm })).rejects.toMatchObject({
      code: 'ERR_INVALID_ARGUMENT',
    });
  });

  it('refuses an unknown algorithm and an empty challenge with ERR_INVALID_ARGUMENT', () => {
    const pem = fixtureKey('p256').publicKeyPem;
    expect(() => verifySignature(pem, 'x', Buffer.alloc(64), { algorithm: 'ECDSA-SHA1' as SignatureAlgorithm })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }),
    );
    expect(() => verifySignature(pem, '', Buffer.alloc(64), { algorithm: 'ECDSA-SHA256' })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }),
    );
  });

  it('refuses a key it cannot read with ERR_INVALID_ARGUMENT (a caller error, not a failed check)', () => {
    for (const key of ['not a key', randomBytes(40), {} as never, 42 as never]) {
      expect(() => verifySignature(key, 'x', Buffer.alloc(64), { algorithm: 'ECDSA-SHA256' })).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }),
      );
    }
  });
});
