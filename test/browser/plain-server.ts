/**
 * A static file server for the "plain <script type=module>" check: serves the
 * package's own files (dist/ and its dependencies) and a page that imports
 * dist/index.js through an import map, as a site without a bundler would.
 */
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { ROOT } from '../../scripts/browser.mjs';

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>normcore, no bundler</title><link rel="icon" href="data:,">
<script type="importmap">{ "imports": {
  "@bufbuild/protobuf": "/node_modules/@bufbuild/protobuf/dist/esm/index.js",
  "@bufbuild/protobuf/codegenv2": "/node_modules/@bufbuild/protobuf/dist/esm/codegenv2/index.js"
} }</script>
</head><body>
<script type="module">
import { BatchNorm, createBackend, Dense, ReLU, Sequential } from '/dist/index.js';
import { fromOnnx, toOnnx } from '/dist/onnx.js';
try {
  const backend = await createBackend('wasm');
  const model = new Sequential([new Dense(4, 16), new BatchNorm(16), new ReLU(), new Dense(16, 2)], { backend, seed: 1 });
  model.compile({ loss: 'softmaxCrossEntropy', optimizer: { type: 'adam', lr: 0.02 } });
  // Two classes: is x0 + x1 above x2 + x3?
  const n = 512, x = new Float32Array(n * 4), y = new Uint8Array(n);
  let s = 7;
  const rand = () => ((s = (s * 1103515245 + 12345) >>> 0) / 4294967296) * 2 - 1;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < 4; j++) x[i * 4 + j] = rand();
    y[i] = x[i * 4] + x[i * 4 + 1] > x[i * 4 + 2] + x[i * 4 + 3] ? 1 : 0;
  }
  const h = await model.fit(x, y, { epochs: 15, batchSize: 32 });
  const again = await Sequential.load(model.save(), { backend });
  const a = model.predict(x), b = again.predict(x);
  window.result = {
    backend: backend.name, firstLoss: h.loss[0], lastLoss: h.loss[h.loss.length - 1],
    accuracy: again.evaluate(x, y).accuracy, sameAfterLoad: a.every((v, i) => v === b[i]),
    sameAfterOnnx: fromOnnx(toOnnx(model), { backend }).compile({}).predict(x).every((v, i) => v === a[i]),
  };
} catch (e) {
  window.result = { error: String(e && e.stack || e) };
}
</script></body></html>`;

const TYPES: Record<string, string> = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.map': 'application/json', '.json': 'application/json' };
const ALLOWED = ['dist/', 'node_modules/@bufbuild/protobuf/'];

export async function servePlainPage(): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)).replace(/^\/+/, '');
    if (path === '' || path === 'index.html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
      return;
    }
    if (!ALLOWED.some((a) => path.startsWith(a)) || path.includes('..')) {
      res.writeHead(404).end();
      return;
    }
    try {
      const body = await readFile(join(ROOT, path));
      res.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
