/**
 * The kernels of issue 10's extensions, over both backends:
 *   adamwUpdate        p ← p·(1 − lr·wd), then the Adam step on grad (torch.optim.AdamW)
 *   binaryCrossEntropy mean of max(z,0) − z·t + log1p(exp(−|z|)); dlogits = (σ(z) − t)/(rows·cols)
 *   maeLoss            mean |p − t|; dpred = sign(p − t)/(rows·cols)
 *   huberLoss          mean of 0.5·d² (|d| ≤ δ) or δ·(|d| − 0.5·δ); dpred = clamp(d, −δ, δ)/(rows·cols)
 *   leakyRelu          x > 0 ? x : α·x;   backward from the input
 *   gelu               0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) (PyTorch approximate='tanh'); backward from the input
 * Each is checked against its formula computed here in float64, on tiny
 * hand-worked cases, by finite differences, and wasm against js on odd sizes.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { KernelBackend as Backend } from '../src/kernels.js';
import { expectAllClose, expectFinite, expectRelErr } from './helpers/compare.js';
import { dot, finiteDiff, gradErr } from './helpers/gradcheck.js';
import { BACKENDS, getBackend, scoped } from './helpers/kernels.js';
import { mulberry32, normal, uniform } from './helpers/prng.js';

/** Odd sizes around the f32x4 width and beyond. */
const SIZES = [1, 2, 3, 5, 7, 17, 33, 100];

const GELU_B = Math.sqrt(2 / Math.PI), GELU_K = 0.044715;
const geluRef = (x: number) => 0.5 * x * (1 + Math.tanh(GELU_B * (x + GELU_K * x ** 3)));
const geluGradRef = (x: number) => {
  const th = Math.tanh(GELU_B * (x + GELU_K * x ** 3));
  return 0.5 * (1 + th) + 0.5 * x * (1 - th * th) * GELU_B * (1 + 3 * GELU_K * x * x);
};
const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/**
 * GELU in f32 (as PyTorch computes it) loses absolute digits where 1 + tanh(u)
 * cancels (x < 0): about one ulp of 1 (2⁻²³), scaled by |x|. Seen over
 * x ∈ [−12, 12]: ≤ 1.2e-7·max(1, |x|). Allowed: two ulps of 1 times max(1, |x|).
 */
function expectGeluClose(got: ArrayLike<number>, x: ArrayLike<number>, ref: (x: number) => number, label: string): void {
  expect(got.length).toBe(x.length);
  for (let i = 0; i < x.length; i++) {
    const r = ref(x[i]!), tol = 2 ** -22 * Math.max(1, Math.abs(x[i]!));
    if (!(Math.abs(got[i]! - r) <= tol)) expect.fail(`${label}[${i}]: x = ${x[i]}, got ${got[i]}, expected ${r} (± ${tol})`);
  }
}

