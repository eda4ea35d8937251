import fs from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Debian's chromium (apt-get install chromium); .ci/run installs it in CI. */
export const chromiumPath = '/usr/bin/chromium';

/** Why browser tests cannot run here, or undefined when they can. */
export function browserSkipReason(): string | undefined {
  if (fs.existsSync(chromiumPath)) return undefined;
  const reason = `${chromiumPath} is absent: install Debian's chromium (apt-get install -y chromium) to run the headless-browser tests`;
  // CI (.ci/run) installs chromium and sets this: there a missing browser fails instead of skipping.
  if (process.env.FINETUNE_REQUIRE_BROWSER === '1') throw new Error(reason);
  return reason;
}

export interface OpenedPage {
  page: Page;
  /** Console messages of type error, and uncaught page errors. */
  errors: string[];
  /** Every URL the page requested besides `url` itself. */
  requests: string[];
  close(): Promise<void>;
}

/** Opens a URL in headless Chromium, recording console errors and every request the page makes. */
export async function openInChromium(url: string, viewport = { width: 1100, height: 900 }): Promise<OpenedPage> {
  const browser: Browser = await chromium.launch({ executablePath: chromiumPath, args: ['--headless', '--no-sandbox', '--disable-gpu'] });
  try {
    const page = await browser.newPage({ viewport });
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('request', (request) => {
      if (request.url() !== url) requests.push(request.url());
    });
    await page.goto(url, { waitUntil: 'load' });
    return { page, errors, requests, close: () => browser.close() };
  } catch (error) {
    await browser.close();
    throw error;
  }
}
