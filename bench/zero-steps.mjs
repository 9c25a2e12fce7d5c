// matmul on inputs with all-zero depth steps (assembly/matmul.ts,
// `skipZeroSteps`): 128×784×256 (layer 1 of the bench network), op(A) with a
// given fraction of depth steps zero in every row, against the same product
// with those zeros written as −0, which the kernel does not skip (its plain
// loop, the same bits). Interleaved, medians. Shows where skipping starts to
// pay: the threshold in skipZeroSteps (a fifth) comes from here.
//
//   node bench/zero-steps.mjs
import v8 from 'node:v8';
import { createBackend } from 'normcore';

v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
const be = await createBackend('wasm');
const [m, k, n] = [128, 784, 256];
const kernels = be.unchecked;

/** A with the depth steps p where frac(p·φ) < `fraction` zero in every row (+0, or −0 when `negative`), the rest in (0.01, 1.01). */
function operand(fraction, negative) {
  const a = new Float32Array(m * k);
  for (let p = 0; p < k; p++) {
    const dead = (p * 0.6180339887) % 1 < fraction;
    for (let i = 0; i < m; i++) a[i * k + p] = dead ? (negative ? -0 : 0) : ((i * 7 + p * 13) % 101) / 100 + 0.01;
  }
  return a;
}

const pb = be.heap.put(new Float32Array(k * n).map((_, i) => ((i * 37) % 97) / 97 - 0.5));
const pc = be.heap.allocF32(m * n);
const median = (x) => [...x].sort((a, b) => a - b)[x.length >> 1];
console.log(`matmul ${m}×${k}×${n}, wasm ${be.build}, ms per product (medians of 30 interleaved rounds of 5)`);
console.log('| zero steps | skipping | plain loop (−0) | ratio |');
console.log('|--:|--:|--:|--:|');
for (const fraction of [0, 0.1, 0.2, 0.25, 0.4, 0.6, 0.8]) {
  const skip = be.heap.put(operand(fraction, false)), plain = be.heap.put(operand(fraction, true));
  const t = { skip: [], plain: [] };
  for (let r = 0; r < 30; r++) {
    for (const [key, ptr] of [['skip', skip], ['plain', plain]]) {
      const t0 = performance.now();
      for (let i = 0; i < 5; i++) kernels.matmul(pc, ptr, pb, m, k, n, 0, 0, 0);
      t[key].push((performance.now() - t0) / 5);
    }
  }
  console.log(`| ${(fraction * 100).toFixed(0)}% | ${median(t.skip).toFixed(3)} | ${median(t.plain).toFixed(3)} | ${(median(t.skip) / median(t.plain)).toFixed(3)} |`);
  be.heap.free(skip);
  be.heap.free(plain);
}
be.dispose();
