// The admin and helpdesk console in real headless Chromium: API-key sign-in, user search and
// paging, an admin's account actions, a lost card blocked and a temporary password that works
// through the API, the audit log's filters, paging and chart, what the helpdesk and audit roles
// cannot do (hidden, and refused when posted anyway), CSP, and a 375-pixel-wide screen.
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { cspViolations, horizontalOverflow, screenshot, textOf, unnamed, useChromium } from './helpers/browser.js';
import { useServedVerifier } from './helpers/served-verifier.js';
import { tokenIn } from './helpers/verifier.js';
import { apiLogin, enrollCard, newUser, type WebUser } from './helpers/web-users.js';

const served = useServedVerifier({ ipLimit: { failures: 1000 }, lockout: { threshold: 3 } });
const browser = useChromium();
const keys: Record<'admin' | 'helpdesk' | 'audit', string> = { admin: '', helpdesk: '', audit: '' };
let zed: WebUser;

beforeAll(async () => {
  const { verifier } = served.current;
  for (const scope of ['admin', 'helpdesk', 'audit'] as const) keys[scope] = (await verifier.apiKeys.create('test', scope, [scope])).key;
  // 26 more users than fit on a page, and zed, who has a card and failed logins to find.
  for (let i = 0; i < 26; i++) await verifier.admin.create('test', { username: `user-${String(i).padStart(2, '0')}`, email: `user${i}@example.test`, password: 'correct horse battery' });
  zed = await newUser(served.current, 'zed');
  await enrollCard(served.current, 'zed', 'CARD-ZED-1', 'Zed door card');
  for (let i = 0; i < 30; i++) await apiLogin(served.current, { username: i % 2 ? 'zed' : `user-${String(i % 26).padStart(2, '0')}`, password: 'wrong password!!', securityToken: 'x'.repeat(24) });
  await verifier.admin.apply('test', 'zed', 'unlock');
}, 120_000);

/** A fresh browser signed in to the console with `key`, the page after sign-in fully loaded. */
async function consoleWithKey(key: string, width = 1280): Promise<Page> {
  const page = await (await browser.context({ width })).newPage();
  await page.goto(`${served.current.url}/console/sign-in`);
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForLoadState();
  return page;
}

function consoleAs(role: keyof typeof keys, width = 1280): Promise<Page> {
  return consoleWithKey(keys[role], width);
}

/** Posts a form as the page's own session would, CSRF token included, bypassing what the page shows. */
async function postAnyway(page: Page, path: string, form: Record<string, string>): Promise<number> {
  const csrf = (await page.locator('input[name="_csrf"]').first().getAttribute('value')) ?? '';
  const response = await page.request.post(`${served.current.url}${path}`, { form: { ...form, _csrf: csrf }, headers: { origin: served.current.url }, maxRedirects: 0 });
  return response.status();
}

