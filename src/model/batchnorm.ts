/**
 * Batch normalization over the batch, per feature. Training: normalizes with
 * the batch mean and biased variance and updates the running statistics
 * (running variance unbiased, σ²·N/(N−1)). Inference: uses the running
 * statistics. Needs at least 2 rows in training mode. A 'probe' forward
 * (see Training in layer.ts) normalizes with batch statistics and changes no state.
 */
import type { Kernels, Ptr } from '../backend/types.js';
import { expectF32Number, expectInt, expectOptions, mustBe, rangeError } from '../errors.js';
import type { BatchNormConfig, LayerConfig } from './config.js';
import { Layer, widthMismatch, type Binding, type BufferSpec, type InitHint, type SavedSpec, type StateSpec, type Training } from './layer.js';

export interface BatchNormOptions {
  /** Added to the variance under the square root: γ·(x−μ)/sqrt(σ²+ε) + β. Default 1e-5. */
  eps?: number;
  /**
   * Weight of the new batch in the running statistics (PyTorch convention):
   * running = (1−momentum)·running + momentum·batch. Default 0.1.
   * null: a cumulative average of all batches seen (momentum 1/t at batch t).
   */
  momentum?: number | null;
  /** Learn γ (init 1) and β (init 0). Default true; false fixes γ=1, β=0. */
  affine?: boolean;
}

export class BatchNorm extends Layer {
  readonly type: 'batchnorm' | 'batchnorm2d' = 'batchnorm';
  readonly features: number;
  readonly eps: number;
  readonly momentum: number | null;
  readonly affine: boolean;
  /** The counter a new model starts from: 0, or the count in the file this layer was read from. */
  #initialCount = 0;

  /**
   * @param features width of the input and output (integer ≥ 1)
   * @param options  { eps = 1e-5, momentum = 0.1 (null: cumulative average), affine = true }
   */
  constructor(features: number, options?: BatchNormOptions, /** @internal the class name in errors */ where = 'BatchNorm') {
    super();
    this.features = expectInt(where, where === 'BatchNorm' ? 'features' : 'channels', features);
    const o = expectOptions(where, 'options', options, ['eps', 'momentum', 'affine']);
    this.eps = expectF32Number(where, 'options.eps', o.eps ?? 1e-5, 0, Infinity, true);
    this.momentum = o.momentum === null ? null : expectF32Number(where, 'options.momentum', o.momentum ?? 0.1, 0, 1, true);
    if (o.affine !== undefined && typeof o.affine !== 'boolean') throw mustBe(where, 'options.affine', 'a boolean', o.affine);
    this.affine = o.affine ?? true;
  }

  /** Training batches seen (drives momentum null). Arena state, recorded in the model file's config. */
  get numBatchesTracked(): number {
    const b = this.binding;
    return b ? b.heap.getI32(b.state.numBatchesTracked!) : this.#initialCount;
  }

  /**
   * Values normalized together per feature in one row: 1 here; BatchNorm2d
   * normalizes each channel over the H·W pixels of every image too, so its
   * kernels run on rows·pixels rows of `features` channels.
   */
  protected get pixels(): number {
    return 1;
  }

  get inFeatures(): number {
    return this.features * this.pixels;
  }

  get outFeatures(): number {
    return this.features * this.pixels;
  }

  override get minTrainingRows(): number {
    return this.pixels >= 2 ? 1 : 2;
  }

  override get cancelsBias(): boolean {
    return true;
  }

  override get initHint(): InitHint {
    return 'transparent';
  }

  outputWidth(width: number, index: number): number {
    if (width !== this.features) widthMismatch(this, index, this.features, width);
    return this.features;
  }

  override paramSpecs(): BufferSpec[] {
    return this.affine ? [{ name: 'gamma', size: this.features }, { name: 'beta', size: this.features }] : [];
  }

  override stateSpecs(): StateSpec[] {
    const specs: StateSpec[] = [{ name: 'runningMean', size: this.features }, { name: 'runningVar', size: this.features }];
    // Without affine, γ=1 and β=0 are constants the kernels read.
    if (!this.affine) specs.push({ name: 'ones', size: this.features }, { name: 'zeros', size: this.features });
    specs.push({ name: 'numBatchesTracked', size: 1, inFile: false });
    return specs;
  }

  override savedSpecs(): SavedSpec[] {
    const C = this.features;
    const names = ['mean', 'variance', 'invstd'];
    if (!this.affine) names.push('dgamma', 'dbeta');
    return names.map((name) => ({ name, floats: () => C }));
  }

