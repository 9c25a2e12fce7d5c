/**
 * Input conversion: the array kinds users hold (Float32Array, Float64Array,
 * number[][], flat number[]) turned once into the f32 row-major matrices the
 * model reads. A Float32Array is the fast path: it is returned as is (no
 * copy), only scanned once for NaN/±Infinity. Every other kind costs one copy
 * into a new Float32Array (4 bytes per value) plus that scan.
 */
import { describe, mustBe, rangeError, typeError } from '../errors.js';

/** A row-major f32 matrix: `data[r * features + c]`. */
export interface Matrix {
  data: Float32Array;
  rows: number;
  features: number;
}

/** What `toMatrix` accepts: flat typed arrays and number[] need `features`; number[][] gives it by its rows. */
export type MatrixInput = Float32Array | Float64Array | readonly (readonly number[])[] | readonly number[];

/** Label arrays `toTargets` accepts. */
export type TargetInput =
  | Float32Array | Float64Array | Int32Array | Uint8Array | Uint16Array | Int8Array | Int16Array | Uint32Array
  | readonly number[] | readonly (readonly number[])[];

/** 'classification': y holds class indices; 'regression': y holds numeric targets (any number, never a class index). */
export type TargetKind = 'classification' | 'regression';

/** Class indices, one per row. */
export interface ClassTargets {
  kind: 'classification';
  data: Int32Array;
  rows: number;
}

/** Numeric targets, `outputs` per row (row-major). */
export interface RegressionTargets {
  kind: 'regression';
  data: Float32Array;
  rows: number;
  outputs: number;
}

export type Targets = ClassTargets | RegressionTargets;

/** Losses whose targets are numbers, not class indices. */
const REGRESSION_LOSSES: readonly string[] = ['mse', 'mae', 'huber'];

/** The target kind a loss implies: 'regression' for mse, mae and huber, otherwise 'classification'. */
export function targetKindForLoss(loss: string): TargetKind {
  return REGRESSION_LOSSES.includes(loss) ? 'regression' : 'classification';
}

function notFinite(where: string, name: string, value: number, row: number, col: number, width: number): RangeError {
  const at = width === 1 ? `row ${row}` : `row ${row}, column ${col}`;
  return rangeError(`${where}: ${name} must hold finite numbers, got ${value} at ${at} (0-based)`, {
    code: 'NOT_FINITE', argument: `${name}[${row}]${width === 1 ? '' : `[${col}]`}`, expected: 'finite numbers', received: String(value),
  });
}

/** Throws NOT_FINITE naming row and column (0-based) at the first NaN or ±Infinity. */
function checkFinite(where: string, name: string, a: ArrayLike<number>, width: number): void {
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!;
    // v - v is 0 for finite v, NaN for NaN and ±Infinity: one compare per value
    if (v - v !== 0) throw notFinite(where, name, v, Math.floor(i / width), i % width, width);
  }
}

function expectFeatures(where: string, features: unknown): number | undefined {
  if (features === undefined) return undefined;
  if (typeof features !== 'number' || !Number.isInteger(features) || features < 1) {
    const make = typeof features === 'number' ? rangeError : typeError;
    throw make(`${where}: features must be an integer ≥ 1, got ${describe(features)}`, { argument: 'features', expected: 'an integer ≥ 1', received: describe(features) });
  }
  return features;
}

function flatShape(where: string, name: string, length: number, features: number | undefined, kind: string): number {
  if (features === undefined) {
    throw typeError(`${where}: ${name} is a flat ${kind} of ${length} values, so the number of features must be given`, {
      argument: 'features', expected: `the number of features per row of ${name}`, received: 'undefined',
    });
  }
  if (length % features !== 0) {
    throw rangeError(`${where}: ${name} must hold rows × ${features} values, got length ${length} (not a multiple of ${features})`, {
      code: 'SHAPE_MISMATCH', argument: name, expected: `a multiple of ${features} values`, received: `length ${length}`,
    });
  }
  return length / features;
}

