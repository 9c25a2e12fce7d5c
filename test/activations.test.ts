/**
 * Activations and losses. Activation backwards take the forward's OUTPUT:
 *   relu: dinp = out > 0 ? dout : 0;  sigmoid: dout·out·(1−out);  tanh: dout·(1−out²).
 * softmaxCrossEntropy returns the mean loss over rows and writes
 * dlogits = (softmax − onehot)/rows; mseLoss returns mean (pred−target)² and
 * writes dpred = 2(pred−target)/(rows·cols); countCorrect counts rows whose
 * first arg-max equals the label.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { KernelBackend as Backend } from '../src/kernels.js';
import { expectAllClose, expectFinite, expectRelErr } from './helpers/compare.js';
import { dot, finiteDiff, gradErr } from './helpers/gradcheck.js';
import { BACKENDS, getBackend, scoped } from './helpers/kernels.js';
import { mulberry32, normal, randInts, uniform } from './helpers/prng.js';

type Act = 'relu' | 'sigmoid' | 'tanh';

const FORMULA: Record<Act, (x: number) => number> = {
  relu: (x) => (x > 0 ? x : 0),
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  tanh: (x) => Math.tanh(x),
};

/** d act / d x written as a function of the output y, as the kernels take it. */
const DERIV_OF_OUTPUT: Record<Act, (y: number) => number> = {
  relu: (y) => (y > 0 ? 1 : 0),
  sigmoid: (y) => y * (1 - y),
  tanh: (y) => 1 - y * y,
};

/** Lengths around the f32x4 width: tails of 1, 2, 3 and none. */
const LENGTHS = [1, 2, 3, 4, 5, 7, 8, 13, 64, 67];

const SPECIAL = [0, 1, -1, 0.5, -0.5, 1e-4, -1e-4, 3, -3, 10, -10, 20, -20, 50, -50, 100, -100, 1e4, -1e4, 88.7, -88.7, 1e-30];

/** Float64 softmax cross-entropy (max-subtracted): mean loss and (softmax − onehot)/rows. */
function refSoftmaxCE(logits: ArrayLike<number>, labels: ArrayLike<number>, rows: number, cols: number) {
  const d = new Float64Array(rows * cols);
  let total = 0;
  for (let r = 0; r < rows; r++) {
    let mx = -Infinity;
    for (let j = 0; j < cols; j++) mx = Math.max(mx, logits[r * cols + j]!);
    let sum = 0;
    for (let j = 0; j < cols; j++) sum += Math.exp(logits[r * cols + j]! - mx);
    const t = labels[r]!;
    total += Math.log(sum) + mx - logits[r * cols + t]!;
    for (let j = 0; j < cols; j++) d[r * cols + j] = (Math.exp(logits[r * cols + j]! - mx) / sum - (j === t ? 1 : 0)) / rows;
  }
  return { loss: total / rows, dlogits: d };
}

