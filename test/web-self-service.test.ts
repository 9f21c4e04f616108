// The self-service pages in real headless Chromium: Reset My Security Token end to end (the new
// token read from the SMTP peer works through the API, the old one no longer does), the generic
// failure answer, CSRF from other origins, sessions ended by a password change, report-lost, the
// Content-Security-Policy, and a 375-pixel-wide screen.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cspViolations, focusedText, horizontalOverflow, screenshot, textOf, unnamed, useChromium } from './helpers/browser.js';
import { useServedVerifier } from './helpers/served-verifier.js';
import { tokenIn } from './helpers/verifier.js';
import { apiLogin, enrollCard, newUser, signIn } from './helpers/web-users.js';

const served = useServedVerifier({ ipLimit: { failures: 1000 } });
const browser = useChromium();
const GENERIC = 'Invalid username, password, security token; or user locked out.';

describe('Reset My Security Token', () => {
  it('mails a new token, never shows it; the new one logs in through the API and the old one no longer does', async () => {
    const { current } = served;
    const alice = await newUser(current, 'alice');
    const page = await (await browser.context()).newPage();
    expect(await signIn(page, current, { ...alice, token: alice.token })).toBe(303);
    expect(await textOf(page.getByRole('heading', { level: 1 }))).toBe('My settings');
    await page.getByRole('link', { name: 'Reset My Security Token' }).first().click();
    expect(await textOf(page.getByRole('note'))).toContain('Integrations stop working');
    await screenshot(page, 'reset-token');
    await page.getByLabel('Current password').fill(alice.password);
    await page.getByRole('button', { name: 'Reset Security Token' }).click();
    expect(await textOf(page.getByRole('status'))).toContain('Check your email');
    expect(new URL(page.url()).pathname).toBe('/account/sign-in');

    const fresh = tokenIn((await current.smtp.nextMail(alice.email)).text);
    expect(fresh).not.toBe(alice.token);
    expect(await page.content()).not.toContain(fresh);
    expect(await apiLogin(current, { username: 'alice', password: alice.password, securityToken: fresh })).toBe(200);
    expect(await apiLogin(current, { username: 'alice', password: alice.password, securityToken: alice.token })).toBe(401);
    // The session opened with the old token ended with it.
    await page.goto(`${current.url}/account`);
    expect(new URL(page.url()).pathname).toBe('/account/sign-in');
    // And the appended form signs in with the new one.
    expect(await signIn(page, current, { username: 'alice', password: alice.password + fresh })).toBe(303);
    expect(await textOf(page.getByRole('heading', { level: 1 }))).toBe('My settings');
  });

  it('is not offered, with the reason, to a user whose profile has login IP ranges', async () => {
    const { current } = served;
    const bound = await newUser(current, 'bound', { loginIpRanges: ['127.0.0.0/8'] });
    const page = await (await browser.context()).newPage();
    expect(await signIn(page, current, bound)).toBe(303);
    expect(await page.getByRole('link', { name: 'Reset My Security Token' }).count()).toBe(0);
    await page.goto(`${current.url}/account/security-token`);
    expect(await textOf(page.getByRole('main'))).toContain('not offered to you');
    expect(await page.getByRole('button', { name: 'Reset Security Token' }).count()).toBe(0);
  });
});

describe('signing in', () => {
  it('answers a wrong token and an unknown user with the same generic sentence, announced', async () => {
    const { current } = served;
    const bob = await newUser(current, 'bob');
    const page = await (await browser.context()).newPage();
    expect(await signIn(page, current, { ...bob, token: 'X'.repeat(24) })).toBe(401);
    expect(await textOf(page.getByRole('alert'))).toBe(GENERIC);
    const wrong = await page.content();
    expect(await signIn(page, current, { username: 'nobody', password: bob.password, token: bob.token })).toBe(401);
    expect(await textOf(page.getByRole('alert'))).toBe(GENERIC);
    // The username typed is kept; the password never comes back.
    expect(await page.getByLabel('Username').inputValue()).toBe('nobody');
    expect(wrong).not.toContain(bob.password);
    await screenshot(page, 'sign-in-failed');
  });
});

describe('signing in from a trusted range', () => {
  it('takes the password alone', async () => {
    const { current } = served;
    const hana = await newUser(current, 'hana');
    await current.verifier.organisation.addTrustedRange('test', '127.0.0.0/8', 'this machine');
    try {
      const page = await (await browser.context()).newPage();
      expect(await signIn(page, current, { username: hana.username, password: hana.password })).toBe(303);
      expect(await textOf(page.getByRole('heading', { level: 1 }))).toBe('My settings');
      // An unknown address under the pages is a page, not JSON.
      const missing = (await page.goto(`${current.url}/account/nowhere`))!;
      expect(missing.status()).toBe(404);
      expect(await textOf(page.getByRole('alert'))).toBe('There is no page at this address.');
    } finally {
      await current.verifier.organisation.removeTrustedRange('test', '127.0.0.0/8');
    }
  });
});

