// Security keys on the self-service pages, in real headless Chromium with its virtual
// authenticator (CDP WebAuthn.addVirtualAuthenticator: CTAP2 over USB, a resident-key store and
// user verification): a user registers a key on My cards and security keys, signs in with it by
// username (with the password their policy wants) and then, token-only, with the key alone
// (a discoverable credential); each sign-in raises the counter the verifier stores and rotates the
// session; after the key is reported lost on the page its sign-in fails with the generic answer
// and the audit log says why. No page violates the Content-Security-Policy meanwhile. With
// JavaScript off the pages say what needs it, and show no dead button. And the key sign-in spends
// the same failure budget of the address as the password sign-in: over it, both answer 429.
import type { BrowserContext, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { plugInSecurityKey, recordCspViolations, screenshot, textOf, useChromium } from './helpers/browser.js';
import { useServedVerifier, type ServedVerifier } from './helpers/served-verifier.js';
import { newUser, registerKey, signIn } from './helpers/web-users.js';

// The address's failure budget is small, for the last test; the ones before it fail once.
const BUDGET = 8;
const served = useServedVerifier({ ipLimit: { failures: BUDGET } }, { webauthn: true });
const browser = useChromium();
const GENERIC = 'Invalid username, password, security token; or user locked out.';

async function sessionCookie(context: BrowserContext): Promise<string | undefined> {
  return (await context.cookies()).find((c) => c.name === 'tg_account')?.value;
}

/** The stored counter of the user's one security key, as the verifier's API lists it. */
async function storedKey(current: ServedVerifier, username: string) {
  const keys = (await current.verifier.credentials.list(username)).filter((c) => c.kind === 'fido');
  expect(keys).toHaveLength(1);
  return keys[0]!;
}

/** Presses "Sign in with a security key" (username and password as typed) and waits for the page that answers. */
async function keySignIn(page: Page, current: ServedVerifier, typed: { username?: string; password?: string } = {}): Promise<number> {
  await page.goto(`${current.url}/account/sign-in`);
  if (typed.username) await page.getByLabel('Username').fill(typed.username);
  if (typed.password) await page.getByLabel('Password', { exact: true }).fill(typed.password);
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/account/sign-in/key') && r.request().method() === 'POST'),
    page.getByRole('button', { name: 'Sign in with a security key' }).click(),
  ]);
  await page.waitForLoadState();
  return response.status();
}

