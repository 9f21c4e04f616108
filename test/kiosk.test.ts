// The kiosk's decisions beyond the demo's story: a token pulled out or an idle timeout during the
// PIN prompt, a PIN of the wrong length, a token nobody enrolled, and a verifier that is down
// (the cached blocklist still refuses a lost token, and the person is told the server is away).
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeVerdict, Kiosk, type PinSource } from '../examples/kiosk/kiosk.js';
import { Blocklist, HostLockout, Pkcs11Module, type Token } from '../src/index.js';
import { VerifierClient, enrollToken } from '../src/client/index.js';
import { buildVerifierServer } from '../src/verifier/index.js';
import type { Verifier } from '../src/verifier/verifier.js';
import { useSoftHsm } from './helpers/softhsm.js';
import { openVerifier, useVerifierStack } from './helpers/verifier.js';

const hsm = useSoftHsm({ tokens: [{ label: 'enrolled card', keys: [] }, { label: 'stranger card' }] });
const stack = useVerifierStack(['sqlite']);
let verifier: Verifier;
let app: FastifyInstance;
let url: string;
let mod: Pkcs11Module;
let enrolled: Token;
let stranger: Token;
let lockout: HostLockout;
const stateDir = join(tmpdir(), `tokengate-kiosk-${process.pid}`);

/** Answers with `pin`, or waits for the signal when `pin` is undefined (nobody types). */
function pins(pin: string | undefined, onPrompt: () => void = () => {}): PinSource {
  return {
    pin: (_prompt, signal) =>
      (onPrompt(), pin) !== undefined
        ? Promise.resolve(pin)
        : new Promise((_resolve, reject) => {
            if (signal.aborted) reject(signal.reason as Error);
            else signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
          }),
    confirmFinalTry: async () => true,
  };
}

function kiosk(pinSource: PinSource, client = new VerifierClient(url), blocklist = new Blocklist(), extra: { blocklistCache?: string; onStaleBlocklist?: () => void; onAdminNotice?: (message: string) => void } = {}) {
  return new Kiosk({ verifier: client, blocklist, pins: pinSource, ...extra });
}

beforeAll(async () => {
  verifier = await openVerifier(await stack.newDatabase('sqlite'), stack.smtp);
  app = await buildVerifierServer(verifier);
  url = await app.listen({ host: '127.0.0.1', port: 0 });
  lockout = new HostLockout({ stateDir });
  mod = await Pkcs11Module.load(hsm.current.modulePath, { loginGuard: lockout });
  enrolled = mod.token({ label: 'enrolled card' });
  stranger = mod.token({ label: 'stranger card' });
  await verifier.admin.create('test', { username: 'fay', email: 'fay@example.test', password: 'correct horse battery' });
  await verifier.admin.setChallengePolicy('test', 'fay', 'token-only');
  const admin = new VerifierClient(url, { apiKey: (await verifier.apiKeys.create('test', 'admin', ['admin'])).key });
  await using session = await enrolled.openSession({ write: true });
  await session.login(hsm.current.tokens[0]!.userPin);
  await enrollToken(admin, session, { username: 'fay', key: { generate: { type: 'ec-p256', label: 'door' }, subject: 'CN=Fay Example' }, serial: enrolled.serial });
  await session.logout();
});
afterAll(async () => {
  lockout?.close();
  await mod?.close();
  await app?.close();
  await verifier?.close();
});

