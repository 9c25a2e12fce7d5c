// What a web page pays for normcore: bundles a small page that imports
// 'normcore' (the built dist/, through the package's exports, as a user's
// bundler would) with esbuild, two ways, and prints the gzip'd sizes:
//   split   --splitting --format=esm: the entry chunk, the kernels (the relaxed
//           build) as a chunk of their own, and the release build's patch to it as
//           another, which only an engine without relaxed SIMD fetches
//   single  one minified file without splitting: it must carry every build it may pick
//   vite    `vite build` of a page that runs the same script (Rollup chunks, esbuild-minified)
// Usage: node scripts/bundle-size.mjs [--json] [--keep] [--modules]
//   --keep     leave the bundles on disk and print where (test/browser-split.test.ts serves them)
//   --modules  also print, for each file the split page loads, what each source module costs in it:
//              its minified bytes, and its gzip share (the file's gzip size less that of the file
//              without the module's bytes, located through the source map)
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
// called by test/browser-split.test.ts only: a load, which fetches the model-file reader on first use
globalThis.normcoreReload = async () => {
  const again = await Sequential.load(model.save(), { backend });
  return again.predict(x).every((v, i) => v === model.predict(x)[i]);
};
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
      const inputs = Object.keys(Object.entries(meta.outputs).find(([out]) => out.endsWith(`${sub}/${f}`))?.[1].inputs ?? {})
        .map((i) => i.replace(/^.*?dist\//, ''));
      const builds = ['kernels', 'release-patch', 'debug'].filter((b) => inputs.some((i) => i === `wasm/${b}.generated.js`));
      const build = builds.length ? builds.join('+') : f === 'page.js' ? 'entry' : 'shared';
      return { file: f, build, bytes: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length, inputs };
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
    // Rollup names a dynamically imported module's chunk after it: the release patch after release-build.ts, which imports it
    const build = f.startsWith('kernels.generated') ? 'kernels' : f.startsWith('release-build') ? 'release-patch' : f.startsWith('debug.generated') ? 'debug'
      : f.startsWith('index') ? 'entry' : 'shared';
    return { file: f, build, bytes: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length, inputs: [] };
  });
}

