/**
 * Finite differences for gradient checks, in float64 around f32 inputs.
 *
 * Each input is moved by ±h and stored back as f32; the step used in the
 * quotient is the one actually stored (fround(x+h) − fround(x−h)), so the
 * f32 rounding of the input does not bias the estimate. The loss is
 * evaluated in float64 from the kernel's f32 outputs.
 */
import { maxAbs, maxAbsDiff } from './compare.js';

/** Central differences of loss with respect to every element of x (x is restored). */
export function finiteDiff(x: Float32Array, h: number, loss: (x: Float32Array) => number): Float64Array {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const x0 = x[i]!;
    x[i] = x0 + h;
    const xp = x[i]!;
    const lp = loss(x);
    x[i] = x0 - h;
    const xm = x[i]!;
    const lm = loss(x);
    x[i] = x0;
    g[i] = (lp - lm) / (xp - xm);
  }
  return g;
}

/** Σ y·w in float64: the scalar loss whose gradient with respect to y is w. */
export function dot(y: ArrayLike<number>, w: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += y[i]! * w[i]!;
  return s;
}

/** ‖analytic − numeric‖∞ / ‖numeric‖∞: the relative error of a gradient as a whole. */
export function gradErr(analytic: ArrayLike<number>, numeric: ArrayLike<number>): number {
  return maxAbsDiff(analytic, numeric) / maxAbs(numeric);
}
