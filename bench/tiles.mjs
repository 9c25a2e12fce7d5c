// The two register tiles of matmul (assembly/matmul.ts) in one build: panels
// of 6 rows of A (the 6×8 tile, on by default in the relaxed build) against
// panels of 4 (the 4×8 tile, the baseline build's), switched with the
// module's `setWideTile` call by call, so that a noisy machine slows both
// alike. The products of a 784-256-256-10 training step at batch 128, 512³,
// and layer 1's two products on real digits (the skipping loops). Medians of
// interleaved rounds; GFLOP/s count 2·m·k·n.
//
//   node bench/tiles.mjs [--rounds 40] [--simd relaxed|baseline]
import v8 from 'node:v8';
import { createBackend } from 'normcore';
import { loadMnist } from 'normcore/node';
import { SHAPES } from './matmul.mjs';
import { randomArray } from './lib/peers.mjs';

v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
const args = process.argv.slice(2);
const rounds = args.includes('--rounds') ? Number(args[args.indexOf('--rounds') + 1]) : 40;
const simd = args.includes('--simd') ? args[args.indexOf('--simd') + 1] : 'relaxed';
const be = await createBackend('wasm', { simd });
const ex = be.unchecked;
const median = (x) => [...x].sort((a, b) => a - b)[x.length >> 1];

/** A batch of 128 real digits (81% of pixels +0): layer 1's forward product and its weight gradient, where matmul skips all-zero depth steps. */
const digits = loadMnist({ train: 128, test: 10, seed: 1 }).trainImages.subarray(0, 128 * 784);
const cases = [
  ...SHAPES,
  { name: 'X·W₁, X = 128 digits', m: 128, k: 784, n: 256, transA: 0, transB: 0, a: () => digits },
  { name: 'Xᵀ·dZ₁ → dW₁, X = 128 digits (transA)', m: 784, k: 128, n: 256, transA: 1, transB: 0, a: () => digits },
];

console.log(`matmul, wasm ${be.build}: 6-row panels (6×8 tile) against 4-row panels (4×8), ${rounds} interleaved rounds`);
console.log('| product | 6×8 GFLOP/s | 4×8 GFLOP/s | time 6×8 / 4×8 |');
console.log('|---|--:|--:|--:|');
for (const [i, s] of cases.entries()) {
  const { m, k, n, transA, transB } = s;
  const pa = be.heap.put(s.a ? s.a(m, k) : randomArray(m * k, 100 + i)), pb = be.heap.put(randomArray(k * n, 200 + i)), pc = be.heap.allocF32(m * n);
  const reps = Math.max(1, Math.round(2e8 / (2 * m * k * n)));
  const t = { 1: [], 0: [] };
  for (let r = 0; r < rounds; r++) {
    for (const wide of r % 2 ? [0, 1] : [1, 0]) {
      ex.setWideTile(wide);
      const t0 = performance.now();
      for (let j = 0; j < reps; j++) ex.matmul(pc, pa, pb, m, k, n, transA, transB, 0);
      if (r > 0) t[wide].push((performance.now() - t0) / reps);
    }
  }
  const gf = (ms) => (2 * m * k * n / ms / 1e6).toFixed(1);
  console.log(`| ${s.name} | ${gf(median(t[1]))} | ${gf(median(t[0]))} | ${(median(t[1]) / median(t[0])).toFixed(3)} |`);
  be.heap.free(pa); be.heap.free(pb); be.heap.free(pc);
}
be.dispose();
