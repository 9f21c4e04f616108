// A SoftHSM token that disappears mid-use (its store moved away: the slot's token is gone), and
// comes back: calls fail with TokenRemovedError within a deadline, never hang, and once the token
// is back a fresh module instance works with it. (SoftHSM only re-reads its store at
// C_Initialize, so "put back" means: every handle closed and the module loaded again.)
import { mkdirSync, readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Pkcs11Module, TokenRemovedError, verifySignature } from '../src/index.js';
import { useSoftHsm } from './helpers/softhsm.js';

const hsm = useSoftHsm({ tokens: [{ label: 'pulled-out' }] });
const DEADLINE_MS = 5_000;
const ES256 = { algorithm: 'ECDSA-SHA256' } as const;

function pullOut(dir: string): () => void {
  const tokens = join(dir, 'tokens');
  const away = join(dir, 'away');
  mkdirSync(away, { recursive: true });
  const names = readdirSync(tokens);
  for (const name of names) renameSync(join(tokens, name), join(away, name));
  return () => {
    for (const name of names) renameSync(join(away, name), join(tokens, name));
  };
}

/** Settles with what `promise` gave, or fails the test when it takes longer than the deadline. */
async function withinDeadline<T>(promise: Promise<T>): Promise<PromiseSettledResult<T>> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${DEADLINE_MS} ms`)), DEADLINE_MS);
  });
  try {
    return await Promise.race([Promise.allSettled([promise]).then(([r]) => r!), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

describe('a SoftHSM token removed during use', () => {
  it('fails signatures and logins with TokenRemovedError within the deadline, and works again once put back', async () => {
    const fx = hsm.current;
    const { label, userPin } = fx.tokens[0]!;
    const publicKeyPem = fx.tokens[0]!.keys.find((k) => k.label === 'p256')!.publicKeyPem;
    let putBack: () => void;
    {
      await using mod = await Pkcs11Module.load(fx.modulePath);
      const token = mod.token({ label });
      await using session = await token.openSession();
      await session.login(userPin);
      const key = await session.findPrivateKey({ label: 'p256' });
      expect(verifySignature(publicKeyPem, 'present', await session.signChallenge(key, 'present'), ES256)).toBe(true);

      // Pulled out with signatures queued on the session: every one settles, as TokenRemovedError.
      mod.raw.C_CloseAllSessions(token.slot);
      putBack = pullOut(fx.dir);
      const results = await Promise.all(Array.from({ length: 4 }, (_, i) => withinDeadline(session.signChallenge(key, `gone ${i}`))));
      for (const r of results) {
        expect(r.status).toBe('rejected');
        expect((r as PromiseRejectedResult).reason).toBeInstanceOf(TokenRemovedError);
        expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'ERR_TOKEN_REMOVED' });
      }
      expect(token.isPresent()).toBe(false);
      const reopen = await withinDeadline(token.openSession());
      expect(reopen.status === 'rejected' && (reopen.reason as { code?: string }).code).toMatch(/ERR_TOKEN_(NOT_PRESENT|REMOVED)/);
    }
    // Put back: a fresh instance of the module (C_Initialize re-reads the store) finds it and signs.
    putBack();
    await using mod = await Pkcs11Module.load(fx.modulePath);
    await using pool = await mod.token({ label }).openPool({ pin: userPin, workers: 0 });
    expect(verifySignature(publicKeyPem, 'back', await pool.signChallenge({ label: 'p256' }, 'back'), ES256)).toBe(true);
  });
});
