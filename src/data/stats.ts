/**
 * Per-feature mean and variance for the Normalization layer's adapt().
 *
 * One chunk: two passes in f64 (the mean, then the sum of squared deviations
 * from it), so a feature with mean 1e4 and standard deviation 0.1 keeps its
 * variance (the one-pass Σx² − n·mean² would cancel every digit in f32 and
 * most in f64). Chunks are merged with Chan et al.'s pairwise update
 * (n = na + nb, δ = mean_b − mean_a, M2 = M2a + M2b + δ²·na·nb/n), so a data
 * set streamed in batches gives the same result as one pass over all of it,
 * up to f64 rounding.
 *
 * The variance is the population variance (divided by n, not n − 1), as
 * Keras' Normalization layer computes it.
 */
import { describe, mustBe, rangeError, typeError } from '../errors.js';
import { toMatrix, type MatrixInput } from './convert.js';

/** Sufficient statistics of a set of rows: count, per-feature mean and sum of squared deviations (M2). */
export interface Moments {
  count: number;
  mean: Float64Array;
  m2: Float64Array;
}

/** The result of adapt: per-feature mean and population variance. */
export interface FeatureStats {
  count: number;
  mean: Float64Array;
  variance: Float64Array;
}

/** Moments of one chunk (rows × features, row-major), two-pass in f64. */
export function chunkMoments(data: ArrayLike<number>, rows: number, features: number): Moments {
  const mean = new Float64Array(features);
  const m2 = new Float64Array(features);
  if (rows === 0) return { count: 0, mean, m2 };
  for (let r = 0; r < rows; r++) {
    const base = r * features;
    for (let c = 0; c < features; c++) mean[c]! += data[base + c]!;
  }
  for (let c = 0; c < features; c++) mean[c]! /= rows;
  // second pass; the compensation term Σd (zero in exact arithmetic) removes the mean's rounding error
  const comp = new Float64Array(features);
  for (let r = 0; r < rows; r++) {
    const base = r * features;
    for (let c = 0; c < features; c++) {
      const d = data[base + c]! - mean[c]!;
      m2[c]! += d * d;
      comp[c]! += d;
    }
  }
  for (let c = 0; c < features; c++) m2[c]! -= (comp[c]! * comp[c]!) / rows;
  return { count: rows, mean, m2 };
}

/** Chan's merge of two sets of moments (same features); neither input is changed. */
export function mergeMoments(a: Moments, b: Moments): Moments {
  if (a.mean.length !== b.mean.length) {
    throw rangeError(`mergeMoments: both sides must have the same number of features, got ${a.mean.length} and ${b.mean.length}`, {
      code: 'SHAPE_MISMATCH', argument: 'b', expected: `${a.mean.length} features`, received: `${b.mean.length} features`,
    });
  }
  if (b.count === 0) return { count: a.count, mean: a.mean.slice(), m2: a.m2.slice() };
  if (a.count === 0) return { count: b.count, mean: b.mean.slice(), m2: b.m2.slice() };
  const n = a.count + b.count;
  const f = a.mean.length;
  const mean = new Float64Array(f);
  const m2 = new Float64Array(f);
  for (let c = 0; c < f; c++) {
    const delta = b.mean[c]! - a.mean[c]!;
    mean[c] = a.mean[c]! + (delta * b.count) / n;
    m2[c] = a.m2[c]! + b.m2[c]! + (delta * delta * a.count * b.count) / n;
  }
  return { count: n, mean, m2 };
}

/** Mean and population variance from moments (variance 0 for a constant feature; NaN for none of the rows). */
export function momentsToStats(m: Moments): FeatureStats {
  const variance = new Float64Array(m.mean.length);
  for (let c = 0; c < variance.length; c++) variance[c] = m.count === 0 ? NaN : Math.max(0, m.m2[c]! / m.count);
  return { count: m.count, mean: m.mean.slice(), variance };
}

/**
 * Streaming accumulation: add chunks (batches) one by one, read the stats at
 * any time. Memory: three f64 arrays of `features` values, whatever the rows.
 */
