/**
 * Checks and conversion of the data a fit, predict or evaluate receives.
 * x: a Float32Array rows × features is the fast path (used as is, one scan
 * for NaN/±Infinity); Float64Array, number[][] and flat number[] are
 * converted once into a new Float32Array (src/data/convert.ts).
 * y: class indices or targets, by the loss: under mse, mae and huber any
 * numeric y is a target (rows × outputs), never a class index.
 */
import { toMatrix, toTargets, type MatrixInput, type TargetInput } from '../data/convert.js';
import { describe, mustBe, rangeError, typeError } from '../errors.js';
import type { Loss } from './losses.js';

/** What fit, predict and evaluate take as x. */
export type Features = MatrixInput;
/** Labels (class indices) or targets; under mse/mae/huber always targets. */
export type Labels = TargetInput;

/**
 * x as rows × features f32 (finite unless checkFinite is false; the check is
 * only skipped for a Float32Array, conversions always check). A Float32Array
 * is returned as is.
 */
export function toX(where: string, name: string, x: unknown, features: number, checkFinite: boolean): { data: Float32Array; rows: number } {
  const F = features;
  if (x instanceof Float32Array) {
    if (x.length === 0 || x.length % F !== 0) {
      throw rangeError(`${where}: ${name} must have a length that is a positive multiple of ${F} (rows × ${F} features), got length ${x.length}`, {
        code: 'SHAPE_MISMATCH', argument: name, expected: `a positive multiple of ${F}`, received: `length ${x.length}`,
      });
    }
    if (checkFinite) {
      for (let i = 0; i < x.length; i++) {
        const v = x[i]!;
        if (v - v !== 0) {
          throw rangeError(`${where}: ${name} must hold finite numbers, got ${v} at row ${Math.floor(i / F)}, feature ${i % F} (pass checkInputs: false to skip this check)`, {
            code: 'NOT_FINITE', argument: name, expected: 'finite numbers', received: String(v),
          });
        }
      }
    }
    return { data: x, rows: x.length / F };
  }
  if (!(x instanceof Float64Array) && !Array.isArray(x)) {
    throw mustBe(where, name, `a Float32Array (rows × ${F}), Float64Array, number[][] or number[]`, x);
  }
  const rowsGiven = Array.isArray(x) && x.length > 0 && Array.isArray(x[0]);
  const m = toMatrix(where, name, x, rowsGiven ? undefined : F);
  if (m.features !== F || m.rows === 0) {
    throw rangeError(`${where}: ${name} must have rows of ${F} features, got ${m.rows} rows of ${m.features}`, {
      code: 'SHAPE_MISMATCH', argument: name, expected: `rows of ${F} features`, received: `${m.rows} rows of ${m.features}`,
    });
  }
  return { data: m.data, rows: m.rows };
}

/** Row count of x (checked; see toX). Kept for callers that only need the rows. */
export function checkX(where: string, name: string, x: unknown, features: number, checkFinite: boolean): number {
  return toX(where, name, x, features, checkFinite).rows;
}

const INTEGER_ARRAYS = [Uint8Array, Int8Array, Uint16Array, Int16Array, Int32Array, Uint32Array];

/**
 * Labels or targets → what the loss's kernel reads: Int32Array class indices
 * ('classes') or a Float32Array rows × outputs ('values', 'probabilities'), validated.
 */
export function checkTargets(where: string, name: string, y: unknown, rows: number, K: number, loss: Loss): Int32Array | Float32Array {
  const numeric = ArrayBuffer.isView(y) && !(y instanceof DataView) && !(y instanceof BigInt64Array) && !(y instanceof BigUint64Array);
  if (!numeric && !Array.isArray(y)) {
    throw typeError(`${where}: ${name} must be class labels or targets (a typed array, number[] or number[][]), got ${describe(y)}`, {
      argument: name, expected: 'a typed array, number[] or number[][]', received: describe(y),
    });
  }
  // mse, mae, huber: whatever the numbers, they are targets.
  if (loss.targets === 'values') return toTargets(where, name, y, { kind: 'regression', rows, outputs: K }).data as Float32Array;
  const a = y as ArrayLike<unknown>;
  const nested = Array.isArray(y) && y.length > 0 && Array.isArray(y[0]);
  const integer = INTEGER_ARRAYS.some((C) => y instanceof C);
  // rows × K values (one-hot, soft labels, probabilities), unless they are one integer label per row
  if (nested || (!integer && a.length === rows * K && (K > 1 || y instanceof Float32Array || loss.targets === 'probabilities'))) {
    const f = toTargets(where, name, y, { kind: 'regression', rows, outputs: K }).data;
    if (loss.targets === 'probabilities') {
      for (let i = 0; i < f.length; i++) {
        const v = f[i]!;
        if (v < 0 || v > 1) throw rangeError(`${where}: ${name} must hold probabilities in [0, 1] for binaryCrossEntropy, got ${v} at index ${i}`, { argument: name, expected: 'values in [0, 1]', received: String(v) });
      }
      return f;
    }
    const labels = new Int32Array(rows);
    for (let r = 0; r < rows; r++) {
      let best = 0;
      for (let j = 1; j < K; j++) if (f[r * K + j]! > f[r * K + best]!) best = j;
      labels[r] = best;
    }
    return labels;
  }
  if (a.length !== rows) {
    throw rangeError(`${where}: ${name} must have one label per row (${rows}) or rows·outputs = ${rows}·${K} = ${rows * K} values, got length ${a.length}`, {
      code: 'SHAPE_MISMATCH', argument: name, expected: `length ${rows}`, received: `length ${a.length}`,
    });
  }
  // With one sigmoid output, labels are the targets 0 and 1 themselves.
  const classes = loss.targets === 'probabilities' && K === 1 ? 2 : K;
  const labels = toTargets(where, name, y, { kind: 'classification', rows, classes }).data;
  if (loss.targets === 'classes') return labels;
  if (K === 1) return Float32Array.from(labels);
  const t = new Float32Array(rows * K);
  for (let r = 0; r < rows; r++) t[r * K + labels[r]!] = 1;
  return t;
}
