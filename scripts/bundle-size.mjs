// What a web page pays for normcore: bundles a small page that imports
// 'normcore' (the built dist/, through the package's exports, as a user's
// bundler would) with esbuild, two ways, and prints the gzip'd sizes:
//   split   --splitting --format=esm: the entry chunk, and the kernels (the
//           release build and the relaxed patch to it) as a chunk of their own
//   single  one minified file without splitting: it must carry every build it may pick
//   vite    `vite build` of a page that runs the same script (Rollup chunks, esbuild-minified)
// Usage: node scripts/bundle-size.mjs [--json] [--keep]
//   --keep  leave the bundles on disk and print where (test/browser-split.test.ts serves them)
import { build } from 'esbuild';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The page: trains one step of a small network on the default (auto) kernels and reports which build ran. */
export const PAGE = `import { createBackend, mlp, Sequential } from 'normcore';
const backend = await createBackend();
const model = new Sequential(mlp({ inputs: 4, hidden: [8], outputs: 2 }), { backend, seed: 1 });
model.compile({ optimizer: { type: 'adam' }, loss: 'softmaxCrossEntropy' });
const x = new Float32Array(16 * 4).map((_, i) => Math.sin(i));
const y = new Uint8Array(16).map((_, i) => i % 2);
const h = await model.fit(x, y, { epochs: 1, batchSize: 8 });
globalThis.normcoreResult = { build: backend.build, loss: h.loss[0] };
`;

/** Writes the page and a node_modules/normcore link to this repository into a new folder; bundles it both ways. */
export async function bundle(dir = mkdtempSync(join(tmpdir(), 'normcore-bundle-'))) {
  mkdirSync(join(dir, 'node_modules'), { recursive: true });
  symlinkSync(root, join(dir, 'node_modules', 'normcore'), 'dir');
  writeFileSync(join(dir, 'page.js'), PAGE);
  const common = { entryPoints: [join(dir, 'page.js')], bundle: true, minify: true, format: 'esm', platform: 'browser', target: 'es2022', logLevel: 'error', legalComments: 'none', metafile: true };
  const split = await build({ ...common, splitting: true, outdir: join(dir, 'split'), entryNames: '[name]', chunkNames: 'chunk-[hash]' });
  const single = await build({ ...common, outfile: join(dir, 'single', 'page.js') });
  // Which output holds which kernel build: the one esbuild put its embedded module (dist/wasm/<build>.generated.js) in.
  const sizes = (sub, meta) =>
    readdirSync(join(dir, sub)).filter((f) => f.endsWith('.js')).map((f) => {
      const bytes = readFileSync(join(dir, sub, f));
      const inputs = Object.keys(Object.entries(meta.outputs).find(([out]) => out.endsWith(`${sub}/${f}`))?.[1].inputs ?? {});
      const builds = ['kernels', 'debug'].filter((b) => inputs.some((i) => i.endsWith(`wasm/${b}.generated.js`)));
      const build = builds.length ? builds.join('+') : f === 'page.js' ? 'entry' : 'shared';
      return { file: f, build, bytes: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
    });
  return { dir, split: sizes('split', split.metafile), single: sizes('single', single.metafile), vite: await viteBundle(dir) };
}

/** `vite build` of an index.html that loads page.js; Rollup names each dynamically imported kernel module's chunk after it. */
async function viteBundle(dir) {
  const { build: viteBuild } = await import('vite');
  writeFileSync(join(dir, 'index.html'), '<!doctype html><script type="module" src="./page.js"></script>\n');
  await viteBuild({ root: dir, logLevel: 'silent', configFile: false, build: { outDir: join(dir, 'vite'), target: 'es2022', reportCompressedSize: false } });
  const assets = join(dir, 'vite', 'assets');
  return readdirSync(assets).filter((f) => f.endsWith('.js')).map((f) => {
    const bytes = readFileSync(join(assets, f));
    const build = ['kernels', 'debug'].find((b) => f.startsWith(`${b}.generated`)) ?? (f.startsWith('index') ? 'entry' : 'shared');
    return { file: f, build, bytes: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
  });
}

/** The chunks the split entry imports statically (`import … from "./chunk-…"` at its top level, not `import(…)`). */
export function entryImports(dir) {
  const code = readFileSync(join(dir, 'split', 'page.js'), 'utf8');
  return [...code.matchAll(/(?:^|;)\s*import\s*(?:[^'"()]*?from\s*)?["']\.\/([^"']+)["']/g)].map((m) => m[1]);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await bundle();
  if (process.argv.includes('--json')) console.log(JSON.stringify(r, null, 2));
  else {
    const kb = (n) => (n / 1024).toFixed(1) + ' KB';
    for (const part of ['split', 'single', 'vite']) {
      for (const f of r[part]) console.log(`${part.padEnd(6)} ${f.build.padEnd(8)} ${f.file.padEnd(24)} ${kb(f.bytes).padStart(9)} ${kb(f.gzip).padStart(9)} gzip`);
    }
    // what a page fetches: the entry, the shared chunks it imports statically, and one kernel build
    const split = r.split.filter((f) => f.build === 'entry' || (f.build === 'shared' && entryImports(r.dir).includes(f.file))).reduce((a, f) => a + f.gzip, 0);
    const kernel = r.split.filter((f) => f.build === 'kernels').reduce((a, f) => a + f.gzip, 0);
    console.log(`split page (entry + its static chunks + the kernels chunk): ${kb(split + kernel)} gzip; single file: ${kb(r.single.reduce((a, f) => a + f.gzip, 0))} gzip`);
    const viteLoads = r.vite.filter((f) => f.build !== 'debug' && !/^(threads|pool)/.test(f.file)).reduce((a, f) => a + f.gzip, 0);
    console.log(`vite page (every chunk but the thread pool's): ${kb(viteLoads)} gzip`);
  }
  if (process.argv.includes('--keep')) console.log(r.dir);
  else rmSync(r.dir, { recursive: true, force: true });
}
