// What a web page pays for normcore: bundles a small page that imports
// 'normcore' (the built dist/, through the package's exports, as a user's
// bundler would) with esbuild, two ways, and prints the gzip'd sizes:
//   split   --splitting --format=esm: the entry chunk, and each kernel build as
//           its own chunk (a page fetches the entry and the one build it picks)
//   single  one minified file without splitting: it must carry every build it may pick
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
  const common = { entryPoints: [join(dir, 'page.js')], bundle: true, minify: true, format: 'esm', platform: 'browser', target: 'es2022', logLevel: 'error', legalComments: 'none' };
  await build({ ...common, splitting: true, outdir: join(dir, 'split'), entryNames: '[name]', chunkNames: 'chunk-[hash]' });
  await build({ ...common, outfile: join(dir, 'single', 'page.js') });
  // Which chunk holds which kernel build: the one that carries its bytes (base64, as scripts/embed-wasm.mjs embeds them).
  const builds = Object.fromEntries(['release', 'relaxed', 'debug'].map((b) => [b, readFileSync(join(root, 'build', `${b}.wasm`)).toString('base64')]));
  const sizes = (sub) =>
    readdirSync(join(dir, sub)).filter((f) => f.endsWith('.js')).map((f) => {
      const bytes = readFileSync(join(dir, sub, f));
      const text = bytes.toString('utf8');
      const build = ['release', 'relaxed', 'debug'].find((b) => text.includes(builds[b])) ?? (f === 'page.js' ? 'entry' : 'shared');
      return { file: f, build, bytes: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
    });
  return { dir, split: sizes('split'), single: sizes('single') };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await bundle();
  if (process.argv.includes('--json')) console.log(JSON.stringify(r, null, 2));
  else {
    const kb = (n) => (n / 1024).toFixed(1) + ' KB';
    for (const part of ['split', 'single']) {
      for (const f of r[part]) console.log(`${part.padEnd(6)} ${f.build.padEnd(8)} ${f.file.padEnd(24)} ${kb(f.bytes).padStart(9)} ${kb(f.gzip).padStart(9)} gzip`);
    }
    const split = r.split.filter((f) => f.build !== 'release' && f.build !== 'relaxed' && f.build !== 'debug').reduce((a, f) => a + f.gzip, 0);
    const kernel = Math.max(...r.split.filter((f) => f.build === 'release' || f.build === 'relaxed').map((f) => f.gzip), 0);
    console.log(`split page (entry + shared chunks + largest kernel build): ${kb(split + kernel)} gzip; single file: ${kb(r.single.reduce((a, f) => a + f.gzip, 0))} gzip`);
  }
  if (process.argv.includes('--keep')) console.log(r.dir);
  else rmSync(r.dir, { recursive: true, force: true });
}
