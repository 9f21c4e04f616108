// The kiosk with a USB security key, the way it takes a card: a simulated key (real CTAP2, in
// memory) enrolled discoverably for a token-only user of a served verifier, then visits with a
// scripted PinSource — granted (and "touch your key" shown), a wrong PIN with the key's tries left,
// the last try asked about (declined, accepted), too many wrong PINs since plugging in (unplug, plug
// in again: granted), a blocked PIN (the helpdesk), pulled out at the prompt, not touched in time,
// not enrolled, a key with no PIN or U2F only (not set up), and lost: the kiosk's blocklist refuses the credential id the key names silently,
// before any PIN or touch, and the verifier refuses it when the kiosk's list does not have it yet.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedAuthenticator, type SimulatedAuthenticatorOptions } from '../native-fixtures/fido/authenticator.js';
import { describeVerdict, Kiosk, type PinPrompt, type PinSource } from '../examples/kiosk/kiosk.js';
import { KioskSettingsError, kioskSettings } from '../examples/kiosk/settings.js';
import { once } from 'node:events';
import { Blocklist, FidoHardwareToken, HardwareTokenWatcher, SecurityKey, type FidoDeviceInfo, type HardwareTokenArrival } from '../src/index.js';
import { enrollSecurityKey, VerifierClient } from '../src/client/index.js';
import type { Verifier } from '../src/verifier/verifier.js';
import { useServedVerifier } from './helpers/served-verifier.js';

const PIN = '4831-pin';
const RP = 'door.example.com';
const served = useServedVerifier({ fido: { rpId: RP } });
let verifier: Verifier;
let url: string;
let admin: VerifierClient;
let helpdesk: VerifierClient;
const opened: FidoHardwareToken[] = [];

beforeAll(async () => {
  ({ verifier, url } = served.current);
  admin = new VerifierClient(url, { apiKey: (await verifier.apiKeys.create('test', 'admin', ['admin'])).key });
  helpdesk = new VerifierClient(url, { apiKey: (await verifier.apiKeys.create('test', 'helpdesk', ['helpdesk'])).key });
});
afterAll(async () => {
  await Promise.all(opened.splice(0).map((t) => t.close().catch(() => {})));
});

/** What the watcher hands out for a key just plugged in: a new connection to the simulator. */
async function plugIn(sim: SimulatedAuthenticator, pair = sim.connect()): Promise<FidoHardwareToken> {
  const token = new FidoHardwareToken(await SecurityKey.open(pair.host), { rpId: RP, label: 'door key' });
  opened.push(token);
  return token;
}

/** A user with the token-only policy a kiosk needs, and a simulated key enrolled for them (discoverable). */
async function enrolledKey(username: string, options: SimulatedAuthenticatorOptions = {}) {
  const sim = new SimulatedAuthenticator({ pin: PIN, touch: 'manual', ...options });
  await verifier.admin.create('test', { username, email: `${username}@example.test`, password: 'correct horse battery' });
  await verifier.admin.setChallengePolicy('test', username, 'token-only');
  // Enrollment is touched by hand whatever the key does at the door.
  const press = () => setImmediate(() => sim.touch());
  sim.on('up-needed', press);
  try {
    await using key = await SecurityKey.open(sim.connect().host);
    const { credential } = await enrollSecurityKey(admin, key, { username, label: 'door key', discoverable: true, unlock: (rpId) => key.unlock(PIN, { rpId }) });
    return { sim, credential };
  } finally {
    sim.off('up-needed', press);
  }
}

interface Script extends PinSource {
  readonly prompts: PinPrompt[];
  readonly finalTryQuestions: PinPrompt[];
  touches: number;
}

