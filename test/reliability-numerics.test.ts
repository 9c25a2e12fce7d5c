/**
 * Numerics under stress, at the model level (the kernels have their own
 * tests in batchnorm.test.ts and friends): inputs with mean 1e4 and std 0.1,
 * constant features, logits of ±1e4, and property tests over random shapes
 * that the wasm and js backends agree and that BatchNorm's invariants hold.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  BatchNorm, createBackend, Dense, encodeModelFile, ReLU, Sequential, Sigmoid, Tanh, type Backend, type LayerConfig,
} from '../src/index.js';
import { normal, rng } from './fixtures/data.js';

/** A model with exactly these weights (each layer's params, then its state), through the model file format. */
async function craft(be: Backend, layers: LayerConfig[], weights: number[] | Float32Array): Promise<Sequential> {
  return await Sequential.load(encodeModelFile({ kind: 'normcore-sequential', layers, seed: 1, compile: null }, Float32Array.from(weights)), { backend: be });
}

function columnStats(a: Float32Array, cols: number): { mean: number[]; std: number[] } {
  const rows = a.length / cols;
  const mean = new Array<number>(cols).fill(0), std = new Array<number>(cols).fill(0);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) mean[c]! += a[r * cols + c]! / rows;
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) std[c]! += (a[r * cols + c]! - mean[c]!) ** 2 / rows;
  return { mean, std: std.map(Math.sqrt) };
}

const finite = (a: ArrayLike<number>) => Array.prototype.every.call(a, Number.isFinite);

