// People for the web pages' tests, on a served verifier: a user with their first token (read from
// the mail, as they would), a card enrolled for them (a bare P-256 key), a login through the API,
// and signing in and registering a security key on the page like someone at the keyboard.
import { generateKeyPairSync } from 'node:crypto';
import type { Page } from 'playwright-core';
import type { ServedVerifier } from './served-verifier.js';
import { tokenIn } from './verifier.js';

export const PASSWORD = 'correct horse battery';

export interface WebUser {
  readonly username: string;
  readonly email: string;
  readonly password: string;
  readonly token: string;
}

export async function newUser(served: ServedVerifier, username: string, options: { loginIpRanges?: string[] } = {}): Promise<WebUser> {
  const email = `${username}@example.test`;
  await served.verifier.admin.create('test', { username, email, password: PASSWORD, ...options });
  const token = options.loginIpRanges?.length ? '' : tokenIn((await served.smtp.nextMail(email)).text);
  return { username, email, password: PASSWORD, token };
}

/** A card for the user: a bare P-256 public key, with a serial a kiosk's blocklist would name. */
export async function enrollCard(served: ServedVerifier, username: string, serial: string, label = 'Door card'): Promise<string> {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  return (await served.verifier.credentials.enroll('test', { username, publicKey: spki, serial, label })).id;
}

/** POST /v1/login as an integration would: the status. */
export async function apiLogin(served: ServedVerifier, body: { username: string; password: string; securityToken?: string }): Promise<number> {
  const response = await fetch(`${served.url}/v1/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return response.status;
}

/** Signs in on the page with the token in its own field (or none); resolves with the answer's status. */
export async function signIn(page: Page, served: ServedVerifier, user: { username: string; password: string; token?: string }): Promise<number> {
  await page.goto(`${served.url}/account/sign-in`);
  await page.getByLabel('Username').fill(user.username);
  await page.getByLabel('Password', { exact: true }).fill(user.password);
  if (user.token) await page.getByLabel(/^Security token/).fill(user.token);
  const [response] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/account/sign-in') && r.request().method() === 'POST'), page.getByRole('button', { name: 'Sign in', exact: true }).click()]);
  await page.waitForLoadState();
  return response.status();
}

/** Registers the browser's (virtual) security key on My cards and security keys, as the signed-in user; waits for the answer. */
export async function registerKey(page: Page, served: ServedVerifier, label: string, password: string): Promise<void> {
  await page.goto(`${served.url}/account/cards`);
  await page.getByLabel('Name for the key').fill(label);
  await page.getByLabel('Current password').fill(password);
  await Promise.all([page.waitForURL(/notice=key-registered/), page.getByRole('button', { name: 'Register a security key' }).click()]);
  await page.waitForLoadState();
}
