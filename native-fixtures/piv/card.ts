// Test-side controller of an emulated PIV card: makes its P-256 key and certificate, starts the
// card in a process of its own connected to vpcd, and pulls it out or puts it back on request.
import { fork, type ChildProcess } from 'node:child_process';
import { createPublicKey, webcrypto, type KeyObject } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { p256 } from '@noble/curves/nist.js';
import { x509, type X509Certificate } from '../../src/algorithms/x509.js';
import type { FromCard, ToCard } from './card-process.js';
import { randomGuid } from './applet.js';

export interface PivCardOptions {
  /** vpcd's port (from startPcscd). */
  port: number;
  host?: string;
  pin?: string;
  puk?: string;
  pinTries?: number;
  pukTries?: number;
  /** Start with fewer tries left (1: on the final try; 0: locked). */
  pinTriesLeft?: number;
  pukTriesLeft?: number;
  /** The holder's name: the certificate's CN, which OpenSC shows as the token label. */
  holder?: string;
}

export interface PivCardState {
  pinTriesLeft: number;
  pukTriesLeft: number;
  verified: boolean;
  inserted: boolean;
}

export interface PivCard extends AsyncDisposable {
  readonly holder: string;
  readonly certificate: X509Certificate;
  readonly certificatePem: string;
  readonly publicKey: KeyObject;
  /** OpenSC's token serial for this card: the last 8 bytes of the CHUID's GUID, in hex (the GUID's hex, cut to the 16 characters CK_TOKEN_INFO holds). */
  readonly serial: string;
  /** Pulls the card out; resolves once pcscd has seen it go (see VpcdLink.pull). */
  remove(): Promise<void>;
  /** Puts it back: a fresh power-on, nothing verified. */
  insert(): Promise<void>;
  state(): Promise<PivCardState>;
  stop(): Promise<void>;
}

const CARD_PROCESS = join(dirname(fileURLToPath(import.meta.url)), 'card-process.ts');
const b64url = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');

async function makeCertificate(secretKey: Uint8Array, holder: string): Promise<X509Certificate> {
  const point = p256.getPublicKey(secretKey, false);
  const jwk = { kty: 'EC', crv: 'P-256', x: b64url(point.subarray(1, 33)), y: b64url(point.subarray(33)) };
  const keys = {
    privateKey: await webcrypto.subtle.importKey('jwk', { ...jwk, d: b64url(secretKey) }, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']),
    publicKey: await webcrypto.subtle.importKey('jwk', jwk, { name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify']),
  };
  return x509.X509CertificateGenerator.createSelfSigned(
    {
      name: `CN=${holder}`,
      keys,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 365 * 86_400_000),
      extensions: [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)],
    },
    webcrypto as unknown as Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[1],
  );
}

export async function startPivCard(options: PivCardOptions): Promise<PivCard> {
  const holder = options.holder ?? 'PIV Test Holder';
  const secretKey = p256.utils.randomSecretKey();
  const certificate = await makeCertificate(secretKey, holder);
  const guid = randomGuid();
  const child: ChildProcess = fork(CARD_PROCESS, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let nextId = 1;
  const pending = new Map<number, { resolve(state: unknown): void; reject(err: Error): void }>();
  let started: { resolve(): void; reject(err: Error): void } | undefined;
  child.on('message', (message: FromCard) => {
    if (message.type === 'started') started?.resolve();
    else if (message.type === 'done') pending.get(message.id)?.resolve(message.state);
    else if (message.type === 'error') {
      const err = new Error(`emulated card: ${message.message}`);
      if (message.id !== undefined) pending.get(message.id)?.reject(err);
      else started?.reject(err);
    }
  });
  child.once('exit', (code) => {
    const err = new Error(`emulated card process exited (${code})`);
    started?.reject(err);
    for (const p of pending.values()) p.reject(err);
  });
  const request = (type: 'remove' | 'insert' | 'state'): Promise<unknown> => {
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      child.send({ type, id } satisfies ToCard);
    }).finally(() => pending.delete(id));
  };
  const start: ToCard = {
    type: 'start',
    host: options.host ?? '127.0.0.1',
    port: options.port,
    card: {
      pin: options.pin ?? '123456',
      puk: options.puk ?? '12345678',
      pinTries: options.pinTries ?? 3,
      pukTries: options.pukTries ?? 3,
      ...(options.pinTriesLeft === undefined ? {} : { pinTriesLeft: options.pinTriesLeft }),
      ...(options.pukTriesLeft === undefined ? {} : { pukTriesLeft: options.pukTriesLeft }),
      secretKey: Buffer.from(secretKey).toString('hex'),
      certificate: Buffer.from(certificate.rawData).toString('base64'),
      guid: guid.toString('hex'),
    },
  };
  await new Promise<void>((resolve, reject) => {
    started = { resolve, reject };
    child.send(start);
  });
  started = undefined;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      const killer = setTimeout(() => child.kill('SIGKILL'), 3_000);
      child.once('exit', () => clearTimeout(killer));
      if (child.connected) child.send({ type: 'stop' } satisfies ToCard);
      else child.kill('SIGTERM');
    }));
  return {
    holder,
    certificate,
    certificatePem: certificate.toString('pem'),
    publicKey: createPublicKey({ key: Buffer.from(certificate.publicKey.rawData), format: 'der', type: 'spki' }),
    serial: guid.subarray(8).toString('hex'),
    remove: async () => void (await request('remove')),
    insert: async () => void (await request('insert')),
    state: async () => (await request('state')) as PivCardState,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