  override initialValues(): Record<string, Float32Array | Int32Array> {
    const ones = new Float32Array(this.features).fill(1);
    const zeros = new Float32Array(this.features);
    const v: Record<string, Float32Array | Int32Array> = { runningMean: zeros, runningVar: ones, numBatchesTracked: Int32Array.of(this.#initialCount) };
    if (this.affine) Object.assign(v, { gamma: ones, beta: zeros });
    else Object.assign(v, { ones, zeros });
    return v;
  }

  override transientState(): Record<string, Int32Array> {
    return { numBatchesTracked: Int32Array.of(this.numBatchesTracked) };
  }

  /** Copies of γ and β (1 and 0 without affine). */
  scaleAndShift(): { gamma: Float32Array; beta: Float32Array } {
    const { heap } = this.b;
    return { gamma: heap.readF32(this.gamma, this.features), beta: heap.readF32(this.beta, this.features) };
  }

  override checkState(name: string, v: Float32Array): string | undefined {
    if (name === 'runningVar' && v.some((x) => x < 0)) return 'a BatchNorm running variance is negative';
    if (name === 'ones' && v.some((x) => x !== 1)) return 'a BatchNorm without affine has γ ≠ 1';
    if (name === 'zeros' && v.some((x) => x !== 0)) return 'a BatchNorm without affine has β ≠ 0';
    return undefined;
  }

  override bind(binding: Binding | undefined): void {
    // A layer that leaves its model starts the next one afresh.
    if (binding === undefined) this.#initialCount = 0;
    super.bind(binding);
  }

  private get gamma(): Ptr {
    const b = this.b;
    return this.affine ? b.params.gamma! : b.state.ones!;
  }

  private get beta(): Ptr {
    const b = this.b;
    return this.affine ? b.params.beta! : b.state.zeros!;
  }

  forward(k: Kernels, out: Ptr, inp: Ptr, rows: number, training: Training): void {
    this.run(k, out, inp, rows, training, false);
  }

  /** A ReLU after this layer runs inside its kernels: out = max(0, γ·x̂ + β); the normalized values are never written. */
  override canFuse(next: Layer): boolean {
    return next.fusableActivation === 'relu';
  }

  override forwardFused(k: Kernels, out: Ptr, inp: Ptr, rows: number, training: Training): void {
    this.run(k, out, inp, rows, training, true);
  }

  private run(k: Kernels, out: Ptr, inp: Ptr, rows: number, training: Training, relu: boolean): void {
    const { heap, state, saved } = this.b;
    const C = this.features;
    if (training) {
      if (rows * this.pixels < 2) {
        throw rangeError(`BatchNorm: a training batch must have at least 2 rows (the variance of one sample is undefined), got ${rows}`);
      }
      // A probe normalizes like training; momentum 0 makes the kernel skip the running-statistics update.
      const probe = training === 'probe';
      const count = heap.getI32(state.numBatchesTracked!);
      const factor = probe ? 0 : this.momentum ?? 1 / (count + 1);
      const f = relu ? k.batchnormReluForward : k.batchnormForward;
      f.call(k, out, saved.mean!, saved.variance!, saved.invstd!, inp, this.gamma, this.beta, state.runningMean!, state.runningVar!, rows * this.pixels, C, this.eps, factor);
      if (!probe) heap.setI32(state.numBatchesTracked!, count + 1);
    } else {
      const f = relu ? k.batchnormReluInference : k.batchnormInference;
      f.call(k, out, inp, this.gamma, this.beta, state.runningMean!, state.runningVar!, rows * this.pixels, C, this.eps);
    }
  }

  backward(k: Kernels, dinp: Ptr, dout: Ptr, inp: Ptr, _out: Ptr, rows: number): void {
    const { dgamma, dbeta } = this.paramGrads(k);
    k.batchnormBackward(dinp, dgamma, dbeta, dout, inp, this.gamma, this.b.saved.mean!, this.b.saved.invstd!, rows * this.pixels, this.features);
  }

  /** Backward of forwardFused: the ReLU's mask (out > 0) is applied inside the batch-norm backward. */
  override backwardFused(k: Kernels, dinp: Ptr, dout: Ptr, inp: Ptr, out: Ptr, rows: number): void {
    const { dgamma, dbeta } = this.paramGrads(k);
    k.batchnormReluBackward(dinp, dgamma, dbeta, dout, out, inp, this.gamma, this.b.saved.mean!, this.b.saved.invstd!, rows * this.pixels, this.features);
  }

  private paramGrads(k: Kernels): { dgamma: Ptr; dbeta: Ptr } {
    const { grads, saved } = this.b;
    if (this.affine) return { dgamma: grads.gamma!, dbeta: grads.beta! };
    // the kernel accumulates; without affine these are throw-away buffers, kept from growing
    k.fill(saved.dgamma!, this.features, 0);
    k.fill(saved.dbeta!, this.features, 0);
    return { dgamma: saved.dgamma!, dbeta: saved.dbeta! };
  }

  override describe(): string {
    return `batchnorm${this.affine ? '' : ' (no affine)'}`;
  }

  config(): LayerConfig {
    return { type: 'batchnorm', features: this.features, eps: this.eps, momentum: this.momentum, affine: this.affine, numBatchesTracked: this.numBatchesTracked };
  }

  /** @internal From a model file's config; `where` names it in errors. */
  static fromConfig(c: BatchNormConfig, where: string): BatchNorm {
    return BatchNorm.restoreCount(new BatchNorm(c.features, { eps: c.eps, momentum: c.momentum, affine: c.affine }), c.numBatchesTracked, where);
  }

  /** @internal Sets the counter a layer read from a file starts from. */
  protected static restoreCount<L extends BatchNorm>(l: L, count: unknown, where: string): L {
    l.#initialCount = expectInt('load', `${where}.numBatchesTracked`, count, 0);
    if (l.#initialCount > 0x7fffffff) throw rangeError(`load: ${where}.numBatchesTracked must be < 2^31, got ${String(count)}`);
    return l;
  }
}
