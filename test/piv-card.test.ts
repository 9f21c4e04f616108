// The PIN lifecycle on a chip card, through the real stack: our emulated PIV card (its own
// process, connected to vpcd), a private pcscd, and OpenSC's opensc-pkcs11.so. The card counts
// wrong PINs itself; OpenSC turns its status words into CKR codes and token flags.
import { execFileSync } from 'node:child_process';
import { verify } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Blocklist,
  PinIncorrectError,
  PinLockedError,
  Pkcs11Module,
  TokenRemovedError,
  type Token,
} from '../src/index.js';
import { tokenEvent, usePivStack } from './helpers/piv.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PIN = '246810';
const PUK = '97531864';
const NEW_PIN = '135790';
const piv = usePivStack({ pin: PIN, puk: PUK, pinTries: 3, pukTries: 3, holder: 'Alice Example' });
let mod: Pkcs11Module;
let token: Token;
const stateDir = mkdtempSync(join(tmpdir(), 'tokengate-piv-'));

beforeAll(async () => {
  mod = await Pkcs11Module.load(piv.current.modulePath);
  await tokenEvent(mod, piv.current.card.serial, 'inserted');
  token = mod.token({ serial: piv.current.card.serial });
}, 60_000);
afterAll(async () => {
  await mod?.close();
  rmSync(stateDir, { recursive: true, force: true });
});

/** The card's key, named by its certificate's id (the way a pool is asked for it). */
async function certificateKey(): Promise<{ id: Uint8Array }> {
  await using session = await token.openSession();
  return { id: (await session.listCertificates())[0]!.id };
}

async function login(pin: string, allowFinalTry = false): Promise<unknown> {
  await using session = await token.openSession();
  return session.login(pin, { allowFinalTry }).then(
    () => 'ok',
    (err: unknown) => err,
  );
}

