// Run inside an empty project that installed the packed tarball, by the Node under test:
// a SoftHSM signature through `tokengate`, concurrent signatures through its session pool (whose
// workers, on a software token, are processes started from the installed package), and a verifier
// login through `tokengate/verifier`.
// One line per check; the first failure exits 1 with what was expected and what happened.
// Environment (from check-package.sh): SOFTHSM2_CONF (a token labelled TOKEN_LABEL with the user PIN
// TOKEN_PIN, initialised by softhsm2-util), SOFTHSM2_MODULE, PACK_WORK (a scratch directory).
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const { SOFTHSM2_MODULE, TOKEN_LABEL, TOKEN_PIN, PACK_WORK } = process.env;
const tag = `node ${process.version}`;

function check(name, ok, detail) {
  if (!ok) {
    console.log(`FAIL ${tag}: ${name}: ${detail}`);
    process.exit(1);
  }
  console.log(`ok ${tag}: ${name}`);
}

async function signature() {
  const { Pkcs11Module, verifySignature } = await import('tokengate');
  // try/finally, not `await using`: plain JavaScript on Node 20 and 22 has no explicit resource management.
  const module = await Pkcs11Module.load(SOFTHSM2_MODULE);
  try {
    const session = await module.token({ label: TOKEN_LABEL }).openSession({ write: true });
    try {
      await session.login(TOKEN_PIN);
      const { privateKey, publicKey } = await session.generateKeyPair({ type: 'ec-p256', label: 'pack-check' });
      const challenge = Buffer.from(`pack check ${Date.now()}`);
      const signature = await session.signChallenge(privateKey, challenge);
      check('SoftHSM ECDSA P-256 signature is 64 bytes (r‖s)', signature.length === 64, `got ${signature.length} bytes`);
      check('verifySignature accepts it', verifySignature(publicKey, challenge, signature, { algorithm: 'ECDSA-SHA256' }) === true, 'returned false');
      const other = Buffer.concat([challenge, Buffer.from('!')]);
      check('verifySignature refuses it for another challenge', verifySignature(publicKey, other, signature, { algorithm: 'ECDSA-SHA256' }) === false, 'returned true');
      const jwk = publicKey.jwk();
      check('PublicKey.jwk() is an EC P-256 JWK', jwk.kty === 'EC' && jwk.crv === 'P-256' && typeof jwk.x === 'string', JSON.stringify({ kty: jwk.kty, crv: jwk.crv }));
    } finally {
      await session.close();
    }
    await poolSignatures(module);
  } finally {
    await module.close();
  }
}

async function poolSignatures(module) {
  const { verifySignature } = await import('tokengate');
  const pool = await module.token({ label: TOKEN_LABEL }).openPool({ pin: TOKEN_PIN });
  try {
    check('the session pool signs in worker processes on SoftHSM', pool.workerKind === 'process' && pool.workers > 0, `${pool.workerKind}, ${pool.workers} workers`);
    const publicKey = await pool.publicKey({ label: 'pack-check' });
    const challenges = Array.from({ length: 200 }, (_, i) => Buffer.from(`pool check ${i}`));
    const signatures = await Promise.all(challenges.map((c) => pool.signChallenge({ label: 'pack-check' }, c)));
    const good = signatures.filter((sig, i) => verifySignature(publicKey, challenges[i], sig, { algorithm: 'ECDSA-SHA256' })).length;
    check('200 concurrent pool signatures all verify', good === 200, `${good} of 200 verified`);
  } finally {
    await pool.close();
  }
  check('closing the pool ends its workers', pool.workers === 0, `${pool.workers} still running`);
}

function securityTokenIn(outbox) {
  const files = readdirSync(outbox).filter((f) => f.endsWith('.eml'));
  if (files.length !== 1) throw new Error(`expected one mail in the outbox, found ${files.length}`);
  const match = /Security token(?: "[^"]+")?: ([A-Za-z0-9]+)/.exec(readFileSync(join(outbox, files[0]), 'utf8'));
  if (!match) throw new Error('no security token in the mail');
  return match[1];
}

async function verifierLogin() {
  const { Verifier, ServerSecret, InvalidCredentialsError } = await import('tokengate/verifier');
  const dir = join(PACK_WORK, `verifier-${process.versions.node}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const outbox = join(dir, 'outbox');
  const verifier = await Verifier.open({
    database: join(dir, 'verifier.sqlite'),
    secret: ServerSecret.generate(),
    mail: { from: 'verifier@example.test', transport: { kind: 'outbox', dir: outbox } },
  });
  try {
    const password = `pack-check password ${process.pid}`;
    const user = await verifier.admin.create('pack-check', { username: 'alice', email: 'alice@example.test', password });
    await verifier.deliverMail();
    const securityToken = securityTokenIn(outbox);
    check('a new user is mailed a 24-character security token', securityToken.length === 24, `got ${securityToken.length} characters`);

    const login = await verifier.login({ username: 'alice', password, securityToken, clientIp: '203.0.113.9' });
    check('password + security token logs alice in', login.username === 'alice' && login.userId === user.id && login.via.kind === 'security-token', JSON.stringify(login));

    const wrong = securityToken.slice(0, -1) + (securityToken.endsWith('A') ? 'B' : 'A');
    const refusal = await verifier.login({ username: 'alice', password, securityToken: wrong, clientIp: '203.0.113.9' }).then(
      () => undefined,
      (err) => err,
    );
    check('a wrong security token is refused with ERR_INVALID_CREDENTIALS', refusal instanceof InvalidCredentialsError && refusal.code === 'ERR_INVALID_CREDENTIALS', String(refusal));

    await verifier.organisation.addTrustedRange('pack-check', '198.51.100.0/24');
    const trusted = await verifier.login({ username: 'alice', password, clientIp: '198.51.100.7' });
    check('the password alone logs alice in from a trusted range', trusted.userId === user.id && trusted.via.kind === 'trusted-range', JSON.stringify(trusted));
  } finally {
    await verifier.close();
  }
}

try {
  await signature();
  await verifierLogin();
} catch (err) {
  console.log(`FAIL ${tag}: ${err?.stack ?? err}`);
  process.exit(1);
}