describe.each(['wasm', 'js'] as const)('numerics under stress on the %s backend', (name) => {
  let be: Backend;
  beforeAll(async () => { be = await createBackend(name); });

  it('inputs with mean 1e4 and std 0.1 (f32) normalize to mean 0, std 1, and a classifier learns the 0.1-scale signal', async () => {
    const N = 512, F = 4;
    const z = normal(rng(3));
    const x = new Float32Array(N * F);
    const y = new Uint8Array(N);
    const signal = new Float64Array(N * F);
    for (let i = 0; i < N * F; i++) { signal[i] = z(); x[i] = 1e4 + 0.1 * signal[i]!; }
    for (let r = 0; r < N; r++) y[r] = signal[r * F]! + signal[r * F + 1]! > 0 ? 1 : 0;
    // one full batch, momentum null: the running statistics become this batch's; lr this small changes no weight
    const m = new Sequential([new BatchNorm(F, { momentum: null }), new Dense(F, 2)], { backend: be });
    m.compile({ optimizer: { type: 'sgd', lr: 1e-30 } });
    const h = await m.fit(x, y, { epochs: 1, batchSize: N, shuffle: false });
    expect(finite(h.loss)).toBe(true);
    const [bn] = m.layerOutputs(x, [0]);
    const s = columnStats(bn!, F);
    for (let c = 0; c < F; c++) {
      expect(Math.abs(s.mean[c]!)).toBeLessThan(0.02);
      // inference divides by the unbiased running variance: std √((N−1)/N); f32 keeps ~1% of 0.1 at 1e4
      expect(s.std[c]!).toBeGreaterThan(0.97);
      expect(s.std[c]!).toBeLessThan(1.02);
    }
    // the normalized values follow the 0.1-scale signal (correlation ≈ 1), so a classifier on top learns it
    let cov = 0, vs = 0;
    for (let r = 0; r < N; r++) { cov += bn![r * F]! * signal[r * F]!; vs += signal[r * F]! ** 2; }
    expect(cov / Math.sqrt(vs * N)).toBeGreaterThan(0.98);
    const clf = new Sequential([new BatchNorm(F), new Dense(F, 8), new ReLU(), new Dense(8, 2)], { backend: be, seed: 4 });
    clf.compile({ optimizer: { type: 'adam', lr: 0.01 } });
    await clf.fit(x, y, { epochs: 20, batchSize: 64 });
    expect(clf.evaluate(x, y).accuracy).toBeGreaterThan(0.93);
  });

  it('constant features (and an all-constant input) give finite outputs, gradients and running statistics', async () => {
    const N = 64, F = 5;
    const u = rng(8);
    const x = new Float32Array(N * F);
    const y = new Uint8Array(N);
    for (let r = 0; r < N; r++) {
      y[r] = r % 3;
      for (let c = 0; c < F; c++) x[r * F + c] = c < 2 ? 3.25 : u() + (c === 2 + (r % 3) ? 1 : 0);
    }
    const constant = new Float32Array(N * F).fill(7);
    for (const data of [x, constant]) {
      const m = new Sequential([new BatchNorm(F), new Dense(F, 6), new BatchNorm(6), new Tanh(), new Dense(6, 3)], { backend: be, seed: 2 });
      m.compile({ optimizer: { type: 'adam', lr: 0.01 } });
      const h = await m.fit(data, y, { epochs: 3, batchSize: 16 });
      expect(finite(h.loss)).toBe(true);
      for (const p of m.parameters()) {
        expect(finite(p.value), p.name).toBe(true);
        expect(finite(p.grad), p.name).toBe(true);
      }
      for (const l of m.layers) if (l instanceof BatchNorm) for (const v of Object.values(l.stateValues())) expect(finite(v)).toBe(true);
      expect(finite(m.predict(data))).toBe(true);
      // a constant feature normalizes to β (here: its value after training, the same for every row)
      const [out] = m.layerOutputs(data, [0]);
      const s = columnStats(out!, F);
      expect(s.std[0]).toBeLessThan(1e-3);
      expect(s.std[1]).toBeLessThan(1e-3);
    }
  });

  it('logits of ±1e4 give a finite softmax cross-entropy, probabilities and gradients', async () => {
    // Dense(1 → 2) with weights +1e4, -1e4: logits ±1e4·x
    const m = await craft(be, [{ type: 'dense', inFeatures: 1, outFeatures: 2, bias: true, init: 'auto' }], [1e4, -1e4, 0, 0]);
    m.compile({ optimizer: { type: 'sgd', lr: 1e-6 } });
    const x = Float32Array.of(1, -1, 0.5, -0.75);
    const y = Uint8Array.of(1, 0, 0, 1); // rows 0 and 1 confidently wrong, 2 and 3 confidently right
    const p = m.predict(x);
    expect(finite(p)).toBe(true);
    expect(Array.from(p)).toEqual([1, 0, 0, 1, 1, 0, 0, 1]);
    const e = m.evaluate(x, y);
    expect(Number.isFinite(e.loss)).toBe(true);
    expect(e.loss).toBeCloseTo((2e4 + 2e4 + 0 + 0) / 4, -1);
    expect(e.accuracy).toBe(0.5);
    const h = await m.fit(x, y, { epochs: 1, batchSize: 4, shuffle: false });
    expect(h.loss[0]).toBeCloseTo(1e4, -1);
    for (const q of m.parameters()) {
      expect(finite(q.value)).toBe(true);
      expect(finite(q.grad)).toBe(true);
      // |softmax − onehot| ≤ 1 per row: every gradient entry is bounded by mean |x| ≤ 1
      expect(Math.max(...q.grad.map(Math.abs))).toBeLessThanOrEqual(1);
    }
  });
});

