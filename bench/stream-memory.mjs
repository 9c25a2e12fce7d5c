// Memory of fit over a streamed source (issue 11): an async generator makes
// rows of 784 features on the fly (a fresh Float32Array per batch, as a file
// reader would), and one epoch trains Normalization → Dense(784, 10) on them.
// Each run is a child process; its peak resident set (resourceUsage maxRSS)
// is compared between a small and a large run.
//
//   node bench/stream-memory.mjs [--rows 2000000] [--small 20000] [--batch 1000] [--backend wasm] [--heap <MB>]
//   node bench/stream-memory.mjs --child <rows> <batch> <backend>     (one run; prints JSON)
//
// Imports normcore from dist/ (npm run build first).
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const F = 784;
const args = process.argv.slice(2);

/** One run: trains one epoch on `rows` generated rows; prints { rows, seconds, maxRssMB, rssBeforeMB }. */
async function child(rows, batch, backendName) {
  const { Sequential, Dense, createBackend } = await import('../dist/index.js');
  const { Normalization } = await import('../dist/data.js');
  const backend = await createBackend(backendName);
  const norm = new Normalization(F, { mean: new Float32Array(F).fill(0.5), variance: new Float32Array(F).fill(1 / 12) });
  const model = new Sequential([norm, new Dense(F, 10)], { backend, seed: 1 });
  model.compile({ optimizer: { type: 'sgd', lr: 0.01 } });
  let state = 12345;
  async function* batches() {
    for (let start = 0; start < rows; start += batch) {
      const n = Math.min(batch, rows - start);
      const x = new Float32Array(n * F);
      const y = new Uint8Array(n);
      for (let r = 0; r < n; r++) {
        for (let c = 0; c < F; c++) {
          state = (state * 1664525 + 1013904223) >>> 0;
          x[r * F + c] = state / 4294967296;
        }
        y[r] = Math.floor(x[r * F] * 10);
      }
      yield { x, y };
    }
  }
  const rssBefore = process.memoryUsage().rss;
  const t0 = performance.now();
  const h = await model.fit(batches(), undefined, { epochs: 1 });
  const seconds = (performance.now() - t0) / 1000;
  process.stdout.write(JSON.stringify({
    rows, batch, backend: backendName, seconds, loss: h.loss[0], accuracy: h.accuracy?.[0],
    rssBeforeMB: rssBefore / 2 ** 20, maxRssMB: process.resourceUsage().maxRSS / 1024,
  }) + '\n');
}

/** Runs one child and returns its JSON. */
export function runChild(rows, batch = 1000, backend = 'wasm', heapMB = 0) {
  const v8 = heapMB > 0 ? [`--max-old-space-size=${heapMB}`] : [];
  const out = execFileSync(process.execPath, [...v8, fileURLToPath(import.meta.url), '--child', String(rows), String(batch), backend], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').at(-1));
}

if (args[0] === '--child') {
  await child(Number(args[1]), Number(args[2]), args[3]);
} else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const opt = (name, dflt) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : dflt; };
  const batch = Number(opt('batch', 1000)), backend = opt('backend', 'wasm'), heap = Number(opt('heap', 0));
  const small = runChild(Number(opt('small', 20000)), batch, backend, heap);
  const large = runChild(Number(opt('rows', 2000000)), batch, backend, heap);
  if (heap) console.log(`V8 old space capped at ${heap} MB (--max-old-space-size)`);
  for (const r of [small, large]) console.log(`${String(r.rows).padStart(9)} rows × ${F}: ${r.seconds.toFixed(1)} s, peak RSS ${r.maxRssMB.toFixed(1)} MB (${r.rssBeforeMB.toFixed(1)} MB before fit), loss ${r.loss.toFixed(4)}`);
  console.log(`peak RSS difference: ${(large.maxRssMB - small.maxRssMB).toFixed(1)} MB (${(large.rows * F * 4 / 2 ** 30).toFixed(2)} GB of features streamed)`);
}
