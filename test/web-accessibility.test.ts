// Every page of the self-service area and of the console, each seen by the role it is for
// (signed out, a user, the admin, the helpdesk, the audit key), at desktop width (1280×800) and
// phone width (390×844), in real headless Chromium: axe-core (@axe-core/playwright) finds no
// serious or critical violation (at desktop width), the page does not scroll sideways on the phone, no page violates
// the Content-Security-Policy, and a full-page screenshot of each is saved under
// .state/test-artifacts/web/ (name-width.png) for a person to look at.
import AxeBuilder from '@axe-core/playwright';
import type { BrowserContext, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { horizontalOverflow, plugInSecurityKey, recordCspViolations, screenshot, useChromium } from './helpers/browser.js';
import { useServedVerifier } from './helpers/served-verifier.js';
import { apiLogin, enrollCard, newUser, registerKey, signIn, type WebUser } from './helpers/web-users.js';

const served = useServedVerifier({ ipLimit: { failures: 1000 } }, { webauthn: true });
const browser = useChromium();
const keys: Record<'admin' | 'helpdesk' | 'audit', string> = { admin: '', helpdesk: '', audit: '' };
let ivy: WebUser;

beforeAll(async () => {
  const { verifier } = served.current;
  for (const scope of ['admin', 'helpdesk', 'audit'] as const) keys[scope] = (await verifier.apiKeys.create('test', `${scope} key`, [scope])).key;
  ivy = await newUser(served.current, 'ivy');
  await enrollCard(served.current, 'ivy', 'CARD-IVY-1', 'Ivy’s door card');
  await verifier.admin.create('test', { username: 'kiosk-only', email: 'kiosk@example.test', password: 'correct horse battery', loginIpRanges: ['192.0.2.0/24'] });
  await verifier.organisation.addTrustedRange('test', '198.51.100.0/24', 'the office');
  for (let i = 0; i < 6; i++) await apiLogin(served.current, { username: 'ivy', password: 'wrong password!!', securityToken: 'x'.repeat(24) });
  await verifier.admin.apply('test', 'ivy', 'unlock');
}, 60_000);

interface Violation {
  page: string;
  rule: string;
  impact: string;
  nodes: string[];
}

/** Axe's serious and critical findings on the page as it is now, with where. */
async function seriousViolations(page: Page, name: string): Promise<Violation[]> {
  const { violations } = await new AxeBuilder({ page }).analyze();
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({ page: name, rule: v.id, impact: v.impact ?? '', nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5) }));
}

/**
 * What the pages showed: axe's findings at desktop width (the markup and colours are the same at
 * both; axe costs one to three seconds a page, so a role's page whose markup is a subset of one
 * already checked — fewer controls — gets only its screenshot), sideways scrolling on the phone.
 */
function checker(page: Page) {
  const found: Violation[] = [];
  const overflow: string[] = [];
  const desktop = (page.viewportSize()?.width ?? 0) >= 1000;
  /** Checks the page the browser shows now, and saves its screenshot. */
  const check = async (name: string, { axe = true } = {}) => {
    await page.waitForLoadState();
    if (desktop && axe) found.push(...(await seriousViolations(page, name)));
    if (!desktop && (await horizontalOverflow(page)) > 0) overflow.push(name);
    await screenshot(page, name);
  };
  const visit = async (path: string, name: string, options: { axe?: boolean } = {}) => {
    const response = await page.goto(`${served.current.url}${path}`);
    expect(response?.status(), path).toBeLessThan(500);
    await check(name, options);
  };
  return { found, overflow, check, visit };
}

async function consoleSignIn(page: Page, key: string): Promise<void> {
  await page.goto(`${served.current.url}/console/sign-in`);
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForLoadState();
}

describe('every page', () => {
  for (const [width, height] of [
    [1280, 800],
    [390, 844],
  ] as const) {
    it(`${width < 1000 ? 'fits' : 'has no serious or critical axe violation at'} ${width} pixels and violates no CSP, for each role`, async () => {
      const context: BrowserContext = await browser.context({ width, height });
      const csp = await recordCspViolations(context);
      const page = await context.newPage();
      const { found, overflow, check, visit } = checker(page);
      const url = served.current.url;
      const named = (role: string, path: string) => `${role}-${path.slice(1).replace(/\//g, '-')}`;

      // Signed out: the sign-in (and its refusal), Reset My Security Token, a missing page.
      await visit('/account/sign-in', 'account-sign-in');
      await page.getByLabel('Username').fill('ivy');
      await page.getByLabel('Password', { exact: true }).fill('not her password');
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await check('account-sign-in-refused');
      expect(await page.getByRole('alert').first().innerText()).toContain('Invalid username');
      await visit('/account/security-token', 'account-security-token-signed-out');
      await visit('/account/no-such-page', 'account-not-found');

      // A user's pages, with a card and (registered on the page) a security key.
      await plugInSecurityKey(page);
      expect(await signIn(page, served.current, { ...ivy, token: ivy.token })).toBe(303);
      await registerKey(page, served.current, `Key used at ${width} pixels`, ivy.password);
      await check('account-cards');
      for (const path of ['/account', '/account/security-token', '/account/password', '/account/tokens']) await visit(path, path.slice(1).replace(/\//g, '-'));
      // A refused form, its error announced.
      await page.goto(`${url}/account/password`);
      await page.getByLabel('Current password').fill('not her password');
      await page.getByLabel('New password', { exact: true }).fill('a brand new passphrase');
      await page.getByLabel('New password, again').fill('another passphrase!!');
      await page.getByRole('button', { name: 'Change password' }).click();
      await check('account-password-refused');
      expect(await page.getByRole('alert').first().innerText()).toContain('confirmation differ');

      // The console, for each role: the admin sees every control; the others, fewer.
      await visit('/console/sign-in', 'console-sign-in');
      await consoleSignIn(page, keys.admin);
      for (const path of ['/console/users', '/console/users/ivy', '/console/ip-ranges', '/console/audit']) await visit(path, named('admin', path));
      // A user with login IP ranges: ivy's page with fewer parts.
      await visit('/console/users/kiosk-only', named('admin', '/console/users/kiosk-only'), { axe: false });
      await consoleSignIn(page, keys.helpdesk);
      await visit('/console/users/ivy', named('helpdesk', '/console/users/ivy'));
      for (const path of ['/console/users', '/console/ip-ranges']) await visit(path, named('helpdesk', path), { axe: false });
      await consoleSignIn(page, keys.audit);
      await visit('/console/audit', named('audit', '/console/audit'), { axe: false });
      await visit('/console/users', 'audit-console-users-refused');

      expect(found).toEqual([]);
      expect(overflow).toEqual([]);
      expect(csp).toEqual([]);
    }, 60_000);
  }
});
