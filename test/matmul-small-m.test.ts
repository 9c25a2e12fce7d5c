// matmul with fewer than 4 rows of C (predict of one row) skips packing and
// runs as a GEMV (assembly/matmul.ts `matmulSmall`). It sums each element
// over the depth in order, so it agrees with the packed path and the js twin
// to rounding, not bit for bit; checked here on every layout, with and
// without accumulate, on shapes with every kind of tail (n mod 32, n mod 4,
// k mod 4), on both wasm builds.
import { describe, expect, it } from 'vitest';
import { createBackend, type KernelBackend as Backend } from '../src/kernels.js';
import { expectRelErr } from './helpers/compare.js';

function rand(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 4294967296 - 0.5;
  }
  return out;
}

function run(be: Backend, m: number, k: number, n: number, tA: number, tB: number, acc: number): Float32Array {
  const h = be.heap;
  const c = h.put(rand(m * n, 3)), a = h.put(rand(m * k, m * 7 + k)), b = h.put(rand(k * n, k * 5 + n));
  be.kernels.matmul(c, a, b, m, k, n, tA, tB, acc);
  const out = h.readF32(c, m * n);
  for (const p of [c, a, b]) h.free(p);
  return out;
}

describe('matmul, small m (unpacked path)', () => {
  for (const simd of ['baseline', 'relaxed'] as const) {
    it(`agrees with the js backend and with the packed path (${simd} build)`, async () => {
      const wasm = await createBackend('wasm', { simd });
      const js = await createBackend('js');
      let cases = 0;
      for (const m of [1, 2, 3]) {
        for (const [k, n] of [[1, 1], [5, 3], [784, 256], [255, 70], [33, 37], [256, 10], [7, 64], [6, 16390]] as const) { // 16390: wider than the scratch row
          for (const tA of [0, 1]) for (const tB of [0, 1]) for (const acc of [0, 1]) {
            const label = `${m}×${k}×${n} transA ${tA} transB ${tB} accumulate ${acc}`;
            const w = run(wasm, m, k, n, tA, tB, acc);
            expectRelErr(w, run(js, m, k, n, tA, tB, acc), 1e-5, label);
            cases++;
          }
        }
      }
      expect(cases).toBe(3 * 8 * 8);
    });
  }

  it('m = 4 and up still takes the packed path: bit-identical to its row blocks', async () => {
    const wasm = await createBackend('wasm');
    // rows 0–3 of a 7-row product equal the 4-row product of the same rows (both packed)
    const [k, n] = [129, 67];
    const a = rand(7 * k, 11), b = rand(k * n, 12);
    const full = wasm.matmul(a, b, { m: 7, k, n });
    const top = wasm.matmul(a.subarray(0, 4 * k), b, { m: 4, k, n });
    expect(Buffer.from(full.buffer, 0, 4 * n * 4).equals(Buffer.from(top.buffer))).toBe(true);
  });
});
