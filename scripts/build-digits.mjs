// Writes the two digit files normcore ships and serves, in one compact
// format (below), instead of the 41 MB of JSON in the `mnist` package (a
// devDependency, read only here):
//   data/mnist-digits.bin  all 10,000 digits of the `mnist` package, class by
//                          class in the package's own order (train rows =
//                          10,000, test rows = 0); src/node/mnist.ts loads it
//                          and draws its stratified splits from it.
//   demo/public/digits.bin the default split of `loadMnist()` (8000 training
//                          and 2000 test digits, seed 1, the split `npm start`
//                          trains on), for the demo page.
//
// Lossless: the mnist package stores each grey level as round(k/255, 3), so a
// byte k and a 256-entry palette of the package's own values give back exactly
// the Float32Array that loadMnist returns (test/mnist-digits.test.ts and
// test/browser-package.test.ts check).
//
// Layout (little-endian), then gzip'd as a whole; decoded by src/node/digits.ts
// and demo/src/digits.ts:
//   0     8 bytes  magic "NCDIGIT1"
//   8     u32      train rows          12  u32  test rows
//   16    u32      features (784)      20  u32  classes (10)
//   24    f32[256] palette: grey level of byte k
//   1048  u8[train] train labels, u8[test] test labels,
//         u8[train·784] train pixels, u8[test·784] test pixels (palette indices)
//
// Each file is rewritten only when its inputs changed since the last run
// (content stamps in build/.stamps/). The demo file needs `tsc` first (it
// runs dist/node/mnist.js); with --package-only only data/mnist-digits.bin is made.
// Usage: node scripts/build-digits.mjs [--force] [--package-only]
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const script = fileURLToPath(import.meta.url);
const force = process.argv.includes('--force');
const FEATURES = 784, CLASSES = 10;

/** Runs `make()` unless `out` exists and the stamp of `inputs` is the one recorded at its last build. */
function unlessUpToDate(name, out, inputs, make) {
  const stampFile = join(root, 'build', '.stamps', `${name}.sha256`);
  const hash = createHash('sha256');
  for (const f of inputs) hash.update(f).update(readFileSync(f));
  const digest = hash.digest('hex');
  if (!force && existsSync(out) && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === digest) return;
  const bytes = make();
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, bytes);
  mkdirSync(dirname(stampFile), { recursive: true });
  writeFileSync(stampFile, digest);
}

/** Encodes labelled f32 digits (grey levels) as the format above; throws if two levels share a byte. */
function encode(trainImages, trainLabels, testImages, testLabels, what) {
  const train = trainLabels.length, test = testLabels.length;
  const palette = new Float32Array(256).fill(NaN);
  const toByte = (images) => {
    const bytes = new Uint8Array(images.length);
    for (let i = 0; i < images.length; i++) {
      const v = images[i];
      const k = Math.round(v * 255);
      if (!(k >= 0 && k <= 255)) throw new Error(`build-digits: grey level ${v} is outside [0, 1]`);
      if (Number.isNaN(palette[k])) palette[k] = v;
      else if (palette[k] !== v) throw new Error(`build-digits: grey levels ${palette[k]} and ${v} both round to ${k}/255; the byte encoding would lose one`);
      bytes[i] = k;
    }
    return bytes;
  };
  const trainPixels = toByte(trainImages);
  const testPixels = toByte(testImages);
  for (let k = 0; k < 256; k++) if (Number.isNaN(palette[k])) palette[k] = Math.round((k / 255) * 1000) / 1000;

  const header = 24 + 256 * 4;
  const raw = new Uint8Array(header + train + test + (train + test) * FEATURES);
  const view = new DataView(raw.buffer);
  raw.set(new TextEncoder().encode('NCDIGIT1'), 0);
  view.setUint32(8, train, true);
  view.setUint32(12, test, true);
  view.setUint32(16, FEATURES, true);
  view.setUint32(20, CLASSES, true);
  for (let k = 0; k < 256; k++) view.setFloat32(24 + 4 * k, palette[k], true);
  let at = header;
  raw.set(trainLabels, at); at += train;
  raw.set(testLabels, at); at += test;
  raw.set(trainPixels, at); at += trainPixels.length;
  raw.set(testPixels, at);
  const gz = gzipSync(raw, { level: 9 });
  console.log(`build-digits: ${train} + ${test} digits → ${what} (${(gz.length / 1e6).toFixed(2)} MB gzip'd, ${(raw.length / 1e6).toFixed(2)} MB raw)`);
  return gz;
}

// 1. All digits of the mnist package, class by class: what the package ships.
const packageFile = join(root, 'data', 'mnist-digits.bin');
const mnistDir = dirname(createRequire(import.meta.url).resolve('mnist/package.json'));
const classFiles = Array.from({ length: CLASSES }, (_, c) => join(mnistDir, 'src', 'digits', `${c}.json`));
unlessUpToDate('mnist-digits', packageFile, [script, join(mnistDir, 'package.json'), ...classFiles], () => {
  const parts = classFiles.map((file) => {
    const data = JSON.parse(readFileSync(file, 'utf8')).data;
    if (!Array.isArray(data) || data.length === 0 || data.length % FEATURES !== 0) {
      throw new Error(`build-digits: ${file} does not hold a multiple of ${FEATURES} values`);
    }
    return Float32Array.from(data);
  });
  const rows = parts.reduce((n, p) => n + p.length / FEATURES, 0);
  const images = new Float32Array(rows * FEATURES);
  const labels = new Uint8Array(rows);
  let r = 0;
  parts.forEach((p, c) => {
    images.set(p, r * FEATURES);
    labels.fill(c, r, (r += p.length / FEATURES));
  });
  return encode(images, labels, new Float32Array(0), new Uint8Array(0), 'data/mnist-digits.bin');
});

// 2. The demo's split, drawn by the built loader from the file above.
if (!process.argv.includes('--package-only')) {
  const out = join(root, 'demo', 'public', 'digits.bin');
  const loader = join(root, 'dist', 'node', 'mnist.js');
  const decoder = join(root, 'dist', 'node', 'digits.js');
  if (!existsSync(loader)) {
    console.error('build-digits: dist/node/mnist.js is missing; run `npm run build` first');
    process.exit(1);
  }
  const { loadMnist } = await import(loader);
  unlessUpToDate('demo-digits', out, [script, loader, decoder, join(root, 'dist', 'model', 'random.js'), packageFile], () => {
    const d = loadMnist(); // the CLI's default split: 8000 / 2000, seed 1
    return encode(d.trainImages, d.trainLabels, d.testImages, d.testLabels, 'demo/public/digits.bin');
  });
}
