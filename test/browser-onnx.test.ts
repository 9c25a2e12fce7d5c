/**
 * An exported model in the browser's ONNX Runtime (issue 14): onnxruntime-web
 * (its wasm build, loaded from the package's own files, served on localhost
 * with ort.env.wasm.wasmPaths pointing at them) runs toOnnx's file in Debian's
 * Chromium and agrees with `predict` to 1e-5 on MNIST test digits.
 *
 * Without Chromium this skips with a warning, except under CI=true, where it
 * runs and fails (as test/browser.test.ts does).
 */
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM_PATH, chromiumAvailable, launchChromium, ROOT } from '../scripts/browser.mjs';
import { createBackend, loadMnist, mlp, Sequential } from '../src/node/index.js';
import { toOnnx } from '../src/onnx.js';
import { worstRelative } from './helpers/onnx.js';

const available = chromiumAvailable();
const inCI = process.env.CI === 'true';
if (!available) {
  console.warn(`\n*** test/browser-onnx.test.ts: Chromium not found at ${CHROMIUM_PATH}. ${inCI ? 'CI=true: the test runs anyway and FAILS.' : 'The test is SKIPPED.'} Install it with: apt-get install -y chromium\n`);
}

const ORT_DIST = join(ROOT, 'node_modules', 'onnxruntime-web', 'dist');
const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>normcore export in onnxruntime-web</title><link rel="icon" href="data:,"></head><body>
<script type="module">
import * as ort from '/ort/ort.wasm.min.mjs';
try {
  ort.env.wasm.wasmPaths = '/ort/';
  ort.env.wasm.numThreads = 1;
  const [model, x] = await Promise.all(['/model.onnx', '/x.bin'].map((u) => fetch(u).then((r) => r.arrayBuffer())));
  const session = await ort.InferenceSession.create(new Uint8Array(model), { executionProviders: ['wasm'] });
  const input = new Float32Array(x);
  const rows = input.length / 784;
  const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', input, [rows, 784]) });
  window.result = { output: Array.from(out[session.outputNames[0]].data), dims: out[session.outputNames[0]].dims };
} catch (e) {
  window.result = { error: String(e && e.stack || e) };
}
</script></body></html>`;

/** Serves the page, the package's onnxruntime-web files under /ort/, and the model and input bytes. */
async function serve(files: Record<string, Uint8Array>): Promise<{ url: string; server: Server }> {
  const types: Record<string, string> = { mjs: 'text/javascript', js: 'text/javascript', wasm: 'application/wasm' };
  const server = createServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    try {
      if (path === '/') {
        res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
      } else if (files[path]) {
        res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(files[path]);
      } else if (path.startsWith('/ort/')) {
        const file = normalize(join(ORT_DIST, path.slice(5)));
        if (!file.startsWith(ORT_DIST)) throw new Error('outside');
        res.writeHead(200, { 'content-type': types[file.split('.').pop()!] ?? 'application/octet-stream' }).end(await readFile(file));
      } else {
        res.writeHead(404).end();
      }
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, server };
}

describe.skipIf(!available && !inCI)('toOnnx in onnxruntime-web (headless Chromium)', () => {
  let browser: Browser | undefined;
  let served: { url: string; server: Server } | undefined;
  let expected: Float32Array;

  beforeAll(async () => {
    if (!available) return;
    await createBackend('wasm');
    const data = loadMnist({ train: 1000, test: 200, seed: 5 });
    const m = new Sequential(mlp({ inputs: 784, hidden: [64, 32], outputs: 10 }), { seed: 3 });
    m.compile({ optimizer: { type: 'adam', lr: 0.01 } });
    await m.fit(data.trainImages, data.trainLabels, { epochs: 1, batchSize: 32 });
    expected = m.predict(data.testImages);
    const onnx = toOnnx(m);
    m.dispose();
    const x = new Uint8Array(data.testImages.buffer, data.testImages.byteOffset, data.testImages.byteLength);
    served = await serve({ '/model.onnx': onnx, '/x.bin': x });
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => (served ? served.server.close(r) : r(undefined)));
  });

  it('runs the exported MNIST model on 200 test digits and agrees with predict to 1e-5', async () => {
    if (!available) throw new Error(`CI=true and Chromium is missing at ${CHROMIUM_PATH} (apt-get install -y chromium)`);
    const page = await browser!.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    try {
      await page.goto(served!.url);
      await page.waitForFunction(() => (window as { result?: unknown }).result !== undefined, undefined, { timeout: 30_000 });
      const result = (await page.evaluate(() => (window as { result?: unknown }).result)) as { output?: number[]; dims?: number[]; error?: string };
      expect(result.error).toBeUndefined();
      expect(result.dims).toEqual([200, 10]);
      const r = worstRelative(Float32Array.from(result.output!), expected, 10);
      console.log(`onnxruntime-web in Chromium vs predict: worst relative ${r.rel.toExponential(2)} (element by element ${r.elementwise.toExponential(2)})`);
      expect(r.rel).toBeLessThanOrEqual(1e-5);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  }, 60_000);
});