/** Copies number[][] (rows of equal length) into f32; a ragged or non-numeric row is named. */
function fromRows(where: string, name: string, x: readonly (readonly number[])[], features: number | undefined): Matrix {
  const rows = x.length;
  const first = x[0];
  const width = features ?? (Array.isArray(first) ? first.length : 0);
  const data = new Float32Array(rows * width);
  for (let r = 0; r < rows; r++) {
    const row = x[r];
    if (!Array.isArray(row)) {
      throw mustBe(where, `${name}[${r}]`, 'an array of numbers', row);
    }
    if (row.length !== width) {
      throw rangeError(`${where}: ${name} has ragged rows: row ${r} has ${row.length} values, expected ${width}${features === undefined ? ' (the length of row 0)' : ''}`, {
        code: 'SHAPE_MISMATCH', argument: `${name}[${r}]`, expected: `${width} values`, received: `${row.length} values`,
      });
    }
    const base = r * width;
    for (let c = 0; c < width; c++) {
      const v = row[c];
      if (typeof v !== 'number') {
        throw mustBe(where, `${name}[${r}][${c}]`, 'a number', v);
      }
      if (v - v !== 0) throw notFinite(where, name, v, r, c, width);
      data[base + c] = v;
    }
  }
  return { data, rows, features: width };
}

/**
 * Turns `x` into a row-major f32 matrix.
 * - Float32Array: returned as is (same object, no copy); needs `features`.
 * - Float64Array and flat number[]: copied (rounded to f32); need `features`.
 * - number[][]: copied; `features` is the row length (checked if given); a ragged row is named.
 * NaN or ±Infinity anywhere → RangeError code NOT_FINITE naming row and column (0-based).
 * `where` is the calling function ("fit"), `name` the argument ("x"), both used in messages.
 */
export function toMatrix(where: string, name: string, x: unknown, features?: number): Matrix {
  const f = expectFeatures(where, features);
  if (x instanceof Float32Array) {
    const rows = flatShape(where, name, x.length, f, 'Float32Array');
    checkFinite(where, name, x, f!);
    return { data: x, rows, features: f! };
  }
  if (x instanceof Float64Array) {
    const rows = flatShape(where, name, x.length, f, 'Float64Array');
    checkFinite(where, name, x, f!);
    return { data: Float32Array.from(x), rows, features: f! };
  }
  if (Array.isArray(x)) {
    if (x.length > 0 && Array.isArray(x[0])) return fromRows(where, name, x as readonly (readonly number[])[], f);
    if (x.length === 0 && f === undefined) return { data: new Float32Array(0), rows: 0, features: 0 };
    const rows = flatShape(where, name, x.length, f, 'number[]');
    const data = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const v: unknown = x[i];
      if (typeof v !== 'number') {
        throw mustBe(where, `${name}[${i}]`, 'a number', v);
      }
      if (v - v !== 0) throw notFinite(where, name, v, Math.floor(i / f!), i % f!, f!);
      data[i] = v;
    }
    return { data, rows, features: f! };
  }
  throw mustBe(where, name, 'a Float32Array, Float64Array, number[][] or number[]', x);
}

export interface ToTargetsOptions {
  /** Class indices or numeric targets: the caller decides (from the loss, see targetKindForLoss), never the values. */
  kind: TargetKind;
  /** Rows expected (from x); checked when given. */
  rows?: number;
  /** classification: the number of classes; each index must be in [0, classes). */
  classes?: number;
  /** regression: values per row (default 1, or the row length of number[][]; with `rows`, inferred as length / rows). */
  outputs?: number;
}

function isNumericArrayLike(y: unknown): y is ArrayLike<number> {
  return ArrayBuffer.isView(y) && !(y instanceof DataView) && !(typeof BigInt64Array !== 'undefined' && (y instanceof BigInt64Array || y instanceof BigUint64Array));
}

/**
 * Turns labels into class indices (Int32Array, one per row; an Int32Array is
 * returned as is) or regression targets (Float32Array rows × outputs; a
 * Float32Array is returned as is). Accepts typed arrays, number[] and (for
 * regression) number[][]. Which one is the caller's flag `kind`: under
 * mse/mae/huber integer labels are targets like any others.
 */
