// BatchNorm → ReLU fused into one kernel (issue 4): the fused kernels give
// exactly what the two kernels give one after the other, on each backend,
// and a model trained with fusion ends bit-identical to one trained without.
import { beforeAll, describe, expect, it } from 'vitest';
import { mlp, Sequential } from '../src/index.js';
import { createBackend, type KernelBackend as Backend } from '../src/kernels.js';
import { expectRelErr } from './helpers/compare.js';
import { BACKENDS, getBackend, scoped } from './helpers/kernels.js';
import { mulberry32, normal, uniform } from './helpers/prng.js';

const SHAPES = [[2, 1], [3, 5], [7, 9], [64, 130], [130, 70]] as const;
const EPS = 1e-5;

describe.each(BACKENDS)('fused batch norm + ReLU kernels on the %s backend', (name) => {
  let be: Backend;
  beforeAll(async () => { be = await getBackend(name); });

  it.each(SHAPES)('forward, inference and backward equal the unfused pair bit for bit (%i×%i)', (rows, cols) => {
    const rng = mulberry32(rows * 100 + cols);
    const n = rows * cols;
    const x = normal(rng, n, 0.3, 2), gamma = uniform(rng, cols, 0.5, 2), beta = uniform(rng, cols, -1, 1), dy = normal(rng, n);
    const rm = uniform(rng, cols, -1, 1), rv = uniform(rng, cols, 0.5, 3);
    scoped(be, (s) => {
      const k = be.kernels;
      const px = s.f32(x), pg = s.f32(gamma), pb = s.f32(beta), pdy = s.f32(dy);
      const stats = () => [s.out(cols), s.out(cols), s.out(cols), s.f32(rm), s.f32(rv)] as const;
      // training forward
      const [m1, v1, i1, rm1, rv1] = stats(), [m2, v2, i2, rm2, rv2] = stats();
      const y = s.out(n), a = s.out(n), fused = s.out(n);
      k.batchnormForward(y, m1, v1, i1, px, pg, pb, rm1, rv1, rows, cols, EPS, 0.1);
      k.reluForward(a, y, n);
      k.batchnormReluForward(fused, m2, v2, i2, px, pg, pb, rm2, rv2, rows, cols, EPS, 0.1);
      expect(s.read(fused, n)).toEqual(s.read(a, n));
      expect(s.read(i2, cols)).toEqual(s.read(i1, cols));
      expect(s.read(rv2, cols)).toEqual(s.read(rv1, cols));
      // backward
      const da = s.out(n), dx = s.out(n), dxf = s.out(n);
      const [dg1, db1, dg2, db2] = [s.filled(cols, 0), s.filled(cols, 0), s.filled(cols, 0), s.filled(cols, 0)];
      k.reluBackward(da, pdy, a, n);
      k.batchnormBackward(dx, dg1, db1, da, px, pg, m1, i1, rows, cols);
      k.batchnormReluBackward(dxf, dg2, db2, pdy, fused, px, pg, m2, i2, rows, cols);
      expect(s.read(dxf, n)).toEqual(s.read(dx, n));
      expect(s.read(dg2, cols)).toEqual(s.read(dg1, cols));
      expect(s.read(db2, cols)).toEqual(s.read(db1, cols));
      // inference
      const yi = s.out(n), ai = s.out(n), fi = s.out(n);
      k.batchnormInference(yi, px, pg, pb, s.f32(rm), s.f32(rv), rows, cols, EPS);
      k.reluForward(ai, yi, n);
      k.batchnormReluInference(fi, px, pg, pb, s.f32(rm), s.f32(rv), rows, cols, EPS);
      expect(s.read(fi, n)).toEqual(s.read(ai, n));
    });
  });
});

describe('fused batch norm + ReLU', () => {
  it('wasm and js agree (≤ 1e-4) on the fused kernels', async () => {
    const [w, j] = [await getBackend('wasm'), await getBackend('js')];
    const rng = mulberry32(77);
    const [rows, cols] = [33, 67], n = rows * cols;
    const x = normal(rng, n), gamma = uniform(rng, cols, 0.5, 2), beta = uniform(rng, cols, -1, 1), dy = normal(rng, n);
    const run = (be: Backend) => scoped(be, (s) => {
      const px = s.f32(x), y = s.out(n), m = s.out(cols), v = s.out(cols), is = s.out(cols), dx = s.out(n), dg = s.filled(cols, 0), db = s.filled(cols, 0);
      be.kernels.batchnormReluForward(y, m, v, is, px, s.f32(gamma), s.f32(beta), s.filled(cols, 0), s.filled(cols, 1), rows, cols, EPS, 0.1);
      be.kernels.batchnormReluBackward(dx, dg, db, s.f32(dy), y, px, s.f32(gamma), m, is, rows, cols);
      return { y: s.read(y, n), dx: s.read(dx, n), dg: s.read(dg, cols), db: s.read(db, cols) };
    });
    const a = run(w), b = run(j);
    expectRelErr(a.y, b.y, 1e-4, 'y');
    expectRelErr(a.dx, b.dx, 1e-4, 'dx');
    expectRelErr(a.dg, b.dg, 1e-4, 'dgamma');
    expectRelErr(a.db, b.db, 1e-4, 'dbeta');
  });

  it.each(BACKENDS)('a model trained with fusion ends bit-identical to one trained without (%s)', async (name) => {
    const be = await createBackend(name);
    const rng = mulberry32(5);
    const x = normal(rng, 120 * 10), y = Uint8Array.from({ length: 120 }, (_, i) => i % 4);
    const train = async (fuse: boolean) => {
      const m = new Sequential(mlp({ inputs: 10, hidden: [16, 12], outputs: 4 }), { backend: be, seed: 2, fuse });
      m.compile({ optimizer: { type: 'adam', lr: 0.01 } });
      await m.fit(x, y, { epochs: 3, batchSize: 25 });
      return { bytes: m.save(), probs: m.predict(x), hidden: m.layerOutputs(x, [1])[0]! };
    };
    const fused = await train(true), plain = await train(false);
    expect(fused.bytes).toEqual(plain.bytes);
    expect(fused.probs).toEqual(plain.probs);
    // layerOutputs of a fused BatchNorm still gives its own (unfused) output
    expect(fused.hidden).toEqual(plain.hidden);
    expect(fused.hidden.some((v) => v < 0)).toBe(true);
  });
});
