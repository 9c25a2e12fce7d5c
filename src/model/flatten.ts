/** Flatten: any shape → [its size]. NHWC rows are already flat in memory, so this is a copy. */
import type { Kernels, Ptr } from '../backend/types.js';
import type { FlattenConfig } from './config.js';
import { SameWidthLayer, shapeSize } from './layer.js';

export class Flatten extends SameWidthLayer {
  readonly type = 'flatten' as const;

  override outputShape(shape: readonly number[]): number[] {
    return [shapeSize(shape)];
  }

  forward(k: Kernels, out: Ptr, inp: Ptr, rows: number): void {
    k.copy(out, inp, rows * this.features);
  }

  backward(k: Kernels, dinp: Ptr, dout: Ptr, _inp: Ptr, _out: Ptr, rows: number, needDinp: boolean): void {
    if (needDinp) k.copy(dinp, dout, rows * this.features);
  }

  config(): FlattenConfig {
    return { type: 'flatten' };
  }

  /** @internal From a model file's config. */
  static fromConfig(): Flatten {
    return new Flatten();
  }
}
