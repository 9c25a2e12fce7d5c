/**
 * Normalization: a fixed per-feature standardization, as Keras'
 * `Normalization` layer. `adapt(x)` computes each feature's mean and
 * population variance (src/data/stats.ts: two passes in f64, chunks merged
 * with Chan's update) and stores them as f32 state in the model file; the
 * layer then maps, in training and inference alike,
 *   out = (x − mean) / sqrt(variance + eps)
 * Nothing is trained. The forward is batchnormInference with γ = 1, β = 0
 * (computed as (x − mean)·(1/sqrt(variance + eps)): one extra f32 rounding,
 * within 2 ulp of the quotient); the backward is the same kernel on dout
 * with a zero mean: dinp = dout / sqrt(variance + eps).
 * Before adapt (or the mean/variance options) mean is 0 and variance 1.
 */
import type { Kernels, Ptr } from '../backend/types.js';
import { featureStats, featureStatsStream, type FeatureStats, type StatsChunk } from '../data/stats.js';
import type { MatrixInput } from '../data/convert.js';
import { describe, expectF32, expectF32Number, expectInt, expectOptions, rangeError, typeError } from '../errors.js';
import type { NormalizationConfig } from './config.js';
import { Layer, widthMismatch, type Binding, type InitHint, type StateSpec } from './layer.js';

export interface NormalizationOptions {
  /** Per-feature means (default 0, or set by adapt). */
  mean?: ArrayLike<number>;
  /** Per-feature variances ≥ 0 (default 1, or set by adapt). */
  variance?: ArrayLike<number>;
  /** Added to the variance under the square root. Default 1e-7 (Keras' epsilon). */
  eps?: number;
}

function isStream(v: unknown): v is AsyncIterable<StatsChunk> | Iterable<StatsChunk> {
  if (typeof v !== 'object' || v === null || ArrayBuffer.isView(v) || Array.isArray(v)) return false;
  return Symbol.asyncIterator in v || Symbol.iterator in v;
}

export class Normalization extends Layer {
  readonly type = 'normalization' as const;
  readonly features: number;
  readonly eps: number;
  /** The values a new model starts from (and what adapt set while the layer had no model). */
  #mean: Float32Array;
  #variance: Float32Array;
  /** Rows the statistics were computed from (0: never adapted; -1: given in the options). */
  #count = 0;

