/**
 * trainTestSplit: a seeded, exact split of rows into a training and a test
 * part, optionally stratified by class, like scikit-learn's train_test_split.
 *
 * Counts: the test part has round(testFraction · rows) rows. Stratified, each
 * class c of n_c rows gives floor(testFraction · n_c) test rows, and the rows
 * left to reach the total go to the classes with the largest remainders
 * (ties: the smaller class index), so every class is within one row of its
 * exact share and the total is exact. Rows keep their original order inside
 * each part (fit shuffles anyway); the chosen rows depend only on the seed.
 */
import { describe, expectOptions, rangeError, typeError } from '../errors.js';
import { Random } from '../model/random.js';
import { toMatrix, type MatrixInput } from './convert.js';

export interface SplitOptions {
  /** Share of rows in the test part, in (0, 1). Default 0.2. */
  testFraction?: number;
  /** Keep each class's share in both parts (y must be class indices, one per row). Default false. */
  stratify?: boolean;
  /** Seed of the shuffle (normcore's Random, mulberry32). Default 1. */
  seed?: number;
  /** Values per row of x when x is flat (Float32Array, Float64Array, number[]). */
  features?: number;
}

/** Labels or targets: typed arrays keep their type in the parts; number[] and number[][] become Float64Array (lossless). */
export type SplitLabels =
  | Float32Array | Float64Array | Int32Array | Uint8Array | Uint16Array | Int8Array | Int16Array | Uint32Array
  | readonly number[] | readonly (readonly number[])[];

type LabelArray = Float32Array | Float64Array | Int32Array | Uint8Array | Uint16Array | Int8Array | Int16Array | Uint32Array;

export interface Split<Y extends LabelArray = LabelArray> {
  xTrain: Float32Array;
  yTrain: Y;
  xTest: Float32Array;
  yTest: Y;
  /** Row indices (into the input) of each part, ascending. */
  trainIndex: Int32Array;
  testIndex: Int32Array;
  features: number;
  /** Values of y per row (1 for class indices). */
  outputs: number;
}

const WHERE = 'trainTestSplit';
const KNOWN = ['testFraction', 'stratify', 'seed', 'features'] as const;

function labelsArray(y: unknown): LabelArray {
  if (ArrayBuffer.isView(y) && !(y instanceof DataView) && !(y instanceof BigInt64Array) && !(y instanceof BigUint64Array)) return y as LabelArray;
  if (Array.isArray(y)) {
    if (y.length > 0 && Array.isArray(y[0])) {
      const width = (y[0] as number[]).length;
      const out = new Float64Array(y.length * width);
      for (let r = 0; r < y.length; r++) {
        const row = y[r] as unknown;
        if (!Array.isArray(row) || row.length !== width) {
          throw rangeError(`${WHERE}: y has ragged rows: row ${r} has ${Array.isArray(row) ? row.length : describe(row)} values, expected ${width}`, {
            code: 'SHAPE_MISMATCH', argument: `y[${r}]`, expected: `${width} values`, received: describe(row),
          });
        }
        for (let c = 0; c < width; c++) {
          const v: unknown = row[c];
          if (typeof v !== 'number') throw typeError(`${WHERE}: y[${r}][${c}] must be a number, got ${describe(v)}`, { argument: `y[${r}][${c}]`, expected: 'a number', received: describe(v) });
          out[r * width + c] = v;
        }
      }
      return out;
    }
    const out = new Float64Array(y.length);
    for (let i = 0; i < y.length; i++) {
      const v: unknown = y[i];
      if (typeof v !== 'number') throw typeError(`${WHERE}: y[${i}] must be a number, got ${describe(v)}`, { argument: `y[${i}]`, expected: 'a number', received: describe(v) });
      out[i] = v;
    }
    return out;
  }
  throw typeError(`${WHERE}: y must be a typed array, number[] or number[][], got ${describe(y)}`, {
    argument: 'y', expected: 'a typed array, number[] or number[][]', received: describe(y),
  });
}

/** Ascending row indices of the test part. */
function chooseTest(rows: number, nTest: number, seed: number, classes: Int32Array | undefined, fraction: number): Int32Array {
  const rng = new Random(seed);
  const isTest = new Uint8Array(rows);
  if (classes === undefined) {
    const order = new Int32Array(rows);
    for (let i = 0; i < rows; i++) order[i] = i;
    rng.shuffle(order);
    for (let i = 0; i < nTest; i++) isTest[order[i]!] = 1;
  } else {
    let k = 0;
    for (let i = 0; i < rows; i++) k = Math.max(k, classes[i]! + 1);
    const count = new Int32Array(k);
    for (let i = 0; i < rows; i++) count[classes[i]!]!++;
    // largest remainder: floor shares, then the missing rows to the largest fractional parts
    const take = new Int32Array(k);
    const rem: { c: number; r: number }[] = [];
    let given = 0;
    for (let c = 0; c < k; c++) {
      const exact = fraction * count[c]!;
      take[c] = Math.floor(exact);
      given += take[c]!;
      rem.push({ c, r: exact - take[c]! });
    }
    rem.sort((a, b) => b.r - a.r || a.c - b.c);
    for (let i = 0; given < nTest && i < rem.length; i++) {
      const c = rem[i]!.c;
      if (take[c]! < count[c]!) { take[c]!++; given++; }
    }
    // rows of each class, in order, then one shuffle per class (classes in index order)
    const start = new Int32Array(k + 1);
    for (let c = 0; c < k; c++) start[c + 1] = start[c]! + count[c]!;
    const byClass = new Int32Array(rows);
    const fill = start.slice(0, k);
    for (let i = 0; i < rows; i++) byClass[fill[classes[i]!]!++] = i;
    for (let c = 0; c < k; c++) {
      const part = byClass.subarray(start[c]!, start[c + 1]!);
      rng.shuffle(part);
      for (let i = 0; i < take[c]!; i++) isTest[part[i]!] = 1;
    }
  }
  const test = new Int32Array(nTest);
  for (let i = 0, j = 0; i < rows; i++) if (isTest[i]) test[j++] = i;
  return test;
}

