/**
 * Only the kernels are loaded, once: a page bundled with esbuild --splitting
 * (scripts/bundle-size.mjs) gets the kernels (the relaxed build) as one chunk
 * and the release build's patch to it as another, and headless Chromium, which
 * has relaxed SIMD, fetches the entry and the kernels chunk once, not the
 * patch. The debug build, imported through a variable, is in no chunk; the
 * checked kernels (normcore/kernels), which the page does not import, neither.
 * The sizes are issue 16's budgets: at most 40 KB gzip loaded by the page (with
 * or without the patch) and 60 KB for the single file.
 *
 * Without Chromium these tests skip with a warning, except under CI=true,
 * where they fail (as in test/browser.test.ts).
 */
import { readFile } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM_PATH, chromiumAvailable, launchChromium } from '../scripts/browser.mjs';
import { bundle, pageLoads } from '../scripts/bundle-size.mjs';

const available = chromiumAvailable();
const inCI = process.env.CI === 'true';
if (!available) {
  console.warn(
    `\n*** test/browser-split.test.ts: Chromium not found at ${CHROMIUM_PATH}. ` +
      (inCI ? 'CI=true: the test runs anyway and FAILS.\n' : 'The test is SKIPPED. Install it with: apt-get install -y chromium\n'),
  );
}

const PAGE_HTML = '<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,"></head><body><script type="module" src="/page.js"></script></body></html>';

/** Serves `dir` (the split bundle) and a page that loads its entry. */
async function serve(dir: string): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const send = (status: number, type: string, body: string | Buffer) => res.writeHead(status, { 'content-type': type }).end(body);
    const file = normalize(join(dir, path));
    if (path === '/') send(200, 'text/html', PAGE_HTML);
    else if (!file.startsWith(dir) || !file.endsWith('.js')) send(404, 'text/plain', 'not found');
    else readFile(file).then((b) => send(200, 'text/javascript', b), () => send(404, 'text/plain', 'not found'));
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, server };
}

describe.skipIf(!available && !inCI)('a page bundled with esbuild --splitting', () => {
  let bundled: Awaited<ReturnType<typeof bundle>>;
  let served: { url: string; server: Server } | undefined;
  let browser: Browser | undefined;

  beforeAll(async () => {
    bundled = await bundle();
    served = await serve(join(bundled.dir, 'split'));
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    served?.server.close();
    if (bundled) rmSync(bundled.dir, { recursive: true, force: true });
  });

  it('has one kernels chunk, one release patch chunk and none for the debug build', () => {
    const builds = bundled.split.map((f) => f.build).filter((b) => b === 'kernels' || b === 'release-patch' || b === 'debug');
    expect(builds.sort()).toEqual(['kernels', 'release-patch']);
    expect(bundled.single.map((f) => f.build)).toEqual(['kernels+release-patch']);
    expect(bundled.split.some((f) => f.inputs.includes('backend/checked.js'))).toBe(false);
  });

  it('loads at most 40 KB gzip (also with the release patch), and the single file is at most 60 KB gzip', () => {
    const loads = pageLoads(bundled);
    const sum = (files: { gzip: number }[]) => files.reduce((a, f) => a + f.gzip, 0);
    expect(sum(loads.split)).toBeLessThanOrEqual(40 * 1024);
    expect(sum(loads.splitRelease)).toBeLessThanOrEqual(40 * 1024);
    // the release figure is the page's files plus the patch chunk (and what it imports)
    expect(loads.splitRelease.map((f) => f.build)).toContain('release-patch');
    expect(loads.split.every((f) => loads.splitRelease.includes(f))).toBe(true);
    expect(sum(bundled.single)).toBeLessThanOrEqual(60 * 1024);
  });

  it('trains in Chromium after fetching the kernels chunk once', async () => {
    if (!available) throw new Error(`CI=true and Chromium is missing at ${CHROMIUM_PATH} (apt-get install -y chromium)`);
    browser = await launchChromium();
    const page = await browser.newPage();
    const fetched: string[] = [];
    page.on('request', (r) => fetched.push(new URL(r.url()).pathname.slice(1)));
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(served!.url);
    await page.waitForFunction(() => (globalThis as { normcoreResult?: unknown }).normcoreResult !== undefined || document.title === 'error', null, { timeout: 30_000 });
    expect(errors).toEqual([]);
    const result = (await page.evaluate(() => (globalThis as { normcoreResult?: unknown }).normcoreResult)) as { build: string; loss: number };
    expect(Number.isFinite(result.loss)).toBe(true);
    expect(result.build).toBe('relaxed'); // Chromium has relaxed SIMD: the page fetches no patch (checked below)
    const kernelFiles = new Set(bundled.split.filter((f) => f.build === 'kernels').map((f) => f.file));
    expect(fetched.filter((f) => kernelFiles.has(f))).toEqual([...kernelFiles]);
    // the scripts it fetched are exactly what scripts/bundle-size.mjs counts for the page
    expect(fetched.filter((f) => f.endsWith('.js')).sort()).toEqual(pageLoads(bundled).split.map((f) => f.file).sort());
    // and none of what loads on first use: the JS twin, the model-file reader with its layer table (and the convolution
    // and Normalization layers it can build), the streamed fit, the thread pool and what it asks of the environment,
    // the release build's patch, the debug build's loader
    for (const lazy of ['backend/js-kernels.js', 'io/model-parse.js', 'model/layer-table.js', 'model/conv2d.js', 'model/normalization.js',
      'train/fit-stream.js', 'backend/threads.js', 'backend/threads-env.js', 'backend/shared-module.js', 'backend/release-build.js', 'backend/wasm-debug.js']) {
      const chunk = bundled.split.find((f) => f.inputs.includes(lazy));
      expect(chunk, `${lazy} is in no chunk of its own`).toBeDefined();
      expect(fetched, `${lazy} (${chunk!.file}) was fetched`).not.toContain(chunk!.file);
    }
  }, 60_000);

  it('a page that loads a model file fetches the reader on demand, and the model predicts the same', async () => {
    const page = await browser!.newPage();
    const fetched: string[] = [];
    page.on('request', (r) => fetched.push(new URL(r.url()).pathname.slice(1)));
    await page.goto(served!.url);
    await page.waitForFunction(() => (globalThis as { normcoreResult?: unknown }).normcoreResult !== undefined, null, { timeout: 30_000 });
    const same = await page.evaluate(() => (globalThis as { normcoreReload?: () => Promise<boolean> }).normcoreReload!());
    expect(same).toBe(true);
    const reader = bundled.split.find((f) => f.inputs.includes('io/model-parse.js'))!.file;
    expect(fetched).toContain(reader);
  }, 60_000);
});
