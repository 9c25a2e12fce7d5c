/**
 * The demo's bn-landscape card (issue 17) in headless Chromium: the
 * experiment runs in the worker and the page draws its four charts and the
 * table of medians. Skips (with a warning from test/browser.test.ts's rule)
 * when Chromium is missing, except under CI=true.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM_PATH, chromiumAvailable, launchChromium, serveDemo } from '../scripts/browser.mjs';

const available = chromiumAvailable();
const inCI = process.env.CI === 'true';
if (!available) console.warn(`\n*** test/browser-landscape.test.ts: Chromium not found at ${CHROMIUM_PATH}; the test is SKIPPED (apt-get install -y chromium)\n`);

describe.skipIf(!available && !inCI)('the demo\'s "Why batch norm works" card in headless Chromium', () => {
  let server: Awaited<ReturnType<typeof serveDemo>> | undefined;
  let browser: Browser | undefined;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    if (!available) throw new Error(`CI=true and Chromium is missing at ${CHROMIUM_PATH}`);
    [server, browser] = await Promise.all([serveDemo(), launchChromium()]);
    page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(m.text()); });
    await page.goto(server.url);
    await page.waitForSelector('body[data-ready]', { state: 'attached' });
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('runs a short experiment in the worker and shows the four figures and the medians', async () => {
    await page.fill('#ls-steps', '40');
    await page.fill('#ls-depth', '3');
    await page.click('#ls-run');
    await page.waitForSelector('body[data-landscape-done="1"]', { state: 'attached', timeout: 60_000 });
    expect(await page.textContent('#ls-status')).toMatch(/^Done: four runs of 40 steps/);
    for (const id of ['ls-acc', 'ls-ics', 'ls-loss', 'ls-beta']) expect(await page.locator(`#${id} canvas`).count()).toBeGreaterThan(0);
    const table = (await page.textContent('#ls-table'))!;
    expect(table).toContain('ICS layer 2: ℓ2 / cos');
    expect(table).toContain('ICS layer 3: ℓ2 / cos');
    expect(table).toMatch(/standard\s*\d+\.\d%/);
    expect(table).toMatch(/batch norm \+ noise \d+\.\d%/);
    // a bad number is refused in the page
    await page.fill('#ls-steps', '3');
    await page.click('#ls-run');
    expect(await page.textContent('#ls-status')).toMatch(/Steps: a whole number from 10 to 5000/);
    expect(pageErrors).toEqual([]);
  }, 90_000);
});