function gather<T extends LabelArray>(src: T, width: number, index: Int32Array): T {
  const ctor = src.constructor as new (n: number) => T;
  const out = new ctor(index.length * width);
  for (let i = 0; i < index.length; i++) {
    const from = index[i]! * width;
    out.set(src.subarray(from, from + width) as ArrayLike<number> as never, i * width);
  }
  return out;
}

/**
 * Splits rows of x (Float32Array/Float64Array/number[] with `features`, or number[][])
 * and y (one or more values per row) into training and test parts.
 */
export function trainTestSplit<Y extends SplitLabels>(x: MatrixInput, y: Y, options?: SplitOptions): Split<Y extends LabelArray ? Y : Float64Array> {
  const o = expectOptions(WHERE, 'options', options, KNOWN);
  const fraction = o.testFraction ?? 0.2;
  if (typeof fraction !== 'number' || !(fraction > 0 && fraction < 1)) {
    const make = typeof fraction === 'number' ? rangeError : typeError;
    throw make(`${WHERE}: options.testFraction must be a number in (0, 1), got ${describe(fraction)}`, { argument: 'options.testFraction', expected: 'a number in (0, 1)', received: describe(fraction) });
  }
  const seed = o.seed ?? 1;
  if (typeof seed !== 'number' || !Number.isInteger(seed)) {
    throw typeError(`${WHERE}: options.seed must be an integer, got ${describe(seed)}`, { argument: 'options.seed', expected: 'an integer', received: describe(seed) });
  }
  const stratify = o.stratify ?? false;
  if (typeof stratify !== 'boolean') {
    throw typeError(`${WHERE}: options.stratify must be a boolean, got ${describe(stratify)}`, { argument: 'options.stratify', expected: 'a boolean', received: describe(stratify) });
  }
  const m = toMatrix(WHERE, 'x', x, o.features);
  const labels = labelsArray(y);
  const rows = m.rows;
  if (rows === 0 || labels.length % rows !== 0) {
    throw rangeError(`${WHERE}: y must have the same number of rows as x (${rows}), got length ${labels.length}`, {
      code: 'SHAPE_MISMATCH', argument: 'y', expected: `a multiple of ${rows} values (rows of x)`, received: `length ${labels.length}`,
    });
  }
  const outputs = labels.length / rows;
  const nTest = Math.round(fraction * rows);
  if (nTest < 1 || nTest > rows - 1) {
    throw rangeError(`${WHERE}: options.testFraction ${fraction} of ${rows} rows gives ${nTest} test rows; both parts need at least one row`, {
      argument: 'options.testFraction', expected: `a fraction giving 1…${rows - 1} test rows of ${rows}`, received: String(fraction),
    });
  }
  let classes: Int32Array | undefined;
  if (stratify) {
    if (outputs !== 1) {
      throw rangeError(`${WHERE}: stratify needs one class index per row, got ${outputs} values per row`, {
        code: 'SHAPE_MISMATCH', argument: 'y', expected: `${rows} class indices`, received: `length ${labels.length}`,
      });
    }
    classes = new Int32Array(rows);
    for (let i = 0; i < rows; i++) {
      const v = labels[i]!;
      if (!Number.isInteger(v) || v < 0 || v > 0xffffff) {
        throw rangeError(`${WHERE}: stratify needs class indices (integers ≥ 0) in y, got y[${i}] = ${v}`, {
          argument: `y[${i}]`, expected: 'a class index (integer ≥ 0)', received: String(v),
        });
      }
      classes[i] = v;
    }
  }
  const testIndex = chooseTest(rows, nTest, seed, classes, fraction);
  const trainIndex = new Int32Array(rows - nTest);
  for (let i = 0, t = 0, j = 0; i < rows; i++) {
    if (t < nTest && testIndex[t] === i) t++;
    else trainIndex[j++] = i;
  }
  return {
    xTrain: gather(m.data, m.features, trainIndex),
    xTest: gather(m.data, m.features, testIndex),
    yTrain: gather(labels, outputs, trainIndex),
    yTest: gather(labels, outputs, testIndex),
    trainIndex, testIndex, features: m.features, outputs,
  } as Split<Y extends LabelArray ? Y : Float64Array>;
}
