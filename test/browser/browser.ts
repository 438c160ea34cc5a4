// Headless Chromium for the console's end-to-end test, through playwright-core (no browser
// download: the machine's Chromium). Every page is watched for what must never happen under the
// console's Content-Security-Policy: an uncaught exception or a blocked inline script or style.
import { access, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/** The Chromium binary: TIRTA_CHROMIUM, else Debian's. */
export const chromiumPath = process.env.TIRTA_CHROMIUM ?? '/usr/bin/chromium';

export async function chromiumAvailable(): Promise<boolean> {
  try {
    await access(chromiumPath);
    return true;
  } catch {
    return false;
  }
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

export const desktop = { viewport: { width: 1366, height: 768 } } as const;
export const phone = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 } as const;

/** What went wrong on a page that no assertion about its content would catch. */
export class PageProblems {
  readonly problems: string[] = [];

  watch(page: Page): Page {
    page.on('pageerror', (error) => this.problems.push(`uncaught on ${page.url()}: ${error.message}`));
    page.on('console', (message) => {
      if (/Content Security Policy|Refused to (execute|apply|load)/i.test(message.text())) this.problems.push(`CSP on ${page.url()}: ${message.text()}`);
    });
    return page;
  }
}

export async function newPage(browser: Browser, options: typeof desktop | typeof phone, problems: PageProblems): Promise<{ context: BrowserContext; page: Page }> {
  // The site's time zone, so screenshots read as the control room would see them.
  const context = await browser.newContext({ ...options, timezoneId: 'Asia/Jakarta', locale: 'en-GB' });
  const page = problems.watch(await context.newPage());
  return { context, page };
}

export const screenshotDirectory = path.resolve(process.env.TIRTA_SCREENSHOT_DIR ?? 'test-artifacts/screenshots');

export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(screenshotDirectory, { recursive: true });
  await page.screenshot({ path: path.join(screenshotDirectory, `${name}.png`), fullPage: true });
}

/** Signs in through the login page; resolves once the page the role lands on has loaded. */
export async function signIn(page: Page, baseUrl: string, username: string, password: string, landing: RegExp | ((url: URL) => boolean)): Promise<void> {
  await page.goto(`${baseUrl}/login`);
  await page.getByTestId('login-username').fill(username);
  await page.getByTestId('login-password').fill(password);
  await page.getByTestId('login-submit').click();
  await page.waitForURL(landing, { timeout: 15_000 });
}

/** The number in an element's text, once it shows one. */
export async function numberIn(page: Page, selector: string): Promise<number> {
  const text = await page.locator(selector).first().textContent({ timeout: 15_000 });
  const value = Number((text ?? '').replace(/[^\d.-]/g, ''));
  if (!Number.isFinite(value)) throw new Error(`${selector} shows "${text}", not a number`);
  return value;
}
