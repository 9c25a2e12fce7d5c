/**
 * Layers at micrograd size: each has a forward (with a training flag), a
 * backward, and `parameters()`. A layer owns no memory: its model plans one
 * arena and binds each layer's parameters, gradients, state and saved
 * buffers to pointers in it. forward/backward run kernels on pointers.
 *
 * Shapes: rows = N (the batch); a layer maps [N × inFeatures] to [N × outFeatures].
 * Backward *accumulates* parameter gradients (the model zeroes them once per
 * step) and overwrites dinp.
 */
import type { Heap } from '../backend/heap.js';
import type { Kernels, Ptr } from '../backend/types.js';
import { describe, expectInt, expectNumber, expectOptions, rangeError, StateError, typeError } from '../errors.js';
import type { Random } from './random.js';

export type LayerType = 'dense' | 'batchnorm' | 'relu' | 'sigmoid' | 'tanh';
export type Activation = 'relu' | 'sigmoid' | 'tanh';

/** How a Dense layer's weights are drawn. 'auto': He before ReLU, Glorot otherwise. */
export type WeightInit = 'auto' | 'he' | 'glorot' | { type: 'normal'; std: number };

/** A named buffer of a layer, `size` f32 values. */
export interface BufferSpec {
  name: string;
  size: number;
}

/** Pointers a model binds a layer to. Names are the layer's own BufferSpec names. */
export interface Binding {
  heap: Heap;
  params: Record<string, Ptr>;
  grads: Record<string, Ptr>;
  state: Record<string, Ptr>;
  saved: Record<string, Ptr>;
}

/** A trainable parameter: a copy of its value and of its gradient after the last backward. */
export interface NamedParameter {
  name: string;
  value: Float32Array;
  grad: Float32Array;
}

/** Serializable description of a layer (the model file's topology). */
export type LayerConfig =
  | { type: 'dense'; inFeatures: number; outFeatures: number; bias: boolean; init: WeightInit }
  | { type: 'batchnorm'; features: number; eps: number; momentum: number | null; affine: boolean; numBatchesTracked: number }
  | { type: 'relu' | 'sigmoid' | 'tanh'; features: number };

export abstract class Layer {
  abstract readonly type: LayerType;
  protected binding: Binding | undefined;

  abstract get inFeatures(): number;
  abstract get outFeatures(): number;

  /** Trainable buffers (each has a gradient of the same size). */
  paramSpecs(): BufferSpec[] {
    return [];
  }

  /** Non-trainable buffers saved with the model (e.g. running statistics). */
  stateSpecs(): BufferSpec[] {
    return [];
  }

  /** Buffers the forward saves for the backward, independent of the batch size. */
  savedSpecs(): BufferSpec[] {
    return [];
  }

  /** Initial values of params and state, by name. */
  initialValues(_rng: Random): Record<string, Float32Array> {
    return {};
  }

  /** @internal Called by the model after planning its arena. */
  bind(binding: Binding | undefined): void {
    this.binding = binding;
  }

  /** True while the layer belongs to a (not disposed) model: a layer serves one model only. */
  get attached(): boolean {
    return this.binding !== undefined;
  }

  protected get b(): Binding {
    if (!this.binding) throw new StateError(`${this.type}: the layer is not part of a model (or its model was disposed)`);
    return this.binding;
  }

  /** out: [rows × outFeatures] = layer(inp: [rows × inFeatures]). */
  abstract forward(k: Kernels, out: Ptr, inp: Ptr, rows: number, training: boolean): void;

  /**
   * Given dout (dLoss/dout), accumulates parameter gradients and writes dinp
   * (dLoss/dinp) unless needDinp is false. `inp` and `out` are the forward's.
   */
  abstract backward(k: Kernels, dinp: Ptr, dout: Ptr, inp: Ptr, out: Ptr, rows: number, needDinp: boolean): void;

