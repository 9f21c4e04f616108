// Real headless Chromium (Debian's, driven by playwright-core) for the web pages' tests: a fresh
// user-data directory per file, pages that record every Content-Security-Policy violation, a
// check for horizontal scrolling, a virtual security key, and screenshots under
// .state/test-artifacts/web/.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type CDPSession, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';

export const CHROMIUM = process.env.TOKENGATE_CHROMIUM ?? '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
export const ARTIFACTS = fileURLToPath(new URL('../../.state/test-artifacts/web/', import.meta.url));

export interface Browser {
  /** A new browser context (its own cookies), pages recording CSP violations. */
  context(options?: { width?: number; height?: number; javaScript?: boolean }): Promise<BrowserContext>;
}

/** One Chromium for the file, each context in a fresh user-data directory; all closed after the file. */
export function useChromium(): Browser {
  const contexts: BrowserContext[] = [];
  const dirs: string[] = [];
  beforeAll(() => mkdirSync(ARTIFACTS, { recursive: true }));
  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => undefined);
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
  return {
    async context({ width = 1280, height = 900, javaScript = true } = {}) {
      const dir = mkdtempSync(join(tmpdir(), 'tokengate-chromium-'));
      dirs.push(dir);
      const context = await chromium.launchPersistentContext(dir, { executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width, height }, javaScriptEnabled: javaScript });
      contexts.push(context);
      // Not a page script: Chromium runs it through the DevTools protocol, outside the page's CSP.
      await context.addInitScript({
        content: "window.__csp = []; document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));",
      });
      return context;
    },
  };
}

/**
 * Every CSP violation any page of the context reports from now on, across navigations (a form
 * that navigates away takes its page's `window.__csp` with it): reported to the test over a binding.
 */
export async function recordCspViolations(context: BrowserContext): Promise<string[]> {
  const seen: string[] = [];
  await context.exposeFunction('__reportCsp', (violation: string) => void seen.push(violation));
  await context.addInitScript({
    content: "document.addEventListener('securitypolicyviolation', (e) => window.__reportCsp(e.documentURI + ': ' + e.violatedDirective + ' ' + e.blockedURI));",
  });
  return seen;
}

/**
 * A virtual security key plugged into the page's tab (CDP WebAuthn.addVirtualAuthenticator: CTAP2
 * over USB, resident keys, user verification that passes, touched automatically); it stays across
 * navigations. The CDP session reads its credentials (WebAuthn.getCredentials).
 */
export async function plugInSecurityKey(page: Page): Promise<{ cdp: CDPSession; authenticatorId: string }> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'usb', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
  return { cdp, authenticatorId };
}

/** The CSP violations the page has seen so far. */
export function cspViolations(page: Page): Promise<string[]> {
  return page.evaluate<string[]>('window.__csp ?? []');
}

/** How far the page is wider than its viewport, in CSS pixels (0: no horizontal scroll). */
export function horizontalOverflow(page: Page): Promise<number> {
  return page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
}

export async function screenshot(page: Page, name: string): Promise<void> {
  const width = page.viewportSize()?.width ?? 0;
  await page.screenshot({ path: join(ARTIFACTS, `${name}-${width}.png`), fullPage: true });
}

/** The element's visible text, trimmed (waiting for it to appear). */
export async function textOf(locator: Locator): Promise<string> {
  return (await locator.innerText()).trim();
}

const NAMED_ROLES = new Set(['textbox', 'searchbox', 'combobox', 'checkbox', 'radio', 'button', 'link', 'spinbutton', 'img', 'region', 'navigation', 'table']);

interface AxNode {
  ignored?: boolean;
  role?: { value?: string };
  name?: { value?: string };
}

/**
 * What Chromium's accessibility tree (CDP Accessibility.getFullAXTree, the names a screen reader
 * hears) shows without a name: controls, links, images, landmarks. A quick check inside the
 * other tests; axe-core's full one is test/web-accessibility.test.ts.
 */
export async function unnamed(page: Page): Promise<string[]> {
  const cdp = await page.context().newCDPSession(page);
  try {
    const { nodes } = (await cdp.send('Accessibility.getFullAXTree')) as { nodes: AxNode[] };
    return nodes.filter((n) => !n.ignored && NAMED_ROLES.has(n.role?.value ?? '') && !(n.name?.value ?? '').trim()).map((n) => n.role?.value ?? '?');
  } finally {
    await cdp.detach();
  }
}

/** The text of what has the keyboard focus. */
export function focusedText(page: Page): Promise<string> {
  return page.evaluate<string>('(document.activeElement?.textContent ?? "").trim()');
}
