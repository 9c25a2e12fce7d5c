#!/usr/bin/env node
// npm run bench:browser: the kernel and training-step benchmarks of
// bench/browser-bench.ts in headless Chromium (Debian's /usr/bin/chromium,
// the demo's bench.html served by Vite on localhost) and, for the side-by-side
// column, the very same module in this Node process. Prints one Markdown table
// of medians.
//
//   node bench/browser.mjs [--budget <ms>] [--no-node] [--no-relaxed] [--json <file>]
//     --budget     sampling time per benchmark and backend (default 1500)
//     --no-node    only the browser columns
//     --no-relaxed Node runs its default (baseline SIMD) build; by default relaxed
//                  SIMD is switched on, as Chromium has it and bench/run.mjs does
//     --json       also write the results as JSON
import { writeFileSync } from 'node:fs';
import { cpus, platform, arch } from 'node:os';
import v8 from 'node:v8';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createServer } from 'vite';
import { launchChromium, ROOT, serveDemo } from '../scripts/browser.mjs';

const { values: flags } = parseArgs({
  options: {
    budget: { type: 'string', default: '1500' }, 'no-node': { type: 'boolean', default: false },
    'no-relaxed': { type: 'boolean', default: false }, json: { type: 'string' },
  },
});
// Node 20 validates relaxed SIMD only behind a flag, set before any module compiles; Chromium has it on.
if (!flags['no-relaxed']) v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
// createBackend turns the flag on by itself on Node 20–21; the baseline build needs the opt-out.
else process.env.NORMCORE_SIMD = 'baseline';
const budgetMs = Number(flags.budget);
if (!(budgetMs > 0)) {
  console.error(`bench:browser: --budget must be a positive number of ms, got ${flags.budget}`);
  process.exit(2);
}

// The module, loaded through Vite's SSR module loader so that Node runs the same TypeScript as the page
// (the loader stays open: the backend imports its wasm bytes lazily).
const vite = await createServer({ configFile: false, root: ROOT, logLevel: 'warn', appType: 'custom', server: { middlewareMode: true, hmr: false, ws: false } });
const bench = await vite.ssrLoadModule(join(ROOT, 'bench', 'browser-bench.ts'));

const columns = [];

// ---- headless Chromium
const server = await serveDemo();
let browser;
try {
  browser = await launchChromium();
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(new URL('bench.html', server.url).href);
  await page.waitForFunction(() => typeof window.__normcoreRunBench === 'function');
  process.stderr.write(`Chromium ${browser.version()}: running…\n`);
  await page.evaluate((budget) => window.__normcoreRunBench({ budgetMs: budget }), budgetMs);
  const out = await page.evaluate(() => window.__normcoreBench);
  if (!out || out.error || errors.length) throw new Error(`the benchmark failed in Chromium: ${out?.error ?? errors.join('; ')}`);
  columns.push({ runtime: 'Chromium', version: `Chromium ${browser.version()} headless, page main thread`, results: out.results });
} finally {
  await browser?.close();
  await server.close();
}

// ---- Node, the same module
if (!flags['no-node']) {
  process.stderr.write(`Node ${process.version}: running…\n`);
  columns.push({ runtime: 'Node', version: `Node ${process.version} (V8 ${process.versions.v8})`, results: await bench.runBrowserBenchmarks({ budgetMs }) });
}

await vite.close();

// ---- the table
const cpu = cpus();
console.log(`\nnormcore benchmarks (bench/browser-bench.ts): medians; ${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${cpu.length} vCPU, ${platform()} ${arch()}`);
console.log(`runtimes: ${columns.map((c) => `${c.version}, wasm build "${c.results[0].builds.wasm}"`).join('; ')}.`);
console.log('×: how many times faster wasm is than js.\n');
const head = ['benchmark', 'unit', ...columns.flatMap((c) => [`${c.runtime} wasm`, `${c.runtime} js`, '×'])];
const rows = columns[0].results.map((r, i) => [
  r.name, r.unit, ...columns.flatMap((c) => { const x = c.results[i]; return [bench.fmt(x.values.wasm), bench.fmt(x.values.js), bench.speedup(x)]; }),
]);
const widths = head.map((h, j) => Math.max(h.length, ...rows.map((r) => r[j].length)));
const line = (cells) => `| ${cells.map((c, j) => (j < 2 ? c.padEnd(widths[j]) : c.padStart(widths[j]))).join(' | ')} |`;
console.log(line(head));
console.log(`| ${widths.map((w, j) => (j < 2 ? '-'.repeat(w) : `${'-'.repeat(w - 1)}:`)).join(' | ')} |`);
for (const r of rows) console.log(line(r));

if (flags.json) {
  writeFileSync(flags.json, JSON.stringify({ date: new Date().toISOString(), cpu: cpu[0]?.model, vcpus: cpu.length, budgetMs, columns }, null, 2));
  console.log(`wrote ${flags.json}`);
}
