/**
 * The demo in a real browser: Debian's Chromium (/usr/bin/chromium) driven by
 * playwright-core, against the demo built and served by Vite on localhost.
 *
 * Without Chromium these tests skip with a warning, except under CI=true,
 * where they run and fail. One page is trained once and the tests then use
 * it in order (train, compare runs, draw, download/load, parity, screenshot).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM_PATH, chromiumAvailable, ROOT } from '../scripts/browser.mjs';
import { createBackend, Sequential } from '../src/index.js';
import { loadMnist } from '../src/node/mnist.js';
import { servePlainPage } from './browser/plain-server.js';
import { DemoPage } from './helpers/demo-page.js';
import { runOrt, worstRelative } from './helpers/onnx.js';

const available = chromiumAvailable();
const inCI = process.env.CI === 'true';
if (!available) {
  console.warn(
    `\n*** test/browser.test.ts: Chromium not found at ${CHROMIUM_PATH}. ` +
      (inCI
        ? 'CI=true: the browser tests run anyway and FAIL. Install it with: apt-get install -y chromium\n'
        : 'The browser tests are SKIPPED. Install it with: apt-get install -y chromium (or set CHROMIUM_PATH)\n'),
  );
}

/** A stroke in pad coordinates (0…1 across and down). */
type Stroke = Array<[number, number]>;
const SEVEN: Stroke[] = [[[0.25, 0.2], [0.75, 0.2], [0.45, 0.85]]];

async function draw(page: Page, strokes: Stroke[]): Promise<void> {
  const pad = page.locator('#pad');
  await pad.scrollIntoViewIfNeeded();
  const box = (await pad.boundingBox())!;
  const at = ([x, y]: [number, number]): [number, number] => [box.x + x * box.width, box.y + y * box.height];
  for (const s of strokes) {
    await page.mouse.move(...at(s[0]!));
    await page.mouse.down();
    for (const p of s.slice(1)) await page.mouse.move(...at(p), { steps: 12 });
    await page.mouse.up();
  }
}

/** The predicted class and the ten probability texts shown by the page. */
async function shownPrediction(page: Page): Promise<{ digit: string; probs: string[] }> {
  await page.waitForSelector('body[data-prediction]', { state: 'attached' });
  return {
    digit: (await page.getAttribute('body', 'data-prediction'))!,
    probs: await page.locator('#probs li .p').allTextContents(),
  };
}

async function train(page: Page, runs: number, settings: { epochs: number; bn: boolean }): Promise<void> {
  await page.fill('#epochs', String(settings.epochs));
  await page.setChecked('#bn', settings.bn);
  await page.click('#train');
  await page.waitForSelector(`body[data-runs-done="${runs}"]`, { state: 'attached', timeout: 45_000 });
}

/** it(), failing at once when Chromium is missing (reached only under CI=true), so that each test counts as failed, not skipped. */
function check(name: string, fn: () => Promise<void>, timeout?: number): void {
  it(name, async () => {
    if (!available) throw new Error(`CI=true and Chromium is missing at ${CHROMIUM_PATH}: the browser tests must run in CI (apt-get install -y chromium)`);
    await fn();
  }, timeout);
}

const percent = (text: string | null) => Number(/([\d.]+)%/.exec(text ?? '')?.[1]);