describe.each(BACKENDS)('activations and losses on the %s backend', (name) => {
  let be: Backend;
  beforeAll(async () => { be = await getBackend(name); });

  const forward = (act: Act, x: Float32Array): Float32Array => scoped(be, (s) => {
    const po = s.out(x.length);
    be.kernels[`${act}Forward`](po, s.f32(x), x.length);
    return s.read(po, x.length);
  });
  const backward = (act: Act, dout: Float32Array, out: Float32Array): Float32Array => scoped(be, (s) => {
    const pd = s.out(out.length);
    be.kernels[`${act}Backward`](pd, s.f32(dout), s.f32(out), out.length);
    return s.read(pd, out.length);
  });

  describe.each(['relu', 'sigmoid', 'tanh'] as const)('%s', (act) => {
    it('forward matches the Math formula, including large and tiny inputs', () => {
      const x = Float32Array.from(SPECIAL);
      const y = forward(act, x);
      expectFinite(y, `${act}(special)`);
      expectAllClose(y, Array.from(x, FORMULA[act]), 2e-6, 1e-7, `${act}(special)`);
    });

    it.each(LENGTHS)('forward matches the Math formula over n = %i (SIMD tails)', (n) => {
      const x = uniform(mulberry32(n), n, -6, 6);
      expectAllClose(forward(act, x), Array.from(x, FORMULA[act]), 2e-6, 1e-7, `${act} n=${n}`);
    });

    it.each(LENGTHS)('backward = dout·f\'(out) over n = %i', (n) => {
      const rng = mulberry32(100 + n);
      const x = uniform(rng, n, -4, 4), dout = normal(rng, n);
      const y = forward(act, x);
      const d = backward(act, dout, y);
      expectAllClose(d, Array.from(y, (v, i) => dout[i]! * DERIV_OF_OUTPUT[act](v)), 1e-6, 1e-7, `${act}' n=${n}`);
    });

    it('backward matches finite differences of L = Σ w·act(x)', () => {
      const rng = mulberry32(7);
      const n = 23;
      let x = uniform(rng, n, -3, 3);
      // keep ReLU's inputs away from its kink at 0, where it has no derivative
      if (act === 'relu') x = x.map((v) => (Math.abs(v) < 0.1 ? v + Math.sign(v || 1) * 0.2 : v));
      const w = normal(rng, n);
      const analytic = backward(act, w, forward(act, x));
      const numeric = finiteDiff(x, 1e-2, (xx) => dot(forward(act, xx), w));
      expect(gradErr(analytic, numeric)).toBeLessThan(2e-4); // seen: ≤ 3e-5
    });

    it('backward may run in place (dinp = dout)', () => {
      const rng = mulberry32(8);
      const n = 11;
      const y = forward(act, uniform(rng, n, -3, 3)), dout = normal(rng, n);
      const expected = backward(act, dout, y);
      const inPlace = scoped(be, (s) => {
        const pd = s.f32(dout);
        be.kernels[`${act}Backward`](pd, pd, s.f32(y), n);
        return s.read(pd, n);
      });
      expectAllClose(inPlace, expected, 0, 0);
    });
  });

  it('relu passes dout only where out > 0', () => {
    const y = new Float32Array([0, 2, 0, 0.5, 0, 3, 1e-30]);
    const d = backward('relu', new Float32Array([1, 2, 3, 4, 5, 6, 7]), y);
    expect(Array.from(d)).toEqual([0, 2, 0, 4, 0, 6, 7]);
  });

  describe('softmaxCrossEntropy', () => {
    const ce = (logits: Float32Array, labels: Int32Array, rows: number, cols: number) => scoped(be, (s) => {
      const pd = s.out(rows * cols);
      const loss = be.kernels.softmaxCrossEntropy(pd, s.f32(logits), s.i32(labels), rows, cols);
      return { loss, dlogits: s.read(pd, rows * cols) };
    });

    it.each([[1, 1], [1, 2], [4, 7], [5, 10], [16, 3], [32, 65]] as const)('mean loss and dlogits match the formula (%i×%i)', (rows, cols) => {
      const rng = mulberry32(rows * 100 + cols);
      const logits = normal(rng, rows * cols, 0, 3), labels = randInts(rng, rows, cols);
      const got = ce(logits, labels, rows, cols);
      const ref = refSoftmaxCE(logits, labels, rows, cols);
      expect(typeof got.loss).toBe('number');
      expect(Math.abs(got.loss - ref.loss), `loss ${got.loss} vs ${ref.loss}`).toBeLessThanOrEqual(1e-5 * Math.max(1, ref.loss));
      expectAllClose(got.dlogits, ref.dlogits, 1e-4, 1e-7, 'dlogits');
    });

    it('a row of equal logits has loss log(cols) and dlogits (1/cols − onehot)/rows', () => {
      const got = ce(new Float32Array(8).fill(0.3), new Int32Array([1, 3]), 2, 4);
      expect(got.loss).toBeCloseTo(Math.log(4), 6);
      expectAllClose(got.dlogits, [0.125, -0.375, 0.125, 0.125, 0.125, 0.125, 0.125, -0.375], 1e-6, 1e-7);
    });

    it('dlogits matches finite differences of the returned mean loss', () => {
      const rng = mulberry32(9);
      const [rows, cols] = [4, 7];
      const logits = normal(rng, rows * cols, 0, 2), labels = randInts(rng, rows, cols);
      const { dlogits } = ce(logits, labels, rows, cols);
      const numeric = finiteDiff(logits, 1e-2, (l) => ce(l, labels, rows, cols).loss);
      expect(gradErr(dlogits, numeric)).toBeLessThan(2e-4); // seen: ≤ 3e-5
    });

    it('logits of ±1e4 give a finite loss and finite dlogits', () => {
      const logits = new Float32Array([1e4, -1e4, 0, 5e3, -1e4, 1e4, 1e4, 1e4, -1e4]);
      const labels = new Int32Array([1, 2, 0]);
      const got = ce(logits, labels, 3, 3);
      expect(Number.isFinite(got.loss)).toBe(true);
      expectFinite(got.dlogits, 'dlogits');
      // row 0: −log p[1] = 2e4; row 1: p[2] ≈ 1; row 2: two tied maxima, −log ½
      const expected = (2e4 + 0 + Math.log(2)) / 3;
      expect(Math.abs(got.loss - expected) / expected).toBeLessThan(1e-6);
      expectAllClose(got.dlogits, refSoftmaxCE(logits, labels, 3, 3).dlogits, 1e-5, 1e-7, 'dlogits');
    });

    it('dlogits may alias logits', () => {
      const rng = mulberry32(10);
      const [rows, cols] = [5, 6];
      const logits = normal(rng, rows * cols, 0, 3), labels = randInts(rng, rows, cols);
      const ref = refSoftmaxCE(logits, labels, rows, cols);
      const got = scoped(be, (s) => {
        const pl = s.f32(logits);
        const loss = be.kernels.softmaxCrossEntropy(pl, pl, s.i32(labels), rows, cols);
        return { loss, dlogits: s.read(pl, rows * cols) };
      });
      expect(Math.abs(got.loss - ref.loss), `loss ${got.loss} vs ${ref.loss}`).toBeLessThanOrEqual(1e-5 * Math.max(1, ref.loss));
      expectAllClose(got.dlogits, ref.dlogits, 1e-4, 1e-7, 'dlogits');
    });
  });

  describe('softmaxForward', () => {
    const softmax = (logits: Float32Array, rows: number, cols: number) => scoped(be, (s) => {
      const pp = s.out(rows * cols);
      be.kernels.softmaxForward(pp, s.f32(logits), rows, cols);
      return s.read(pp, rows * cols);
    });

    it.each([[1, 1], [3, 4], [7, 10], [2, 65]] as const)('rows sum to 1 and match exp(l − max)/Σ (%i×%i)', (rows, cols) => {
      const rng = mulberry32(rows + cols);
      const logits = normal(rng, rows * cols, 0, 4);
      const p = softmax(logits, rows, cols);
      const ref = new Float64Array(rows * cols);
      for (let r = 0; r < rows; r++) {
        const row = Array.from(logits.subarray(r * cols, (r + 1) * cols));
        const mx = Math.max(...row);
        const sum = row.reduce((a, v) => a + Math.exp(v - mx), 0);
        row.forEach((v, j) => { ref[r * cols + j] = Math.exp(v - mx) / sum; });
        let total = 0;
        for (let j = 0; j < cols; j++) total += p[r * cols + j]!;
        expect(Math.abs(total - 1), `row ${r} sums to ${total}`).toBeLessThan(1e-6);
      }
      expectAllClose(p, ref, 1e-5, 1e-7, 'probs');
    });

    it('stays finite for logits of ±1e4 and may run in place', () => {
      const logits = new Float32Array([1e4, -1e4, 0, -1e4, 1e4, 1e4]);
      const p = softmax(logits, 2, 3);
      expectAllClose(p, [1, 0, 0, 0, 0.5, 0.5], 1e-6, 1e-7);
      const inPlace = scoped(be, (s) => {
        const pl = s.f32(logits);
        be.kernels.softmaxForward(pl, pl, 2, 3);
        return s.read(pl, 6);
      });
      expectAllClose(inPlace, p, 0, 0);
    });
  });

  describe('mseLoss', () => {
    const mse = (pred: Float32Array, target: Float32Array, rows: number, cols: number) => scoped(be, (s) => {
      const pd = s.out(rows * cols);
      const loss = be.kernels.mseLoss(pd, s.f32(pred), s.f32(target), rows, cols);
      return { loss, dpred: s.read(pd, rows * cols) };
    });

    it.each([[1, 1], [3, 5], [8, 9]] as const)('loss = mean (p−t)², dpred = 2(p−t)/(rows·cols) (%i×%i)', (rows, cols) => {
      const rng = mulberry32(rows * cols);
      const pred = normal(rng, rows * cols), target = normal(rng, rows * cols);
      const got = mse(pred, target, rows, cols);
      const n = rows * cols;
      const loss = Array.from(pred).reduce((a, p, i) => a + (p - target[i]!) ** 2, 0) / n;
      expect(Math.abs(got.loss - loss)).toBeLessThanOrEqual(1e-6 * Math.max(1, loss));
      expectAllClose(got.dpred, Array.from(pred, (p, i) => (2 * (p - target[i]!)) / n), 1e-5, 1e-8, 'dpred');
    });

    it('a hand-computed case, and dpred matches finite differences', () => {
      const got = mse(new Float32Array([1, 2, 3, 4]), new Float32Array([1, 0, 3, 1]), 2, 2);
      expect(got.loss).toBeCloseTo((0 + 4 + 0 + 9) / 4, 6);
      expectAllClose(got.dpred, [0, 1, 0, 1.5], 1e-6, 0);
      const rng = mulberry32(11);
      const pred = normal(rng, 12), target = normal(rng, 12);
      const numeric = finiteDiff(pred, 1e-2, (p) => mse(p, target, 3, 4).loss);
      expect(gradErr(mse(pred, target, 3, 4).dpred, numeric)).toBeLessThan(1e-4); // quadratic: central differences are exact up to rounding
    });
  });

  describe('countCorrect', () => {
    const count = (scores: number[], labels: number[], rows: number, cols: number) => scoped(be, (s) =>
      be.kernels.countCorrect(s.f32(scores), s.i32(labels), rows, cols));

    it('counts rows whose arg-max equals the label, the first maximum winning ties', () => {
      const scores = [
        0.1, 0.7, 0.2, // arg-max 1
        5, -1, 4, //      arg-max 0
        1, 1, 0, //       tie: first, 0
        -3, -2, -1, //    arg-max 2
      ];
      expect(count(scores, [1, 0, 0, 2], 4, 3)).toBe(4);
      expect(count(scores, [1, 2, 1, 2], 4, 3)).toBe(2);
      expect(count(scores, [0, 1, 1, 0], 4, 3)).toBe(0);
      expect(count([3], [0], 1, 1)).toBe(1);
    });

    it('agrees with an arg-max computed here on random scores', () => {
      const rng = mulberry32(12);
      const [rows, cols] = [50, 10];
      const scores = Array.from(normal(rng, rows * cols)), labels = Array.from(randInts(rng, rows, cols));
      let expected = 0;
      for (let r = 0; r < rows; r++) {
        const row = scores.slice(r * cols, (r + 1) * cols);
        if (row.indexOf(Math.max(...row)) === labels[r]) expected++;
      }
      expect(expected).toBeGreaterThan(0);
      expect(count(scores, labels, rows, cols)).toBe(expected);
    });
  });
});