describe('the console for an admin', () => {
  it('signs in with an API key, searches users and pages through them', async () => {
    const page = await consoleAs('admin');
    expect(new URL(page.url()).pathname).toBe('/console/users');
    // 27 users: a page of 25 (user-00 to user-24), then the other two, by keyset, and back.
    expect(await textOf(page.locator('caption'))).toBe('Users, user-00 to user-24');
    expect(await page.getByRole('link', { name: 'Previous page' }).count()).toBe(0);
    await page.getByRole('link', { name: 'Next page' }).click();
    expect(await textOf(page.locator('caption'))).toBe('Users, user-25 to zed');
    expect(await page.getByRole('link', { name: 'zed' }).count()).toBe(1);
    expect(await page.getByRole('link', { name: 'Next page' }).count()).toBe(0);
    await page.getByRole('link', { name: 'Previous page' }).click();
    expect(await textOf(page.locator('caption'))).toBe('Users, user-00 to user-24');
    await page.getByLabel('Search users').fill('User-1');
    await page.getByRole('button', { name: 'Search' }).click();
    expect(await page.locator('tbody tr').count()).toBe(10);
    expect(await textOf(page.getByText(/users? starting with/))).toBe('10 users starting with “User-1”.');
    // With an @, the start of an email address: user1@, and user10@ … user19@.
    await page.getByLabel('Search users').fill('USER1');
    await page.getByRole('button', { name: 'Search' }).click();
    expect(await page.locator('tbody tr').count()).toBe(0);
    await page.getByLabel('Search users').fill('USER1@');
    await page.getByRole('button', { name: 'Search' }).click();
    expect(await page.locator('tbody tr').allInnerTexts()).toEqual([expect.stringMatching(/^user-01\tuser1@example\.test/)]);
    await screenshot(page, 'console-users');
  });

  it('refuses an unknown key with one sentence', async () => {
    const page = await (await browser.context()).newPage();
    await page.goto(`${served.current.url}/console/sign-in`);
    await page.getByLabel('API key').fill(`tgk_${'0'.repeat(16)}_${'A'.repeat(43)}`);
    await page.getByRole('button', { name: 'Sign in' }).click();
    expect(await textOf(page.getByRole('alert'))).toBe('The API key was not accepted (unknown or revoked).');
  });

  it('deactivates, reactivates and unlocks a user, blocks a lost card and issues a temporary password that works', async () => {
    const { current } = served;
    const page = await consoleAs('admin');
    await page.goto(`${current.url}/console/users/zed`);
    await page.getByRole('button', { name: 'Deactivate' }).click();
    expect((await current.verifier.admin.get('zed')).active).toBe(false);
    expect(await apiLogin(current, { username: 'zed', password: zed.password, securityToken: zed.token })).toBe(401);
    await page.getByRole('button', { name: 'Reactivate' }).click();
    // The answer page loaded before the reload below, which would otherwise race its navigation.
    await page.waitForLoadState();
    expect(await apiLogin(current, { username: 'zed', password: zed.password, securityToken: zed.token })).toBe(200);

    for (let i = 0; i < 3; i++) await apiLogin(current, { username: 'zed', password: 'wrong password!!', securityToken: zed.token });
    expect((await current.verifier.admin.get('zed')).locked).toBe(true);
    await page.reload();
    expect(await textOf(page.locator('.facts').first())).toContain('locked');
    await page.getByRole('button', { name: 'Unlock', exact: true }).click();
    expect((await current.verifier.admin.get('zed')).locked).toBe(false);

    await page.getByRole('button', { name: 'Block (lost): Zed door card' }).click();
    expect((await current.verifier.credentials.list('zed'))[0]?.status).toBe('blocked');
    await page.getByLabel(/here, once/).check();
    await page.getByRole('button', { name: 'Issue temporary password' }).click();
    const temporary = await textOf(page.locator('code.secret'));
    expect(temporary).toMatch(/^[A-Za-z0-9]{20}$/);
    await screenshot(page, 'console-user');
    const login = await fetch(`${current.url}/v1/login/temporary`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'zed', password: zed.password, temporaryPassword: temporary }) });
    expect(login.status).toBe(200);
    // Shown once: the page that showed it is not cached, and a new view does not show it.
    await page.goto(`${current.url}/console/users/zed`);
    expect(await page.content()).not.toContain(temporary);
  });

  it('creates a user, resets their password, sets their login IP ranges, and adds and removes a trusted range', async () => {
    const { current } = served;
    const page = await consoleAs('admin');
    await page.getByLabel('Username').fill('newbie');
    await page.getByLabel('Email').fill('newbie@example.test');
    await page.getByLabel('Password', { exact: true }).fill('first passphrase!');
    await page.getByRole('button', { name: 'Create user' }).click();
    expect(new URL(page.url()).pathname).toBe('/console/users/newbie');
    expect(await textOf(page.getByRole('status'))).toContain('first security token is on its way');
    tokenIn((await current.smtp.nextMail('newbie@example.test')).text);

    await page.getByLabel('New password').fill('second passphrase!');
    await page.getByRole('button', { name: 'Reset password' }).click();
    expect(await textOf(page.getByRole('status'))).toContain('The password is reset');
    const token = tokenIn((await current.smtp.nextMail('newbie@example.test')).text);
    expect(await apiLogin(current, { username: 'newbie', password: 'second passphrase!', securityToken: token })).toBe(200);

    await page.getByLabel(/^Ranges/).fill('192.0.2.0/24, 198.51.100.0/25');
    await page.getByRole('button', { name: 'Save ranges' }).click();
    expect((await current.verifier.admin.get('newbie')).loginIpRanges).toEqual(['192.0.2.0/24', '198.51.100.0/25']);
    expect(await textOf(page.locator('.facts').first())).toContain('192.0.2.0/24, 198.51.100.0/25');

    await page.getByRole('link', { name: 'IP ranges' }).click();
    await page.getByLabel('Range (CIDR)').fill('203.0.113.0/24');
    await page.getByLabel(/^Description/).fill('the branch office');
    await page.getByRole('button', { name: 'Add range' }).click();
    expect(await current.verifier.organisation.trustedRanges()).toMatchObject([{ cidr: '203.0.113.0/24', description: 'the branch office' }]);
    await page.getByRole('button', { name: 'Remove 203.0.113.0/24' }).click();
    expect(await current.verifier.organisation.trustedRanges()).toEqual([]);
    // A bad range is said on the page, with the form still there.
    await page.getByLabel('Range (CIDR)').fill('not a range');
    await page.getByRole('button', { name: 'Add range' }).click();
    expect(await textOf(page.getByRole('alert'))).toMatch(/CIDR|range/i);
  });

  it('filters the audit log, pages through it by id, and draws logins over time', async () => {
    const page = await consoleAs('admin');
    await page.goto(`${served.current.url}/console/audit`);
    expect(await page.locator('svg rect.bar-failure').count()).toBeGreaterThan(0);
    const firstPage = await page.locator('tbody tr').count();
    expect(firstPage).toBe(50);
    const newest = await textOf(page.locator('tbody tr').first().locator('td').first());
    await page.getByRole('link', { name: 'Older entries' }).click();
    const older = await textOf(page.locator('tbody tr').first().locator('td').first());
    expect(older <= newest).toBe(true);
    expect(await page.getByRole('link', { name: 'Newest entries' }).count()).toBe(1);

    await page.goto(`${served.current.url}/console/audit`);
    await page.getByLabel('User').fill('zed');
    await page.getByLabel('Result').selectOption('failure');
    await page.getByLabel('Reason').fill('bad_password');
    await page.getByRole('button', { name: 'Filter' }).click();
    const rows = await page.locator('tbody tr').allInnerTexts();
    expect(rows.length).toBeGreaterThanOrEqual(3);
    for (const row of rows) expect(row).toMatch(/login\tzed\tfailure\tbad_password\t127\.0\.0\.1/);
    await page.getByLabel('Client address').fill('192.0.2.99');
    await page.getByRole('button', { name: 'Filter' }).click();
    expect(await page.locator('tbody tr').count()).toBe(0);
    await page.getByLabel('Client address').fill('');
    await page.getByLabel('From (UTC)').fill('2000-01-01T00:00');
    await page.getByLabel('Until (UTC)').fill('2000-01-02T00:00');
    await page.getByRole('button', { name: 'Filter' }).click();
    expect(await page.locator('tbody tr').count()).toBe(0);
    expect(await textOf(page.locator('figcaption'))).toContain('0 successful and 0 failed');
    await screenshot(page, 'console-audit');
  });
});