/** Types `typed` in turn (undefined: nobody types, the prompt waits for the signal); answers the final-try question with `confirm`. */
function script(typed: (string | undefined)[], confirm = true, onPrompt: () => void = () => {}): Script {
  const queue = [...typed];
  const s: Script = {
    prompts: [],
    finalTryQuestions: [],
    touches: 0,
    pin: (prompt, signal) => {
      s.prompts.push(prompt);
      onPrompt();
      const pin = queue.shift();
      if (pin !== undefined) return Promise.resolve(pin);
      return new Promise((_resolve, reject) => {
        if (signal.aborted) reject(signal.reason as Error);
        else signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
      });
    },
    confirmFinalTry: async (prompt) => (s.finalTryQuestions.push(prompt), confirm),
    touch: () => void s.touches++,
  };
  return s;
}

const kiosk = (pins: PinSource, client = new VerifierClient(url)) => new Kiosk({ verifier: client, blocklist: new Blocklist(), pins });
const visit = (pins: PinSource, token: FidoHardwareToken) => kiosk(pins).admit(token, new AbortController().signal);

describe('the kiosk with a security key', () => {
  it('grants the enrolled key with its PIN and a touch ("touch your key" shown), naming the user', async () => {
    const { sim } = await enrolledKey('ada', { touch: 'auto' });
    const pins = script([PIN]);
    const verdict = await visit(pins, await plugIn(sim));
    expect(verdict).toEqual({ granted: true, holder: 'ada', username: 'ada' });
    expect(describeVerdict(verdict, 'fido')).toBe('ACCESS GRANTED — welcome, ada');
    expect(pins.prompts).toEqual([{ holder: 'door key', tokenLabel: 'door key', kind: 'fido', retriesLeft: 8 }]);
    expect(pins.touches).toBe(1);
  });

  it('a wrong PIN: denied with the tries the key says are left', async () => {
    const { sim } = await enrolledKey('bo', { touch: 'auto' });
    const token = await plugIn(sim);
    const verdict = await visit(script(['0000-bad']), token);
    expect(verdict).toMatchObject({ granted: false, reason: 'pin_incorrect', retriesLeft: 7 });
    expect(describeVerdict(verdict, 'fido')).toBe('ACCESS DENIED — wrong PIN (7 tries left)');
    expect(sim.retriesLeft).toBe(7);
    // The next visit's prompt reads the count from the key; the right PIN restores it.
    const pins = script([PIN]);
    await expect(visit(pins, token)).resolves.toMatchObject({ granted: true, username: 'bo' });
    expect(pins.prompts[0]).toMatchObject({ retriesLeft: 7 });
    expect(sim.retriesLeft).toBe(8);
  });

  it('the last try is asked about: declined, nothing is sent; accepted, the right PIN grants', async () => {
    const { sim } = await enrolledKey('cy', { touch: 'auto', retries: 2 });
    const token = await plugIn(sim);
    const wrong = await visit(script(['0000-bad']), token);
    expect(wrong).toMatchObject({ reason: 'pin_incorrect', retriesLeft: 1 });
    expect(describeVerdict(wrong, 'fido')).toBe('ACCESS DENIED — wrong PIN (1 try left: the next wrong PIN locks the key)');
    const declining = script([PIN], false);
    const declined = await visit(declining, token);
    expect(declined).toMatchObject({ granted: false, reason: 'final_try_declined', retriesLeft: 1 });
    expect(describeVerdict(declined, 'fido')).toBe('ACCESS DENIED — last try kept — nothing was sent to the key');
    expect(declining.finalTryQuestions).toEqual([{ holder: 'door key', tokenLabel: 'door key', kind: 'fido', retriesLeft: 1 }]);
    expect(sim.retriesLeft).toBe(1);
    const accepting = script([PIN], true);
    await expect(visit(accepting, token)).resolves.toMatchObject({ granted: true, username: 'cy' });
    expect(accepting.finalTryQuestions).toHaveLength(1);
    expect(sim.retriesLeft).toBe(2);
  });

  it('too many wrong PINs since plugging in: "unplug and plug in again" without asking; replugged, it grants', async () => {
    const { sim } = await enrolledKey('dee', { touch: 'auto' });
    const token = await plugIn(sim);
    expect(await visit(script(['0000-bad']), token)).toMatchObject({ reason: 'pin_incorrect', retriesLeft: 7 });
    expect(await visit(script(['1111-bad']), token)).toMatchObject({ reason: 'pin_incorrect', retriesLeft: 6 });
    const third = await visit(script(['2222-bad']), token);
    expect(third).toMatchObject({ granted: false, reason: 'pin_auth_blocked' });
    expect(describeVerdict(third, 'fido')).toBe('ACCESS DENIED — too many wrong PINs — unplug the key and plug it in again');
    // Still plugged in: refused before any prompt (another PIN cannot succeed).
    const asked = script([PIN]);
    expect(await visit(asked, token)).toMatchObject({ reason: 'pin_auth_blocked' });
    expect(asked.prompts).toHaveLength(0);
    sim.unplug();
    const replugged = await plugIn(sim, sim.plug());
    const pins = script([PIN]);
    await expect(visit(pins, replugged)).resolves.toMatchObject({ granted: true, username: 'dee' });
    expect(pins.prompts[0]).toMatchObject({ retriesLeft: 5 });
  });

  it('a blocked PIN: denied, see the helpdesk — and no prompt on the next visit', async () => {
    const { sim } = await enrolledKey('eli', { touch: 'auto', retries: 2 });
    const token = await plugIn(sim);
    expect(await visit(script(['0000-bad']), token)).toMatchObject({ reason: 'pin_incorrect', retriesLeft: 1 });
    const locked = await visit(script(['1111-bad'], true), token);
    expect(locked).toMatchObject({ granted: false, reason: 'pin_locked' });
    expect(describeVerdict(locked, 'fido')).toBe('ACCESS DENIED — the PIN is locked — please see the helpdesk');
    const asked = script([PIN]);
    expect(await visit(asked, await plugIn(sim, (sim.unplug(), sim.plug())))).toMatchObject({ reason: 'pin_locked' });
    expect(asked.prompts).toHaveLength(0);
  });

  it('pulled out at the PIN prompt: the visit resets, no try spent', async () => {
    const { sim } = await enrolledKey('fay', { touch: 'auto' });
    const token = await plugIn(sim);
    const removal = new AbortController();
    const pins = script([undefined], true, () => {
      sim.unplug();
      removal.abort(new Error('the key was pulled out'));
    });
    const verdict = await kiosk(pins).admit(token, removal.signal);
    expect(verdict).toMatchObject({ granted: false, reason: 'token_removed' });
    expect(describeVerdict(verdict, 'fido')).toBe('ACCESS DENIED — the token was pulled out');
    expect(sim.retriesLeft).toBe(8);
  });

  it('through the watcher, as main.ts has it: pulled out at the prompt, the watcher\'s removal resets the visit; plugged in again, a new arrival is granted', async () => {
    const { sim } = await enrolledKey('joe', { touch: 'auto' });
    let plugged = true;
    const device: FidoDeviceInfo = { path: 'memory:joe-key', vendorId: 0x1209, productId: 1, displayName: 'Joe key', transport: 'memory' };
    await using watcher = new HardwareTokenWatcher({
      fido: {
        rpId: RP,
        source: { list: async () => (plugged ? [device] : []) },
        openTransport: async (_d, onRemoved) => {
          sim.once('unplugged', onRemoved);
          return sim.connect('joe-key').host;
        },
      },
      intervalMs: 20,
      emitInitial: true,
    });
    const arrive = () => once(watcher, 'inserted').then(([a]) => a as HardwareTokenArrival);
    const first = await arrive();
    const removal = new AbortController();
    watcher.once('removed', (identity) => {
      if (identity.instance === first.identity.instance) removal.abort(new Error('the key was pulled out'));
    });
    const pulled = script([undefined], true, () => {
      plugged = false;
      sim.unplug();
    });
    await using key = await first.open();
    await expect(kiosk(pulled).admit(key, removal.signal)).resolves.toMatchObject({ granted: false, reason: 'token_removed' });
    const second = arrive();
    plugged = true;
    sim.plug('unused');
    const again = await second;
    expect(again.identity).toMatchObject({ kind: 'fido', label: 'Joe key', instance: 2 });
    await using replugged = await again.open();
    await expect(kiosk(script([PIN])).admit(replugged, new AbortController().signal)).resolves.toMatchObject({ granted: true, username: 'joe' });
  });

  it('not touched in time: denied, "touch your key" having been shown', async () => {
    const { sim } = await enrolledKey('gus', { touch: 'never', touchTimeoutMs: 300 });
    const pins = script([PIN]);
    const verdict = await visit(pins, await plugIn(sim));
    expect(verdict).toMatchObject({ granted: false, reason: 'touch_timeout' });
    expect(describeVerdict(verdict, 'fido')).toBe('ACCESS DENIED — the key was not touched in time');
    expect(pins.touches).toBe(1);
  });

  it('a key with nothing enrolled here: not enrolled', async () => {
    const sim = new SimulatedAuthenticator({ pin: PIN, touch: 'auto' });
    const verdict = await visit(script([PIN]), await plugIn(sim));
    expect(verdict).toMatchObject({ granted: false, reason: 'not_enrolled' });
  });

  it('a key without a PIN, and a U2F-only key, cannot prove their holder: "not set up", no prompt, no touch, the reason for the kiosk\'s admin', async () => {
    for (const [what, options, notice] of [
      ['no PIN', {}, 'the security key "door key" has no PIN, so it cannot prove its holder (user verification): set one with the key\'s own tool before enrolling it'],
      ['U2F only', { ctap1Only: true }, 'the security key "door key" cannot have a PIN (U2F only, no FIDO2), so it cannot prove its holder: this door needs a FIDO2 key with a PIN'],
    ] as const) {
      const sim = new SimulatedAuthenticator({ touch: 'auto', ...options });
      const notices: string[] = [];
      const pins = script([PIN]);
      const k = new Kiosk({ verifier: new VerifierClient(url), blocklist: new Blocklist(), pins, onAdminNotice: (m) => notices.push(m) });
      const verdict = await k.admit(await plugIn(sim), new AbortController().signal);
      expect(verdict, what).toMatchObject({ granted: false, reason: 'not_set_up' });
      expect(pins.prompts, what).toEqual([]);
      expect(pins.touches, what).toBe(0);
      expect(notices, what).toEqual([notice]);
    }
  });

  it('a kiosk opening keys for another relying party than the verifier\'s: "not set up", the fix for its admin, no PIN sent', async () => {
    const { sim } = await enrolledKey('ida', { touch: 'auto' });
    const elsewhere = new FidoHardwareToken(await SecurityKey.open(sim.connect().host), { rpId: 'other.example.com', label: 'door key' });
    opened.push(elsewhere);
    const notices: string[] = [];
    const k = new Kiosk({ verifier: new VerifierClient(url), blocklist: new Blocklist(), pins: script([PIN]), onAdminNotice: (m) => notices.push(m) });
    const verdict = await k.admit(elsewhere, new AbortController().signal);
    expect(verdict).toMatchObject({ granted: false, reason: 'not_set_up' });
    expect(describeVerdict(verdict, 'fido')).toBe('ACCESS DENIED — this key is not set up for this door yet — please see the helpdesk');
    expect(notices).toEqual([`the verifier's relying party is ${RP} but this kiosk opens keys for other.example.com: start the kiosk with --rp-id ${RP}`]);
    expect(sim.retriesLeft).toBe(8);
    expect(notices[0]).not.toContain(PIN);
  });

  it('a lost key is refused before its PIN: no prompt, the key\'s retries unchanged, no touch asked', async () => {
    const { sim, credential } = await enrolledKey('kim', { touch: 'auto' });
    const token = await plugIn(sim);
    await helpdesk.request('POST', `/v1/admin/credentials/${credential.id}/block`, { reason: 'lost at the station' });
    let touchesAsked = 0;
    sim.on('up-needed', () => touchesAsked++);
    const pins = script([PIN]);
    const verdict = await visit(pins, token);
    expect(verdict).toEqual({ granted: false, reason: 'token_blocked', holder: 'door key' });
    // The credential id came from a silent assertion: nothing typed, no try spent, no touch.
    expect(pins.prompts).toHaveLength(0);
    expect(pins.touches).toBe(0);
    expect(touchesAsked).toBe(0);
    expect(sim.retriesLeft).toBe(8);
    expect(token.unlocked).toBe(false);
    expect((await verifier.audit({ subject: 'kim', action: 'challenge.login' })).length).toBe(0);
  });

  it('reported lost: the kiosk\'s blocklist refuses its credential id, and the verifier refuses it too', async () => {
    const { sim, credential } = await enrolledKey('hal', { touch: 'auto' });
    const token = await plugIn(sim);
    await helpdesk.request('POST', `/v1/admin/credentials/${credential.id}/block`, { reason: 'lost on the train' });
    const refused = await visit(script([PIN]), token);
    expect(refused).toMatchObject({ granted: false, reason: 'token_blocked' });
    expect(describeVerdict(refused, 'fido')).toBe('ACCESS DENIED — this token is blocked (reported lost or revoked) — please see the helpdesk');
    // The blocklist refused it before the answer went out: the verifier saw no response for it.
    expect((await verifier.audit({ subject: 'hal', action: 'challenge.login' })).length).toBe(0);
    // A kiosk whose list lags behind (here: an empty one) is refused by the verifier — with its one
    // generic answer, as for any discoverable login; the audit log has the reason.
    const lagging = Object.assign(new VerifierClient(url), { blocklistFetcher: () => async () => ({ serials: [], certificateFingerprints: [] }) });
    await expect(kiosk(script([PIN]), lagging).admit(token, new AbortController().signal)).resolves.toMatchObject({ granted: false, reason: 'refused' });
    expect((await verifier.audit({ subject: 'hal', action: 'challenge.login' })).at(-1)).toMatchObject({ reason: 'credential_blocked' });
  });
});

