/**
 * Batch normalization over the rows (the batch, N) of an N×C matrix, per
 * feature (column). Training mode:
 *   μ = mean_r x,  σ² = mean_r (x−μ)² (biased),  y = γ·(x−μ)/sqrt(σ²+ε) + β
 * running = (1−momentum)·running + momentum·batch, the running variance
 * unbiased (σ²·N/(N−1)). Inference: y = γ·(x−rm)/sqrt(rv+ε) + β. Backward:
 *   dx = (γ·invstd/N)·(N·dy − Σdy − x̂·Σ(dy·x̂)),  dγ = Σ dy·x̂,  dβ = Σ dy.
 * Every expected number below is computed here, in float64, from the formula.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { KernelBackend as Backend } from '../src/kernels.js';
import { expectAllClose, expectFinite, expectRelErr } from './helpers/compare.js';
import { dot, finiteDiff, gradErr } from './helpers/gradcheck.js';
import { BACKENDS, getBackend, scoped } from './helpers/kernels.js';
import { mulberry32, normal, uniform, type Rng } from './helpers/prng.js';

const EPS = 1e-5;
const TOL = 1e-4;

interface Ref { y: Float64Array; mean: Float64Array; variance: Float64Array; invStd: Float64Array }

/** Float64 training-mode forward, straight from the formula (two passes). */
function refForward(x: ArrayLike<number>, gamma: ArrayLike<number>, beta: ArrayLike<number>, rows: number, cols: number, eps = EPS): Ref {
  const mean = new Float64Array(cols), variance = new Float64Array(cols), invStd = new Float64Array(cols);
  const y = new Float64Array(rows * cols);
  for (let c = 0; c < cols; c++) {
    let s = 0;
    for (let r = 0; r < rows; r++) s += x[r * cols + c]!;
    const mu = s / rows;
    let q = 0;
    for (let r = 0; r < rows; r++) q += (x[r * cols + c]! - mu) ** 2;
    const v = q / rows;
    mean[c] = mu;
    variance[c] = v;
    invStd[c] = 1 / Math.sqrt(v + eps);
    for (let r = 0; r < rows; r++) y[r * cols + c] = gamma[c]! * (x[r * cols + c]! - mu) / Math.sqrt(v + eps) + beta[c]!;
  }
  return { y, mean, variance, invStd };
}

/** Float64 closed-form backward. */
function refBackward(dy: ArrayLike<number>, x: ArrayLike<number>, gamma: ArrayLike<number>, rows: number, cols: number, eps = EPS) {
  const { mean, invStd } = refForward(x, gamma, new Float64Array(cols), rows, cols, eps);
  const dx = new Float64Array(rows * cols), dGamma = new Float64Array(cols), dBeta = new Float64Array(cols);
  for (let c = 0; c < cols; c++) {
    let sdy = 0, sdyx = 0;
    for (let r = 0; r < rows; r++) {
      const g = dy[r * cols + c]!;
      sdy += g;
      sdyx += g * (x[r * cols + c]! - mean[c]!) * invStd[c]!;
    }
    dBeta[c] = sdy;
    dGamma[c] = sdyx;
    for (let r = 0; r < rows; r++) {
      const xh = (x[r * cols + c]! - mean[c]!) * invStd[c]!;
      dx[r * cols + c] = (gamma[c]! * invStd[c]! / rows) * (rows * dy[r * cols + c]! - sdy - xh * sdyx);
    }
  }
  return { dx, dGamma, dBeta };
}

/** Float64 mean and biased variance of column c of y. */
function columnStats(y: ArrayLike<number>, rows: number, cols: number, c: number): { mean: number; variance: number } {
  let s = 0;
  for (let r = 0; r < rows; r++) s += y[r * cols + c]!;
  const mean = s / rows;
  let q = 0;
  for (let r = 0; r < rows; r++) q += (y[r * cols + c]! - mean) ** 2;
  return { mean, variance: q / rows };
}