  /** Named trainable parameters with copies of their values and gradients. */
  parameters(): NamedParameter[] {
    const { heap, params, grads } = this.b;
    return this.paramSpecs().map((s) => ({
      name: s.name,
      value: heap.readF32(params[s.name]!, s.size),
      grad: heap.readF32(grads[s.name]!, s.size),
    }));
  }

  /** Copies of the non-trainable state buffers, by name. */
  stateValues(): Record<string, Float32Array> {
    const { heap, state } = this.b;
    const out: Record<string, Float32Array> = {};
    for (const s of this.stateSpecs()) out[s.name] = heap.readF32(state[s.name]!, s.size);
    return out;
  }

  abstract config(): LayerConfig;
}

export interface DenseOptions {
  /**
   * Add a bias vector. Default: true, except when the next layer is a
   * BatchNorm, whose mean subtraction cancels any bias (then false).
   */
  bias?: boolean;
  /** Weight initialization. Default 'auto': He (normal, std √(2/in)) when the next activation is ReLU, Glorot (uniform ±√(6/(in+out))) otherwise. */
  init?: WeightInit;
}

/** Fully connected: out = inp·W (+ b). W is [inFeatures × outFeatures], row-major. */
export class Dense extends Layer {
  readonly type = 'dense' as const;
  readonly #in: number;
  readonly #out: number;
  /** undefined until the model resolves the default (see DenseOptions.bias). */
  bias: boolean | undefined;
  init: WeightInit;
  /** @internal The initialization the model resolved for 'auto'. */
  resolvedInit: 'he' | 'glorot' | { type: 'normal'; std: number } = 'glorot';

  /**
   * @param inFeatures  input width (integer ≥ 1)
   * @param outFeatures output width (integer ≥ 1)
   * @param options     { bias?: boolean (default: true unless a BatchNorm follows), init?: 'auto' | 'he' | 'glorot' | { type: 'normal', std } (default 'auto') }
   */
  constructor(inFeatures: number, outFeatures: number, options?: DenseOptions) {
    super();
    this.#in = expectInt('Dense', 'inFeatures', inFeatures);
    this.#out = expectInt('Dense', 'outFeatures', outFeatures);
    const o = expectOptions('Dense', 'options', options, ['bias', 'init']);
    if (o.bias !== undefined && typeof o.bias !== 'boolean') throw typeError(`Dense: options.bias must be a boolean, got ${describe(o.bias)}`);
    this.bias = o.bias;
    this.init = checkInit(o.init ?? 'auto');
  }

  get inFeatures(): number {
    return this.#in;
  }

  get outFeatures(): number {
    return this.#out;
  }