describe('security keys on the pages', () => {
  it('registers a key, signs in with it (by username, then discoverable), counts up, and refuses it once reported lost', async () => {
    const { current } = served;
    const kim = await newUser(current, 'kim');
    const context = await browser.context();
    const csp = await recordCspViolations(context);
    const page = await context.newPage();
    const { cdp, authenticatorId } = await plugInSecurityKey(page);

    expect(await signIn(page, current, { ...kim, token: kim.token })).toBe(303);
    await registerKey(page, current, 'Blue key', kim.password);
    expect(await textOf(page.getByRole('status').first())).toContain('registered');
    const registered = await storedKey(current, 'kim');
    expect(registered).toMatchObject({ label: 'Blue key', status: 'active', rpId: 'localhost', transports: ['usb'] });
    // The key holds it as a discoverable credential (residentKey preferred, the key can).
    const { credentials } = (await cdp.send('WebAuthn.getCredentials', { authenticatorId })) as { credentials: Array<{ credentialId: string; isResidentCredential: boolean }> };
    expect(credentials).toHaveLength(1);
    expect(credentials[0]!.isResidentCredential).toBe(true);
    expect(Buffer.from(credentials[0]!.credentialId, 'base64').toString('base64url')).toBe(registered.fidoCredentialId);
    expect(await textOf(page.getByRole('main'))).toContain('Blue key');

    // Her policy is the default, password + token: the key stands in for the token, the password
    // is still asked for — said before the key is touched.
    await page.goto(`${current.url}/account/sign-in`);
    await page.getByLabel('Username').fill('kim');
    await page.getByRole('button', { name: 'Sign in with a security key' }).click();
    expect(await textOf(page.getByRole('alert'))).toContain('needs your password');
    expect((await storedKey(current, 'kim')).signCount).toBe(registered.signCount);

    const before = await sessionCookie(context);
    expect(await keySignIn(page, current, { username: 'kim', password: kim.password })).toBe(303);
    expect(await textOf(page.getByRole('heading', { level: 1 }))).toBe('My settings');
    const first = (await storedKey(current, 'kim')).signCount!;
    expect(first).toBeGreaterThan(registered.signCount!);
    // A new session at sign-in: the old cookie no longer opens anything.
    const after = await sessionCookie(context);
    expect(after).toBeDefined();
    expect(after).not.toBe(before);
    const stale = await fetch(`${current.url}/account`, { headers: { cookie: `tg_account=${before}` }, redirect: 'manual' });
    expect(stale.headers.get('location')).toBe('/account/sign-in');

    // Token-only: the key alone, no username typed — the key's discoverable credential names her.
    await current.verifier.admin.setChallengePolicy('test', 'kim', 'token-only');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForLoadState();
    expect(await keySignIn(page, current)).toBe(303);
    expect(await textOf(page.getByRole('heading', { level: 1 }))).toBe('My settings');
    const second = (await storedKey(current, 'kim')).signCount!;
    expect(second).toBeGreaterThan(first);
    const logins = await current.verifier.audit({ subject: 'kim', action: 'challenge.login', newestFirst: true, limit: 5 });
    // Both key sign-ins succeeded (the first also logs its password check, reason 'password'; the
    // log is in time order, and the two entries of one sign-in may share or swap a millisecond).
    expect(logins.every((e) => e.result === 'success')).toBe(true);
    expect(logins.filter((e) => e.reason === 'ok')).toHaveLength(2);

    // Lost: reported on the page, blocked at once; the key's next sign-in fails, generically.
    await page.goto(`${current.url}/account/cards`);
    await page.getByRole('button', { name: 'Report Blue key lost' }).click();
    await page.waitForLoadState();
    expect(await textOf(page.getByRole('status').first())).toContain('blocked');
    expect(await storedKey(current, 'kim')).toMatchObject({ status: 'blocked' });
    expect((await current.verifier.credentials.blocklist()).fidoCredentialIds).toContain(registered.fidoCredentialId);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForLoadState();
    expect(await keySignIn(page, current)).toBe(401);
    expect(await textOf(page.getByRole('alert').first())).toBe(GENERIC);
    await screenshot(page, 'account-sign-in-key-refused');
    const [refused] = await current.verifier.audit({ subject: 'kim', action: 'challenge.login', newestFirst: true, limit: 1 });
    expect(refused).toMatchObject({ result: 'failure', reason: 'credential_blocked' });
    expect((await storedKey(current, 'kim')).signCount).toBe(second);
    expect(await current.verifier.audit({ subject: 'kim', action: 'credential.block', limit: 1 })).toHaveLength(1);

    expect(csp).toEqual([]);
  });

  it('says what needs JavaScript when it is off, and offers no button that cannot work', async () => {
    const { current } = served;
    const lee = await newUser(current, 'lee');
    const page = await (await browser.context({ javaScript: false })).newPage();
    await page.goto(`${current.url}/account/sign-in`);
    expect(await page.getByRole('button', { name: 'Sign in with a security key' }).count()).toBe(0);
    expect(await textOf(page.getByText(/Signing in with a security key needs JavaScript/))).toContain('password and security token');
    // The rest works: the password sign-in is a plain form.
    expect(await signIn(page, current, { ...lee, token: lee.token })).toBe(303);
    await page.goto(`${current.url}/account/cards`);
    expect(await page.getByRole('button', { name: 'Register a security key' }).count()).toBe(0);
    expect(await textOf(page.getByText(/Registering a security key needs JavaScript/))).toContain('works without');
  });

  it('spends the address\'s failure budget like the password sign-in: over it, both are throttled', async () => {
    const { current } = served;
    const page = await (await browser.context()).newPage();
    await page.goto(`${current.url}/account/sign-in`);
    // Unknown usernames, each a counted failure, until the address is refused.
    const csrf = (await page.locator('input[name="_csrf"]').first().getAttribute('value')) ?? '';
    const statuses = await page.evaluate(async ([tries, csrf]: [number, string]) => {
      const seen: Array<[number, string | null]> = [];
      for (let i = 0; i < tries; i++) {
        const response = await fetch('/account/sign-in/key/options', { method: 'POST', body: new URLSearchParams({ username: `nobody-${i}`, _csrf: csrf }) });
        seen.push([response.status, response.headers.get('retry-after')]);
      }
      return seen;
    // One more than the budget: the last is refused however many failures earlier tests left here.
    }, [BUDGET + 1, csrf] as [number, string]);
    expect(statuses.map(([status]) => status)).toContain(401);
    const [status, retryAfter] = statuses.at(-1)!;
    expect(status).toBe(429);
    expect(Number(retryAfter)).toBeGreaterThan(0);
    await page.getByLabel('Username').fill('kim');
    await page.getByRole('button', { name: 'Sign in with a security key' }).click();
    expect(await textOf(page.getByRole('alert').first())).toContain('Too many failed attempts');
    expect(await signIn(page, current, { username: 'lee', password: 'correct horse battery' })).toBe(429);
  });
});
