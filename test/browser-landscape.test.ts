/**
 * The demo's bn-landscape card (issue 17) in headless Chromium: the
 * experiment runs in the worker and the page draws its four charts and the
 * table of medians. Skips (with a warning from test/browser.test.ts's rule)
 * when Chromium is missing, except under CI=true.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM_PATH, chromiumAvailable } from '../scripts/browser.mjs';
import { DemoPage } from './helpers/demo-page.js';

const available = chromiumAvailable();
const inCI = process.env.CI === 'true';
if (!available) console.warn(`\n*** test/browser-landscape.test.ts: Chromium not found at ${CHROMIUM_PATH}; the test is SKIPPED (apt-get install -y chromium)\n`);

describe.skipIf(!available && !inCI)('the demo\'s "Why batch norm works" card in headless Chromium', () => {
  const demo = new DemoPage();
  let page: Page;
  const pageErrors = demo.errors;

  beforeAll(async () => {
    if (!available) throw new Error(`CI=true and Chromium is missing at ${CHROMIUM_PATH}`);
    ({ page } = await demo.open());
  }, 90_000);

  afterAll(() => demo.close());

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
