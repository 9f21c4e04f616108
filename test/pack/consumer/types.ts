// Type-checked (never run) beside the README's own examples (readme-examples.mjs), against the
// packed declarations in a project that installed the tarball, with skipLibCheck off, once with
// the oldest and once with the newest @types/node: what those examples cannot say. `notAny` fails
// when a public type degrades to `any` (as PublicKey.jwk() did when @types/node dropped
// JsonWebKey), which an example that compiles would not notice; and the APIs the README names
// without an example (the WebCrypto adapter, the server builder). "DOM" is in `lib` because
// @peculiar/x509's declarations (whose X509Certificate is in our public types) name WebCrypto's
// globals (CryptoKey, BufferSource, Algorithm) that @types/node alone does not declare.
import { webcrypto } from 'node:crypto';
import { tokenCrypto, tokenKeyPair, type Session, type TokenCertificate, type TokenKey } from 'tokengate';
import { signInWithToken, VerifierClient } from 'tokengate/client';
import { buildVerifierServer, type LoginResult, type Verifier } from 'tokengate/verifier';

type IsAny<T> = 0 extends 1 & T ? true : false;
type NotAny<T> = IsAny<T> extends true ? never : T;
function notAny<T>(value: NotAny<T>): T {
  return value;
}

export async function tokenSide(session: Session, privateKey: TokenKey, certificate: TokenCertificate, challenge: Uint8Array): Promise<void> {
  const publicKey = await session.publicKey(privateKey);
  const kty: string | undefined = notAny(publicKey.jwk()).kty;
  const crv: string | undefined = notAny(certificate.publicKey.jwk()).crv;
  const cryptoKey: webcrypto.CryptoKey = notAny(await publicKey.cryptoKey());
  await webcrypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, cryptoKey, new Uint8Array(64), new Uint8Array(challenge));
  const pair = await tokenKeyPair(session, privateKey);
  const signed: ArrayBuffer = notAny(await tokenCrypto().subtle.sign(pair.signingAlgorithm, pair.privateKey, new Uint8Array(challenge)));
  const verifyKey: webcrypto.CryptoKey = notAny(pair.publicKey);
  console.log(kty, crv, signed.byteLength, verifyKey.type);
}

export async function clientSide(url: string, session: Session, key: TokenKey, serial: string): Promise<string> {
  const who = notAny(await signInWithToken(new VerifierClient(url), session, key, { username: 'dana', credential: { serial } }));
  return who.username;
}

export async function verifierSide(verifier: Verifier): Promise<LoginResult> {
  const server = await buildVerifierServer(verifier, { requestTimeoutMs: 10_000, connectionsPerAddress: 64, maxConnections: 1024 });
  await server.close();
  return notAny(await verifier.login({ username: 'alice', password: 'correct horse battery', clientIp: '192.0.2.1' }));
}