  /**
   * @param features width of the input and output (integer ≥ 1)
   * @param options  { mean, variance (default: 0 and 1 until adapt), eps = 1e-7 }
   */
  constructor(features: number, options?: NormalizationOptions) {
    super();
    this.features = expectInt('Normalization', 'features', features);
    const o = expectOptions('Normalization', 'options', options, ['mean', 'variance', 'eps']);
    this.eps = expectF32Number('Normalization', 'options.eps', o.eps ?? 1e-7, 0, Infinity, true);
    this.#mean = o.mean === undefined ? new Float32Array(this.features) : expectF32('Normalization', 'options.mean', Float32Array.from(o.mean), this.features, 'means');
    this.#variance = o.variance === undefined ? new Float32Array(this.features).fill(1) : expectF32('Normalization', 'options.variance', Float32Array.from(o.variance), this.features, 'variances');
    if (this.#variance.some((v) => !(v >= 0))) throw rangeError('Normalization: options.variance must hold values ≥ 0', { argument: 'options.variance', expected: 'values ≥ 0', received: describe(o.variance) });
    if (o.mean !== undefined || o.variance !== undefined) this.#count = -1;
  }

  get inFeatures(): number {
    return this.features;
  }

  get outFeatures(): number {
    return this.features;
  }

  /** True once adapt ran (or mean/variance were given, or the layer was read from a file). */
  get adapted(): boolean {
    return this.#count !== 0;
  }

  override get initHint(): InitHint {
    return 'transparent';
  }

  outputWidth(width: number, index: number): number {
    if (width !== this.features) widthMismatch(this, index, this.features, width);
    return this.features;
  }

  override stateSpecs(): StateSpec[] {
    const C = this.features;
    // ones and zeros: the constant γ = 1 and β = 0 the kernel reads (not in the file)
    return [{ name: 'mean', size: C }, { name: 'variance', size: C }, { name: 'ones', size: C, inFile: false }, { name: 'zeros', size: C, inFile: false }];
  }

  override initialValues(): Record<string, Float32Array> {
    return { mean: this.#mean, variance: this.#variance, ones: new Float32Array(this.features).fill(1), zeros: new Float32Array(this.features) };
  }

  override checkState(name: string, v: Float32Array): string | undefined {
    if (name === 'variance' && v.some((x) => x < 0)) return 'a Normalization variance is negative';
    return undefined;
  }

  override bind(binding: Binding | undefined): void {
    // Leaving a model: keep its statistics for the next one.
    if (binding === undefined && this.binding) {
      const s = this.stateValues();
      this.#mean = s.mean!;
      this.#variance = s.variance!;
    }
    super.bind(binding);
  }

  /** Copies of the per-feature mean and variance in use. */
  statistics(): { mean: Float32Array; variance: Float32Array } {
    if (!this.binding) return { mean: this.#mean.slice(), variance: this.#variance.slice() };
    const s = this.stateValues();
    return { mean: s.mean!, variance: s.variance! };
  }

  /** Sets mean and variance from computed statistics (f64, rounded to f32 once). */
  setStatistics(stats: FeatureStats): this {
    if (stats.mean.length !== this.features) {
      throw rangeError(`Normalization.adapt: x must have ${this.features} features per row, got ${stats.mean.length}`, {
        code: 'SHAPE_MISMATCH', argument: 'x', expected: `${this.features} features`, received: `${stats.mean.length} features`,
      });
    }
    if (stats.count === 0) throw rangeError('Normalization.adapt: x has no rows', { argument: 'x', expected: 'at least one row', received: '0 rows' });
    this.#mean = Float32Array.from(stats.mean);
    this.#variance = Float32Array.from(stats.variance);
    this.#count = stats.count;
    if (this.binding) {
      const { heap, state } = this.binding;
      heap.write(state.mean!, this.#mean);
      heap.write(state.variance!, this.#variance);
    }
    return this;
  }

  /**
   * Computes the per-feature mean and population variance of x (rows ×
   * features: Float32Array, Float64Array, number[][] or flat number[]). From
   * an (async) iterable of chunks (matrices or { x } batches) it reads one
   * chunk at a time and returns a promise.
   */
  adapt(x: MatrixInput): this;
  adapt(x: AsyncIterable<StatsChunk> | Iterable<StatsChunk>): Promise<this>;
  adapt(x: unknown): this | Promise<this> {
    if (isStream(x)) return featureStatsStream(x, this.features).then((s) => this.setStatistics(s));
    if (!(x instanceof Float32Array || x instanceof Float64Array || Array.isArray(x))) {
      throw typeError(`Normalization.adapt: x must be a Float32Array, Float64Array, number[][], number[] or an (async) iterable of chunks, got ${describe(x)}`, {
        argument: 'x', expected: 'rows × features, or an (async) iterable of chunks', received: describe(x),
      });
    }
    const nested = Array.isArray(x) && Array.isArray(x[0]);
    return this.setStatistics(featureStats(x as MatrixInput, nested ? undefined : this.features));
  }

  forward(k: Kernels, out: Ptr, inp: Ptr, rows: number): void {
    const { state } = this.b;
    k.batchnormInference(out, inp, state.ones!, state.zeros!, state.mean!, state.variance!, rows, this.features, this.eps);
  }

  /** dinp = dout / sqrt(variance + eps): the forward's kernel with mean 0. */
  backward(k: Kernels, dinp: Ptr, dout: Ptr, _inp: Ptr, _out: Ptr, rows: number, needDinp: boolean): void {
    if (!needDinp) return;
    const { state } = this.b;
    k.batchnormInference(dinp, dout, state.ones!, state.zeros!, state.zeros!, state.variance!, rows, this.features, this.eps);
  }

  override describe(): string {
    return this.adapted ? 'normalization' : 'normalization (not adapted)';
  }

  config(): NormalizationConfig {
    return { type: 'normalization', features: this.features, eps: this.eps };
  }

  /** @internal From a model file's config (its mean and variance are the file's state). */
  static fromConfig(c: NormalizationConfig, _where: string): Normalization {
    const l = new Normalization(c.features, { eps: c.eps });
    l.#count = -1;
    return l;
  }
}
