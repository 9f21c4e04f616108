// Lost-token blocking: the blocklist by serial and certificate fingerprint, its file and refresh,
// and a blocked token refused before its PIN is sent (or counted).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Blocklist, certificateFingerprint, Pkcs11Module, TokenBlockedError, type Token } from '../src/index.js';
import { X509Certificate } from '../src/algorithms/x509.js';
import { useSoftHsm } from './helpers/softhsm.js';

const hsm = useSoftHsm({ tokens: [{ label: 'carried' }] });
const dir = mkdtempSync(join(tmpdir(), 'tokengate-blocklist-'));
let mod: Pkcs11Module;
let token: Token;

beforeAll(async () => {
  mod = await Pkcs11Module.load(hsm.current.modulePath);
  token = mod.token({ label: 'carried' });
});
afterAll(async () => {
  await mod?.close();
  rmSync(dir, { recursive: true, force: true });
});

const p256Cert = () => new X509Certificate(hsm.current.tokens[0]!.keys.find((k) => k.label === 'p256')!.certificatePem);

describe('Blocklist', () => {
  it('blocks by serial and by certificate fingerprint (any case, with colons)', () => {
    const cert = p256Cert();
    const fp = certificateFingerprint(cert);
    expect(fp).toMatch(/^[0-9a-f]{64}$/);
    const colons = fp.toUpperCase().match(/../g)!.join(':');
    const list = new Blocklist({ serials: ['lost-1'], certificateFingerprints: [colons] });
    expect(list.isBlocked({ serial: 'lost-1' })).toBe(true);
    expect(list.isBlocked({ serial: 'other', certificates: [cert] })).toBe(true);
    expect(list.isBlocked({ serial: 'other', certificates: [Buffer.from(cert.rawData)] })).toBe(true);
    expect(list.isBlocked({ serial: 'other' })).toBe(false);
    expect(() => list.assertAllowed({ serial: 'lost-1' })).toThrow(TokenBlockedError);
    expect(() => list.assertAllowed({ serial: 'lost-1' })).toThrow(expect.objectContaining({ code: 'ERR_TOKEN_BLOCKED' }));
  });

  it('loads from a file and rejects a malformed one with a typed error', async () => {
    const good = join(dir, 'good.json');
    writeFileSync(good, JSON.stringify({ serials: ['s1'], certificateFingerprints: [] }));
    expect((await Blocklist.fromFile(good)).isBlocked({ serial: 's1' })).toBe(true);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{ not json');
    await expect(Blocklist.fromFile(bad)).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    writeFileSync(bad, JSON.stringify({ serials: [1] }));
    await expect(Blocklist.fromFile(bad)).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    await expect(Blocklist.fromFile(join(dir, 'missing.json'))).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
  });

  it('refreshes through a pluggable fetcher, caches the result, and keeps the old list when the fetch fails', async () => {
    const list = new Blocklist({ serials: ['old'], certificateFingerprints: [] });
    const cache = join(dir, 'cache.json');
    expect(await list.refresh(async () => ({ serials: ['new'], certificateFingerprints: [] }), cache)).toBe(true);
    expect(list.isBlocked({ serial: 'new' })).toBe(true);
    expect(list.isBlocked({ serial: 'old' })).toBe(false);
    expect(JSON.parse(readFileSync(cache, 'utf8'))).toEqual({ serials: ['new'], certificateFingerprints: [] });
    expect(await list.refresh(() => Promise.reject(new Error('verifier down')))).toBe(false);
    expect(await list.refresh(async () => ({ serials: 'garbage' }) as never)).toBe(false);
    expect(list.isBlocked({ serial: 'new' })).toBe(true);
    expect((await Blocklist.fromFile(cache)).isBlocked({ serial: 'new' })).toBe(true);
  });
});

describe('a blocklist in front of the login guard', () => {
  it('refuses a token blocked by serial or by a certificate on it, without sending the PIN or counting a try', async () => {
    const login = vi.spyOn(mod.raw, 'C_Login');
    for (const entries of [
      { serials: [token.serial], certificateFingerprints: [] },
      { serials: [], certificateFingerprints: [certificateFingerprint(p256Cert())] },
    ]) {
      await using session = await token.openSession({ admission: new Blocklist(entries) });
      await expect(session.login('999999')).rejects.toMatchObject({ code: 'ERR_TOKEN_BLOCKED' });
      expect(token.pinState().failures).toBe(0);
    }
    expect(login).not.toHaveBeenCalled();
    login.mockRestore();
    // Not blocked: the same login goes through.
    await using session = await token.openSession({ admission: new Blocklist({ serials: ['someone-else'], certificateFingerprints: [] }) });
    await session.login(hsm.current.tokens[0]!.userPin);
    expect(await session.isLoggedIn()).toBe(true);
  });
});

describe('a blocklist as the admission check of sessions and pools', () => {
  it('refuses login and every signature of a session once the token is blocked, with no PKCS#11 call', async () => {
    const list = new Blocklist();
    await using session = await token.openSession({ admission: list });
    await session.login(hsm.current.tokens[0]!.userPin);
    expect((await session.signChallenge({ label: 'p256' }, 'before')).length).toBe(64);
    // Reported lost while in use: the next signature is refused before the token is asked.
    await list.refresh(async () => ({ serials: [], certificateFingerprints: [certificateFingerprint(p256Cert())] }));
    const signInit = vi.spyOn(mod.raw, 'C_SignInit');
    await expect(session.signChallenge({ label: 'p256' }, 'after')).rejects.toBeInstanceOf(TokenBlockedError);
    await expect(session.login(hsm.current.tokens[0]!.userPin)).rejects.toMatchObject({ code: 'ERR_TOKEN_BLOCKED' });
    expect(signInit).not.toHaveBeenCalled();
    signInit.mockRestore();
  });

  it('refuses to open a pool for a blocked token, and stops a running pool when its token is blocked', async () => {
    const pin = hsm.current.tokens[0]!.userPin;
    await expect(token.openPool({ pin, workers: 0, admission: new Blocklist({ serials: [token.serial], certificateFingerprints: [] }) })).rejects.toMatchObject({
      code: 'ERR_TOKEN_BLOCKED',
    });
    const list = new Blocklist();
    await using pool = await token.openPool({ pin, workers: 1, admission: list });
    expect((await Promise.all([pool.signChallenge({ label: 'p256' }, 'a'), pool.signChallenge({ label: 'p256' }, 'b')])).length).toBe(2);
    await list.refresh(async () => ({ serials: [token.serial], certificateFingerprints: [] }));
    const results = await Promise.allSettled([pool.signChallenge({ label: 'p256' }, 'c'), pool.signChallenge({ label: 'p256' }, 'd')]);
    expect(results.map((r) => r.status === 'rejected' && (r.reason as { code?: string }).code)).toEqual(['ERR_TOKEN_BLOCKED', 'ERR_TOKEN_BLOCKED']);
  });
});