export function toTargets(where: string, name: string, y: unknown, options: ToTargetsOptions): Targets {
  const { kind, rows, classes } = options;
  if (kind === 'classification') {
    let out: Int32Array;
    if (y instanceof Int32Array) out = y;
    else if (isNumericArrayLike(y) || (Array.isArray(y) && !Array.isArray(y[0]))) {
      const a = y as ArrayLike<unknown>;
      out = new Int32Array(a.length);
      for (let i = 0; i < a.length; i++) {
        const v = a[i];
        if (typeof v !== 'number') {
          throw typeError(`${where}: ${name}[${i}] must be a class index, got ${describe(v)}`, { argument: `${name}[${i}]`, expected: 'a class index (integer ≥ 0)', received: describe(v) });
        }
        if (!Number.isInteger(v) || v < 0 || v > 0x7fffffff) {
          throw rangeError(`${where}: ${name}[${i}] must be a class index (an integer ≥ 0), got ${v}`, {
            code: v - v !== 0 ? 'NOT_FINITE' : 'OUT_OF_RANGE', argument: `${name}[${i}]`, expected: 'an integer ≥ 0', received: String(v),
          });
        }
        out[i] = v;
      }
    } else {
      throw typeError(`${where}: ${name} must be class indices as a typed array or number[], got ${describe(y)}`, {
        argument: name, expected: 'a typed array or number[] of class indices', received: describe(y),
      });
    }
    if (rows !== undefined && out.length !== rows) {
      throw rangeError(`${where}: ${name} must have one class index per row (${rows}), got length ${out.length}`, {
        code: 'SHAPE_MISMATCH', argument: name, expected: `length ${rows}`, received: `length ${out.length}`,
      });
    }
    for (let i = 0; i < out.length; i++) {
      const v = out[i]!;
      if (v < 0 || (classes !== undefined && v >= classes)) {
        throw rangeError(`${where}: ${name}[${i}] must be a class index in [0, ${(classes ?? 1) - 1}], got ${v}`, {
          argument: `${name}[${i}]`, expected: classes === undefined ? 'an integer ≥ 0' : `an integer in [0, ${classes - 1}]`, received: String(v),
        });
      }
    }
    return { kind, data: out, rows: out.length };
  }
  if (kind !== 'regression') {
    throw typeError(`${where}: options.kind must be 'classification' or 'regression', got ${describe(kind)}`, {
      argument: 'options.kind', expected: "'classification' or 'regression'", received: describe(kind),
    });
  }
  // regression
  if (Array.isArray(y) && y.length > 0 && Array.isArray(y[0])) {
    const m = fromRows(where, name, y as readonly (readonly number[])[], options.outputs);
    if (rows !== undefined && m.rows !== rows) {
      throw rangeError(`${where}: ${name} must have one row of targets per row of x (${rows}), got ${m.rows}`, {
        code: 'SHAPE_MISMATCH', argument: name, expected: `${rows} rows`, received: `${m.rows} rows`,
      });
    }
    return { kind, data: m.data, rows: m.rows, outputs: m.features };
  }
  if (!isNumericArrayLike(y) && !Array.isArray(y)) {
    throw typeError(`${where}: ${name} must be numeric targets as a typed array, number[] or number[][], got ${describe(y)}`, {
      argument: name, expected: 'a typed array, number[] or number[][]', received: describe(y),
    });
  }
  const a = y as ArrayLike<unknown>;
  const outputs = options.outputs ?? (rows !== undefined && rows > 0 ? a.length / rows : 1);
  if (!Number.isInteger(outputs) || outputs < 1 || a.length % outputs !== 0 || (rows !== undefined && a.length !== rows * outputs)) {
    const expected = rows !== undefined ? `length ${rows}${options.outputs !== undefined ? ` × ${options.outputs}` : ' × outputs'}` : `a multiple of ${outputs}`;
    throw rangeError(`${where}: ${name} must hold ${expected} targets, got length ${a.length}`, {
      code: 'SHAPE_MISMATCH', argument: name, expected, received: `length ${a.length}`,
    });
  }
  let data: Float32Array;
  if (y instanceof Float32Array) {
    checkFinite(where, name, y, outputs);
    data = y;
  } else {
    data = new Float32Array(a.length);
    for (let i = 0; i < a.length; i++) {
      const v = a[i];
      if (typeof v !== 'number') {
        throw mustBe(where, `${name}[${i}]`, 'a number', v);
      }
      if (v - v !== 0) throw notFinite(where, name, v, Math.floor(i / outputs), i % outputs, outputs);
      data[i] = v;
    }
  }
  return { kind, data, rows: a.length / outputs, outputs };
}
