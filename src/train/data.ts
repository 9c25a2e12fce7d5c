/** Checks of the data a fit, predict or evaluate receives. */
import { describe, rangeError, typeError } from '../errors.js';
import type { Loss } from './losses.js';

export type Labels = Uint8Array | Int32Array | Uint16Array | Float32Array;

/** x must be rows × features f32 (finite unless checkFinite is false); returns the rows. */
export function checkX(where: string, name: string, x: unknown, features: number, checkFinite: boolean): number {
  const F = features;
  if (!(x instanceof Float32Array)) throw typeError(`${where}: ${name} must be a Float32Array (rows × ${F}), got ${describe(x)}`, { argument: name, expected: `a Float32Array (rows × ${F})`, received: describe(x) });
  if (x.length === 0 || x.length % F !== 0) {
    throw rangeError(`${where}: ${name} must have a length that is a positive multiple of ${F} (rows × ${F} features), got length ${x.length}`, {
      code: 'SHAPE_MISMATCH', argument: name, expected: `a positive multiple of ${F}`, received: `length ${x.length}`,
    });
  }
  if (checkFinite) {
    for (let i = 0; i < x.length; i++) {
      if (!Number.isFinite(x[i]!)) {
        throw rangeError(`${where}: ${name} must hold finite numbers, got ${x[i]} at row ${Math.floor(i / F)}, feature ${i % F} (pass checkInputs: false to skip this check)`, {
          code: 'NOT_FINITE', argument: name, expected: 'finite numbers', received: String(x[i]),
        });
      }
    }
  }
  return x.length / F;
}

/**
 * Labels or targets → what the loss's kernel reads: Int32Array class indices
 * ('classes') or a Float32Array rows × outputs ('values', 'probabilities'), validated.
 */
export function checkTargets(where: string, name: string, y: unknown, rows: number, K: number, loss: Loss): Int32Array | Float32Array {
  if (!(y instanceof Uint8Array || y instanceof Int32Array || y instanceof Uint16Array || y instanceof Float32Array)) {
    throw typeError(`${where}: ${name} must be class labels (Uint8Array, Uint16Array or Int32Array) or one-hot/targets (Float32Array), got ${describe(y)}`, {
      argument: name, expected: 'Uint8Array | Uint16Array | Int32Array | Float32Array', received: describe(y),
    });
  }
  const shape = (expected: number): never => {
    throw rangeError(`${where}: ${name} must have ${expected === rows ? `one label per row (${rows})` : `length rows·outputs = ${rows}·${K} = ${rows * K}`}, got length ${y.length}`, {
      code: 'SHAPE_MISMATCH', argument: name, expected: `length ${expected}`, received: `length ${y.length}`,
    });
  };
  if (y instanceof Float32Array) {
    if (y.length !== rows * K) {
      throw rangeError(`${where}: ${name} as a Float32Array must have length rows·outputs = ${rows}·${K} = ${rows * K}, got length ${y.length}`, {
        code: 'SHAPE_MISMATCH', argument: name, expected: `length ${rows * K}`, received: `length ${y.length}`,
      });
    }
    for (let i = 0; i < y.length; i++) {
      const v = y[i]!;
      if (!Number.isFinite(v)) throw rangeError(`${where}: ${name} must hold finite numbers, got ${v} at index ${i}`, { code: 'NOT_FINITE', argument: name, expected: 'finite numbers', received: String(v) });
      if (loss.targets === 'probabilities' && (v < 0 || v > 1)) {
        throw rangeError(`${where}: ${name} must hold probabilities in [0, 1] for binaryCrossEntropy, got ${v} at index ${i}`, { argument: name, expected: 'values in [0, 1]', received: String(v) });
      }
    }
    if (loss.targets !== 'classes') return y;
    const labels = new Int32Array(rows);
    for (let r = 0; r < rows; r++) {
      let best = 0;
      for (let j = 1; j < K; j++) if (y[r * K + j]! > y[r * K + best]!) best = j;
      labels[r] = best;
    }
    return labels;
  }
  if (y.length !== rows) shape(rows);
  // With one sigmoid output, labels are the targets 0 and 1 themselves.
  const classes = loss.targets === 'probabilities' && K === 1 ? 2 : K;
  for (let i = 0; i < y.length; i++) {
    const v = y[i]!;
    if (v < 0 || v >= classes) {
      throw rangeError(`${where}: ${name}[${i}] must be a class index in [0, ${classes - 1}], got ${v}`, { argument: `${name}[${i}]`, expected: `an integer in [0, ${classes - 1}]`, received: String(v) });
    }
  }
  if (loss.targets === 'classes') return Int32Array.from(y);
  if (K === 1) return Float32Array.from(y);
  const t = new Float32Array(rows * K);
  for (let r = 0; r < rows; r++) t[r * K + y[r]!] = 1;
  return t;
}
