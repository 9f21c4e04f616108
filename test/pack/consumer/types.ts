// Type-checked (never run) against the packed declarations in a project that installed the
// tarball, with skipLibCheck off, once with the oldest and once with the newest @types/node:
// every entry point's main API, written as the README writes it. "DOM" is in `lib` because
// @peculiar/x509's declarations (whose X509Certificate is in our public types) name WebCrypto's
// globals (CryptoKey, BufferSource, Algorithm) that @types/node alone does not declare. `Exact` lines fail when a
// public type degrades to `any` (as PublicKey.jwk() did when @types/node dropped JsonWebKey).
import { webcrypto } from 'node:crypto';
import {
  createCertificateRequest,
  createSelfSignedCertificate,
  FinalTryRefusedError,
  Pkcs11Module,
  PinIncorrectError,
  TokengateError,
  tokenCrypto,
  tokenKeyPair,
  verifySignature,
  verifySignatureAsync,
  type PublicKey,
  type TokenCertificate,
} from 'tokengate';
import { enrollToken, signInWithToken, VerifierClient, VerifierRefusedError } from 'tokengate/client';
import { buildVerifierServer, InvalidCredentialsError, ServerSecret, Verifier, type LoginResult } from 'tokengate/verifier';

type IsAny<T> = 0 extends 1 & T ? true : false;
type NotAny<T> = IsAny<T> extends true ? never : T;
function notAny<T>(value: NotAny<T>): T {
  return value;
}

export async function tokenSide(path: string, pin: string, challenge: Uint8Array): Promise<boolean> {
  await using module = await Pkcs11Module.load(path);
  const token = module.token({ label: 'door-17' });
  await using session = await token.openSession({ write: true });
  try {
    await session.login(pin);
  } catch (err) {
    if (err instanceof PinIncorrectError) console.log(err.retriesLeft);
    if (err instanceof FinalTryRefusedError) await session.login(pin, { allowFinalTry: true });
    else if (err instanceof TokengateError) console.log(err.code);
    throw err;
  }
  const { privateKey, publicKey } = await session.generateKeyPair({ type: 'ec-p256', label: 'door-key' });
  const jwk = notAny(publicKey.jwk());
  const kty: string | undefined = jwk.kty;
  const certJwk = notAny((null as unknown as TokenCertificate).publicKey.jwk());
  const crv: string | undefined = certJwk.crv;
  const cryptoKey: webcrypto.CryptoKey = notAny(await publicKey.cryptoKey());
  await webcrypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, cryptoKey, new Uint8Array(64), new Uint8Array(challenge));
  const cert = await createSelfSignedCertificate(session, privateKey, { subject: 'CN=Door 17' });
  await session.importCertificate(cert, { label: 'door-key', id: privateKey.id });
  await createCertificateRequest(session, privateKey, { subject: 'CN=Door 17' });
  const { certificate } = await session.findCertificate({ id: privateKey.id });
  const pair = await tokenKeyPair(session, privateKey);
  const signed: ArrayBuffer = await tokenCrypto().subtle.sign(pair.signingAlgorithm, pair.privateKey, new Uint8Array(challenge));
  const verifyKey: webcrypto.CryptoKey = pair.publicKey;
  const signature = await session.signChallenge(privateKey, challenge);
  const key: PublicKey = publicKey;
  console.log(kty, crv, signed.byteLength, verifyKey.type);
  return verifySignature(key, challenge, signature, { algorithm: 'ECDSA-SHA256' }) && (await verifySignatureAsync(certificate, challenge, signature, { algorithm: 'ECDSA-SHA256' }));
}

export async function clientSide(url: string, apiKey: string, path: string, pin: string): Promise<string> {
  await using module = await Pkcs11Module.load(path);
  const token = module.token({ label: 'door-17' });
  await using session = await token.openSession({ write: true });
  await session.login(pin);
  const admin = new VerifierClient(url, { apiKey });
  const { credential, key } = await enrollToken(admin, session, {
    username: 'dana',
    key: { generate: { type: 'ec-p256', label: 'door' }, subject: 'CN=Dana' },
    serial: token.serial,
  });
  try {
    const who = await signInWithToken(new VerifierClient(url), session, key, { username: 'dana', credential: { serial: token.serial } });
    return `${who.username} ${credential.id}`;
  } catch (err) {
    if (err instanceof VerifierRefusedError) return err.code;
    throw err;
  }
}

export async function verifierSide(database: string): Promise<LoginResult | undefined> {
  await using verifier = await Verifier.open({
    database,
    secret: ServerSecret.generate(),
    mail: { from: 'it@example.com', transport: { kind: 'outbox', dir: '/tmp/outbox' } },
  });
  const server = await buildVerifierServer(verifier, { requestTimeoutMs: 10_000 });
  await server.close();
  await verifier.admin.create('admin', { username: 'alice', email: 'alice@example.test', password: 'correct horse battery' });
  try {
    return notAny(await verifier.login({ username: 'alice', password: 'correct horse battery', securityToken: 'x'.repeat(24), clientIp: '192.0.2.1' }));
  } catch (err) {
    if (err instanceof InvalidCredentialsError) return undefined;
    throw err;
  }
}