describe.skipIf(!available && !inCI)('the demo page in headless Chromium', () => {
  const demo = new DemoPage();
  let context: BrowserContext;
  let page: Page;
  const pageErrors = demo.errors;

  beforeAll(async () => {
    if (!available) return; // each test fails on its own
    ({ context, page } = await demo.open({ acceptDownloads: true }));
  }, 60_000);

  afterAll(() => demo.close());

  check('trains one epoch of the default network in a Web Worker; the page shows test accuracy > 85% and stays responsive', async () => {
    // The longest gap between 10 ms timers on the page's main thread while the worker trains.
    await page.evaluate(() => {
      const w = window as unknown as { __gap: number; __timer: number };
      let last = performance.now();
      w.__gap = 0;
      w.__timer = window.setInterval(() => {
        const t = performance.now();
        w.__gap = Math.max(w.__gap, t - last);
        last = t;
      }, 10);
    });
    await train(page, 1, { epochs: 1, bn: true });
    const gap = await page.evaluate(() => {
      const w = window as unknown as { __gap: number; __timer: number };
      clearInterval(w.__timer);
      return w.__gap;
    });
    const accuracy = percent(await page.textContent('#test-accuracy'));
    expect(accuracy).toBeGreaterThan(85);
    expect(await page.textContent('#runs tbody')).toContain('784-256-256-10 BN relu');
    expect(page.workers().map((w) => w.url()).join(' '), 'the training worker').toMatch(/worker/);
    expect(gap, 'longest main-thread stall during training, ms').toBeLessThan(500);
    // the demo server sends COOP/COEP, so the worker's backend (threads: 'auto') runs on every core
    const hw = await page.evaluate(() => navigator.hardwareConcurrency);
    expect(await page.evaluate(() => crossOriginIsolated), 'the page is cross-origin isolated').toBe(true);
    expect(Number(await page.getAttribute('body', 'data-threads')), 'threads of the training worker').toBe(Math.min(hw, 16));
    expect(await page.getAttribute('#status', 'title'), 'why this many threads').toMatch(/threads: 'auto'/);
  }, 45_000);

  check('overlays a run with BatchNorm and one without on both charts', async () => {
    await train(page, 2, { epochs: 3, bn: false });
    await train(page, 3, { epochs: 3, bn: true });
    for (const chart of ['#loss-chart', '#acc-chart']) {
      const legend = await page.locator(`${chart} .u-legend .u-series .u-label`).allTextContents();
      expect(legend).toEqual(['run 2, no BatchNorm', 'run 3, BatchNorm']);
    }
    expect(await page.locator('#runs tbody tr').count()).toBe(3);
  }, 60_000);

  check('predicts a digit drawn with the mouse, and test digits', async () => {
    await page.click('#next-digit');
    let correct = 0;
    for (let i = 0; i < 5; i++) {
      if (i > 0) await page.click('#next-digit');
      await page.waitForFunction((n) => document.getElementById('digit-note')!.textContent!.startsWith(`Test digit ${n} `), i + 1);
      const label = await page.getAttribute('body', 'data-test-label');
      if ((await shownPrediction(page)).digit === label) correct++;
    }
    expect(correct).toBeGreaterThanOrEqual(4);

    await page.click('#clear');
    await draw(page, SEVEN);
    const p = await shownPrediction(page);
    expect(p.digit).toBe('7');
    const sum = p.probs.reduce((s, t) => s + percent(t), 0);
    expect(sum).toBeGreaterThan(99.9);
    expect(sum).toBeLessThan(100.1);
  });

  check('downloads the model; a fresh page loads it back and gives the same prediction, and so does Node', async () => {
    const before = await shownPrediction(page);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
    expect(download.suggestedFilename()).toMatch(/\.nc$/);
    const file = join(ROOT, 'test', 'artifacts', 'demo-model.nc');
    mkdirSync(join(ROOT, 'test', 'artifacts'), { recursive: true });
    await download.saveAs(file);

    const fresh = await context.newPage();
    try {
      await fresh.goto(demo.server!.url);
      await fresh.waitForSelector('body[data-ready]', { state: 'attached' });
      await draw(fresh, SEVEN);
      await fresh.setInputFiles('#load-model', file);
      await fresh.waitForFunction(() => document.body.dataset.model?.startsWith('loaded from'));
      expect(await shownPrediction(fresh)).toEqual(before);
    } finally {
      await fresh.close();
    }

    // The same bytes in Node, on the same split: the test accuracy the page showed for this run.
    const model = await Sequential.load(new Uint8Array(readFileSync(file)), { backend: await createBackend('wasm') });
    const d = loadMnist();
    const { accuracy } = model.evaluate(d.testImages, d.testLabels);
    const lastRun = await page.locator('#runs tbody tr').last().locator('td').nth(3).textContent();
    expect(`${(100 * accuracy!).toFixed(2)}%`).toBe(lastRun);
  }, 30_000);

  check('Download ONNX gives the page’s model as ONNX: ONNX Runtime gives what the model predicts, to 1e-5', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-onnx')]);
    expect(download.suggestedFilename()).toMatch(/\.onnx$/);
    const file = join(ROOT, 'test', 'artifacts', 'demo-model.onnx');
    await download.saveAs(file);
    const model = await Sequential.load(new Uint8Array(readFileSync(join(ROOT, 'test', 'artifacts', 'demo-model.nc'))), { backend: await createBackend('wasm') });
    const x = loadMnist({ train: 100, test: 100 }).testImages;
    const expected = model.predict(x);
    model.dispose();
    const got = await runOrt(new Uint8Array(readFileSync(file)), x, 100);
    expect(worstRelative(got, expected, 10).rel).toBeLessThanOrEqual(1e-5);
  }, 30_000);

  check('runs the wasm-vs-js kernel parity checks inside the page, all ≤ 1e-4', async () => {
    await page.click('#parity-run');
    await page.waitForSelector('body[data-parity]', { state: 'attached', timeout: 30_000 });
    const rows = await page.locator('#parity tbody tr').evaluateAll((trs) =>
      trs.map((tr) => ({ name: tr.children[0]!.textContent, shape: tr.children[1]!.textContent, relErr: Number((tr as HTMLElement).dataset.relErr) })));
    expect(rows.length).toBeGreaterThanOrEqual(15);
    for (const r of rows) expect(r.relErr, `${r.name} ${r.shape}`).toBeLessThanOrEqual(1e-4);
    expect(rows.map((r) => r.name)).toEqual(expect.arrayContaining(['matmul', 'batchnormForward', 'batchnormBackward', 'adamUpdate', 'training steps']));
    expect(await page.getAttribute('body', 'data-parity')).toBe('pass');
  }, 40_000);

  check('saves a screenshot of the trained page, and the page logged no errors', async () => {
    await page.evaluate(() => window.scrollTo(0, 0));
    const shot = join(ROOT, 'test', 'artifacts', 'demo.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(readFileSync(shot).subarray(1, 4).toString()).toBe('PNG');
    // docs/demo.png, the README's picture (the page down to the drawing pad), is written when missing or with UPDATE_SCREENSHOT=1.
    const docs = join(ROOT, 'docs', 'demo.png');
    if (!existsSync(docs) || process.env.UPDATE_SCREENSHOT === '1') {
      mkdirSync(join(ROOT, 'docs'), { recursive: true });
      const bottom = await page.locator('section:has(#try-h)').evaluate((el) => el.getBoundingClientRect().bottom + window.scrollY);
      await page.screenshot({ path: docs, fullPage: true, clip: { x: 0, y: 0, width: 1200, height: Math.ceil(bottom) + 12 } });
    }
    expect(pageErrors).toEqual([]);
  });

  check('loads dist/index.js from a plain <script type="module"> (an import map, no bundler) and trains', async () => {
    const plain = await servePlainPage();
    const p = await context.newPage();
    const failed: string[] = [];
    p.on('response', (r) => { if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`); });
    try {
      await p.goto(plain.url);
      const result = await p.waitForFunction(() => (window as unknown as { result?: unknown }).result, undefined, { timeout: 20_000 });
      const r = (await result.jsonValue()) as { error?: string; backend: string; firstLoss: number; lastLoss: number; accuracy: number; sameAfterLoad: boolean; sameAfterOnnx: boolean };
      expect(r.error).toBeUndefined();
      expect(r.backend).toBe('wasm');
      expect(r.lastLoss).toBeLessThan(r.firstLoss / 2);
      expect(r.accuracy).toBeGreaterThan(0.9);
      expect(r.sameAfterLoad).toBe(true);
      expect(r.sameAfterOnnx).toBe(true);
      expect(failed).toEqual([]);
    } finally {
      await p.close();
      await plain.close();
    }
  });
});