describe('the emulated PIV card through pcscd and OpenSC', () => {
  it('is listed with the holder as label, by pkcs11-tool too', () => {
    expect(token.label).toBe('Alice Example');
    expect(token.info().flags).toMatchObject({ loginRequired: true, tokenInitialized: true, userPinInitialized: true });
    const listing = execFileSync('pkcs11-tool', ['--module', piv.current.modulePath, '-L'], { encoding: 'utf8', env: process.env });
    expect(listing).toContain('Alice Example');
    expect(listing).toContain(piv.current.card.serial);
  });

  it('logs in with the right PIN and signs; the signature verifies with node:crypto against the card\'s certificate', async () => {
    await using session = await token.openSession();
    await session.login(PIN);
    const [certificate] = await session.listCertificates();
    expect(certificate!.certificate.subject).toBe('CN=Alice Example');
    expect(Buffer.from(certificate!.certificate.rawData)).toEqual(Buffer.from(piv.current.card.certificate.rawData));
    const key = await session.findPrivateKey({ id: certificate!.id });
    for (const format of ['raw', 'der'] as const) {
      const signature = await session.signChallenge(key, 'open the door', { format });
      const publicKey = certificate!.certificate.publicKey.rawData;
      expect(verify('sha256', Buffer.from('open the door'), { key: Buffer.from(publicKey), format: 'der', type: 'spki', dsaEncoding: format === 'der' ? 'der' : 'ieee-p1363' }, signature)).toBe(true);
    }
    await session.logout();
  });

  it('counts wrong PINs on the card: final try reported and guarded, then locked, even for the right PIN', async () => {
    const first = await login('111111');
    expect(first).toBeInstanceOf(PinIncorrectError);
    expect(first).toMatchObject({ code: 'ERR_PIN_INCORRECT', rvName: 'CKR_PIN_INCORRECT', finalTry: false });
    expect((await piv.current.card.state()).pinTriesLeft).toBe(2);

    const second = await login('222222');
    expect(second).toMatchObject({ code: 'ERR_PIN_INCORRECT', finalTry: true, retriesLeft: 1 });
    expect(token.info().pinStatus).toBe('finalTry');

    // The last try is not spent by accident: the card's counter does not move.
    expect(await login('333333')).toMatchObject({ code: 'ERR_FINAL_TRY_REFUSED' });
    expect((await piv.current.card.state()).pinTriesLeft).toBe(1);

    // The wrong PIN that locks the card says so.
    const third = await login('333333', true);
    expect(third).toBeInstanceOf(PinLockedError);
    expect(third).toMatchObject({ code: 'ERR_PIN_LOCKED', lockedNow: true, pinType: 'user' });
    expect(token.info().pinStatus).toBe('locked');
    expect((await piv.current.card.state()).pinTriesLeft).toBe(0);

    const rightButLocked = await login(PIN, true);
    expect(rightButLocked).toBeInstanceOf(PinLockedError);
    // A card counts its own tries: its status is the card's verdict, with no host count beside it.
    expect(token.pinCountedBy).toBe('token');
    expect(token.pinState()).toMatchObject({ pinStatus: 'locked', source: 'token', retriesLeft: 0, failures: undefined });
  });

  it('unblocks with the PUK: a wrong PUK costs a PUK try, the right one sets a new PIN and the old one stops working', async () => {
    const wrongPuk = await token.unblockPin({ puk: '00000000', newPin: NEW_PIN }).then(
      () => 'ok',
      (err: unknown) => err,
    );
    expect(wrongPuk).toBeInstanceOf(PinIncorrectError);
    expect(wrongPuk).toMatchObject({ code: 'ERR_PIN_INCORRECT', pinType: 'puk', fn: 'C_SetPIN' });
    expect(await piv.current.card.state()).toMatchObject({ pukTriesLeft: 2, pinTriesLeft: 0 });

    await token.unblockPin({ puk: PUK, newPin: NEW_PIN });
    expect(await piv.current.card.state()).toMatchObject({ pukTriesLeft: 3, pinTriesLeft: 3 });
    expect(token.info().pinStatus).toBe('ok');
    expect(await login(NEW_PIN)).toBe('ok');
    expect(await login(PIN)).toBeInstanceOf(PinIncorrectError);
    expect(await login(NEW_PIN)).toBe('ok'); // and the right one resets the card's count
    expect((await piv.current.card.state()).pinTriesLeft).toBe(3);
    // Back to the first PIN for the tests that follow.
    await token.changePin(NEW_PIN, PIN);
    expect(await login(PIN)).toBe('ok');
  });

  it('refuses a card on the blocklist before its PIN reaches the card', async () => {
    const blocklist = new Blocklist({ serials: [], certificateFingerprints: [] });
    await using session = await token.openSession({ admission: blocklist });
    await blocklist.refresh(async () => ({ serials: [token.serial], certificateFingerprints: [] }));
    const before = await piv.current.card.state();
    await expect(session.login('999999')).rejects.toMatchObject({ code: 'ERR_TOKEN_BLOCKED' });
    expect((await piv.current.card.state()).pinTriesLeft).toBe(before.pinTriesLeft);
  });

  it('signs concurrent calls on worker threads by default: a chip in a hardware slot, one login; all verify against the card\'s key', async () => {
    const key = await certificateKey();
    await using pool = await token.openPool({ pin: PIN, workers: 2 });
    expect(token.inHardwareSlot).toBe(true);
    expect(pool.workerKind).toBe('thread');
    const challenges = Array.from({ length: 12 }, (_, i) => `door ${i}`);
    const signatures = await Promise.all(challenges.map((c) => pool.signChallenge(key, c)));
    signatures.forEach((signature, i) => expect(verify('sha256', Buffer.from(challenges[i]!), { key: piv.current.card.publicKey, dsaEncoding: 'ieee-p1363' }, signature)).toBe(true));
  });

  it('pulled out during signatures: they fail with TokenRemovedError within a deadline; the pool works again once it is back', async () => {
    const card = piv.current.card;
    const key = await certificateKey();
    await using pool = await token.openPool({ pin: PIN, workers: 0, size: 2 });
    expect((await pool.signChallenge(key, 'before')).length).toBe(64);

    // Sign continuously while the card is pulled out.
    const errors: unknown[] = [];
    let stop = false;
    const signer = (async () => {
      while (!stop) {
        try {
          await pool.signChallenge(key, 'during');
        } catch (err) {
          errors.push(err);
          stop = true;
        }
      }
    })();
    const gone = tokenEvent(mod, card.serial, 'removed');
    await card.remove();
    await gone;
    const deadline = setTimeout(() => (stop = true), 10_000);
    await signer;
    clearTimeout(deadline);
    expect(errors.length).toBe(1);
    expect(errors[0]).toBeInstanceOf(TokenRemovedError);
    await expect(pool.signChallenge(key, 'still gone')).rejects.toMatchObject({ code: 'ERR_TOKEN_REMOVED' });

    const back = tokenEvent(mod, card.serial, 'inserted');
    await card.insert();
    await back;
    const signature = await pool.signChallenge(key, 'after');
    expect(verify('sha256', Buffer.from('after'), { key: card.publicKey, dsaEncoding: 'ieee-p1363' }, signature)).toBe(true);
  });
});
