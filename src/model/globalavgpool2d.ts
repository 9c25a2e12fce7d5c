/** Global average pooling: [H, W, C] images → [C], each channel's mean over all pixels. */
import type { Kernels, Ptr } from '../backend/types.js';
import type { GlobalAvgPool2dConfig } from './config.js';
import { imageShape, ImageLayer } from './image.js';
import type { InitHint, Layer } from './layer.js';

export class GlobalAvgPool2d extends ImageLayer {
  readonly type = 'globalavgpool2d' as const;
  #shape: [number, number, number] | undefined;

  get inFeatures(): number {
    const s = this.#shape;
    return s ? s[0] * s[1] * s[2] : 0;
  }

  get outFeatures(): number {
    return this.#shape?.[2] ?? 0;
  }

  override get initHint(): InitHint {
    return 'transparent';
  }

  override outputShape(shape: readonly number[], index: number): number[] {
    return [imageShape(this, shape, index)[2]];
  }

  override build(_width: number, _following: readonly Layer[], shape: readonly number[]): void {
    this.#shape = [shape[0]!, shape[1]!, shape[2]!];
  }

  override unbuild(): void {
    this.#shape = undefined;
  }

  private get dims(): [number, number, number] {
    if (!this.#shape) throw new Error('internal: GlobalAvgPool2d used before its model built it');
    return this.#shape;
  }

  forward(k: Kernels, out: Ptr, inp: Ptr, rows: number): void {
    k.globalAvgPoolForward(out, inp, rows, ...this.dims);
  }

  backward(k: Kernels, dinp: Ptr, dout: Ptr, _inp: Ptr, _out: Ptr, rows: number, needDinp: boolean): void {
    if (needDinp) k.globalAvgPoolBackward(dinp, dout, rows, ...this.dims);
  }

  config(): GlobalAvgPool2dConfig {
    return { type: 'globalavgpool2d' };
  }

  /** @internal From a model file's config. */
  static fromConfig(): GlobalAvgPool2d {
    return new GlobalAvgPool2d();
  }
}