describe.each(BACKENDS)('extension kernels on the %s backend', (name) => {
  let be: Backend;
  beforeAll(async () => { be = await getBackend(name); });

  // ---------------------------------------------------------------- activations

  const leakyForward = (x: Float32Array, alpha: number) => scoped(be, (s) => {
    const po = s.out(x.length);
    be.kernels.leakyReluForward(po, s.f32(x), x.length, alpha);
    return s.read(po, x.length);
  });
  const leakyBackward = (dout: Float32Array, x: Float32Array, alpha: number) => scoped(be, (s) => {
    const pd = s.out(x.length);
    be.kernels.leakyReluBackward(pd, s.f32(dout), s.f32(x), x.length, alpha);
    return s.read(pd, x.length);
  });
  const geluForward = (x: Float32Array) => scoped(be, (s) => {
    const po = s.out(x.length);
    be.kernels.geluForward(po, s.f32(x), x.length);
    return s.read(po, x.length);
  });
  const geluBackward = (dout: Float32Array, x: Float32Array) => scoped(be, (s) => {
    const pd = s.out(x.length);
    be.kernels.geluBackward(pd, s.f32(dout), s.f32(x), x.length);
    return s.read(pd, x.length);
  });

  describe('leakyRelu', () => {
    it('a hand-worked case: x > 0 passes, x ≤ 0 is scaled by α, and the backward reads the input', () => {
      const x = new Float32Array([2, -2, 0, 0.5, -4, 1e-30, -1e4]);
      expect(Array.from(leakyForward(x, 0.25))).toEqual([2, -0.5, 0, 0.5, -1, 1e-30 * 1, -2500].map(Math.fround));
      const dout = new Float32Array([1, 2, 3, 4, 5, 6, 8]);
      expect(Array.from(leakyBackward(dout, x, 0.25))).toEqual([1, 0.5, 0.75, 4, 1.25, 6, 2]);
    });

    it.each(SIZES)('forward and backward match the formula over n = %i, for α = 0.01, 0.2, 0 and −0.5', (n) => {
      const rng = mulberry32(n);
      const x = uniform(rng, n, -5, 5), dout = normal(rng, n);
      for (const alpha of [0.01, 0.2, 0, -0.5]) {
        const a = Math.fround(alpha); // the wasm kernel takes α as f32
        expectAllClose(leakyForward(x, alpha), Array.from(x, (v) => (v > 0 ? v : a * v)), 1e-7, 0, `forward α=${alpha}`);
        expectAllClose(leakyBackward(dout, x, alpha), Array.from(x, (v, i) => (v > 0 ? dout[i]! : a * dout[i]!)), 1e-7, 0, `backward α=${alpha}`);
      }
    });

    it('backward matches finite differences of L = Σ w·leakyRelu(x)', () => {
      const rng = mulberry32(21);
      // keep inputs away from the kink at 0, where there is no derivative
      const x = uniform(rng, 29, -3, 3).map((v) => (Math.abs(v) < 0.1 ? v + Math.sign(v || 1) * 0.2 : v));
      const w = normal(rng, 29);
      const analytic = leakyBackward(w, x, 0.1);
      const numeric = finiteDiff(x, 1e-2, (xx) => dot(leakyForward(xx, 0.1), w));
      expect(gradErr(analytic, numeric)).toBeLessThan(1e-5); // piecewise linear: exact up to rounding
    });

    it('forward runs in place (out = inp) and backward in place (dinp = dout)', () => {
      const rng = mulberry32(22);
      const x = uniform(rng, 19, -3, 3), dout = normal(rng, 19);
      const [fwd, bwd] = [leakyForward(x, 0.05), leakyBackward(dout, x, 0.05)];
      const [fwdIn, bwdIn] = scoped(be, (s) => {
        const px = s.f32(x), pd = s.f32(dout);
        be.kernels.leakyReluBackward(pd, pd, px, 19, 0.05); // reads the input before the in-place forward overwrites it
        be.kernels.leakyReluForward(px, px, 19, 0.05);
        return [s.read(px, 19), s.read(pd, 19)];
      });
      expectAllClose(fwdIn, fwd, 0, 0, 'in-place forward');
      expectAllClose(bwdIn, bwd, 0, 0, 'in-place backward');
    });
  });

  describe('gelu', () => {
    const SPECIAL = [0, 1, -1, 0.5, -0.5, 1e-4, -1e-4, 2, -2, 3, -3, 5, -5, 10, -10, 20, -20, 88.7, -88.7, 1e4, -1e4, 1e-30, -1e-30];

    it('forward matches the tanh formula in float64, including ±1e4 (finite, x and −0)', () => {
      const x = Float32Array.from(SPECIAL);
      const y = geluForward(x);
      expectFinite(y, 'gelu(special)');
      expectGeluClose(y, x, geluRef, 'gelu(special)');
      expect(y[SPECIAL.indexOf(1e4)]).toBe(1e4);
      expect(y[SPECIAL.indexOf(-1e4)]).toBe(-0); // 0.5·x·(1 + tanh u) with tanh u = −1 exactly
    });

    it('a few values: gelu(0) = 0, gelu(1) = 0.5·(1 + tanh(√(2/π)·1.044715)) ≈ 0.841192', () => {
      const y = geluForward(new Float32Array([0, 1, -1]));
      expect(y[0]).toBe(0);
      expect(y[1]).toBeCloseTo(0.5 * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * 1.044715)), 6);
      expect(y[1]).toBeCloseTo(0.841192, 6);
      expect(y[1]! - y[2]!).toBeCloseTo(1, 6); // gelu(x) − gelu(−x) = x
    });

    it('backward matches the derivative in float64, including ±1e4 (finite: 1 and 0)', () => {
      const x = Float32Array.from(SPECIAL);
      const d = geluBackward(new Float32Array(x.length).fill(1), x);
      expectFinite(d, "gelu'(special)");
      expectGeluClose(d, x, geluGradRef, "gelu'(special)");
      expect(d[SPECIAL.indexOf(1e4)]).toBe(1);
      expect(d[SPECIAL.indexOf(-1e4)]).toBe(0);
    });

    it.each(SIZES)('forward and dout·gelu\'(x) match the formulas over n = %i', (n) => {
      const rng = mulberry32(300 + n);
      const x = uniform(rng, n, -6, 6), dout = normal(rng, n);
      expectGeluClose(geluForward(x), x, geluRef, 'forward');
      const d = geluBackward(dout, x);
      // dout scales the error too: compare d/dout where dout is not tiny
      const ratio = Array.from(d, (v, i) => v / dout[i]!);
      const keep = Array.from(dout, (g) => Math.abs(g) > 1e-3);
      expectGeluClose(ratio.filter((_, i) => keep[i]), Array.from(x).filter((_, i) => keep[i]), geluGradRef, 'backward / dout');
    });

    it('backward matches finite differences of L = Σ w·gelu(x)', () => {
      const rng = mulberry32(31);
      const x = uniform(rng, 31, -4, 4), w = normal(rng, 31);
      const analytic = geluBackward(w, x);
      const numeric = finiteDiff(x, 1e-2, (xx) => dot(geluForward(xx), w));
      expect(gradErr(analytic, numeric)).toBeLessThan(2e-4); // h² truncation and f32 rounding
    });

    it('forward runs in place (out = inp) and backward in place (dinp = dout)', () => {
      const rng = mulberry32(32);
      const x = uniform(rng, 21, -4, 4), dout = normal(rng, 21);
      const [fwd, bwd] = [geluForward(x), geluBackward(dout, x)];
      const [fwdIn, bwdIn] = scoped(be, (s) => {
        const px = s.f32(x), pd = s.f32(dout);
        be.kernels.geluBackward(pd, pd, px, 21);
        be.kernels.geluForward(px, px, 21);
        return [s.read(px, 21), s.read(pd, 21)];
      });
      expectAllClose(fwdIn, fwd, 0, 0, 'in-place forward');
      expectAllClose(bwdIn, bwd, 0, 0, 'in-place backward');
    });
  });

  // ---------------------------------------------------------------- losses

  const bce = (logits: Float32Array, targets: Float32Array, rows: number, cols: number) => scoped(be, (s) => {
    const pd = s.out(rows * cols);
    const loss = be.kernels.binaryCrossEntropy(pd, s.f32(logits), s.f32(targets), rows, cols);
    return { loss, d: s.read(pd, rows * cols) };
  });
  const mae = (pred: Float32Array, target: Float32Array, rows: number, cols: number) => scoped(be, (s) => {
    const pd = s.out(rows * cols);
    const loss = be.kernels.maeLoss(pd, s.f32(pred), s.f32(target), rows, cols);
    return { loss, d: s.read(pd, rows * cols) };
  });
  const huber = (pred: Float32Array, target: Float32Array, rows: number, cols: number, delta: number) => scoped(be, (s) => {
    const pd = s.out(rows * cols);
    const loss = be.kernels.huberLoss(pd, s.f32(pred), s.f32(target), rows, cols, delta);
    return { loss, d: s.read(pd, rows * cols) };
  });

  describe('binaryCrossEntropy', () => {
    /** The textbook form, −t·log σ(z) − (1−t)·log(1 − σ(z)), in float64: fine for moderate z. */
    const logSigmoidLoss = (z: number, t: number) => -t * Math.log(sigmoid(z)) - (1 - t) * Math.log(1 - sigmoid(z));

    it.each([[1, 1], [1, 5], [4, 3], [7, 2], [17, 1]] as const)('matches the log-sigmoid formula with soft and hard targets (%i×%i)', (rows, cols) => {
      const rng = mulberry32(rows * 10 + cols);
      const n = rows * cols;
      const z = uniform(rng, n, -8, 8);
      const t = Float32Array.from(uniform(rng, n, 0, 1), (v, i) => (i % 3 === 0 ? Math.round(v) : v)); // every third 0 or 1
      const got = bce(z, t, rows, cols);
      const loss = Array.from(z).reduce((a, v, i) => a + logSigmoidLoss(v, t[i]!), 0) / n;
      expect(Math.abs(got.loss - loss), `loss ${got.loss} vs ${loss}`).toBeLessThanOrEqual(1e-6 * Math.max(1, loss));
      expectAllClose(got.d, Array.from(z, (v, i) => (sigmoid(v) - t[i]!) / n), 1e-5, 1e-8, 'dlogits');
    });

    it('a hand-worked case: z = 0 costs log 2 whatever the target; z = ±ln 3 gives σ = ¾, ¼', () => {
      const ln3 = Math.log(3);
      const got = bce(new Float32Array([0, 0, ln3, -ln3]), new Float32Array([1, 0.25, 1, 1]), 2, 2);
      // ln 3 is rounded to f32: σ(fround(ln 3)) differs from ¾ by ~2e-8
      const l3 = Math.log(1 + Math.exp(-Math.fround(ln3))), lm3 = Math.log(1 + Math.exp(Math.fround(ln3)));
      expect(got.loss).toBeCloseTo((Math.log(2) + Math.log(2) + l3 + lm3) / 4, 6);
      expect(got.loss).toBeCloseTo((2 * Math.log(2) + Math.log(4 / 3) + Math.log(4)) / 4, 6);
      expectAllClose(got.d, [(0.5 - 1) / 4, (0.5 - 0.25) / 4, (0.75 - 1) / 4, (0.25 - 1) / 4], 1e-6, 1e-8, 'dlogits');
    });

    it('logits of ±1e4 and ±100 give a finite loss and gradient (no log of 0, no exp overflow)', () => {
      const z = new Float32Array([1e4, -1e4, 1e4, -1e4, 100, -100, 88.7, -88.7]);
      const t = new Float32Array([1, 0, 0, 1, 1, 0, 0.5, 0.5]);
      const got = bce(z, t, 2, 4);
      expect(Number.isFinite(got.loss)).toBe(true);
      expectFinite(got.d, 'dlogits');
      // max(z,0) − z·t + log1p(exp(−|z|)) in float64: 0, 0, 1e4, 1e4, ~0, ~0, 44.35 + ε, 44.35 + ε
      const stable = (v: number, tt: number) => Math.max(v, 0) - v * tt + Math.log1p(Math.exp(-Math.abs(v)));
      const expected = Array.from(z).reduce((a, v, i) => a + stable(v, t[i]!), 0) / 8;
      expect(Math.abs(got.loss - expected) / expected).toBeLessThan(1e-7);
      expectAllClose(got.d, [0, 0, 1 / 8, -1 / 8, 0, 0, 0.5 / 8, -0.5 / 8], 1e-6, 1e-9, 'dlogits');
    });

    it('dlogits matches finite differences of the returned mean loss', () => {
      const rng = mulberry32(41);
      const [rows, cols] = [4, 3];
      const z = uniform(rng, 12, -4, 4), t = uniform(rng, 12, 0, 1);
      const numeric = finiteDiff(z, 1e-2, (zz) => bce(zz, t, rows, cols).loss);
      expect(gradErr(bce(z, t, rows, cols).d, numeric)).toBeLessThan(1e-4);
    });

    it('dlogits may alias logits', () => {
      const rng = mulberry32(42);
      const [rows, cols] = [5, 7];
      const z = uniform(rng, 35, -6, 6), t = uniform(rng, 35, 0, 1);
      const ref = bce(z, t, rows, cols);
      const got = scoped(be, (s) => {
        const pz = s.f32(z);
        const loss = be.kernels.binaryCrossEntropy(pz, pz, s.f32(t), rows, cols);
        return { loss, d: s.read(pz, 35) };
      });
      expect(got.loss).toBe(ref.loss);
      expectAllClose(got.d, ref.d, 0, 0, 'aliased dlogits');
    });
  });

  describe('maeLoss', () => {
    it('a hand-worked case: mean |p − t|, dpred = sign(p − t)/(rows·cols) and 0 where p = t', () => {
      const got = mae(new Float32Array([1, 2, 3, -4, 0.5, 7]), new Float32Array([1, 0, 3.5, 4, 0.5, 6]), 2, 3);
      expect(got.loss).toBeCloseTo((0 + 2 + 0.5 + 8 + 0 + 1) / 6, 7);
      expect(Array.from(got.d)).toEqual([0, 1, -1, -1, 0, 1].map((v) => Math.fround(v / 6)));
    });

    it.each(SIZES)('matches the formula over %i × 3 values', (rows) => {
      const rng = mulberry32(500 + rows);
      const n = rows * 3;
      const p = normal(rng, n), t = normal(rng, n);
      const got = mae(p, t, rows, 3);
      const loss = Array.from(p).reduce((a, v, i) => a + Math.abs(v - t[i]!), 0) / n;
      expect(Math.abs(got.loss - loss)).toBeLessThanOrEqual(1e-7 * Math.max(1, loss));
      expectAllClose(got.d, Array.from(p, (v, i) => Math.sign(v - t[i]!) / n), 1e-7, 0, 'dpred');
    });

    it('dpred matches finite differences (away from p = t) and may alias pred', () => {
      const rng = mulberry32(51);
      const t = normal(rng, 15);
      const p = Float32Array.from(t, (v, i) => v + (i % 2 ? 1 : -1) * (0.1 + rng())); // |p − t| ≥ 0.1 > h
      const got = mae(p, t, 5, 3);
      const numeric = finiteDiff(p, 1e-2, (pp) => mae(pp, t, 5, 3).loss);
      expect(gradErr(got.d, numeric)).toBeLessThan(1e-5);
      const aliased = scoped(be, (s) => {
        const pp = s.f32(p);
        const loss = be.kernels.maeLoss(pp, pp, s.f32(t), 5, 3);
        return { loss, d: s.read(pp, 15) };
      });
      expect(aliased.loss).toBe(got.loss);
      expectAllClose(aliased.d, got.d, 0, 0, 'aliased dpred');
    });
  });

  describe('huberLoss', () => {
    const huberRef = (d: number, delta: number) => (Math.abs(d) <= delta ? 0.5 * d * d : delta * (Math.abs(d) - 0.5 * delta));

    it('a hand-worked case with δ = 1: both regions, |d| = δ exactly, and d = 0', () => {
      // d = 0, 0.5, 2, −3, 1 (= δ), −1 (= −δ): ℓ = 0, 0.125, 1.5, 2.5, 0.5, 0.5
      const got = huber(new Float32Array([0, 0.5, 2, -3, 1, -1]), new Float32Array(6), 2, 3, 1);
      expect(got.loss).toBeCloseTo((0 + 0.125 + 1.5 + 2.5 + 0.5 + 0.5) / 6, 7);
      expect(Array.from(got.d)).toEqual([0, 0.5, 1, -1, 1, -1].map((v) => Math.fround(v / 6)));
    });

    it('at |d| = δ both branches agree (0.5·δ² = δ·(δ − 0.5·δ)) and the gradient is ±δ, for δ = 0.5 and 2', () => {
      for (const delta of [0.5, 2]) {
        const got = huber(new Float32Array([delta, -delta, 3 + delta]), new Float32Array([0, 0, 3]), 1, 3, delta);
        expect(got.loss).toBeCloseTo(0.5 * delta * delta, 7);
        expectAllClose(got.d, [delta / 3, -delta / 3, delta / 3], 1e-7, 0, `δ=${delta}`);
      }
    });

    it.each(SIZES)('matches torch.nn.HuberLoss (mean) over %i × 3 values, δ = 1 and 0.3', (rows) => {
      const rng = mulberry32(600 + rows);
      const n = rows * 3;
      const p = normal(rng, n, 0, 2), t = normal(rng, n);
      for (const delta of [1, 0.3]) {
        const got = huber(p, t, rows, 3, delta);
        const loss = Array.from(p).reduce((a, v, i) => a + huberRef(v - t[i]!, delta), 0) / n;
        expect(Math.abs(got.loss - loss), `δ=${delta}: ${got.loss} vs ${loss}`).toBeLessThanOrEqual(1e-7 * Math.max(1, loss));
        expectAllClose(got.d, Array.from(p, (v, i) => Math.min(Math.max(v - t[i]!, -delta), delta) / n), 1e-6, 0, `dpred δ=${delta}`);
      }
    });

    it('dpred matches finite differences in both regions and may alias pred', () => {
      const rng = mulberry32(61);
      const delta = 0.7;
      const t = normal(rng, 16);
      // |d| in [0, 0.5] or [0.9, 2.5]: never within h of δ, where the second derivative jumps
      const p = Float32Array.from(t, (v, i) => v + (i % 2 ? 1 : -1) * (i % 4 < 2 ? 0.5 * rng() : 0.9 + 1.6 * rng()));
      const got = huber(p, t, 4, 4, delta);
      const numeric = finiteDiff(p, 1e-2, (pp) => huber(pp, t, 4, 4, delta).loss);
      expect(gradErr(got.d, numeric)).toBeLessThan(1e-4);
      const aliased = scoped(be, (s) => {
        const pp = s.f32(p);
        const loss = be.kernels.huberLoss(pp, pp, s.f32(t), 4, 4, delta);
        return { loss, d: s.read(pp, 16) };
      });
      expect(aliased.loss).toBe(got.loss);
      expectAllClose(aliased.d, got.d, 0, 0, 'aliased dpred');
    });
  });

  // ---------------------------------------------------------------- AdamW

  describe('adamwUpdate', () => {
    it('two steps by hand: lr 0.1, wd 0.1, β 0.9/0.999, p = 1, g = 0.5 then −0.25', () => {
      const got = scoped(be, (s) => {
        const pp = s.f32([1]), pm = s.filled(1, 0), pv = s.filled(1, 0);
        be.kernels.adamwUpdate(pp, s.f32([0.5]), pm, pv, 1, 0.1, 0.9, 0.999, 1e-8, 0.1, 1);
        const step1 = { p: s.read(pp, 1)[0]!, m: s.read(pm, 1)[0]!, v: s.read(pv, 1)[0]! };
        be.kernels.adamwUpdate(pp, s.f32([-0.25]), pm, pv, 1, 0.1, 0.9, 0.999, 1e-8, 0.1, 2);
        return { step1, p: s.read(pp, 1)[0]!, m: s.read(pm, 1)[0]!, v: s.read(pv, 1)[0]! };
      });
      // step 1: p ← 1·(1 − 0.01) = 0.99; m = 0.05, v = 0.00025; m̂ = 0.5, v̂ = 0.25;
      //         p ← 0.99 − 0.1·0.5/(0.5 + 1e-8) = 0.89 (+2e-9)
      expect(got.step1.m).toBeCloseTo(0.05, 8);
      expect(got.step1.v).toBeCloseTo(0.00025, 10);
      expect(got.step1.p).toBeCloseTo(0.89, 6);
      // step 2: p ← 0.89·0.99 = 0.8811; m = 0.045 − 0.025 = 0.02; v = 0.00024975 + 0.0000625 = 0.00031225;
      //         m̂ = 0.02/0.19, v̂ = 0.00031225/0.001999; p ← 0.8811 − 0.1·m̂/(√v̂ + 1e-8)
      const mHat = 0.02 / 0.19, vHat = 0.00031225 / 0.001999;
      expect(got.m).toBeCloseTo(0.02, 7);
      expect(got.v).toBeCloseTo(0.00031225, 10);
      expect(got.p).toBeCloseTo(0.8811 - (0.1 * mHat) / (Math.sqrt(vHat) + 1e-8), 6);
      expect(got.p).toBeCloseTo(0.854466, 5);
    });

    it.each(SIZES)('matches a float64 AdamW over three steps, n = %i (β2 = 0.999 and 1 − 2⁻¹⁰)', (n) => {
      const rng = mulberry32(700 + n);
      const params = normal(rng, n), grads = [0, 1, 2].map(() => uniform(rng, n, -1, 1));
      for (const [beta1, beta2] of [[0.9, 0.999], [0.875, 1 - 2 ** -10]] as const) {
        const [lr, eps, wd] = [0.01, 1e-8, 0.05];
        const p = Float64Array.from(params), m = new Float64Array(n), v = new Float64Array(n);
        scoped(be, (s) => {
          const pp = s.f32(params), pm = s.filled(n, 0), pv = s.filled(n, 0);
          for (let t = 1; t <= 3; t++) {
            const g = grads[t - 1]!;
            be.kernels.adamwUpdate(pp, s.f32(g), pm, pv, n, lr, beta1, beta2, eps, wd, t);
            for (let i = 0; i < n; i++) {
              p[i] = p[i]! * (1 - lr * wd);
              m[i] = beta1 * m[i]! + (1 - beta1) * g[i]!;
              v[i] = beta2 * v[i]! + (1 - beta2) * g[i]! ** 2;
              p[i] = p[i]! - (lr / (1 - beta1 ** t)) * m[i]! / (Math.sqrt(v[i]! / (1 - beta2 ** t)) + eps);
            }
            expectAllClose(s.read(pp, n), p, 1e-5, 1e-7, `params, step ${t}, β2 ${beta2}`);
            expectAllClose(s.read(pm, n), m, 1e-5, 1e-7, `m, step ${t}`);
            expectAllClose(s.read(pv, n), v, 1e-5, 1e-12, `v, step ${t}`);
          }
        });
      }
    });

    it('the decay is decoupled: a zero gradient only shrinks p by (1 − lr·wd), and m, v stay 0', () => {
      const params = Float32Array.from([1, -2, 3.5, 1e-3, -7, 0, 42]);
      const got = scoped(be, (s) => {
        const pp = s.f32(params), pm = s.filled(7, 0), pv = s.filled(7, 0);
        be.kernels.adamwUpdate(pp, s.filled(7, 0), pm, pv, 7, 0.1, 0.9, 0.999, 1e-8, 0.5, 1);
        return { p: s.read(pp, 7), m: s.read(pm, 7), v: s.read(pv, 7) };
      });
      expectAllClose(got.p, Array.from(params, (x) => x * 0.95), 1e-7, 0, 'params');
      expect(Array.from(got.m)).toEqual(new Array(7).fill(0));
      expect(Array.from(got.v)).toEqual(new Array(7).fill(0));
    });

    it('equals adamUpdate bit for bit when weightDecay = 0, and differs from Adam\'s L2 decay when it is not', () => {
      const n = 13;
      const rng = mulberry32(71);
      const params = normal(rng, n), grads = [0, 1, 2].map(() => normal(rng, n));
      const run = (kernel: 'adamUpdate' | 'adamwUpdate', wd: number) => scoped(be, (s) => {
        const pp = s.f32(params), pm = s.filled(n, 0), pv = s.filled(n, 0);
        grads.forEach((g, i) => be.kernels[kernel](pp, s.f32(g), pm, pv, n, 0.01, 0.9, 0.999, 1e-8, wd, i + 1));
        return s.read(pp, n);
      });
      expect(Array.from(run('adamwUpdate', 0))).toEqual(Array.from(run('adamUpdate', 0)));
      const w = run('adamwUpdate', 0.1), a = run('adamUpdate', 0.1);
      expect(Array.from(w).some((x, i) => Math.abs(x - a[i]!) > 1e-4)).toBe(true);
    });
  });

  // ---------------------------------------------------------------- checked arguments

  describe('bad input through the checked kernels', () => {
    it('huberLoss rejects δ ≤ 0 and a non-finite δ', () => {
      scoped(be, (s) => {
        const p = s.filled(6, 1), d = s.out(6);
        expect(() => be.kernels.huberLoss(d, p, p, 2, 3, -1)).toThrow(/^huberLoss: delta must be > 0, got -1$/);
        expect(() => be.kernels.huberLoss(d, p, p, 2, 3, 0)).toThrow(/^huberLoss: delta must be > 0, got 0$/);
        expect(() => be.kernels.huberLoss(d, p, p, 2, 3, NaN)).toThrow(/^huberLoss: delta must be a finite number, got NaN$/);
        expect(() => be.kernels.huberLoss(d, p, p, 2, 3, Infinity)).toThrow(RangeError);
        expect(Array.from(s.read(d, 6)).every(Number.isNaN), 'nothing written').toBe(true);
      });
    });

    it('binaryCrossEntropy rejects targets outside [0, 1], naming the first', () => {
      scoped(be, (s) => {
        const z = s.filled(4, 0.5), d = s.out(4);
        expect(() => be.kernels.binaryCrossEntropy(d, z, s.f32([0, 1, 1.5, -1]), 2, 2)).toThrow(/^binaryCrossEntropy: targets\[2\] must be a probability in \[0, 1\], got 1\.5$/);
        expect(() => be.kernels.binaryCrossEntropy(d, z, s.f32([0, -0.25, 1, 1]), 2, 2)).toThrow(/^binaryCrossEntropy: targets\[1\] must be a probability in \[0, 1\], got -0\.25$/);
        expect(() => be.kernels.binaryCrossEntropy(d, z, s.f32([NaN, 0, 0, 0]), 2, 2)).toThrow(/^binaryCrossEntropy: targets\[0\] must be a probability in \[0, 1\], got NaN$/);
        expect(be.kernels.binaryCrossEntropy(d, z, s.f32([0, 1, 0.5, 1e-9]), 2, 2)).toBeGreaterThan(0);
      });
    });

    it('every new kernel rejects size 0, non-integer sizes, non-finite scalars and pointers outside memory', () => {
      scoped(be, (s) => {
        const p = s.filled(8, 0.5);
        const end = be.heap.memoryBytes;
        expect(() => be.kernels.leakyReluForward(p, p, 0, 0.01)).toThrow(/^leakyReluForward: n must be an integer ≥ 1, got 0$/);
        expect(() => be.kernels.leakyReluBackward(p, p, p, 8, NaN)).toThrow(/^leakyReluBackward: alpha must be a finite number, got NaN$/);
        expect(() => be.kernels.geluForward(p, p, 2.5)).toThrow(/^geluForward: n must be an integer ≥ 1, got 2\.5$/);
        expect(() => be.kernels.geluBackward(p, p, end, 8)).toThrow(/^geluBackward: inp must point to 8 values inside memory/);
        expect(() => be.kernels.binaryCrossEntropy(p, p, p, 0, 2)).toThrow(/^binaryCrossEntropy: rows must be an integer ≥ 1, got 0$/);
        expect(() => be.kernels.maeLoss(p, p, p, 2, -3)).toThrow(/^maeLoss: cols must be an integer ≥ 1, got -3$/);
        expect(() => be.kernels.maeLoss(p, p, end - 4, 2, 4)).toThrow(/^maeLoss: target must point to 8 values inside memory/);
        expect(() => be.kernels.huberLoss(end - 32, p, p, 3, 3, 1)).toThrow(/^huberLoss: dpred must point to 9 values inside memory/);
        expect(() => be.kernels.adamwUpdate(p, p, p, p, 8, 0.01, 0.9, 0.999, 1e-8, 0.01, 0)).toThrow(/^adamwUpdate: t must be an integer ≥ 1, got 0$/);
        expect(() => be.kernels.adamwUpdate(p, p, p, p, 8, 0.01, 0.9, 0.999, 1e-8, Infinity, 1)).toThrow(/^adamwUpdate: weightDecay must be a finite number, got Infinity$/);
        const gelu = be.kernels.geluForward as unknown as (...a: number[]) => void;
        expect(() => gelu(p, p)).toThrow(/^geluForward: expected 3 arguments \(out, inp, n\), got 2$/);
      });
    });
  });
});

