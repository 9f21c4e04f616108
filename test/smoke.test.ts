import { describe, expect, it } from 'vitest';
import { Pkcs11Module, verifySignature } from '../src/index.js';
import { useSoftHsm } from './helpers/softhsm.js';

const hsm = useSoftHsm();

describe('SoftHSM fixture', () => {
  it('provisions a token whose keys sign verifiably', async () => {
    const fx = hsm.current;
    await using mod = await Pkcs11Module.load(fx.modulePath);
    const token = mod.token({ label: 'tokengate-test' });
    expect(token.serial).toBe(fx.tokens[0]!.serial);
    await using session = await token.openSession();
    await session.login(fx.tokens[0]!.userPin);
    const sig = await session.signChallenge({ label: 'p256' }, 'challenge');
    expect(verifySignature(fx.tokens[0]!.keys[0]!.publicKeyPem, 'challenge', sig, { algorithm: 'ECDSA-SHA256' })).toBe(true);
  });
});
