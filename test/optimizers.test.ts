/**
 * Optimizer steps over a flat block of n parameters, against their formulas
 * (assembly/optim.ts) computed here in float64. n = 1, 7 and 13 are not
 * multiples of the f32x4 width, so the scalar tails run too. L2 weight decay
 * is added to the gradient: g = grad + wd·p.
 *   SGD:     v = μ·v + g; p −= lr·v   (μ > 0)      p −= lr·g   (μ = 0, v untouched)
 *   RMSprop: s = ρ·s + (1−ρ)·g²; p −= lr·g/(sqrt(s) + ε)
 *   Adam:    m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²;
 *            p −= (lr/(1−β1ᵗ))·m/(sqrt(v)/sqrt(1−β2ᵗ) + ε)
 *
 * The checks run with decay rates exact in f32 and with the usual decimal
 * defaults (β2 = 0.999): the wasm kernels take their scalars as f64 and form
 * 1 − β and βᵗ in f64 before rounding once, so 0.999 costs no precision.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { KernelBackend as Backend } from '../src/kernels.js';
import { expectAllClose } from './helpers/compare.js';
import { BACKENDS, getBackend, scoped } from './helpers/kernels.js';
import { mulberry32, normal, uniform } from './helpers/prng.js';

const SIZES = [1, 7, 13];
const STEPS = 3;
const RTOL = 1e-5, ATOL = 1e-7;
/** Squared-gradient averages are as small as 1e-9 here: compare them relatively. */
const SQ_ATOL = 1e-12;

function problem(seed: number, n: number) {
  const rng = mulberry32(seed);
  const params = normal(rng, n);
  // one gradient per step
  const grads = Array.from({ length: STEPS }, () => uniform(rng, n, -1, 1));
  return { params, grads };
}

