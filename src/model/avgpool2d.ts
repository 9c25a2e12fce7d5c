/** Average pooling over NHWC images: each channel's mean over every size × size window (valid windows, no padding). */
import type { Kernels, Ptr } from '../backend/types.js';
import type { AvgPool2dConfig } from './config.js';
import { Pool2d, type Pool2dOptions } from './pool2d.js';

export class AvgPool2d extends Pool2d {
  readonly type = 'avgpool2d' as const;

  /**
   * @param size    the window's side (integer ≥ 1)
   * @param options { stride = size }
   */
  constructor(size: number, options?: Pool2dOptions) {
    super('AvgPool2d', size, options);
  }

  forward(k: Kernels, out: Ptr, inp: Ptr, rows: number): void {
    k.avgPoolForward(out, inp, ...this.sizes(rows));
  }

  backward(k: Kernels, dinp: Ptr, dout: Ptr, _inp: Ptr, _out: Ptr, rows: number, needDinp: boolean): void {
    if (needDinp) k.avgPoolBackward(dinp, dout, ...this.sizes(rows));
  }

  config(): AvgPool2dConfig {
    return { type: 'avgpool2d', size: this.size, stride: this.stride };
  }

  /** @internal From a model file's config. */
  static fromConfig(c: AvgPool2dConfig): AvgPool2d {
    return new AvgPool2d(c.size, { stride: c.stride });
  }
}
