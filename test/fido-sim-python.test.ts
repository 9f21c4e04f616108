// The simulated key checked by an independent client: python-fido2 0.9.1 (Debian), with its own
// CTAPHID framing over UDP, its own PIN protocols 1 and 2, its strict canonical-CBOR check of
// every reply, and its own signature verification. If the simulator and python-fido2 disagree on
// a byte, these fail — which is what makes the simulator fit to judge our client.
import { verify } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { Status } from '../native-fixtures/fido/constants.js';
import { coseToKey, runPeer, serveSim, type ServedSim } from './helpers/fido-sim.js';

const PEER = 'python_fido2_peer.py';
const PIN = '482915';
const NEW_PIN = '735104';
let served: ServedSim | undefined;

async function sim(options: Parameters<typeof serveSim>[0] = {}): Promise<ServedSim> {
  served = await serveSim(options);
  return served;
}

afterEach(async () => {
  await served?.close();
  served = undefined;
});

/** The clientPIN subcommands the key received, in order. */
const pinSubcommands = (s: ServedSim) => s.sim.requests.filter((r) => r.command === 0x06).map((r) => r.params?.get(2));

interface WrongPins {
  attempts: { error?: number; retries: number; power_cycle_state: boolean }[];
}

describe('python-fido2 against the simulated key', () => {
  it('reads getInfo, the INIT reply and a multi-frame PING as a real key gives them', async () => {
    const s = await sim();
    const info = await runPeer(PEER, s.port, 'info');
    expect(info).toMatchObject({
      ctaphid_version: 2,
      capabilities: 0x05, // WINK | CBOR, and MSG supported (no NMSG)
      versions: ['U2F_V2', 'FIDO_2_0', 'FIDO_2_1'],
      aaguid: expect.stringMatching(/^[0-9a-f]{32}$/),
      options: { rk: true, up: true, plat: false, clientPin: false, pinUvAuthToken: true },
      max_msg_size: 1200,
      pin_uv_protocols: [2, 1],
      algorithms: [-7, -8],
      ping: true,
    });
    expect(s.sim.channels).toBe(1);
  });

  it('sets a PIN on a fresh key with protocol 2, and refuses a second setPIN', async () => {
    const s = await sim();
    expect(await runPeer(PEER, s.port, 'set-pin', PIN, '2')).toEqual({ before: false, after: true, ok: null });
    expect(s.sim.pinSet).toBe(true);
    expect(await runPeer(PEER, s.port, 'set-pin', PIN, '2')).toMatchObject({ before: true, error: Status.PIN_AUTH_INVALID });
    expect(await runPeer(PEER, s.port, 'token', PIN, '2')).toEqual({ ok: 32, retries: 8 });
  });

  it('sets a PIN with protocol 1, and refuses one under 4 code points', async () => {
    const s = await sim();
    expect(await runPeer(PEER, s.port, 'set-short-pin', '12', '1')).toEqual({ error: Status.PIN_POLICY_VIOLATION });
    expect(s.sim.pinSet).toBe(false);
    expect(await runPeer(PEER, s.port, 'set-pin', PIN, '1')).toEqual({ before: false, after: true, ok: null });
    expect(await runPeer(PEER, s.port, 'token', PIN, '1')).toEqual({ ok: 32, retries: 8 });
  });

  it('changes the PIN: the new one opens, the old one is PIN_INVALID', async () => {
    const s = await sim({ pin: PIN });
    expect(await runPeer(PEER, s.port, 'change-pin', PIN, NEW_PIN, '2')).toEqual({ ok: null });
    expect(await runPeer(PEER, s.port, 'token', NEW_PIN, '1')).toEqual({ ok: 32, retries: 8 });
    expect(await runPeer(PEER, s.port, 'token', PIN, '2')).toEqual({ error: Status.PIN_INVALID, retries: 7 });
    expect(await runPeer(PEER, s.port, 'change-pin', PIN, NEW_PIN, '1')).toEqual({ error: Status.PIN_INVALID });
  });

  it('gives a token by getPinToken (0x05) and by permissions (0x09), with protocols 2 and 1', async () => {
    const s = await sim({ pin: PIN });
    for (const protocol of ['2', '1']) {
      expect(await runPeer(PEER, s.port, 'token', PIN, protocol, 'permissions')).toEqual({ ok: 32, retries: 8 });
      expect(await runPeer(PEER, s.port, 'token', PIN, protocol, 'legacy')).toEqual({ ok: 32, retries: 8 });
    }
    expect(pinSubcommands(s).filter((sub) => sub === 0x05 || sub === 0x09)).toEqual([0x09, 0x05, 0x09, 0x05]);
  });

  it('counts wrong PINs as python-fido2 reads them: 8 → 7 → 6, then PIN_AUTH_BLOCKED until a power cycle', async () => {
    const s = await sim({ pin: PIN });
    const wrong = await runPeer<WrongPins>(PEER, s.port, 'wrong-pins', '000000', '4', '2');
    expect(wrong.attempts).toEqual([
      { error: Status.PIN_INVALID, retries: 7, power_cycle_state: false },
      { error: Status.PIN_INVALID, retries: 6, power_cycle_state: false },
      { error: Status.PIN_AUTH_BLOCKED, retries: 5, power_cycle_state: true },
      // Blocked for this power cycle: another try costs nothing and cannot succeed.
      { error: Status.PIN_AUTH_BLOCKED, retries: 5, power_cycle_state: true },
    ]);
    expect(await runPeer(PEER, s.port, 'token', PIN, '2')).toEqual({ error: Status.PIN_AUTH_BLOCKED, retries: 5 });
    s.sim.powerCycle();
    expect(await runPeer(PEER, s.port, 'retries', '2')).toEqual({ retries: 5, power_cycle_state: false });
    expect(await runPeer(PEER, s.port, 'token', PIN, '2')).toEqual({ ok: 32, retries: 8 });
  });

  it('blocks the PIN for good when a key with 2 retries runs out', async () => {
    const s = await sim({ pin: PIN, retries: 2 });
    expect(await runPeer(PEER, s.port, 'retries', '1')).toEqual({ retries: 2, power_cycle_state: false });
    const wrong = await runPeer<WrongPins>(PEER, s.port, 'wrong-pins', '000000', '3', '1');
    expect(wrong.attempts.map((a) => [a.error, a.retries])).toEqual([
      [Status.PIN_INVALID, 1],
      [Status.PIN_BLOCKED, 0],
      [Status.PIN_BLOCKED, 0],
    ]);
    s.sim.powerCycle();
    expect(await runPeer(PEER, s.port, 'token', PIN, '2')).toEqual({ error: Status.PIN_BLOCKED, retries: 0 });
  });

  for (const [name, alg] of [
    ['ES256', -7],
    ['EdDSA', -8],
  ] as const) {
    it(`makes an ${name} credential and assertions that python-fido2 and node:crypto both verify`, async () => {
      const s = await sim({ pin: PIN });
      const r = await runPeer<{
        fmt: string;
        att_alg: number;
        attestation_verifies: boolean;
        flags: number;
        credential_id: string;
        cose_key: string;
        alg: number;
        reuse: number;
        assertions: { client_data_hash: string; auth_data: string; signature: string; counter: number; flags: number; credential_id: string }[];
        tampered_verifies: boolean;
        no_credentials: number;
      }>(PEER, s.port, 'register-and-sign', String(alg), PIN, '2');
      expect(r).toMatchObject({ fmt: 'packed', att_alg: alg, attestation_verifies: true, alg, tampered_verifies: false });
      expect(r.flags).toBe(0x45); // UP | UV | AT
      expect(r.reuse).toBe(Status.PIN_AUTH_INVALID); // a 2.1 token's permissions go with its first use
      expect(r.no_credentials).toBe(Status.NO_CREDENTIALS);
      expect(s.sim.credentials.map((c) => Buffer.from(c.id).toString('hex'))).toEqual([r.credential_id]);

      const key = coseToKey(Buffer.from(r.cose_key, 'hex'));
      const [first, second] = r.assertions;
      expect(second!.counter).toBe(first!.counter + 1);
      expect(s.sim.counter).toBe(second!.counter);
      for (const a of r.assertions) {
        expect(a.flags).toBe(0x05); // UP | UV
        expect(a.credential_id).toBe(r.credential_id);
        const signed = Buffer.concat([Buffer.from(a.auth_data, 'hex'), Buffer.from(a.client_data_hash, 'hex')]);
        const signature = Buffer.from(a.signature, 'hex');
        expect(verify(alg === -7 ? 'sha256' : null, signed, key, signature)).toBe(true);
        signed[signed.length - 1]! ^= 1;
        expect(verify(alg === -7 ? 'sha256' : null, signed, key, signature)).toBe(false);
      }
    });
  }

  it('wants a pinUvAuthParam once a PIN is set (PUAT_REQUIRED) and refuses a wrong one', async () => {
    const s = await sim({ pin: PIN });
    expect(await runPeer(PEER, s.port, 'no-pin-token')).toEqual({ without: Status.PUAT_REQUIRED, wrong_param: Status.PIN_AUTH_INVALID });
    expect(s.sim.credentials).toEqual([]);
  });

  it('has its non-canonical-reply fault refused by python-fido2 (unsorted keys, a non-minimal integer)', async () => {
    for (const kind of ['unsorted', 'non-minimal'] as const) {
      const s = await sim({ faults: { nonCanonicalNext: 1, nonCanonicalKind: kind } });
      await expect(runPeer(PEER, s.port, 'info')).rejects.toThrow(/Non-canonical CBOR/);
      // One reply only: the next getInfo is canonical again.
      expect(await runPeer(PEER, s.port, 'info')).toMatchObject({ versions: ['U2F_V2', 'FIDO_2_0', 'FIDO_2_1'] });
      await s.close();
    }
  });

  it('speaks U2F over CTAPHID_MSG, also as a CTAP1-only key', async () => {
    for (const ctap1Only of [false, true]) {
      const s = await sim({ ctap1Only });
      const r = await runPeer(PEER, s.port, 'u2f');
      expect(r).toEqual({ version: 'U2F_V2', counter: 1, presence: 1, check_only: 0x6985, wrong_app: 0x6a80 });
      expect(await runPeer(PEER, s.port, 'caps')).toEqual({ ctaphid_version: 2, capabilities: ctap1Only ? 0x01 : 0x05, ping: 'abc' });
      await s.close();
    }
  });
});