/** rows×cols inputs whose feature c has its own mean (in ±5) and spread (0.2 to 4). */
function features(rng: Rng, rows: number, cols: number): Float32Array {
  const mu = uniform(rng, cols, -5, 5), sd = uniform(rng, cols, 0.2, 4);
  const z = normal(rng, rows * cols);
  return z.map((v, i) => mu[i % cols]! + sd[i % cols]! * v);
}

const SHAPES: ReadonlyArray<readonly [rows: number, cols: number]> = [
  [2, 1], [2, 7], [3, 2], [3, 5], [4, 4], [5, 3], [7, 9], [8, 63], [16, 64], [17, 65], [33, 70], [64, 129], [70, 1], [130, 67],
];

describe.each(BACKENDS)('batch norm on the %s backend', (name) => {
  let be: Backend;
  beforeAll(async () => { be = await getBackend(name); });

  it('a 3×2 case computed from the formula', () => {
    const x = new Float32Array([1, 2, 3, 6, 5, 10]);
    const gamma = new Float32Array([2, 0.5]), beta = new Float32Array([0.25, -1]);
    const f = be.batchNormForward(x, gamma, beta, { rows: 3, cols: 2, eps: EPS });
    // feature 0: 1, 3, 5 → μ = 3, σ² = (4+0+4)/3; feature 1: 2, 6, 10 → μ = 6, σ² = (16+0+16)/3
    const v0 = 8 / 3, v1 = 32 / 3;
    const y = (xv: number, mu: number, v: number, g: number, b: number) => g * (xv - mu) / Math.sqrt(v + EPS) + b;
    expectAllClose(f.mean, [3, 6], 1e-6, 0, 'mean');
    expectAllClose(f.variance, [v0, v1], 1e-6, 0, 'variance');
    expectAllClose(f.invStd, [1 / Math.sqrt(v0 + EPS), 1 / Math.sqrt(v1 + EPS)], 1e-6, 0, 'invStd');
    expectAllClose(f.y, [
      y(1, 3, v0, 2, 0.25), y(2, 6, v1, 0.5, -1),
      y(3, 3, v0, 2, 0.25), y(6, 6, v1, 0.5, -1),
      y(5, 3, v0, 2, 0.25), y(10, 6, v1, 0.5, -1),
    ], 1e-6, 1e-6, 'y');
    // the middle row sits on the mean: y = β exactly there
    expect(f.y[2]).toBe(0.25);
    expect(f.y[3]).toBe(-1);

    const dy = new Float32Array([0.5, -1, 2, 0.25, -0.75, 1.5]);
    const g = be.batchNormBackward(dy, x, gamma, f.mean, f.invStd, { rows: 3, cols: 2 });
    const ref = refBackward(dy, x, gamma, 3, 2);
    expectAllClose(g.dBeta, [0.5 + 2 - 0.75, -1 + 0.25 + 1.5], 1e-6, 1e-6, 'dBeta');
    expectAllClose(g.dGamma, ref.dGamma, 1e-5, 1e-6, 'dGamma');
    expectAllClose(g.dx, ref.dx, 1e-5, 1e-6, 'dx');
  });

  it('the typed API returns Float32Arrays of the documented lengths', () => {
    const rng = mulberry32(1);
    const [rows, cols] = [5, 3];
    const f = be.batchNormForward(normal(rng, rows * cols), new Float32Array(cols).fill(1), new Float32Array(cols), { rows, cols });
    for (const [k, len] of [['y', rows * cols], ['mean', cols], ['variance', cols], ['invStd', cols]] as const) {
      expect(f[k], k).toBeInstanceOf(Float32Array);
      expect(f[k].length, k).toBe(len);
    }
    const g = be.batchNormBackward(normal(rng, rows * cols), normal(rng, rows * cols), new Float32Array(cols).fill(1), f.mean, f.invStd, { rows, cols });
    for (const [k, len] of [['dx', rows * cols], ['dGamma', cols], ['dBeta', cols]] as const) {
      expect(g[k], k).toBeInstanceOf(Float32Array);
      expect(g[k].length, k).toBe(len);
    }
  });

  it('eps defaults to 1e-5', () => {
    const rng = mulberry32(2);
    const x = normal(rng, 4 * 3, 0, 0.01); // σ² ~ 1e-4, so ε matters at the 5 % level
    const gamma = new Float32Array([1, 1, 1]), beta = new Float32Array(3);
    const f = be.batchNormForward(x, gamma, beta, { rows: 4, cols: 3 });
    expectAllClose(f.invStd, refForward(x, gamma, beta, 4, 3, 1e-5).invStd, 1e-5, 0);
    const f2 = be.batchNormForward(x, gamma, beta, { rows: 4, cols: 3, eps: 1e-3 });
    expectAllClose(f2.invStd, refForward(x, gamma, beta, 4, 3, 1e-3).invStd, 1e-5, 0);
  });

  it.each(SHAPES)('forward and backward match the float64 formula (%i×%i)', (rows, cols) => {
    const rng = mulberry32(rows * 1000 + cols);
    const x = features(rng, rows, cols);
    const gamma = uniform(rng, cols, 0.5, 2), beta = uniform(rng, cols, -1, 1), dy = normal(rng, rows * cols);
    const f = be.batchNormForward(x, gamma, beta, { rows, cols });
    const ref = refForward(x, gamma, beta, rows, cols);
    expectRelErr(f.y, ref.y, TOL, 'y');
    expectRelErr(f.mean, ref.mean, TOL, 'mean');
    expectAllClose(f.variance, ref.variance, 1e-4, 0, 'variance');
    expectAllClose(f.invStd, ref.invStd, 1e-4, 0, 'invStd');
    const g = be.batchNormBackward(dy, x, gamma, f.mean, f.invStd, { rows, cols });
    const rb = refBackward(dy, x, gamma, rows, cols);
    expectRelErr(g.dx, rb.dx, TOL, 'dx');
    expectRelErr(g.dGamma, rb.dGamma, TOL, 'dGamma');
    expectRelErr(g.dBeta, rb.dBeta, TOL, 'dBeta');
  });

  it('with γ=1, β=0 every feature of y has mean ≈ 0 and variance ≈ 1', () => {
    const rng = mulberry32(3);
    for (const [rows, cols] of [[2, 3], [5, 7], [64, 70], [129, 65]] as const) {
      const x = features(rng, rows, cols);
      const ones = new Float32Array(cols).fill(1), zeros = new Float32Array(cols);
      const f = be.batchNormForward(x, ones, zeros, { rows, cols });
      const ref = refForward(x, ones, zeros, rows, cols);
      for (let c = 0; c < cols; c++) {
        const s = columnStats(f.y, rows, cols, c);
        expect(Math.abs(s.mean), `${rows}×${cols} feature ${c} mean`).toBeLessThan(1e-5);
        // exactly, the variance of y is σ²/(σ²+ε); these seeded draws all have σ² > 0.01, so it is 1 to 1e-3
        const exact = ref.variance[c]! / (ref.variance[c]! + EPS);
        expect(Math.abs(s.variance - exact), `${rows}×${cols} feature ${c} variance vs σ²/(σ²+ε)`).toBeLessThan(1e-5);
        expect(Math.abs(s.variance - 1), `${rows}×${cols} feature ${c} variance`).toBeLessThan(1e-3);
      }
    }
  });

  it('inputs with mean 1e4 and std 0.1 normalize to mean 0 and variance 1 within 1e-3 (no cancellation)', () => {
    const rng = mulberry32(4);
    const [rows, cols] = [256, 9];
    const x = normal(rng, rows * cols, 1e4, 0.1);
    const ones = new Float32Array(cols).fill(1), zeros = new Float32Array(cols);
    // ε is set far below σ² = 0.01 so that var(y) = σ²/(σ²+ε) is 1 to 1e-6 and the check is about the arithmetic
    const f = be.batchNormForward(x, ones, zeros, { rows, cols, eps: 1e-8 });
    const ref = refForward(x, ones, zeros, rows, cols, 1e-8);
    for (let c = 0; c < cols; c++) {
      const s = columnStats(f.y, rows, cols, c);
      expect(Math.abs(s.mean), `feature ${c} mean`).toBeLessThan(1e-3);
      expect(Math.abs(s.variance - 1), `feature ${c} variance`).toBeLessThan(1e-3);
      // the saved statistics themselves keep their digits: σ² ≈ 0.01, not 0 or a multiple of f32's step at 1e8
      expect(Math.abs(f.variance[c]! - ref.variance[c]!) / ref.variance[c]!, `feature ${c} σ²`).toBeLessThan(1e-3);
      expect(Math.abs(f.mean[c]! - ref.mean[c]!), `feature ${c} μ`).toBeLessThan(1e-3);
    }
    // with the default ε the variance of y is σ²/(σ²+ε), still to 1e-3
    const fd = be.batchNormForward(x, ones, zeros, { rows, cols });
    const rd = refForward(x, ones, zeros, rows, cols);
    for (let c = 0; c < cols; c++) {
      const s = columnStats(fd.y, rows, cols, c);
      const expected = rd.variance[c]! / (rd.variance[c]! + EPS);
      expect(Math.abs(s.mean), `feature ${c} mean (default ε)`).toBeLessThan(1e-3);
      expect(Math.abs(s.variance - expected), `feature ${c} variance (default ε)`).toBeLessThan(1e-3);
    }
  });

  it('a constant feature gives y = β and finite gradients', () => {
    const rng = mulberry32(5);
    const [rows, cols] = [6, 5];
    const x = normal(rng, rows * cols);
    for (let r = 0; r < rows; r++) { x[r * cols + 1] = 0.1; x[r * cols + 4] = 1e4; } // 0.1 is not exact in f32
    const gamma = uniform(rng, cols, 0.5, 2), beta = uniform(rng, cols, -1, 1);
    const f = be.batchNormForward(x, gamma, beta, { rows, cols });
    expectFinite(f.y, 'y');
    for (const c of [1, 4]) {
      expect(f.variance[c], `σ² of feature ${c}`).toBe(0);
      expect(f.invStd[c], `invStd of feature ${c}`).toBeCloseTo(1 / Math.sqrt(EPS), 0);
      for (let r = 0; r < rows; r++) expect(Math.abs(f.y[r * cols + c]! - beta[c]!), `y[${r},${c}]`).toBeLessThanOrEqual(1e-6);
    }
    const dy = normal(rng, rows * cols);
    const g = be.batchNormBackward(dy, x, gamma, f.mean, f.invStd, { rows, cols });
    expectFinite(g.dx, 'dx');
    expectFinite(g.dGamma, 'dGamma');
    expectFinite(g.dBeta, 'dBeta');
    const rb = refBackward(dy, x, gamma, rows, cols);
    for (const c of [1, 4]) {
      expect(Math.abs(g.dGamma[c]!), `dγ of feature ${c}`).toBeLessThan(1e-6); // x̂ = 0
      for (let r = 0; r < rows; r++) {
        // dx = γ·invstd·(dy − mean(dy)) for a constant feature
        expect(Math.abs(g.dx[r * cols + c]! - rb.dx[r * cols + c]!), `dx[${r},${c}]`).toBeLessThan(1e-3 * Math.max(1, Math.abs(rb.dx[r * cols + c]!)));
      }
    }
  });

  it('batchNormBackward matches finite differences of L = Σ y·w (dx, dγ, dβ)', () => {
    const rng = mulberry32(6);
    for (const [rows, cols] of [[5, 7], [4, 3], [9, 2]] as const) {
      const x = features(rng, rows, cols);
      const gamma = uniform(rng, cols, 0.5, 2), beta = uniform(rng, cols, -1, 1), w = normal(rng, rows * cols);
      const loss = (xx: Float32Array, gg: Float32Array, bb: Float32Array) => dot(be.batchNormForward(xx, gg, bb, { rows, cols }).y, w);
      const f = be.batchNormForward(x, gamma, beta, { rows, cols });
      const g = be.batchNormBackward(w, x, gamma, f.mean, f.invStd, { rows, cols });
      const numDx = finiteDiff(x, 1e-2, (xx) => loss(xx, gamma, beta));
      const numDg = finiteDiff(gamma, 1e-2, (gg) => loss(x, gg, beta));
      const numDb = finiteDiff(beta, 1e-2, (bb) => loss(x, gamma, bb));
      // y is nonlinear in x (through μ and σ²): O(h²) truncation plus f32 rounding/h (seen: ≤ 4e-4)
      expect(gradErr(g.dx, numDx), `dx ${rows}×${cols}`).toBeLessThan(2e-3);
      // y is linear in γ and β: f32 rounding only (seen: ≤ 5e-6)
      expect(gradErr(g.dGamma, numDg), `dγ ${rows}×${cols}`).toBeLessThan(1e-4);
      expect(gradErr(g.dBeta, numDb), `dβ ${rows}×${cols}`).toBeLessThan(1e-4);
    }
  });

  it('kernel batchnormForward: running statistics after several steps follow the momentum formula (unbiased variance)', () => {
    const rng = mulberry32(7);
    const [rows, cols, momentum] = [6, 7, 0.1];
    const gamma = uniform(rng, cols, 0.5, 2), beta = uniform(rng, cols, -1, 1);
    const rm = new Float64Array(cols).fill(0), rv = new Float64Array(cols).fill(1);
    const got = scoped(be, (s) => {
      const prm = s.filled(cols, 0), prv = s.filled(cols, 1);
      const py = s.out(rows * cols), pm = s.out(cols), pv = s.out(cols), pi = s.out(cols);
      const pg = s.f32(gamma), pb = s.f32(beta);
      for (let step = 0; step < 5; step++) {
        const x = features(rng, rows, cols);
        be.kernels.batchnormForward(py, pm, pv, pi, s.f32(x), pg, pb, prm, prv, rows, cols, EPS, momentum);
        const ref = refForward(x, gamma, beta, rows, cols);
        for (let c = 0; c < cols; c++) {
          rm[c] = (1 - momentum) * rm[c]! + momentum * ref.mean[c]!;
          rv[c] = (1 - momentum) * rv[c]! + momentum * ref.variance[c]! * rows / (rows - 1);
        }
        // the saved batch statistics are the biased ones
        expectAllClose(s.read(pv, cols), ref.variance, 1e-5, 1e-7, `variance at step ${step}`);
        expectRelErr(s.read(py, rows * cols), ref.y, TOL, `y at step ${step}`);
      }
      return { rm: s.read(prm, cols), rv: s.read(prv, cols) };
    });
    expectAllClose(got.rm, rm, 1e-5, 1e-6, 'running mean');
    expectAllClose(got.rv, rv, 1e-5, 1e-6, 'running variance');
  });

  it('kernel batchnormForward with momentum 0 leaves the running statistics alone', () => {
    const rng = mulberry32(8);
    const [rows, cols] = [4, 5];
    const got = scoped(be, (s) => {
      const prm = s.filled(cols, 0.5), prv = s.filled(cols, 2);
      be.kernels.batchnormForward(s.out(rows * cols), s.out(cols), s.out(cols), s.out(cols), s.f32(features(rng, rows, cols)),
        s.filled(cols, 1), s.filled(cols, 0), prm, prv, rows, cols, EPS, 0);
      return { rm: s.read(prm, cols), rv: s.read(prv, cols) };
    });
    expect(Array.from(got.rm)).toEqual(new Array(cols).fill(0.5));
    expect(Array.from(got.rv)).toEqual(new Array(cols).fill(2));
  });

  it('running variance with rows = 2 uses the factor N/(N−1) = 2', () => {
    const x = new Float32Array([1, 10, 3, 14]); // σ² = 1 and 4 (biased), unbiased 2 and 8
    const got = scoped(be, (s) => {
      const prm = s.filled(2, 0), prv = s.filled(2, 0);
      be.kernels.batchnormForward(s.out(4), s.out(2), s.out(2), s.out(2), s.f32(x), s.filled(2, 1), s.filled(2, 0), prm, prv, 2, 2, EPS, 1);
      return { rm: s.read(prm, 2), rv: s.read(prv, 2) };
    });
    expectAllClose(got.rm, [2, 12], 1e-6, 0, 'running mean');
    expectAllClose(got.rv, [2, 8], 1e-6, 0, 'running variance');
  });

  it('kernel batchnormInference computes γ·(x−rm)/sqrt(rv+ε) + β, also in place', () => {
    const rng = mulberry32(9);
    for (const [rows, cols] of [[1, 1], [1, 7], [3, 5], [17, 65], [40, 130]] as const) {
      const x = features(rng, rows, cols);
      const gamma = uniform(rng, cols, 0.5, 2), beta = uniform(rng, cols, -1, 1);
      const rm = uniform(rng, cols, -5, 5), rv = uniform(rng, cols, 0.01, 9);
      const expected = new Float64Array(rows * cols);
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < cols; c++) {
          expected[r * cols + c] = gamma[c]! * (x[r * cols + c]! - rm[c]!) / Math.sqrt(rv[c]! + EPS) + beta[c]!;
        }
      }
      const { out, inPlace } = scoped(be, (s) => {
        const pg = s.f32(gamma), pb = s.f32(beta), prm = s.f32(rm), prv = s.f32(rv);
        const po = s.out(rows * cols);
        be.kernels.batchnormInference(po, s.f32(x), pg, pb, prm, prv, rows, cols, EPS);
        const px = s.f32(x);
        be.kernels.batchnormInference(px, px, pg, pb, prm, prv, rows, cols, EPS);
        return { out: s.read(po, rows * cols), inPlace: s.read(px, rows * cols) };
      });
      expectRelErr(out, expected, TOL, `${rows}×${cols}`);
      expectRelErr(inPlace, expected, TOL, `${rows}×${cols} in place`);
    }
  });

  it('kernel batchnormInference keeps its digits for a running mean of 1e4 and a std of 0.1', () => {
    const rng = mulberry32(19);
    const [rows, cols] = [64, 12];
    const x = normal(rng, rows * cols, 1e4, 0.1);
    const rm = new Float32Array(cols).fill(1e4), rv = new Float32Array(cols).fill(0.01);
    const gamma = new Float32Array(cols).fill(1), beta = new Float32Array(cols);
    const out = scoped(be, (s) => {
      const po = s.out(rows * cols);
      be.kernels.batchnormInference(po, s.f32(x), s.f32(gamma), s.f32(beta), s.f32(rm), s.f32(rv), rows, cols, EPS);
      return s.read(po, rows * cols);
    });
    let worst = 0;
    for (let i = 0; i < rows * cols; i++) {
      const expected = (x[i]! - 1e4) / Math.sqrt(0.01 + EPS); // unit-scale outputs
      worst = Math.max(worst, Math.abs(out[i]! - expected));
    }
    // x·scale + shift would put ~1e5 through f32 (ulp 0.0078); (x − rm)·scale keeps ~1e-6
    expect(worst).toBeLessThan(1e-4);
  });

  it('kernel batchnormBackward accumulates dγ, dβ, overwrites dx, and may run with dinp = dout', () => {
    const rng = mulberry32(10);
    const [rows, cols] = [7, 9];
    const x = features(rng, rows, cols), gamma = uniform(rng, cols, 0.5, 2), dy = normal(rng, rows * cols);
    const dg0 = uniform(rng, cols), db0 = uniform(rng, cols);
    const ref = refBackward(dy, x, gamma, rows, cols);
    const got = scoped(be, (s) => {
      const f = be.batchNormForward(x, gamma, new Float32Array(cols), { rows, cols });
      const pdg = s.f32(dg0), pdb = s.f32(db0), pdx = s.out(rows * cols);
      const px = s.f32(x), pg = s.f32(gamma), pm = s.f32(f.mean), pi = s.f32(f.invStd);
      be.kernels.batchnormBackward(pdx, pdg, pdb, s.f32(dy), px, pg, pm, pi, rows, cols);
      const pdy = s.f32(dy), pdg2 = s.filled(cols, 0), pdb2 = s.filled(cols, 0);
      be.kernels.batchnormBackward(pdy, pdg2, pdb2, pdy, px, pg, pm, pi, rows, cols);
      return { dx: s.read(pdx, rows * cols), dg: s.read(pdg, cols), db: s.read(pdb, cols), dxAliased: s.read(pdy, rows * cols) };
    });
    expectRelErr(got.dx, ref.dx, TOL, 'dx');
    expectRelErr(got.dg, ref.dGamma.map((v, i) => v + dg0[i]!), TOL, 'dγ accumulated');
    expectRelErr(got.db, ref.dBeta.map((v, i) => v + db0[i]!), TOL, 'dβ accumulated');
    expectRelErr(got.dxAliased, ref.dx, TOL, 'dx with dinp = dout');
  });
});