describe('the kiosk\'s --rp-id and --fido-device', () => {
  it('is taken from the option, the environment or the file, checked as the verifier checks it, and absent by default (the verifier is asked)', () => {
    expect(kioskSettings([], {})?.rpId).toBeUndefined();
    expect(kioskSettings(['--rp-id', RP], {})?.rpId).toBe(RP);
    expect(kioskSettings([], { TOKENGATE_KIOSK_RP_ID: RP })?.rpId).toBe(RP);
    for (const bad of ['Door.Example.com', 'https://door.example.com', 'door.example.com:443', '192.0.2.1', '']) {
      expect(() => kioskSettings(['--rp-id', bad], {}), bad).toThrow(KioskSettingsError);
    }
  });

  it('--fido-device: one key (a HID path or the simulator on UDP), from the option, the environment or the file; every key by default', () => {
    expect(kioskSettings([], {})?.fidoDevice).toBeUndefined();
    expect(kioskSettings(['--fido-device', 'udp:127.0.0.1:9'], {})?.fidoDevice).toBe('udp:127.0.0.1:9');
    expect(kioskSettings([], { TOKENGATE_KIOSK_FIDO_DEVICE: '/dev/hidraw3' })?.fidoDevice).toBe('/dev/hidraw3');
    expect(() => kioskSettings(['--fido-device', ''], {})).toThrow(KioskSettingsError);
  });
});

describe('the scripted demo', () => {
  it('plays the card\'s story and then the security key\'s, every verdict as it should be', () => {
    const demo = fileURLToPath(new URL('../examples/kiosk/demo.ts', import.meta.url));
    const run = spawnSync(process.execPath, ['--import', 'tsx', demo], { encoding: 'utf8', timeout: 60_000 });
    expect(run.status, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain('kiosk demo: every step behaved as it should');
    expect(run.stdout).toContain('ACCESS DENIED — too many wrong PINs — unplug the key and plug it in again');
    expect(run.stdout).toMatch(/14\. The right PIN now\n.*\n.*touch your key.*\n {2}ACCESS GRANTED — welcome, erik/);
    // The lost key: refused on the very next line — no PIN prompt, no "touch your key".
    expect(run.stdout).toMatch(/15\. [^\n]*\n {2}ACCESS DENIED — this token is blocked/);
  }, 90_000);
});