describe('CSRF', () => {
  let attacker: Server;
  let port = 0;
  beforeAll(async () => {
    // Another origin's page with a form aimed at the verifier: no script, a person just clicks.
    attacker = createServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end(`<form method="post" action="${served.current.url}/account/password"><input name="password" value="x"><input name="newPassword" value="attacker chosen 1"><input name="confirmPassword" value="attacker chosen 1"><button>Win a prize</button></form>`);
    });
    await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
    port = (attacker.address() as AddressInfo).port;
  });
  afterAll(async () => {
    attacker.closeAllConnections();
    await new Promise<void>((resolve) => attacker.close(() => resolve()));
  });

  for (const host of ['localhost', '127.0.0.1']) {
    it(`refuses a form posted from ${host === 'localhost' ? 'another site' : 'another origin of the same site'}, signed in or not`, async () => {
      const { current } = served;
      const carol = await newUser(current, `carol-${host.replace(/\W/g, '')}`);
      const page = await (await browser.context()).newPage();
      expect(await signIn(page, current, { ...carol, token: carol.token })).toBe(303);
      await page.goto(`http://${host}:${port}/`);
      const [response] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/account/password')), page.getByRole('button', { name: 'Win a prize' }).click()]);
      expect(response.status()).toBe(403);
      expect(await textOf(page.getByRole('alert'))).toContain('refused');
      expect(await apiLogin(current, { username: carol.username, password: carol.password, securityToken: carol.token })).toBe(200);
    });
  }
});

describe('sessions', () => {
  it('a password change ends every session of the user, and says to check the mail for the new token', async () => {
    const { current } = served;
    const dave = await newUser(current, 'dave');
    const here = await (await browser.context()).newPage();
    const there = await (await browser.context()).newPage();
    expect(await signIn(here, current, { ...dave, token: dave.token })).toBe(303);
    expect(await signIn(there, current, { ...dave, token: dave.token })).toBe(303);
    await here.goto(`${current.url}/account/password`);
    await here.getByLabel('Current password').fill(dave.password);
    await here.getByLabel('New password', { exact: true }).fill('a brand new passphrase');
    await here.getByLabel('New password, again').fill('a brand new passphrase');
    await here.getByRole('button', { name: 'Change password' }).click();
    expect(await textOf(here.getByRole('status'))).toContain('Your password is changed');
    await there.reload();
    expect(new URL(there.url()).pathname).toBe('/account/sign-in');
    const fresh = tokenIn((await current.smtp.nextMail(dave.email)).text);
    expect(await apiLogin(current, { username: 'dave', password: 'a brand new passphrase', securityToken: fresh })).toBe(200);
  });
});

describe('my cards', () => {
  it('report lost blocks the card at once and explains the temporary password', async () => {
    const { current } = served;
    const erin = await newUser(current, 'erin');
    await enrollCard(current, 'erin', 'CARD-ERIN-1');
    const page = await (await browser.context()).newPage();
    expect(await signIn(page, current, { ...erin, token: erin.token })).toBe(303);
    await page.getByRole('link', { name: 'My cards' }).first().click();
    await page.getByRole('button', { name: 'Report Door card lost' }).click();
    expect(await textOf(page.getByRole('status'))).toContain('temporary password');
    expect(await textOf(page.getByRole('main'))).toContain('blocked');
    expect((await current.verifier.credentials.list('erin'))[0]).toMatchObject({ status: 'blocked' });
    expect((await current.verifier.credentials.blocklist()).serials).toContain('CARD-ERIN-1');
    expect(await page.getByRole('button', { name: /Report .* lost/ }).count()).toBe(0);
  });
});

describe('every page', () => {
  const PAGES = ['/account', '/account/security-token', '/account/password', '/account/tokens', '/account/cards'];

  it('carries a strict CSP and the other security headers, has no inline script or style, violates nothing, and names every control', async () => {
    const { current } = served;
    const frank = await newUser(current, 'frank');
    await enrollCard(current, 'frank', 'CARD-FRANK-1');
    const page = await (await browser.context()).newPage();
    const signInPage = await page.goto(`${current.url}/account/sign-in`);
    expect(await signIn(page, current, { ...frank, token: frank.token })).toBe(303);
    for (const path of PAGES) {
      const response = (await page.goto(`${current.url}${path}`))!;
      const headers = response.headers();
      expect(headers['content-security-policy'], path).toContain("default-src 'none'");
      expect(headers['content-security-policy']).toContain("script-src 'self'");
      expect(headers['content-security-policy']).not.toContain('unsafe-inline');
      expect(headers['x-content-type-options']).toBe('nosniff');
      expect(headers['x-frame-options']).toBe('SAMEORIGIN');
      expect(headers['referrer-policy']).toBe('same-origin');
      expect(headers['cache-control']).toBe('no-store');
      const html = await response.text();
      expect(html, path).not.toMatch(/<script(?![^>]*\ssrc="\/assets\/)|\sstyle=|\son[a-z]+=/i);
      expect(await cspViolations(page), path).toEqual([]);
      expect(await unnamed(page), path).toEqual([]);
      expect(await page.locator('h1').count(), path).toBe(1);
    }
    // The keyboard's first stop is the skip link, then the page in reading order.
    await page.goto(`${current.url}/account/security-token`);
    await page.keyboard.press('Tab');
    expect(await focusedText(page)).toBe('Skip to content');
    expect(signInPage?.headers()['content-security-policy']).toContain("frame-ancestors 'none'");
  });

  it('fits a 375-pixel-wide screen without scrolling sideways', async () => {
    const { current } = served;
    const gina = await newUser(current, 'gina.with.a.rather.long.username');
    await enrollCard(current, gina.username, 'CARD-GINA-1', 'A card with a long label for a small screen');
    const page = await (await browser.context({ width: 375, height: 740 })).newPage();
    await page.goto(`${current.url}/account/sign-in`);
    expect(await horizontalOverflow(page)).toBe(0);
    await screenshot(page, 'sign-in');
    expect(await signIn(page, current, { ...gina, token: gina.token })).toBe(303);
    for (const path of PAGES) {
      await page.goto(`${current.url}${path}`);
      expect(await horizontalOverflow(page), path).toBe(0);
      await screenshot(page, path.slice(1).replace(/\//g, '-'));
    }
  });
});