/** The chunks `file` (in `dir`) imports statically, `import … from "./chunk-…"` (not `import(…)`), and theirs, transitively. */
export function staticClosure(dir, file) {
  const seen = new Set();
  const visit = (f) => {
    const code = readFileSync(join(dir, f), 'utf8');
    for (const m of code.matchAll(/(?:^|[;}\n])\s*import\s*(?:[^'"()]*?from\s*)?["']\.\/([^"']+)["']/g)) {
      if (!seen.has(m[1])) { seen.add(m[1]); visit(m[1]); }
    }
  };
  visit(file);
  return [...seen];
}

/**
 * What a page loads that trains as PAGE does: its entry, the chunks that one imports statically
 * (transitively), and the kernels chunk; on an engine without relaxed SIMD (Safari) also the release
 * build's patch chunk and what it imports (`splitRelease`).
 */
export function pageLoads(r) {
  const split = new Set(['page.js', ...staticClosure(join(r.dir, 'split'), 'page.js')]);
  const viteEntry = r.vite.find((f) => f.build === 'entry').file;
  const vite = new Set([viteEntry, ...staticClosure(join(r.dir, 'vite', 'assets'), viteEntry)]);
  const pick = (files, set) => files.filter((f) => set.has(f.file) || f.build === 'kernels');
  const patch = r.split.find((f) => f.build === 'release-patch');
  const release = new Set([...split, ...(patch ? [patch.file, ...staticClosure(join(r.dir, 'split'), patch.file)] : [])]);
  return { split: pick(r.split, split), splitRelease: pick(r.split, release), vite: pick(r.vite, vite) };
}

/** Base64 VLQ source-map mappings → per generated line, the segments [column, source index or -1]. */
function decodeMappings(mappings) {
  const digits = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  let source = 0;
  return mappings.split(';').map((line) => {
    let column = 0;
    return line ? line.split(',').map((segment) => {
      const v = [];
      let value = 0, shift = 0;
      for (const ch of segment) {
        const d = digits.indexOf(ch);
        value += (d & 31) << shift;
        if (d & 32) shift += 5;
        else { v.push(value & 1 ? -(value >>> 1) : value >>> 1); value = 0; shift = 0; }
      }
      column += v[0];
      if (v.length > 1) source += v[1];
      return [column, v.length > 1 ? source : -1];
    }) : [];
  });
}

/**
 * For each of `files` (outputs of the split bundle, as `bundle` lists them): its source modules with
 * their minified bytes and gzip share, largest share first. Rebuilds the split bundle with source
 * maps; its chunks, named by content, get other names, so they are matched by the modules they hold.
 */
export async function moduleShares(r, files) {
  const result = await build({
    entryPoints: [join(r.dir, 'page.js')], bundle: true, minify: true, format: 'esm', platform: 'browser', target: 'es2022', logLevel: 'error', legalComments: 'none',
    splitting: true, outdir: join(r.dir, 'split-maps'), entryNames: '[name]', chunkNames: 'chunk-[hash]', sourcemap: 'external', write: false, metafile: true,
  });
  const key = (inputs) => inputs.map((i) => i.replace(/^.*?dist\//, '')).sort().join(' ');
  const byKey = new Map(Object.entries(result.metafile.outputs).filter(([out]) => out.endsWith('.js'))
    .map(([out, o]) => [key(Object.keys(o.inputs)), out.split(/[\\/]/).pop()]));
  const byName = new Map(result.outputFiles.map((f) => [f.path.split(/[\\/]/).pop(), f]));
  const gz = (text) => gzipSync(text, { level: 9 }).length;
  return files.map((file) => {
    const mapped = byKey.get(key(r.split.find((f) => f.file === file).inputs));
    const text = byName.get(mapped).text.replace(/\n\/\/# sourceMappingURL=.*\n?$/, '\n');
    const map = JSON.parse(byName.get(`${mapped}.map`).text);
    const lines = text.split('\n');
    const ranges = new Map(); // source index → [line, start, end][]
    decodeMappings(map.mappings).forEach((segments, line) => segments.forEach(([start, src], k) => {
      if (src < 0) return;
      const end = k + 1 < segments.length ? segments[k + 1][0] : lines[line]?.length ?? 0;
      if (!ranges.has(src)) ranges.set(src, []);
      ranges.get(src).push([line, start, end]);
    }));
    const total = gz(text);
    const modules = [...ranges].map(([src, cut]) => {
      const without = lines.map((l, i) => {
        const mine = cut.filter(([line]) => line === i).sort((a, b) => a[1] - b[1]);
        let out = '', pos = 0;
        for (const [, a, b] of mine) { out += l.slice(pos, a); pos = b; }
        return out + l.slice(pos);
      }).join('\n');
      return { module: map.sources[src].replace(/^.*?(dist|src)\//, '$1/'), bytes: text.length - without.length, gzip: total - gz(without) };
    }).filter((m) => m.bytes > 0).sort((a, b) => b.gzip - a.gzip);
    return { file, gzip: total, modules };
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await bundle();
  if (process.argv.includes('--json')) console.log(JSON.stringify(r, null, 2));
  else {
    const kb = (n) => (n / 1024).toFixed(1) + ' KB';
    for (const part of ['split', 'single', 'vite']) {
      for (const f of r[part]) console.log(`${part.padEnd(6)} ${f.build.padEnd(13)} ${f.file.padEnd(24)} ${kb(f.bytes).padStart(9)} ${kb(f.gzip).padStart(9)} gzip`);
    }
    // what a page fetches: the entry, the chunks it imports statically, and one kernel build
    const loads = pageLoads(r);
    const sum = (files) => files.reduce((a, f) => a + f.gzip, 0);
    console.log(`split page (entry + its static chunks + the kernels chunk): ${kb(sum(loads.split))} gzip (${sum(loads.split)} bytes) in ${loads.split.length} files; single file: ${kb(sum(r.single))} gzip (${sum(r.single)} bytes)`);
    console.log(`split page on an engine without relaxed SIMD (+ the release build's patch): ${kb(sum(loads.splitRelease))} gzip (${sum(loads.splitRelease)} bytes) in ${loads.splitRelease.length} files`);
    console.log(`vite page (entry + its static chunks + the kernels chunk): ${kb(sum(loads.vite))} gzip in ${loads.vite.length} files`);
  }
  if (process.argv.includes('--modules')) {
    const shares = await moduleShares(r, pageLoads(r).split.map((f) => f.file));
    for (const { file, gzip, modules } of shares) {
      console.log(`\n${file}: ${gzip} bytes gzip; per module: minified bytes, gzip share (the file's gzip less that without the module)`);
      for (const m of modules) console.log(`  ${String(m.bytes).padStart(7)} ${String(m.gzip).padStart(6)}  ${m.module}`);
    }
  }
  if (process.argv.includes('--keep')) console.log(r.dir);
  else rmSync(r.dir, { recursive: true, force: true });
}
