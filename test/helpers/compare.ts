/**
 * Numeric comparisons for the tests. Every one treats NaN as a failure.
 */
import { expect } from 'vitest';

type Vec = ArrayLike<number>;

/** ‖v‖∞ (NaN if any element is NaN). */
export function maxAbs(v: Vec): number {
  let m = 0;
  for (let i = 0; i < v.length; i++) {
    const a = Math.abs(v[i]!);
    if (Number.isNaN(a)) return NaN;
    if (a > m) m = a;
  }
  return m;
}

/** ‖a−b‖∞ (Infinity on a length mismatch, NaN if any element is NaN). */
export function maxAbsDiff(a: Vec, b: Vec): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (Number.isNaN(d)) return NaN;
    if (d > m) m = d;
  }
  return m;
}

/** The agreement measure of issue 2: ‖a−b‖∞ / max(1, ‖b‖∞). */
export function relErr(a: Vec, b: Vec): number {
  return maxAbsDiff(a, b) / Math.max(1, maxAbs(b));
}

/** Asserts relErr(actual, expected) ≤ tol (a NaN anywhere fails). */
export function expectRelErr(actual: Vec, expected: Vec, tol: number, label = ''): void {
  expect(actual.length, `${label}: length`).toBe(expected.length);
  const e = relErr(actual, expected);
  expect(e, `${label}: relative error ${e} > ${tol}`).toBeLessThanOrEqual(tol);
}

/** Asserts |a−b| ≤ atol + rtol·|b| elementwise (numpy's allclose; NaN fails). */
export function expectAllClose(actual: Vec, expected: Vec, rtol: number, atol: number, label = ''): void {
  expect(actual.length, `${label}: length`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!, b = expected[i]!;
    const ok = Math.abs(a - b) <= atol + rtol * Math.abs(b);
    if (!ok) expect.fail(`${label}[${i}]: got ${a}, expected ${b} (rtol ${rtol}, atol ${atol})`);
  }
}

/** Asserts every element is finite. */
export function expectFinite(v: Vec, label = ''): void {
  for (let i = 0; i < v.length; i++) {
    if (!Number.isFinite(v[i]!)) expect.fail(`${label}[${i}] is ${v[i]}, expected a finite number`);
  }
}