describe('the console for the helpdesk and the auditor', () => {
  it('shows the helpdesk only its actions and refuses the admin-only ones when posted anyway', async () => {
    const { current } = served;
    const page = await consoleAs('helpdesk');
    await page.goto(`${current.url}/console/users/user-00`);
    for (const hidden of ['Deactivate', 'Reset password', 'Save ranges']) expect(await page.getByRole('button', { name: hidden }).count(), hidden).toBe(0);
    for (const shown of ['Freeze', 'Unlock', 'Issue temporary password']) expect(await page.getByRole('button', { name: shown, exact: true }).count(), shown).toBe(1);
    expect(await page.getByRole('link', { name: 'Audit log' }).count()).toBe(0);
    expect(await postAnyway(page, '/console/users/user-00/account', { action: 'deactivate' })).toBe(403);
    expect(await postAnyway(page, '/console/users/user-00/password', { newPassword: 'taken over by the helpdesk' })).toBe(403);
    expect(await postAnyway(page, '/console/users', { username: 'intruder', email: 'intruder@example.test', password: 'correct horse battery' })).toBe(403);
    expect(await postAnyway(page, '/console/ip-ranges', { cidr: '0.0.0.0/0' })).toBe(403);
    expect((await current.verifier.admin.get('user-00')).active).toBe(true);
    expect(await current.verifier.organisation.trustedRanges()).toEqual([]);
    expect((await page.goto(`${current.url}/console/audit`))!.status()).toBe(403);
    // What the helpdesk may do, it can.
    await page.goto(`${current.url}/console/users/user-00`);
    await page.getByRole('button', { name: 'Freeze' }).click();
    expect((await current.verifier.admin.get('user-00')).frozen).toBe(true);
    await page.getByRole('button', { name: 'Unfreeze' }).click();
  });

  it('lands the auditor on the audit log and keeps it out of the users', async () => {
    const page = await consoleAs('audit');
    expect(new URL(page.url()).pathname).toBe('/console/audit');
    expect((await page.goto(`${served.current.url}/console/users`))!.status()).toBe(403);
  });

  it('ends the console session when its key is revoked', async () => {
    const { current } = served;
    const { key, info } = await current.verifier.apiKeys.create('test', 'short-lived', ['helpdesk']);
    // Signed in and the page loaded: a reload in the middle of the sign-in's own navigation finds no page.
    const page = await consoleWithKey(key);
    expect(new URL(page.url()).pathname).toBe('/console/users');
    await current.verifier.apiKeys.revoke('test', info.id);
    await page.reload();
    expect(new URL(page.url()).pathname).toBe('/console/sign-in');
  });
});

describe('every console page', () => {
  const PAGES = ['/console/users', '/console/users/zed', '/console/ip-ranges', '/console/audit'];
  for (const width of [1280, 375]) {
    it(`violates no CSP, names every control and fits ${width} pixels without scrolling sideways`, async () => {
      const page = await consoleAs('admin', width);
      for (const path of PAGES) {
        const response = (await page.goto(`${served.current.url}${path}`))!;
        expect(response.headers()['content-security-policy'], path).toContain("default-src 'none'");
        expect(await response.text(), path).not.toMatch(/<script(?![^>]*\ssrc="\/assets\/)|\sstyle=|\son[a-z]+=/i);
        expect(await cspViolations(page), path).toEqual([]);
        expect(await horizontalOverflow(page), path).toBe(0);
        expect(await unnamed(page), path).toEqual([]);
        await screenshot(page, path.slice(1).replace(/\//g, '-'));
      }
    });
  }
});
