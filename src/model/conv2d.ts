/**
 * 2-D convolution over NHWC images: out[n, y, x, :] = Σ window · W (+ b), W
 * [kernelSize·kernelSize·inChannels × outChannels] in (ky, kx, ci) row order.
 *
 * Runs as im2col + the packed matmul, a few images at a time: the columns of
 * one group (about 224 KiB, so they stay in L2 between im2col and the matmul)
 * are scratch sized for the group, not the batch, and the backward recomputes
 * them (bench/conv.mjs: 49.9 ms per CNN step against 55.6 with whole-batch
 * columns). col2im per group is exact because no window crosses two images.
 * A 1×1 kernel with stride 1 and no padding is a plain matmul on the input.
 */
import type { Kernels, Ptr } from '../backend/types.js';
import { convAxis } from '../backend/conv-geometry.js';
import { describe, expectInt, expectOptions, typeError } from '../errors.js';
import type { Conv2dConfig, Padding, WeightInit } from './config.js';
import { checkInit } from './dense.js';
import { imageShape, ImageLayer, windowError } from './image.js';
import { autoInit, type BufferSpec, type InitHint, type Layer, type SavedSpec } from './layer.js';
import type { Random } from './random.js';

export interface Conv2dOptions {
  /** Step of the window, both axes (default 1). */
  stride?: number;
  /** 'valid' (default; no padding), 'same' (TF/Keras: output = ceil(input/stride), the odd pixel after) or p zeros on every side (p < kernelSize). */
  padding?: Padding;
  /** Add a bias per output channel. Default: true, except when the next layer is a BatchNorm2d, whose mean subtraction cancels it. */
  bias?: boolean;
  /** As Dense: 'auto' (He before ReLU, Glorot otherwise; fan-in k·k·inChannels, fan-out k·k·outChannels), 'he', 'glorot', { type: 'normal', std }. */
  init?: WeightInit;
}

/** Floats of im2col columns per group: a group holds as many images as fit (at least one). */
const GROUP_FLOATS = 57344;

interface Geometry { h: number; w: number; c: number; outH: number; outW: number; padTop: number; padLeft: number; group: number; direct: boolean }

export class Conv2d extends ImageLayer {
  readonly type = 'conv2d' as const;
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: number;
  readonly stride: number;
  readonly padding: Padding;
  readonly init: WeightInit;
  readonly #biasOption: boolean | undefined;
  #bias: boolean | undefined;
  #resolvedInit: 'he' | 'glorot' | { type: 'normal'; std: number } = 'glorot';
  #g: Geometry | undefined;

  /**
   * @param inChannels  channels of the input images (integer ≥ 1)
   * @param outChannels filters (integer ≥ 1)
   * @param kernelSize  the window's side (integer ≥ 1)
   * @param options     { stride = 1, padding = 'valid', bias (default: true unless a BatchNorm2d follows), init = 'auto' }
   */
  constructor(inChannels: number, outChannels: number, kernelSize: number, options?: Conv2dOptions) {
    super();
    this.inChannels = expectInt('Conv2d', 'inChannels', inChannels);
    this.outChannels = expectInt('Conv2d', 'outChannels', outChannels);
    this.kernelSize = expectInt('Conv2d', 'kernelSize', kernelSize);
    const o = expectOptions('Conv2d', 'options', options, ['stride', 'padding', 'bias', 'init']);
    this.stride = expectInt('Conv2d', 'options.stride', o.stride ?? 1);
    const p = o.padding ?? 'valid';
    if (p !== 'valid' && p !== 'same' && !(typeof p === 'number' && Number.isInteger(p) && p >= 0 && p < this.kernelSize)) {
      throw typeError(`Conv2d: options.padding must be 'valid', 'same' or an integer in [0, ${this.kernelSize - 1}], got ${describe(p)}`, { argument: 'options.padding', expected: `'valid', 'same' or an integer in [0, ${this.kernelSize - 1}]`, received: describe(p) });
    }
    this.padding = p;
    if (o.bias !== undefined && typeof o.bias !== 'boolean') throw typeError(`Conv2d: options.bias must be a boolean, got ${describe(o.bias)}`, { argument: 'options.bias', expected: 'a boolean', received: describe(o.bias) });
    this.#biasOption = o.bias;
    this.init = checkInit(o.init ?? 'auto', 'Conv2d');
  }

  /** Whether the layer adds a bias: the option, or (inside a model) the resolved default. */
  get bias(): boolean | undefined {
    return this.#bias ?? this.#biasOption;
  }

  get inFeatures(): number {
    const g = this.#g;
    return g ? g.h * g.w * g.c : 0;
  }

  get outFeatures(): number {
    const g = this.#g;
    return g ? g.outH * g.outW * this.outChannels : 0;
  }

  override get initHint(): InitHint {
    return 'stop';
  }

  override outputShape(shape: readonly number[], index: number): number[] {
    const [h, w] = imageShape(this, shape, index, this.inChannels);
    try {
      const y = convAxis(h, this.kernelSize, this.stride, this.padding, 'Conv2d');
      const x = convAxis(w, this.kernelSize, this.stride, this.padding, 'Conv2d');
      return [y.out, x.out, this.outChannels];
    } catch (e) {
      return windowError(this, index, e);
    }
  }

