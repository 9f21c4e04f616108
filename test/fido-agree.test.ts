// Our client and python-fido2 on one simulated key over UDP, taking turns: every wrong PIN either
// sends is counted once, and both read the same retries, which are the key's own.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecurityKey } from '../src/index.js';
import { peersDir, runPeer, serveSim, type ServedSim } from './helpers/fido-sim.js';

const PIN = '1357-agree';
const RP = 'door.example.com';
const python = `${peersDir}python_fido2_peer.py`;
let served: ServedSim;

beforeAll(async () => {
  served = await serveSim({ pin: PIN, retriesPerPowerCycle: 8 });
});
afterAll(() => served.close());

async function ours(): Promise<number | undefined> {
  await using key = await SecurityKey.open(`udp:127.0.0.1:${served.port}`);
  return (await key.pinStatus()).retriesLeft;
}
async function theirs(protocol: '1' | '2'): Promise<number> {
  return (await runPeer<{ retries: number }>(python, served.port, 'retries', protocol)).retries;
}

describe('tokengate and python-fido2 on one key', () => {
  it('agree on every retry count, whichever of them sent the wrong PIN, over protocols 2 and 1', async () => {
    let expected = 8;
    for (const step of ['python:2', 'ours', 'python:1', 'ours', 'python:2']) {
      if (step === 'ours') {
        await using key = await SecurityKey.open(`udp:127.0.0.1:${served.port}`);
        await expect(key.unlock('not-the-pin', { rpId: RP })).rejects.toMatchObject({ code: 'ERR_PIN_INCORRECT', retriesLeft: expected - 1 });
      } else {
        const protocol = step.slice(-1);
        const r = await runPeer<{ attempts: { error: number; retries: number }[] }>(python, served.port, 'wrong-pins', 'not-the-pin', '1', protocol);
        expect(r.attempts[0]).toMatchObject({ error: 0x31, retries: expected - 1 });
      }
      expected -= 1;
      expect(served.sim.retriesLeft).toBe(expected);
      expect(await ours()).toBe(expected);
      expect(await theirs('2')).toBe(expected);
      expect(await theirs('1')).toBe(expected);
    }
    // The right PIN from our client resets the count for both.
    await using key = await SecurityKey.open(`udp:127.0.0.1:${served.port}`);
    await key.unlock(PIN, { rpId: RP });
    expect(await theirs('2')).toBe(8);
  });
});
