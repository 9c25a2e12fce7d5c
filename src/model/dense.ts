/** Fully connected: out = inp·W (+ b). W is [inFeatures × outFeatures], row-major. */
import { packedWeightFloats } from '../backend/packed.js';
import type { Kernels, Ptr } from '../backend/types.js';
import { describe, expectF32Number, expectInt, expectOptions, mustBe, typeError } from '../errors.js';
import type { DenseConfig, WeightInit } from './config.js';
import { autoInit, Layer, widthMismatch, type BufferSpec, type InitHint, type Training } from './layer.js';
import type { Random } from './random.js';

export interface DenseOptions {
  /**
   * Add a bias vector. Default: true, except when the next layer is a
   * BatchNorm, whose mean subtraction cancels any bias (then false).
   */
  bias?: boolean;
  /** Weight initialization. Default 'auto': He (normal, std √(2/in)) when the next activation is ReLU or LeakyReLU, Glorot (uniform ±√(6/(in+out))) otherwise. */
  init?: WeightInit;
}

export class Dense extends Layer {
  readonly type = 'dense' as const;
  readonly #in: number;
  readonly #out: number;
  /** The bias option as given (undefined: the default rule). */
  readonly #biasOption: boolean | undefined;
  /** The bias resolved by the model this layer belongs to. */
  #bias: boolean | undefined;
  readonly init: WeightInit;
  /** @internal The initialization resolved for 'auto' by the model this layer belongs to. */
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
    if (o.bias !== undefined && typeof o.bias !== 'boolean') throw mustBe('Dense', 'options.bias', 'a boolean', o.bias);
    this.#biasOption = o.bias;
    this.init = checkInit(o.init ?? 'auto');
  }

  /** Whether the layer adds a bias: the option, or (inside a model) the resolved default. */
  get bias(): boolean | undefined {
    return this.#bias ?? this.#biasOption;
  }

  get inFeatures(): number {
    return this.#in;
  }

  get outFeatures(): number {
    return this.#out;
  }

  override get initHint(): InitHint {
    return 'stop';
  }

  outputWidth(width: number, index: number): number {
    if (width !== this.#in) widthMismatch(this, index, this.#in, width);
    return this.#out;
  }

  override build(_width: number, following: readonly Layer[]): void {
    this.#bias = this.#biasOption ?? !(following[0]?.cancelsBias ?? false);
    if (this.init !== 'auto') {
      this.resolvedInit = this.init;
      return;
    }
    this.resolvedInit = autoInit(following);
  }

  override unbuild(): void {
    this.#bias = undefined;
    this.resolvedInit = 'glorot';
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

  override packSpecs(): BufferSpec[] {
    return [{ name: 'weight', size: packedWeightFloats(this.#in, this.#out) }];
  }

  override pack(k: Kernels): void {
    const { params, packed } = this.b;
    k.packWeights(packed.weight!, params.weight!, this.#in, this.#out);
  }

  forward(k: Kernels, out: Ptr, inp: Ptr, rows: number, training: Training): void {
    const { params, packed } = this.b;
    // inference of 4 rows or more from the packed weight (the model packed it after the last change); fewer rows take
    // matmul's unpacked small-m path, which is faster than any packing
    if (!training && rows >= 4 && packed.weight !== undefined) k.matmulForwardPacked(out, inp, packed.weight, rows, this.#in, this.#out);
    else k.matmulForward(out, inp, params.weight!, rows, this.#in, this.#out);
    if (this.bias) k.biasForward(out, params.bias!, rows, this.#out);
  }

  backward(k: Kernels, dinp: Ptr, dout: Ptr, inp: Ptr, _out: Ptr, rows: number, needDinp: boolean): void {
    const { params, grads } = this.b;
    if (this.bias) k.biasBackward(grads.bias!, dout, rows, this.#out);
    k.matmulBackward(dinp, grads.weight!, dout, inp, params.weight!, rows, this.#in, this.#out, needDinp ? 1 : 0);
  }

  override describe(): string {
    return `dense${this.bias ? ' +bias' : ' (no bias)'}`;
  }

  config(): DenseConfig {
    return { type: 'dense', inFeatures: this.#in, outFeatures: this.#out, bias: this.bias ?? true, init: this.init };
  }

  /** @internal From a model file's config; `where` names it in errors (e.g. "layers[2]"). */
  static fromConfig(c: DenseConfig, where: string): Dense {
    if (typeof c.bias !== 'boolean') throw typeError(`${where}.bias must be a boolean, got ${describe(c.bias)}`);
    return new Dense(c.inFeatures, c.outFeatures, { bias: c.bias, init: c.init });
  }
}

/** @internal Checks a weight layer's `init` option (`where`: the layer's name in errors). */
export function checkInit(init: unknown, where = 'Dense'): WeightInit {
  if (init === 'auto' || init === 'he' || init === 'glorot') return init;
  if (init && typeof init === 'object' && (init as { type?: unknown }).type === 'normal') {
    expectOptions(where, 'options.init', init, ['type', 'std']);
    const std = expectF32Number(where, 'options.init.std', (init as { std?: unknown }).std, 0, Infinity, true);
    return { type: 'normal', std };
  }
  throw typeError(`${where}: options.init must be 'auto', 'he', 'glorot' or { type: 'normal', std }, got ${describe(init)}`);
}