  override build(_width: number, following: readonly Layer[], shape: readonly number[]): void {
    this.#bias = this.#biasOption ?? !(following[0]?.cancelsBias ?? false);
    this.#resolvedInit = this.init === 'auto' ? autoInit(following) : this.init;
    const [h, w, c] = shape as [number, number, number];
    const k = this.kernelSize;
    const y = convAxis(h, k, this.stride, this.padding), x = convAxis(w, k, this.stride, this.padding);
    const perImage = y.out * x.out * k * k * c;
    const direct = k === 1 && this.stride === 1 && y.padBefore === 0 && x.padBefore === 0;
    this.#g = { h, w, c, outH: y.out, outW: x.out, padTop: y.padBefore, padLeft: x.padBefore, group: Math.max(1, Math.floor(GROUP_FLOATS / perImage)), direct };
  }

  override unbuild(): void {
    this.#bias = undefined;
    this.#resolvedInit = 'glorot';
    this.#g = undefined;
  }

  override paramSpecs(): BufferSpec[] {
    const specs = [{ name: 'weight', size: this.kernelSize * this.kernelSize * this.inChannels * this.outChannels }];
    if (this.bias) specs.push({ name: 'bias', size: this.outChannels });
    return specs;
  }

  /** The columns of one image group and their gradient (none for a direct 1×1 convolution). */
  override savedSpecs(): SavedSpec[] {
    const g = this.geo;
    if (g.direct) return [];
    const perImage = g.outH * g.outW * this.kernelSize * this.kernelSize * g.c;
    const floats = (rows: number) => Math.min(g.group, Math.max(rows, 1)) * perImage;
    return [{ name: 'cols', floats }, { name: 'dcols', floats }];
  }

  override initialValues(rng: Random): Record<string, Float32Array> {
    const k2 = this.kernelSize * this.kernelSize;
    const fanIn = k2 * this.inChannels, fanOut = k2 * this.outChannels;
    const w = new Float32Array(fanIn * this.outChannels);
    const init = this.#resolvedInit;
    if (init === 'he') {
      const std = Math.sqrt(2 / fanIn);
      for (let i = 0; i < w.length; i++) w[i] = rng.normal() * std;
    } else if (init === 'glorot') {
      const limit = Math.sqrt(6 / (fanIn + fanOut));
      for (let i = 0; i < w.length; i++) w[i] = (rng.next() * 2 - 1) * limit;
    } else {
      for (let i = 0; i < w.length; i++) w[i] = rng.normal() * init.std;
    }
    const values: Record<string, Float32Array> = { weight: w };
    if (this.bias) values.bias = new Float32Array(this.outChannels);
    return values;
  }

  private get geo(): Geometry {
    if (!this.#g) throw new Error('internal: Conv2d used before its model built it');
    return this.#g;
  }

  private im2col(k: Kernels, cols: Ptr, inp: Ptr, n: number): void {
    const g = this.geo, s = this.kernelSize;
    k.im2col(cols, inp, n, g.h, g.w, g.c, s, s, this.stride, g.padTop, g.padLeft, g.outH, g.outW);
  }

  forward(k: Kernels, out: Ptr, inp: Ptr, rows: number): void {
    const { params, saved } = this.b;
    const g = this.geo, P = g.outH * g.outW, K = this.kernelSize * this.kernelSize * g.c, C = this.outChannels;
    if (g.direct) {
      k.matmulForward(out, inp, params.weight!, rows * P, K, C);
    } else {
      for (let i = 0; i < rows; i += g.group) {
        const n = Math.min(g.group, rows - i);
        this.im2col(k, saved.cols!, inp + i * g.h * g.w * g.c * 4, n);
        k.matmulForward(out + i * P * C * 4, saved.cols!, params.weight!, n * P, K, C);
      }
    }
    if (this.bias) k.biasForward(out, params.bias!, rows * P, C);
  }

  backward(k: Kernels, dinp: Ptr, dout: Ptr, inp: Ptr, _out: Ptr, rows: number, needDinp: boolean): void {
    const { params, grads, saved } = this.b;
    const g = this.geo, P = g.outH * g.outW, K = this.kernelSize * this.kernelSize * g.c, C = this.outChannels, s = this.kernelSize;
    if (this.bias) k.biasBackward(grads.bias!, dout, rows * P, C);
    if (g.direct) {
      k.matmulBackward(dinp, grads.weight!, dout, inp, params.weight!, rows * P, K, C, needDinp ? 1 : 0);
      return;
    }
    const inImage = g.h * g.w * g.c;
    for (let i = 0; i < rows; i += g.group) {
      const n = Math.min(g.group, rows - i);
      this.im2col(k, saved.cols!, inp + i * inImage * 4, n);
      k.matmulBackward(saved.dcols!, grads.weight!, dout + i * P * C * 4, saved.cols!, params.weight!, n * P, K, C, needDinp ? 1 : 0);
      if (needDinp) k.col2im(dinp + i * inImage * 4, saved.dcols!, n, g.h, g.w, g.c, s, s, this.stride, g.padTop, g.padLeft, g.outH, g.outW);
    }
  }

  override describe(): string {
    const s = this.kernelSize;
    return `conv2d ${s}×${s}${this.stride > 1 ? `/${this.stride}` : ''} ${this.padding}${this.bias ? ' +b' : ''}`;
  }

  config(): Conv2dConfig {
    return { type: 'conv2d', inChannels: this.inChannels, outChannels: this.outChannels, kernelSize: this.kernelSize, stride: this.stride, padding: this.padding, bias: this.bias ?? true, init: this.init };
  }

  /** @internal From a model file's config; `where` names it in errors (e.g. "layers[2]"). */
  static fromConfig(c: Conv2dConfig, where: string): Conv2d {
    if (typeof c.bias !== 'boolean') throw typeError(`${where}.bias must be a boolean, got ${describe(c.bias)}`);
    return new Conv2d(c.inChannels, c.outChannels, c.kernelSize, { stride: c.stride, padding: c.padding, bias: c.bias, init: c.init });
  }
}