describe('the kiosk', () => {
  it('grants the enrolled card with its PIN, and names the holder from the certificate', async () => {
    const verdict = await kiosk(pins(hsm.current.tokens[0]!.userPin)).admit(enrolled, new AbortController().signal);
    expect(verdict).toEqual({ granted: true, holder: 'Fay Example', username: 'fay' });
    expect(describeVerdict(verdict)).toBe('ACCESS GRANTED — welcome, Fay Example');
  });

  it('resets when the card is pulled out during the PIN prompt, or nobody answers in time', async () => {
    const removal = new AbortController();
    let shown!: () => void;
    const prompted = new Promise<void>((resolve) => (shown = resolve));
    const pending = kiosk(pins(undefined, shown)).admit(enrolled, removal.signal);
    // Pulled out while the PIN prompt is on screen.
    await prompted;
    removal.abort(new Error('token removed'));
    await expect(pending).resolves.toMatchObject({ granted: false, reason: 'token_removed' });
    const idle = new AbortController();
    const waiting = kiosk(pins(undefined, () => idle.abort(Object.assign(new Error('idle timeout'), { name: 'TimeoutError' })))).admit(enrolled, idle.signal);
    await expect(waiting).resolves.toMatchObject({ granted: false, reason: 'timed_out' });
    // Nothing was counted against the PIN.
    expect(enrolled.pinState()).toMatchObject({ failures: 0, source: 'host' });
  });

  it('refuses a PIN of the wrong length without spending a try', async () => {
    await expect(kiosk(pins('12')).admit(enrolled, new AbortController().signal)).resolves.toMatchObject({ granted: false, reason: 'pin_invalid' });
    expect(enrolled.pinState()).toMatchObject({ failures: 0 });
  });

  it('a user whose policy wants a password too: "not set up" at the door, and the fix for the kiosk\'s admin', async () => {
    await verifier.admin.setChallengePolicy('test', 'fay', 'password+token');
    try {
      const notices: string[] = [];
      const verdict = await kiosk(pins(hsm.current.tokens[0]!.userPin), undefined, undefined, { onAdminNotice: (m) => notices.push(m) }).admit(enrolled, new AbortController().signal);
      expect(verdict).toMatchObject({ granted: false, reason: 'not_set_up' });
      expect(describeVerdict(verdict)).toBe('ACCESS DENIED — this card is not set up for this door yet — please see the helpdesk');
      expect(notices).toHaveLength(1);
      expect(notices[0]).toContain('tokengate verifier policy set USERNAME token-only');
      expect(notices[0]).not.toContain(hsm.current.tokens[0]!.userPin);
    } finally {
      await verifier.admin.setChallengePolicy('test', 'fay', 'token-only');
    }
    expect(await kiosk(pins(hsm.current.tokens[0]!.userPin)).admit(enrolled, new AbortController().signal)).toMatchObject({ granted: true });
  });

  it('says "not enrolled" for a card the verifier does not know', async () => {
    const verdict = await kiosk(pins(hsm.current.tokens[1]!.userPin)).admit(stranger, new AbortController().signal);
    expect(verdict).toMatchObject({ granted: false, reason: 'not_enrolled' });
    expect(describeVerdict(verdict)).toBe('ACCESS DENIED — this token is not enrolled here');
  });

  it('with the verifier down: the cached blocklist still refuses a lost card, and others hear the server is away', async () => {
    const down = new VerifierClient('http://127.0.0.1:1', { timeoutMs: 500 });
    const cache = join(tmpdir(), `tokengate-kiosk-blocklist-${process.pid}.json`);
    writeFileSync(cache, JSON.stringify({ serials: [enrolled.serial], certificateFingerprints: [] }));
    let stale = 0;
    const blocked = await kiosk(pins(hsm.current.tokens[0]!.userPin), down, await Blocklist.fromFile(cache), { blocklistCache: cache, onStaleBlocklist: () => stale++ }).admit(
      enrolled,
      new AbortController().signal,
    );
    expect(blocked).toMatchObject({ granted: false, reason: 'token_blocked' });
    expect(stale).toBe(1);
    const away = await kiosk(pins(hsm.current.tokens[0]!.userPin), down).admit(enrolled, new AbortController().signal);
    expect(away).toMatchObject({ granted: false, reason: 'verifier_unreachable' });
    expect(describeVerdict(away)).toContain('cannot be reached');
  });
});
