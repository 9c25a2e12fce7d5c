/** Max pooling over NHWC images: each channel's maximum in every size × size window (valid windows, no padding). */
import type { Kernels, Ptr } from '../backend/types.js';
import type { MaxPool2dConfig } from './config.js';
import type { SavedSpec } from './layer.js';
import { Pool2d, type Pool2dOptions } from './pool2d.js';

export class MaxPool2d extends Pool2d {
  readonly type = 'maxpool2d' as const;

  /**
   * @param size    the window's side (integer ≥ 1)
   * @param options { stride = size }
   */
  constructor(size: number, options?: Pool2dOptions) {
    super('MaxPool2d', size, options);
  }

  /** Where each maximum came from (i32 input indices, one per output value). */
  override savedSpecs(): SavedSpec[] {
    return [{ name: 'argmax', floats: (rows) => rows * this.outFeatures }];
  }

  forward(k: Kernels, out: Ptr, inp: Ptr, rows: number): void {
    k.maxPoolForward(out, this.b.saved.argmax!, inp, ...this.sizes(rows));
  }

  backward(k: Kernels, dinp: Ptr, dout: Ptr, _inp: Ptr, _out: Ptr, rows: number, needDinp: boolean): void {
    if (needDinp) k.maxPoolBackward(dinp, dout, this.b.saved.argmax!, ...this.sizes(rows));
  }

  config(): MaxPool2dConfig {
    return { type: 'maxpool2d', size: this.size, stride: this.stride };
  }

  /** @internal From a model file's config. */
  static fromConfig(c: MaxPool2dConfig): MaxPool2d {
    return new MaxPool2d(c.size, { stride: c.stride });
  }
}