describe.each(BACKENDS)('optimizers on the %s backend', (name) => {
  let be: Backend;
  beforeAll(async () => { be = await getBackend(name); });

  describe.each(SIZES)('n = %i', (n) => {
    it.each([
      { momentum: 0, weightDecay: 0 },
      { momentum: 0, weightDecay: 0.05 },
      { momentum: 0.9, weightDecay: 0 },
      { momentum: 0.9, weightDecay: 0.05 },
    ])('sgdUpdate, momentum $momentum, weight decay $weightDecay, three steps', ({ momentum, weightDecay }) => {
      const lr = 0.1;
      const { params, grads } = problem(n, n);
      const v0 = momentum > 0 ? uniform(mulberry32(99), n) : new Float32Array(n).fill(7); // 7: must stay untouched at μ = 0
      const p = Float64Array.from(params), v = Float64Array.from(v0);
      const got = scoped(be, (s) => {
        const pp = s.f32(params), pv = s.f32(v0);
        for (let t = 0; t < STEPS; t++) {
          be.kernels.sgdUpdate(pp, s.f32(grads[t]!), pv, n, lr, momentum, weightDecay);
          for (let i = 0; i < n; i++) {
            const g = grads[t]![i]! + weightDecay * p[i]!;
            if (momentum > 0) {
              v[i] = momentum * v[i]! + g;
              p[i] = p[i]! - lr * v[i]!;
            } else {
              p[i] = p[i]! - lr * g;
            }
          }
          expectAllClose(s.read(pp, n), p, RTOL, ATOL, `params after step ${t + 1}`);
        }
        return { p: s.read(pp, n), v: s.read(pv, n) };
      });
      expectAllClose(got.v, v, RTOL, ATOL, 'velocity');
      if (momentum === 0) expect(Array.from(got.v)).toEqual(new Array(n).fill(7));
    });

    it.each([{ weightDecay: 0 }, { weightDecay: 0.01 }])('rmspropUpdate, weight decay $weightDecay, three steps', ({ weightDecay }) => {
      const [lr, rho, eps] = [0.01, 1 - 2 ** -7, 1e-8]; // ρ = 0.9921875
      const { params, grads } = problem(100 + n, n);
      const p = Float64Array.from(params), sq = new Float64Array(n);
      scoped(be, (s) => {
        const pp = s.f32(params), ps = s.filled(n, 0);
        for (let t = 0; t < STEPS; t++) {
          be.kernels.rmspropUpdate(pp, s.f32(grads[t]!), ps, n, lr, rho, eps, weightDecay);
          for (let i = 0; i < n; i++) {
            const g = grads[t]![i]! + weightDecay * p[i]!;
            sq[i] = rho * sq[i]! + (1 - rho) * g * g;
            p[i] = p[i]! - (lr * g) / (Math.sqrt(sq[i]!) + eps);
          }
          expectAllClose(s.read(pp, n), p, RTOL, ATOL, `params after step ${t + 1}`);
          expectAllClose(s.read(ps, n), sq, RTOL, SQ_ATOL, `sq after step ${t + 1}`);
        }
      });
    });

    it.each([
      { weightDecay: 0, beta1: 0.875, beta2: 1 - 2 ** -10 },
      { weightDecay: 0.01, beta1: 0.875, beta2: 1 - 2 ** -10 },
      { weightDecay: 0, beta1: 0.9, beta2: 0.999 },
    ])('adamUpdate, weight decay $weightDecay, β1 $beta1, β2 $beta2, steps t = 1, 2, 3', ({ weightDecay, beta1, beta2 }) => {
      const [lr, eps] = [0.01, 1e-8];
      const { params, grads } = problem(200 + n, n);
      const p = Float64Array.from(params), m = new Float64Array(n), v = new Float64Array(n);
      scoped(be, (s) => {
        const pp = s.f32(params), pm = s.filled(n, 0), pv = s.filled(n, 0);
        for (let t = 1; t <= STEPS; t++) {
          be.kernels.adamUpdate(pp, s.f32(grads[t - 1]!), pm, pv, n, lr, beta1, beta2, eps, weightDecay, t);
          for (let i = 0; i < n; i++) {
            const g = grads[t - 1]![i]! + weightDecay * p[i]!;
            m[i] = beta1 * m[i]! + (1 - beta1) * g;
            v[i] = beta2 * v[i]! + (1 - beta2) * g * g;
            p[i] = p[i]! - (lr / (1 - beta1 ** t)) * m[i]! / (Math.sqrt(v[i]!) / Math.sqrt(1 - beta2 ** t) + eps);
          }
          expectAllClose(s.read(pp, n), p, RTOL, ATOL, `params after step ${t}`);
          expectAllClose(s.read(pm, n), m, RTOL, ATOL, `m after step ${t}`);
          expectAllClose(s.read(pv, n), v, RTOL, SQ_ATOL, `v after step ${t}`);
        }
      });
    });
  });

  it('Adam\'s first step moves each parameter by lr against the sign of its gradient', () => {
    const n = 7, lr = 0.01;
    const params = new Float32Array(n).fill(1);
    const grads = new Float32Array([0.5, -0.25, 2, -3, 0.125, -1, 4]);
    const got = scoped(be, (s) => {
      const pp = s.f32(params);
      be.kernels.adamUpdate(pp, s.f32(grads), s.filled(n, 0), s.filled(n, 0), n, lr, 0.9, 0.999, 1e-8, 0, 1);
      return s.read(pp, n);
    });
    expectAllClose(got, Array.from(grads, (g) => 1 - lr * Math.sign(g)), 1e-6, 0);
  });
});

describe('optimizers: wasm and js agree', () => {
  let wasm: Backend, js: Backend;
  beforeAll(async () => { [wasm, js] = await Promise.all([getBackend('wasm'), getBackend('js')]); });

  it('over ten steps of each optimizer on 1000 + 3 parameters', () => {
    const n = 1003;
    const rng = mulberry32(5);
    const params = normal(rng, n);
    const grads = Array.from({ length: 10 }, () => normal(rng, n));
    const run = (be: Backend) => scoped(be, (s) => {
      const ps = [s.f32(params), s.f32(params), s.f32(params)];
      const vel = s.filled(n, 0), sq = s.filled(n, 0), m = s.filled(n, 0), v = s.filled(n, 0);
      grads.forEach((g, i) => {
        const pg = s.f32(g);
        be.kernels.sgdUpdate(ps[0]!, pg, vel, n, 0.05, 0.9, 1e-3);
        be.kernels.rmspropUpdate(ps[1]!, pg, sq, n, 0.01, 0.9, 1e-8, 1e-3);
        be.kernels.adamUpdate(ps[2]!, pg, m, v, n, 0.01, 0.9, 0.999, 1e-8, 1e-3, i + 1);
      });
      return ps.map((p) => s.read(p, n));
    });
    const w = run(wasm), j = run(js);
    ['sgd', 'rmsprop', 'adam'].forEach((k, i) => expectAllClose(w[i]!, j[i]!, 1e-5, 1e-6, k));
  });
});
