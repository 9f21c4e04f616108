// The Pin value type: validated once, and never printed — not by String(), JSON, util.inspect
// (hidden properties included), Object.keys, structuredClone or an error's cause chain — yet it
// logs in and changes a PIN on SoftHSM like the string it stands for.
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { Pin, Pkcs11Module } from '../src/index.js';
import { useSoftHsm } from './helpers/softhsm.js';

const hsm = useSoftHsm({ tokens: [{ label: 'pin-value', keys: [] }] });

describe('Pin', () => {
  it('never shows its value', () => {
    const secret = 'correct-pin-4711';
    const pin = Pin.from(secret);
    const views = [
      String(pin),
      `${pin}`,
      JSON.stringify({ pin }),
      inspect(pin, { showHidden: true, depth: 10 }),
      inspect({ nested: { pin } }, { showHidden: true, depth: 10 }),
      Object.keys(pin).join(),
      JSON.stringify(structuredClone(pin)),
      Object.getOwnPropertyNames(pin).map((k) => String((pin as unknown as Record<string, unknown>)[k])).join(),
    ];
    for (const view of views) expect(view).not.toContain(secret);
    expect(String(pin)).toBe('[redacted]');
    expect(Pin.from(pin)).toBe(pin);
    expect(pin.byteLength).toBe(secret.length);
  });

  it('refuses what is not a well-formed string, naming the secret, never echoing it', () => {
    expect(() => Pin.from(1234 as never, 'PUK')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT', message: 'PUK must be a string' }));
    expect(() => Pin.from('12\ud80034')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT', message: 'PIN is not well-formed text' }));
  });

  it('logs in, is refused with the tries left, and changes a PIN on SoftHSM like the string', async () => {
    const { userPin } = hsm.current.tokens[0]!;
    await using mod = await Pkcs11Module.load(hsm.current.modulePath);
    const token = mod.token({ label: 'pin-value' });
    {
      await using session = await token.openSession();
      await session.login(Pin.from(userPin));
      await session.logout();
      const wrong = await session.login(Pin.from('99999999')).then(() => 'ok', (err: unknown) => err);
      expect(wrong).toMatchObject({ code: 'ERR_PIN_INCORRECT', retriesLeft: 2 });
      expect(inspect(wrong, { depth: 10 })).not.toContain('99999999');
    }
    await token.changePin(Pin.from(userPin), Pin.from('55667788'));
    await token.changePin('55667788', userPin);
    await using session = await token.openSession();
    await session.login(userPin);
    expect(token.pinState().failures).toBe(0);
  });
});
