/**
 * The demo's CNN (issue 12) in headless Chromium: chosen in the form, trained
 * in the worker, then used by the draw pad. Skips with a warning without
 * Chromium, except under CI=true (as test/browser.test.ts).
 */
import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { decodeModel } from '../src/io/onnx-pb.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM_PATH, chromiumAvailable } from '../scripts/browser.mjs';
import { DemoPage } from './helpers/demo-page.js';

const available = chromiumAvailable();
const inCI = process.env.CI === 'true';
if (!available) console.warn(`\n*** test/browser-cnn.test.ts: Chromium not found at ${CHROMIUM_PATH}; ${inCI ? 'CI=true: the test runs and FAILS' : 'the test is SKIPPED'} (apt-get install -y chromium)\n`);

describe.skipIf(!available && !inCI)('the demo trains the CNN in headless Chromium', () => {
  const demo = new DemoPage();
  let page: Page;
  const pageErrors = demo.errors;

  beforeAll(async () => {
    if (!available) return;
    ({ page } = await demo.open());
  }, 60_000);

  afterAll(() => demo.close());

  it('trains one epoch of the CNN in the worker (test accuracy > 90%), and the draw pad predicts with it', async () => {
    if (!available) throw new Error(`CI=true and Chromium is missing at ${CHROMIUM_PATH}`);
    await page.selectOption('#model', 'cnn');
    await page.fill('#epochs', '1');
    await page.fill('#lr', '0.003');
    await page.fill('#batch', '64');
    await page.setChecked('#bn', true);
    await page.click('#train');
    await page.waitForSelector('body[data-runs-done="1"]', { state: 'attached', timeout: 90_000 });
    expect(await page.textContent('#runs tbody')).toContain('CNN BN');
    const accuracy = Number(/([\d.]+)%/.exec((await page.textContent('#test-accuracy')) ?? '')?.[1]);
    expect(accuracy).toBeGreaterThan(90);
    // the trained CNN serves the pad: a test digit is shown with a prediction, and it downloads as ONNX (Conv and all)
    await page.click('#next-digit');
    await page.waitForSelector('body[data-prediction]', { state: 'attached' });
    expect(await page.getAttribute('body', 'data-prediction')).toMatch(/^\d$/);
    expect(await page.locator('#probs li .p').count()).toBe(10);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-onnx')]);
    expect(download.suggestedFilename()).toMatch(/\.onnx$/);
    const ops = decodeModel(new Uint8Array(readFileSync(await download.path()))).graph!.node.map((n) => n.opType);
    expect(ops).toContain('Conv');
    expect(ops).toContain('MaxPool');
    expect(pageErrors).toEqual([]);
  }, 120_000);
});
