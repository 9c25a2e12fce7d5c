// The build, step by step, each skipped when its inputs and outputs are
// exactly what they were after its last run (a sha-256 content stamp in
// build/.stamps/; a fresh clone has none and builds everything):
//   1. kernels  asc: assembly/ → build/{debug,release,relaxed}.wasm, embedded
//               into src/wasm/*.generated.ts (scripts/embed-wasm.mjs)
//   2. tsc      src/ → dist/, and the CommonJS view of its declarations (scripts/cjs-types.mjs)
//   3. digits   data/mnist-digits.bin and demo/public/digits.bin (scripts/build-digits.mjs, its own stamps)
// `npm install` (prepare), `npm start`, `npm test` and `npm pack` all run it;
// when nothing changed it takes a fraction of a second.
// Usage: node scripts/build.mjs [--force]
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const force = process.argv.includes('--force');
const require = createRequire(import.meta.url);

/** Every file under `dir` (sorted, recursively), or [dir] for a file; [] when absent. */
function files(dir, keep = () => true) {
  const abs = join(root, dir);
  if (!existsSync(abs)) return [];
  const out = [];
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (keep(p)) out.push(p);
    }
  };
  try {
    walk(abs);
  } catch {
    return [abs];
  }
  return out;
}

/** sha-256 of the paths and contents of `paths` (a missing file counts as such); a [label, text] pair stands for a value. */
function digest(paths) {
  const h = createHash('sha256');
  for (const p of paths) {
    if (Array.isArray(p)) {
      h.update(p[0]).update('\0').update(p[1]).update('\0');
      continue;
    }
    h.update(relative(root, p)).update('\0');
    h.update(existsSync(p) ? readFileSync(p) : '\u0000missing');
    h.update('\0');
  }
  return h.digest('hex');
}

/** Runs `run()` unless the stamp says `inputs()` and `outputs()` are unchanged since it last ran; then records them. */
function step(name, inputs, outputs, run) {
  const stampFile = join(root, 'build', '.stamps', `${name}.json`);
  const before = { inputs: digest(inputs()), outputs: digest(outputs()) };
  if (!force && existsSync(stampFile)) {
    const last = JSON.parse(readFileSync(stampFile, 'utf8'));
    if (last.inputs === before.inputs && last.outputs === before.outputs && outputs().length > 0) return false;
  }
  const t0 = performance.now();
  run();
  mkdirSync(dirname(stampFile), { recursive: true });
  writeFileSync(stampFile, JSON.stringify({ inputs: digest(inputs()), outputs: digest(outputs()) }) + '\n');
  console.log(`build: ${name} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  return true;
}

const bin = (pkg, file) => join(dirname(require.resolve(`${pkg}/package.json`)), file);
const node = (...args) => execFileSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
const script = (name) => join(root, 'scripts', name);

// 1. The kernels: three asc builds (debug, release, relaxed), embedded as string modules. The threaded
//    backend derives its module from release or relaxed at run time (src/backend/shared-module.ts).
const asc = bin('assemblyscript', 'bin/asc.js');
step(
  'kernels',
  () => [...files('assembly'), join(root, 'asconfig.json'), require.resolve('assemblyscript/package.json'), require.resolve('binaryen/package.json'), require.resolve('@gfx/zopfli/package.json'), script('optimize-wasm.mjs'), script('embed-wasm.mjs'), script('build.mjs')],
  () => [...['debug', 'release', 'relaxed'].map((b) => join(root, 'build', `${b}.wasm`)), ...files('src/wasm', (p) => p.endsWith('.generated.ts'))],
  () => {
    node(asc, 'assembly/index.ts', '--target', 'debug');
    node(asc, 'assembly/index.ts', '--target', 'release');
    node(asc, 'assembly/index.ts', '--target', 'release', '--enable', 'relaxed-simd', '--outFile', 'build/relaxed.wasm', '--textFile', 'build/relaxed.wat');
    node(script('optimize-wasm.mjs'), 'build/release.wasm', 'build/relaxed.wasm');
    node(script('embed-wasm.mjs'));
  },
);

// 2. TypeScript: dist/, and the declarations' CommonJS view.
const tsc = bin('typescript', 'bin/tsc');
step(
  'tsc',
  // package.json counts by its "type" only (it decides what NodeNext emits), so editing a script there rebuilds nothing.
  () => [...files('src'), join(root, 'tsconfig.json'), require.resolve('typescript/package.json'), ['package.json type', String(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).type)], script('cjs-types.mjs'), script('build.mjs')],
  () => files('dist'),
  () => {
    // dist/ is tsc's alone: cleared first, so a moved or deleted source leaves no stale module to be packed
    rmSync(join(root, 'dist'), { recursive: true, force: true });
    node(tsc, '-p', 'tsconfig.json');
    node(script('cjs-types.mjs'));
  },
);

// 3. The digits (stamped by the script itself).
await import('./build-digits.mjs');
