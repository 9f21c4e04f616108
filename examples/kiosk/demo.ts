// The kiosk, played as a story with no one at the keyboard: a SoftHSM card of its own, a
// simulated USB security key (native-fixtures/fido: real CTAP2, in memory), the embedded verifier
// (SQLite, HTTP on loopback), and scripted PIN entries. Each step prints what a
// person at the door would see and checks it is what should happen; the exit code says whether
// all did. `npm run demo` (the README's Quick start) runs this.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SimulatedAuthenticator } from '../../native-fixtures/fido/authenticator.js';
import { createSoftHsm } from '../../native-fixtures/softhsm/softhsm.js';
import { Blocklist, FidoHardwareToken, HostLockout, Pkcs11Module, SecurityKey, type HardwareToken, type Token } from '../../src/index.js';
import { VerifierClient, enrollSecurityKey, enrollToken } from '../../src/client/index.js';
import { ServerSecret, Verifier, buildVerifierServer } from '../../src/verifier/index.js';
import { describeVerdict, Kiosk, type DenyReason, type PinPrompt, type PinSource } from './kiosk.js';

const root = join(fileURLToPath(new URL('../..', import.meta.url)), '.state', 'kiosk-demo');
rmSync(root, { recursive: true, force: true });

/** The answers someone would type, in order; each prompt is printed with the PIN masked. */
class ScriptedPins implements PinSource {
  readonly #answers: Array<string | boolean> = [];
  say(...answers: Array<string | boolean>): void {
    this.#answers.push(...answers);
  }
  async pin(prompt: PinPrompt): Promise<string> {
    const answer = this.#answers.shift();
    if (typeof answer !== 'string') throw new Error('the script has no PIN for this prompt');
    const left = prompt.retriesLeft === undefined ? '' : ` (${prompt.retriesLeft} ${prompt.retriesLeft === 1 ? 'try' : 'tries'} left)`;
    const whose = prompt.kind === 'fido' ? `security key "${prompt.tokenLabel}"` : `card "${prompt.tokenLabel}" of ${prompt.holder}`;
    // The same mask whatever was typed: not even a PIN's length reaches the output.
    console.log(`  ${whose} — PIN${left}: ********`);
    return answer;
  }
  async confirmFinalTry(prompt: PinPrompt): Promise<boolean> {
    const answer = this.#answers.shift();
    if (typeof answer !== 'boolean') throw new Error('the script has no answer for the final-try question');
    console.log(`  last try: a wrong PIN now locks the ${prompt.kind === 'fido' ? 'key' : 'card'}. Go on? ${answer ? 'yes' : 'no'}`);
    return answer;
  }
  touch(): void {
    console.log('  touch your key… (touched)');
  }
}

const RP = 'door.example.com';
const KEY_PIN = '5173-key';

const fixture = await createSoftHsm({ dir: join(root, 'softhsm'), tokens: [{ label: 'Dana card', keys: [] }] });
const { userPin, soPin, serial } = fixture.tokens[0]!;
const verifier = await Verifier.open({
  database: join(root, 'verifier.sqlite'),
  secret: ServerSecret.generate(),
  mail: { from: 'door@example.test', transport: { kind: 'outbox', dir: join(root, 'outbox') } },
  verifierId: 'front-door',
  fido: { rpId: RP },
});
const server = await buildVerifierServer(verifier);
const url = await server.listen({ host: '127.0.0.1', port: 0 });
const admin = new VerifierClient(url, { apiKey: (await verifier.apiKeys.create('demo', 'admin', ['admin'])).key });
const helpdesk = new VerifierClient(url, { apiKey: (await verifier.apiKeys.create('demo', 'helpdesk', ['helpdesk'])).key });
// SoftHSM never locks a PIN: the module's login guard counts for it, here under the demo's own directory.
using lockout = new HostLockout({ stateDir: join(root, 'lockout'), maxFailures: 3 });
await using module = await Pkcs11Module.load(fixture.modulePath, { loginGuard: lockout });
const pins = new ScriptedPins();
const kiosk = new Kiosk({ verifier: new VerifierClient(url), blocklist: new Blocklist(), pins, blocklistCache: join(root, 'blocklist.json') });

let failures = 0;
async function step(title: string, token: Token | HardwareToken, expected: true | DenyReason, expectedRetries?: number): Promise<void> {
  console.log(`\n${title}`);
  const verdict = await kiosk.admit(token, new AbortController().signal);
  console.log(`  ${describeVerdict(verdict, 'identity' in token ? token.identity.kind : 'pkcs11')}`);
  const ok = verdict.granted ? expected === true : verdict.reason === expected && (expectedRetries === undefined || verdict.retriesLeft === expectedRetries);
  if (!ok) {
    failures++;
    console.log(`  !! expected ${expected === true ? 'ACCESS GRANTED' : expected}${expectedRetries === undefined ? '' : ` with ${expectedRetries} tries left`}`);
  }
}