  override paramSpecs(): BufferSpec[] {
    const specs = [{ name: 'weight', size: this.#in * this.#out }];
    if (this.bias) specs.push({ name: 'bias', size: this.#out });
    return specs;
  }

  override initialValues(rng: Random): Record<string, Float32Array> {
    const w = new Float32Array(this.#in * this.#out);
    const init = this.resolvedInit;
    if (init === 'he') {
      const std = Math.sqrt(2 / this.#in);
      for (let i = 0; i < w.length; i++) w[i] = rng.normal() * std;
    } else if (init === 'glorot') {
      const limit = Math.sqrt(6 / (this.#in + this.#out));
      for (let i = 0; i < w.length; i++) w[i] = (rng.next() * 2 - 1) * limit;
    } else {
      for (let i = 0; i < w.length; i++) w[i] = rng.normal() * init.std;
    }
    const values: Record<string, Float32Array> = { weight: w };
    if (this.bias) values.bias = new Float32Array(this.#out);
    return values;
  }

  forward(k: Kernels, out: Ptr, inp: Ptr, rows: number): void {
    const { params } = this.b;
    k.matmulForward(out, inp, params.weight!, rows, this.#in, this.#out);
    if (this.bias) k.biasForward(out, params.bias!, rows, this.#out);
  }

  backward(k: Kernels, dinp: Ptr, dout: Ptr, inp: Ptr, _out: Ptr, rows: number, needDinp: boolean): void {
    const { params, grads } = this.b;
    if (this.bias) k.biasBackward(grads.bias!, dout, rows, this.#out);
    k.matmulBackward(dinp, grads.weight!, dout, inp, params.weight!, rows, this.#in, this.#out, needDinp ? 1 : 0);
  }

  config(): LayerConfig {
    return { type: 'dense', inFeatures: this.#in, outFeatures: this.#out, bias: this.bias ?? true, init: this.init };
  }
}

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

/**
 * Batch normalization over the batch, per feature. Training: normalizes with
 * the batch mean and biased variance and updates the running statistics
 * (running variance unbiased, σ²·N/(N−1)). Inference: uses the running
 * statistics. Needs at least 2 rows in training mode.
 */
export class BatchNorm extends Layer {
  readonly type = 'batchnorm' as const;
  readonly features: number;
  readonly eps: number;
  readonly momentum: number | null;
  readonly affine: boolean;
  /** Training batches seen (drives momentum null). Saved with the model. */
  numBatchesTracked = 0;

  /**
   * @param features width of the input and output (integer ≥ 1)
   * @param options  { eps = 1e-5, momentum = 0.1 (null: cumulative average), affine = true }
   */
  constructor(features: number, options?: BatchNormOptions) {
    super();
    this.features = expectInt('BatchNorm', 'features', features);
    const o = expectOptions('BatchNorm', 'options', options, ['eps', 'momentum', 'affine']);
    this.eps = expectNumber('BatchNorm', 'options.eps', o.eps ?? 1e-5, 0, Infinity, true);
    this.momentum = o.momentum === null ? null : expectNumber('BatchNorm', 'options.momentum', o.momentum ?? 0.1, 0, 1, true);
    if (o.affine !== undefined && typeof o.affine !== 'boolean') throw typeError(`BatchNorm: options.affine must be a boolean, got ${describe(o.affine)}`);
    this.affine = o.affine ?? true;
  }

  get inFeatures(): number {
    return this.features;
  }

  get outFeatures(): number {
    return this.features;
  }

  override paramSpecs(): BufferSpec[] {
    return this.affine ? [{ name: 'gamma', size: this.features }, { name: 'beta', size: this.features }] : [];
  }

  override stateSpecs(): BufferSpec[] {
    const specs = [{ name: 'runningMean', size: this.features }, { name: 'runningVar', size: this.features }];
    // Without affine, γ=1 and β=0 are constants the kernels read.
    if (!this.affine) specs.push({ name: 'ones', size: this.features }, { name: 'zeros', size: this.features });
    return specs;
  }

  override savedSpecs(): BufferSpec[] {
    const specs = ['mean', 'variance', 'invstd'].map((name) => ({ name, size: this.features }));
    if (!this.affine) specs.push({ name: 'dgamma', size: this.features }, { name: 'dbeta', size: this.features });
    return specs;
  }

  override initialValues(): Record<string, Float32Array> {
    const ones = new Float32Array(this.features).fill(1);
    const zeros = new Float32Array(this.features);
    const v: Record<string, Float32Array> = { runningMean: zeros, runningVar: ones };
    if (this.affine) Object.assign(v, { gamma: ones, beta: zeros });
    else Object.assign(v, { ones, zeros });
    return v;
  }

  private get gamma(): Ptr {
    const b = this.b;
    return this.affine ? b.params.gamma! : b.state.ones!;
  }

  private get beta(): Ptr {
    const b = this.b;
    return this.affine ? b.params.beta! : b.state.zeros!;
  }

  forward(k: Kernels, out: Ptr, inp: Ptr, rows: number, training: boolean): void {
    this.run(k, out, inp, rows, training, false);
  }

  /**
   * @internal This layer followed by a ReLU, fused into one kernel: out =
   * max(0, γ·x̂ + β) is the ReLU's output; the normalized values are never
   * written. Used by the model for BatchNorm → ReLU pairs.
   */
  forwardRelu(k: Kernels, out: Ptr, inp: Ptr, rows: number, training: boolean): void {
    this.run(k, out, inp, rows, training, true);
  }

  private run(k: Kernels, out: Ptr, inp: Ptr, rows: number, training: boolean, relu: boolean): void {
    const { state, saved } = this.b;
    const C = this.features;
    if (training) {
      if (rows < 2) {
        throw rangeError(`BatchNorm: a training batch must have at least 2 rows (the variance of one sample is undefined), got ${rows}`);
      }
      const factor = this.momentum ?? 1 / (this.numBatchesTracked + 1);
      const f = relu ? k.batchnormReluForward : k.batchnormForward;
      f.call(k, out, saved.mean!, saved.variance!, saved.invstd!, inp, this.gamma, this.beta, state.runningMean!, state.runningVar!, rows, C, this.eps, factor);
      this.numBatchesTracked++;
    } else {
      const f = relu ? k.batchnormReluInference : k.batchnormInference;
      f.call(k, out, inp, this.gamma, this.beta, state.runningMean!, state.runningVar!, rows, C, this.eps);
    }
  }

  backward(k: Kernels, dinp: Ptr, dout: Ptr, inp: Ptr, _out: Ptr, rows: number): void {
    const { dgamma, dbeta } = this.paramGrads(k);
    k.batchnormBackward(dinp, dgamma, dbeta, dout, inp, this.gamma, this.b.saved.mean!, this.b.saved.invstd!, rows, this.features);
  }

  /**
   * @internal Backward of forwardRelu: dout is the gradient at the ReLU's
   * output `out`; the ReLU's mask is applied inside the batch-norm backward.
   */
  backwardRelu(k: Kernels, dinp: Ptr, dout: Ptr, inp: Ptr, out: Ptr, rows: number): void {
    const { dgamma, dbeta } = this.paramGrads(k);
    k.batchnormReluBackward(dinp, dgamma, dbeta, dout, out, inp, this.gamma, this.b.saved.mean!, this.b.saved.invstd!, rows, this.features);
  }

  private paramGrads(k: Kernels): { dgamma: Ptr; dbeta: Ptr } {
    const { grads, saved } = this.b;
    if (this.affine) return { dgamma: grads.gamma!, dbeta: grads.beta! };
    // the kernel accumulates; without affine these are throw-away buffers, kept from growing
    k.fill(saved.dgamma!, this.features, 0);
    k.fill(saved.dbeta!, this.features, 0);
    return { dgamma: saved.dgamma!, dbeta: saved.dbeta! };
  }

  config(): LayerConfig {
    return { type: 'batchnorm', features: this.features, eps: this.eps, momentum: this.momentum, affine: this.affine, numBatchesTracked: this.numBatchesTracked };
  }
}

/** Element-wise activation; its width is taken from the layer before it. */
abstract class ActivationLayer extends Layer {
  abstract override readonly type: Activation;
  /** @internal set by the model from the previous layer. */
  features = 0;

  get inFeatures(): number {
    return this.features;
  }

  get outFeatures(): number {
    return this.features;
  }

  config(): LayerConfig {
    return { type: this.type, features: this.features };
  }
}

/** out = max(x, 0). */
export class ReLU extends ActivationLayer {
  readonly type = 'relu' as const;

  forward(k: Kernels, out: Ptr, inp: Ptr, rows: number): void {
    k.reluForward(out, inp, rows * this.features);
  }

  backward(k: Kernels, dinp: Ptr, dout: Ptr, _inp: Ptr, out: Ptr, rows: number): void {
    k.reluBackward(dinp, dout, out, rows * this.features);
  }
}

/** out = 1/(1+exp(−x)). */
export class Sigmoid extends ActivationLayer {
  readonly type = 'sigmoid' as const;

  forward(k: Kernels, out: Ptr, inp: Ptr, rows: number): void {
    k.sigmoidForward(out, inp, rows * this.features);
  }

  backward(k: Kernels, dinp: Ptr, dout: Ptr, _inp: Ptr, out: Ptr, rows: number): void {
    k.sigmoidBackward(dinp, dout, out, rows * this.features);
  }
}

/** out = tanh(x). */
export class Tanh extends ActivationLayer {
  readonly type = 'tanh' as const;

  forward(k: Kernels, out: Ptr, inp: Ptr, rows: number): void {
    k.tanhForward(out, inp, rows * this.features);
  }

  backward(k: Kernels, dinp: Ptr, dout: Ptr, _inp: Ptr, out: Ptr, rows: number): void {
    k.tanhBackward(dinp, dout, out, rows * this.features);
  }
}

function checkInit(init: unknown): WeightInit {
  if (init === 'auto' || init === 'he' || init === 'glorot') return init;
  if (init && typeof init === 'object' && (init as { type?: unknown }).type === 'normal') {
    expectOptions('Dense', 'options.init', init, ['type', 'std']);
    const std = expectNumber('Dense', 'options.init.std', (init as { std?: unknown }).std, 0, Infinity, true);
    return { type: 'normal', std };
  }
  throw typeError(`Dense: options.init must be 'auto', 'he', 'glorot' or { type: 'normal', std }, got ${describe(init)}`);
}

/** Rebuilds a layer from its config (model files). */
export function layerFromConfig(c: LayerConfig): Layer {
  switch (c.type) {
    case 'dense':
      return new Dense(c.inFeatures, c.outFeatures, { bias: c.bias, init: c.init });
    case 'batchnorm': {
      const l = new BatchNorm(c.features, { eps: c.eps, momentum: c.momentum, affine: c.affine });
      l.numBatchesTracked = expectInt('load', 'numBatchesTracked', c.numBatchesTracked, 0);
      return l;
    }
    case 'relu':
    case 'sigmoid':
    case 'tanh': {
      const l = c.type === 'relu' ? new ReLU() : c.type === 'sigmoid' ? new Sigmoid() : new Tanh();
      l.features = expectInt('load', 'features', c.features);
      return l;
    }
    default:
      throw typeError(`load: unknown layer type ${describe((c as { type?: unknown }).type)}`);
  }
}

export interface MlpOptions {
  /** Input width. */
  inputs: number;
  /** Hidden layer widths (may be empty). */
  hidden: readonly number[];
  /** Output width (classes). */
  outputs: number;
  /** Activation after each hidden layer. Default 'relu'. */
  activation?: Activation;
  /** A BatchNorm between each hidden Dense and its activation. Default true. */
  batchNorm?: boolean;
  /** Options of every BatchNorm. */
  batchNormOptions?: BatchNormOptions;
  /** Weight initialization of every Dense. Default 'auto'. */
  init?: WeightInit;
}

/**
 * The usual stack: per hidden width Dense → [BatchNorm] → activation, then
 * Dense to the outputs. The hidden Dense layers get no bias when a BatchNorm
 * follows them (the default rule).
 */
export function mlp(o: MlpOptions): Layer[] {
  const act = o.activation ?? 'relu';
  if (act !== 'relu' && act !== 'sigmoid' && act !== 'tanh') {
    throw new TypeError(`mlp: activation must be 'relu', 'sigmoid' or 'tanh', got ${describe(act)}`);
  }
  const init = o.init ?? 'auto';
  const layers: Layer[] = [];
  let width = expectInt('mlp', 'inputs', o.inputs);
  o.hidden.forEach((h, i) => {
    layers.push(new Dense(width, expectInt('mlp', `hidden[${i}]`, h), { init }));
    if (o.batchNorm ?? true) layers.push(new BatchNorm(h, o.batchNormOptions));
    layers.push(act === 'relu' ? new ReLU() : act === 'sigmoid' ? new Sigmoid() : new Tanh());
    width = h;
  });
  layers.push(new Dense(width, expectInt('mlp', 'outputs', o.outputs), { init }));
  return layers;
}
