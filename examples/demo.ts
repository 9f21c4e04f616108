// `npm run demo:sign`: prepares a SoftHSM token of its own (under .state/demo), lists the tokens,
// and has each key on it sign a fresh challenge that is then verified against the certificate read
// back from the token. (The Quick start's demo is the kiosk: examples/kiosk/demo.ts.)
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSoftHsm } from '../native-fixtures/softhsm/softhsm.js';
import { Pkcs11Module, defaultAlgorithm, verifySignature } from '../src/index.js';

const stateDir = join(fileURLToPath(new URL('..', import.meta.url)), '.state', 'demo');
const fixture = await createSoftHsm({ dir: stateDir, tokens: [{ label: 'tokengate-demo' }] });
const { userPin } = fixture.tokens[0]!;

await using module = await Pkcs11Module.load(fixture.modulePath);
const info = module.info();
console.log(`module: ${info.description} ${info.libraryVersion} (${info.manufacturer}), Cryptoki ${info.cryptokiVersion}`);
console.log('\ntokens:');
console.table(
  module.tokens().map((t) => ({
    label: t.flags.tokenInitialized ? t.label : '(uninitialised)',
    serial: t.serial,
    model: t.model,
    pin: t.pinStatus,
    soPin: t.soPinStatus,
  })),
);

const token = module.token({ label: 'tokengate-demo' });
await using session = await token.openSession();
await session.login(userPin);

const challenge = randomBytes(32);
console.log(`\nchallenge: ${challenge.toString('hex')}`);
let failures = 0;
for (const key of await session.listKeys()) {
  const algorithm = defaultAlgorithm(key);
  const started = process.hrtime.bigint();
  const signature = await session.signChallenge(key, challenge, { algorithm });
  const micros = Number(process.hrtime.bigint() - started) / 1000;
  const { certificate } = await session.findCertificate({ id: key.id });
  const ok = verifySignature(certificate, challenge, signature, { algorithm });
  if (!ok) failures++;
  console.log(
    `${key.label.padEnd(8)} ${algorithm.padEnd(17)} ${String(signature.length).padStart(3)} bytes  ${micros.toFixed(0).padStart(6)} µs  ` +
      `verified against "${certificate.subject}": ${ok ? 'OK' : 'FAILED'}`,
  );
}
console.log(failures === 0 ? '\nall signatures verified' : `\n${failures} signature(s) FAILED`);
process.exitCode = failures === 0 ? 0 : 1;