export class MomentsAccumulator {
  private moments: Moments;
  readonly features: number;

  constructor(features: number) {
    if (!Number.isInteger(features) || features < 1) {
      throw mustBe('MomentsAccumulator', 'features', 'an integer ≥ 1', features, true);
    }
    this.features = features;
    this.moments = { count: 0, mean: new Float64Array(features), m2: new Float64Array(features) };
  }

  /** Adds a chunk: any toMatrix input (a flat array is read as rows × this.features). */
  add(x: MatrixInput): this {
    const m = toMatrix('MomentsAccumulator.add', 'x', x, Array.isArray(x) && Array.isArray(x[0]) ? undefined : this.features);
    if (m.rows > 0 && m.features !== this.features) {
      throw rangeError(`MomentsAccumulator.add: x must have ${this.features} features per row, got ${m.features}`, {
        code: 'SHAPE_MISMATCH', argument: 'x', expected: `${this.features} features`, received: `${m.features} features`,
      });
    }
    this.moments = mergeMoments(this.moments, chunkMoments(m.data, m.rows, this.features));
    return this;
  }

  get count(): number {
    return this.moments.count;
  }

  /** A copy of the current moments (for merging accumulators run in parallel). */
  snapshot(): Moments {
    return { count: this.moments.count, mean: this.moments.mean.slice(), m2: this.moments.m2.slice() };
  }

  result(): FeatureStats {
    return momentsToStats(this.moments);
  }
}

/** Per-feature mean and population variance of x (one chunk; flat inputs need `features`). */
export function featureStats(x: MatrixInput, features?: number): FeatureStats {
  const m = toMatrix('featureStats', 'x', x, features);
  return momentsToStats(chunkMoments(m.data, m.rows, m.features));
}

/** A chunk of a stream: a matrix input, or a batch object whose `x` is one (its `y` is ignored). */
export type StatsChunk = MatrixInput | { x: MatrixInput };

function isIterable(v: unknown): v is Iterable<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as Iterable<unknown>)[Symbol.iterator] === 'function';
}
function isAsyncIterable(v: unknown): v is AsyncIterable<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function';
}

/**
 * Stats over a stream of chunks (an async iterable, e.g. an async generator
 * reading a file, or a sync iterable of chunks). Memory: one chunk at a time.
 * `features` is needed when the chunks are flat arrays.
 */
export async function featureStatsStream(source: AsyncIterable<StatsChunk> | Iterable<StatsChunk>, features?: number): Promise<FeatureStats> {
  const flat = ArrayBuffer.isView(source) || (Array.isArray(source) && typeof source[0] === 'number');
  if (flat || (!isAsyncIterable(source) && !isIterable(source))) {
    throw typeError(`featureStatsStream: source must be an iterable or async iterable of chunks, got ${describe(source)}`, {
      argument: 'source', expected: 'an (async) iterable of chunks', received: describe(source),
    });
  }
  let acc: MomentsAccumulator | undefined;
  let index = 0;
  for await (const chunk of source as AsyncIterable<StatsChunk>) {
    const x: unknown = typeof chunk === 'object' && chunk !== null && !Array.isArray(chunk) && !ArrayBuffer.isView(chunk) ? (chunk as { x: unknown }).x : chunk;
    const m = toMatrix('featureStatsStream', `chunk ${index}`, x, Array.isArray(x) && Array.isArray(x[0]) ? undefined : features);
    index++;
    if (m.rows === 0) continue;
    acc ??= new MomentsAccumulator(m.features);
    if ( m.features !== acc.features) {
      throw rangeError(`featureStatsStream: chunk ${index - 1} has ${m.features} features per row, the first chunk had ${acc.features}`, {
        code: 'SHAPE_MISMATCH', argument: `chunk ${index - 1}`, expected: `${acc.features} features`, received: `${m.features} features`,
      });
    }
    acc.add(m.data);
  }
  if (acc === undefined) {
    throw rangeError('featureStatsStream: the source gave no rows', { argument: 'source', expected: 'at least one row', received: `${index} empty chunks` });
  }
  return acc.result();
}