describe('property tests over random shapes', () => {
  let wasm: Backend, js: Backend;
  beforeAll(async () => {
    wasm = await createBackend('wasm');
    js = await createBackend('js');
  });

  const shape = fc.record({
    F: fc.integer({ min: 1, max: 12 }),
    H: fc.integer({ min: 1, max: 20 }),
    K: fc.integer({ min: 2, max: 5 }),
    N: fc.integer({ min: 2, max: 48 }),
    batch: fc.integer({ min: 2, max: 48 }),
    act: fc.constantFrom('relu', 'sigmoid', 'tanh'),
    bn: fc.boolean(),
    optimizer: fc.constantFrom('sgd', 'momentum', 'rmsprop', 'adam'),
    seed: fc.nat(1000),
  });

  function data(F: number, K: number, N: number, seed: number): { x: Float32Array; y: Uint8Array } {
    const u = rng(seed);
    const x = new Float32Array(N * F).map(() => u() * 4 - 2);
    const y = new Uint8Array(N).map(() => Math.floor(u() * K));
    return { x, y };
  }

  it('the wasm and js backends agree on losses, weights and predictions (40 random shapes)', async () => {
    await fc.assert(
      fc.asyncProperty(shape, async (s) => {
        const { F, H, K, N, act, bn, optimizer, seed } = s;
        // BatchNorm over 2 rows outputs exactly ±1: the gradient below it is rounding noise, which Adam and
        // RMSprop scale up to full steps of size lr, differently on each backend. Batches of ≥ 4 rows then.
        const batch = Math.min(bn ? Math.max(4, s.batch) : s.batch, N);
        if (bn && batch < 4) return;
        const { x, y } = data(F, K, N, seed);
        const make = (be: Backend) => {
          const A = act === 'relu' ? ReLU : act === 'sigmoid' ? Sigmoid : Tanh;
          const layers = bn ? [new Dense(F, H), new BatchNorm(H), new A(), new Dense(H, K)] : [new Dense(F, H), new A(), new Dense(H, K)];
          return new Sequential(layers, { backend: be, seed }).compile({ optimizer: { type: optimizer, lr: 0.01 } });
        };
        const a = make(wasm), b = make(js);
        const ha = await a.fit(x, y, { epochs: 2, batchSize: batch, seed });
        const hb = await b.fit(x, y, { epochs: 2, batchSize: batch, seed });
        ha.loss.forEach((l, i) => expect(Math.abs(l - hb.loss[i]!)).toBeLessThan(1e-3 * Math.max(1, Math.abs(l))));
        const pa = a.parameters(), pb = b.parameters();
        pa.forEach((p, i) => p.value.forEach((v, j) => expect(Math.abs(v - pb[i]!.value[j]!)).toBeLessThan(2e-3)));
        const qa = a.predict(x), qb = b.predict(x);
        qa.forEach((v, i) => expect(Math.abs(v - qb[i]!)).toBeLessThan(2e-3));
        a.dispose();
        b.dispose();
      }),
      { seed: 99, numRuns: 40 },
    );
  });

  it.each(['wasm', 'js'] as const)('BatchNorm on %s: per-feature mean ≈ β and std ≈ |γ|·√(σ²_biased / (σ²_unbiased + ε)) (40 random shapes)', async (name) => {
    const be = name === 'wasm' ? wasm : js;
    await fc.assert(
      fc.asyncProperty(shape, fc.double({ min: 1e-6, max: 1e-2, noNaN: true }), async (s, eps) => {
        const { F, H, N, seed } = s;
        const u = rng(seed + 1);
        const w = Array.from({ length: F * H }, () => u() * 2 - 1);
        const gamma = Array.from({ length: H }, () => (u() < 0.5 ? -1 : 1) * (0.2 + 3 * u()));
        const beta = Array.from({ length: H }, () => u() * 10 - 5);
        const m = await craft(be, [
          { type: 'dense', inFeatures: F, outFeatures: H, bias: false, init: 'auto' },
          { type: 'batchnorm', features: H, eps, momentum: null, affine: true, numBatchesTracked: 0 },
        ], [...w, ...gamma, ...beta, ...new Array<number>(H).fill(0), ...new Array<number>(H).fill(1)]);
        // one full batch with momentum null and a negligible rate: running statistics = this batch's, weights unchanged
        m.compile({ loss: 'mse', optimizer: { type: 'sgd', lr: 1e-30 } });
        const { x } = data(F, 2, N, seed);
        await m.fit(x, new Float32Array(N * H), { epochs: 1, batchSize: N, shuffle: false });
        const [pre, out] = m.layerOutputs(x, [0, 1]);
        const sp = columnStats(pre!, H), so = columnStats(out!, H);
        for (let c = 0; c < H; c++) {
          const biased = sp.std[c]! ** 2;
          const unbiased = (biased * N) / (N - 1);
          const want = Math.abs(gamma[c]!) * Math.sqrt(biased / (unbiased + eps));
          expect(Math.abs(so.mean[c]! - beta[c]!)).toBeLessThan(1e-3 * (1 + Math.abs(gamma[c]!)));
          expect(Math.abs(so.std[c]! - want)).toBeLessThan(2e-3 * (1 + want));
        }
        m.dispose();
      }),
      { seed: 5, numRuns: 40 },
    );
  });
});