describe('extension kernels: wasm and js agree', () => {
  let wasm: Backend, js: Backend;
  beforeAll(async () => { [wasm, js] = await Promise.all([getBackend('wasm'), getBackend('js')]); });

  it.each(SIZES)('on every new kernel over n = %i (activations: n values; losses: n × 3; AdamW: five steps)', (n) => {
    const rng = mulberry32(900 + n);
    const x = normal(rng, n, 0, 3), dout = normal(rng, n);
    const m = n * 3;
    const z = normal(rng, m, 0, 3), t = uniform(rng, m, 0, 1), pred = normal(rng, m, 0, 2), target = normal(rng, m);
    const params = normal(rng, n), grads = [0, 1, 2, 3, 4].map(() => normal(rng, n));
    const run = (be: Backend) => scoped(be, (s) => {
      const res: Record<string, Float32Array | number> = {};
      const px = s.f32(x), pg = s.f32(dout);
      const pairs = [
        ['leakyRelu', (o: number) => be.kernels.leakyReluForward(o, px, n, 0.01), (d: number) => be.kernels.leakyReluBackward(d, pg, px, n, 0.01)],
        ['gelu', (o: number) => be.kernels.geluForward(o, px, n), (d: number) => be.kernels.geluBackward(d, pg, px, n)],
      ] as const;
      for (const [act, fwd, bwd] of pairs) {
        const po = s.out(n), pd = s.out(n);
        fwd(po);
        bwd(pd);
        res[`${act}Forward`] = s.read(po, n);
        res[`${act}Backward`] = s.read(pd, n);
      }
      const losses = {
        binaryCrossEntropy: (d: number) => be.kernels.binaryCrossEntropy(d, s.f32(z), s.f32(t), n, 3),
        maeLoss: (d: number) => be.kernels.maeLoss(d, s.f32(pred), s.f32(target), n, 3),
        huberLoss: (d: number) => be.kernels.huberLoss(d, s.f32(pred), s.f32(target), n, 3, 1),
      };
      for (const [k, f] of Object.entries(losses)) {
        const pd = s.out(m);
        res[k] = f(pd);
        res[`${k}.grad`] = s.read(pd, m);
      }
      const pp = s.f32(params), pm = s.filled(n, 0), pv = s.filled(n, 0);
      grads.forEach((g, i) => be.kernels.adamwUpdate(pp, s.f32(g), pm, pv, n, 0.01, 0.9, 0.999, 1e-8, 0.01, i + 1));
      res.adamwParams = s.read(pp, n);
      res.adamwM = s.read(pm, n);
      res.adamwV = s.read(pv, n);
      return res;
    });
    const w = run(wasm), j = run(js);
    expect(Object.keys(w)).toEqual(Object.keys(j));
    for (const k of Object.keys(j)) {
      const a = w[k]!, b = j[k]!;
      if (typeof b === 'number') expectRelErr([a as number], [b], 1e-6, k);
      else expectRelErr(a as Float32Array, b, 1e-5, k);
    }
  });
});