describe('batch norm: wasm and js agree', () => {
  let wasm: Backend, js: Backend;
  beforeAll(async () => { [wasm, js] = await Promise.all([getBackend('wasm'), getBackend('js')]); });

  it.each(SHAPES)('forward and backward on random inputs (%i×%i)', (rows, cols) => {
    const rng = mulberry32(rows * 7919 + cols);
    const x = features(rng, rows, cols);
    const gamma = uniform(rng, cols, 0.5, 2), beta = uniform(rng, cols, -1, 1), dy = normal(rng, rows * cols);
    const fw = wasm.batchNormForward(x, gamma, beta, { rows, cols });
    const fj = js.batchNormForward(x, gamma, beta, { rows, cols });
    for (const k of ['y', 'mean', 'variance', 'invStd'] as const) expectRelErr(fw[k], fj[k], TOL, k);
    const gw = wasm.batchNormBackward(dy, x, gamma, fw.mean, fw.invStd, { rows, cols });
    const gj = js.batchNormBackward(dy, x, gamma, fj.mean, fj.invStd, { rows, cols });
    for (const k of ['dx', 'dGamma', 'dBeta'] as const) expectRelErr(gw[k], gj[k], TOL, k);
  });

  it('running statistics and inference agree', () => {
    const rng = mulberry32(77);
    const [rows, cols] = [33, 70];
    const gamma = uniform(rng, cols, 0.5, 2), beta = uniform(rng, cols, -1, 1);
    const batches = [0, 1, 2].map(() => features(rng, rows, cols));
    const run = (be: Backend) => scoped(be, (s) => {
      const prm = s.filled(cols, 0), prv = s.filled(cols, 1), pg = s.f32(gamma), pb = s.f32(beta);
      for (const x of batches) {
        be.kernels.batchnormForward(s.out(rows * cols), s.out(cols), s.out(cols), s.out(cols), s.f32(x), pg, pb, prm, prv, rows, cols, EPS, 0.1);
      }
      const po = s.out(rows * cols);
      be.kernels.batchnormInference(po, s.f32(batches[0]!), pg, pb, prm, prv, rows, cols, EPS);
      return { rm: s.read(prm, cols), rv: s.read(prv, cols), y: s.read(po, rows * cols) };
    });
    const w = run(wasm), j = run(js);
    expectRelErr(w.rm, j.rm, TOL, 'running mean');
    expectRelErr(w.rv, j.rv, TOL, 'running variance');
    expectRelErr(w.y, j.y, TOL, 'inference y');
  });
});