describe('activations and losses: wasm and js agree', () => {
  let wasm: Backend, js: Backend;
  beforeAll(async () => { [wasm, js] = await Promise.all([getBackend('wasm'), getBackend('js')]); });

  it('on every kernel over random inputs', () => {
    const rng = mulberry32(13);
    const [rows, cols] = [13, 11];
    const n = rows * cols;
    const x = normal(rng, n, 0, 3), dout = normal(rng, n), labels = randInts(rng, rows, cols), target = normal(rng, n);
    const run = (be: Backend) => scoped(be, (s) => {
      const px = s.f32(x), pd = s.f32(dout), res: Record<string, Float32Array | number> = {};
      for (const act of ['relu', 'sigmoid', 'tanh'] as const) {
        const po = s.out(n), pg = s.out(n);
        be.kernels[`${act}Forward`](po, px, n);
        be.kernels[`${act}Backward`](pg, pd, po, n);
        res[`${act}Forward`] = s.read(po, n);
        res[`${act}Backward`] = s.read(pg, n);
      }
      const pdl = s.out(n);
      res.ceLoss = be.kernels.softmaxCrossEntropy(pdl, px, s.i32(labels), rows, cols);
      res.dlogits = s.read(pdl, n);
      const pp = s.out(n);
      be.kernels.softmaxForward(pp, px, rows, cols);
      res.probs = s.read(pp, n);
      const pdp = s.out(n);
      res.mse = be.kernels.mseLoss(pdp, px, s.f32(target), rows, cols);
      res.dpred = s.read(pdp, n);
      res.correct = be.kernels.countCorrect(px, s.i32(labels), rows, cols);
      return res;
    });
    const w = run(wasm), j = run(js);
    for (const k of Object.keys(j)) {
      const a = w[k]!, b = j[k]!;
      if (typeof b === 'number') expectRelErr([a as number], [b], 1e-4, k);
      else expectRelErr(a as Float32Array, b, 1e-4, k);
    }
  });
});