try {
  const token = module.token({ serial });
  console.log(`verifier: ${url} (embedded, SQLite)   card: "${token.label}" serial ${serial} (SoftHSM)`);

  console.log('\nEnrolment: a key is generated on the card, its certificate made and stored there, and registered for dana');
  await verifier.admin.create('demo', { username: 'dana', email: 'dana@example.test', password: 'dana’s long passphrase' });
  await verifier.admin.setChallengePolicy('demo', 'dana', 'token-only');
  {
    await using session = await token.openSession({ write: true });
    await session.login(userPin);
    const { credential } = await enrollToken(admin, session, { username: 'dana', key: { generate: { type: 'ec-p256', label: 'door' }, subject: 'CN=Dana Example' }, serial, label: 'front door card' });
    console.log(`  enrolled: ${credential.keyType} key, certificate fingerprint ${credential.fingerprint.slice(0, 16)}…`);
    await session.logout();
  }

  pins.say(userPin);
  await step('1. Dana presents her card and types her PIN', token, true);
  pins.say('0000');
  await step('2. A wrong PIN', token, 'pin_incorrect', 2);
  pins.say('1111');
  await step('3. Wrong again: one try left', token, 'pin_incorrect', 1);
  pins.say('2222', false);
  await step('4. The kiosk asks before the last try — declined', token, 'final_try_declined', 1);
  pins.say('2222', true);
  await step('5. Last try spent, wrong: the PIN locks', token, 'pin_locked');
  await step('6. Even the right PIN is no use now (not even asked for)', token, 'pin_locked');

  console.log('\nThe helpdesk unblocks the PIN with the SO PIN and sets a new one');
  const newPin = '246810';
  await token.unblockPin({ soPin, newPin });
  pins.say(newPin);
  await step('7. Dana with her new PIN', token, true);

  console.log('\nDana reports her card lost; the helpdesk blocks it');
  const [lost] = await verifier.credentials.list('dana');
  await helpdesk.request('POST', `/v1/admin/credentials/${lost!.id}/block`, { reason: 'reported lost' });
  await step('8. Whoever found the card tries it', token, 'token_blocked');

  console.log('\nErik has a USB security key (simulated); the admin enrols it for him — discoverable, so the door needs no username');
  const sim = new SimulatedAuthenticator({ pin: KEY_PIN, touch: 'auto' });
  /** The key plugged in (again): what the kiosk's watcher hands out, a new connection each time. */
  const plugIn = async (pair = sim.connect()) => new FidoHardwareToken(await SecurityKey.open(pair.host), { rpId: RP, label: 'Erik key' });
  await verifier.admin.create('demo', { username: 'erik', email: 'erik@example.test', password: 'erik’s long passphrase' });
  await verifier.admin.setChallengePolicy('demo', 'erik', 'token-only');
  {
    await using key = await SecurityKey.open(sim.connect().host);
    const { credential } = await enrollSecurityKey(admin, key, { username: 'erik', label: 'front door key', discoverable: true, unlock: (rpId) => key.unlock(KEY_PIN, { rpId }) });
    console.log(`  enrolled: credential ${credential.fidoCredentialId?.slice(0, 16)}… for ${credential.rpId}`);
  }
  let erikKey = await plugIn();
  try {
    pins.say(KEY_PIN);
    await step('9. Erik plugs in his key, types its PIN and touches it', erikKey, true);
    pins.say('0000-bad');
    await step('10. A wrong PIN: the key says how many tries are left', erikKey, 'pin_incorrect', 7);
    pins.say('1111-bad');
    await step('11. Wrong again', erikKey, 'pin_incorrect', 6);
    pins.say('2222-bad');
    await step('12. A third wrong PIN since it was plugged in: the key takes no more until re-plugged', erikKey, 'pin_auth_blocked');
    await step('13. Still plugged in: not even asked for a PIN', erikKey, 'pin_auth_blocked');
    console.log('\nErik unplugs the key and plugs it in again');
    await erikKey.close();
    sim.unplug();
    erikKey = await plugIn(sim.plug());
    pins.say(KEY_PIN);
    await step('14. The right PIN now', erikKey, true);

    console.log('\nErik reports his key lost; the helpdesk blocks it');
    const lostKey = (await verifier.credentials.list('erik')).find((c) => c.kind === 'fido');
    await helpdesk.request('POST', `/v1/admin/credentials/${lostKey!.id}/block`, { reason: 'reported lost' });
    // No PIN scripted: the kiosk reads the key's credential silently (no PIN, no touch) and refuses it first.
    const triesBefore = sim.retriesLeft;
    await step('15. Whoever found the key (and its PIN) tries it: refused at once — not asked for the PIN, no touch', erikKey, 'token_blocked');
    if (sim.retriesLeft !== triesBefore) {
      failures++;
      console.log(`  !! the key's tries changed: ${triesBefore} → ${sim.retriesLeft}`);
    }
  } finally {
    await erikKey.close();
  }
} finally {
  await server.close();
  await verifier.close();
}

console.log(failures === 0 ? '\nkiosk demo: every step behaved as it should' : `\nkiosk demo: ${failures} step(s) did not behave as they should`);
process.exitCode = failures === 0 ? 0 : 1;
