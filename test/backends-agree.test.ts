/**
 * Property tests (fast-check, seeded): over random small shapes and data,
 * the wasm and js backends agree, ‖wasm − js‖∞ / max(1, ‖js‖∞) ≤ 1e-4, on
 * matmul (every transA/transB) and on batch-norm forward and backward.
 * On failure fast-check shrinks to the smallest disagreeing shape and
 * prints it with the seed that reproduces it.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { KernelBackend as Backend } from '../src/kernels.js';
import { relErr } from './helpers/compare.js';
import { getBackend } from './helpers/kernels.js';
import { mulberry32, normal, uniform } from './helpers/prng.js';

const TOL = 1e-4;
const RUNS = { numRuns: 50, seed: 20_251_125 };

describe('wasm and js agree (property tests)', () => {
  let wasm: Backend, js: Backend;
  beforeAll(async () => { [wasm, js] = await Promise.all([getBackend('wasm'), getBackend('js')]); });

  it('matmul over random shapes, layouts and data', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 40 }),
        fc.boolean(), fc.boolean(), fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        (m, k, n, transA, transB, seed) => {
          const rng = mulberry32(seed);
          const a = uniform(rng, m * k, -2, 2), b = uniform(rng, k * n, -2, 2);
          const o = { m, k, n, transA, transB };
          const e = relErr(wasm.matmul(a, b, o), js.matmul(a, b, o));
          expect(e, `m=${m} k=${k} n=${n} transA=${transA} transB=${transB}`).toBeLessThanOrEqual(TOL);
        },
      ),
      RUNS,
    );
  });

  it('batch norm forward and backward over random shapes, offsets and scales', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 40 }), fc.integer({ min: 1, max: 70 }),
        fc.double({ min: -100, max: 100, noNaN: true }), fc.double({ min: 0.05, max: 20, noNaN: true }),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        (rows, cols, offset, scale, seed) => {
          const rng = mulberry32(seed);
          const x = normal(rng, rows * cols, offset, scale);
          const gamma = uniform(rng, cols, 0.25, 2), beta = uniform(rng, cols, -1, 1), dy = normal(rng, rows * cols);
          const o = { rows, cols };
          const fw = wasm.batchNormForward(x, gamma, beta, o), fj = js.batchNormForward(x, gamma, beta, o);
          const gw = wasm.batchNormBackward(dy, x, gamma, fw.mean, fw.invStd, o);
          const gj = js.batchNormBackward(dy, x, gamma, fj.mean, fj.invStd, o);
          const pairs = {
            y: [fw.y, fj.y], mean: [fw.mean, fj.mean], variance: [fw.variance, fj.variance], invStd: [fw.invStd, fj.invStd],
            dx: [gw.dx, gj.dx], dGamma: [gw.dGamma, gj.dGamma], dBeta: [gw.dBeta, gj.dBeta],
          } as const;
          for (const [k, [w, j]] of Object.entries(pairs)) {
            expect(relErr(w, j), `${k}, ${rows}×${cols}, offset ${offset}, scale ${scale}`).toBeLessThanOrEqual(TOL);
          }
        },
      ),
      RUNS,
    );
  });
});
