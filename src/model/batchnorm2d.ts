/**
 * Batch normalization of images, per channel over the N·H·W values of a
 * batch (NHWC): BatchNorm's kernels with rows = N·H·W and cols = C, its
 * conventions (momentum, biased batch variance, unbiased running variance)
 * and its fused ReLU. Only the shapes differ, so it is BatchNorm with pixels.
 */
import type { BatchNorm2dConfig } from './config.js';
import { BatchNorm, type BatchNormOptions } from './batchnorm.js';
import { imageShape, needsShape } from './image.js';

export class BatchNorm2d extends BatchNorm {
  override readonly type = 'batchnorm2d' as const;
  #pixels = 1;

  /**
   * @param channels the input's C (integer ≥ 1)
   * @param options  { eps = 1e-5, momentum = 0.1 (null: cumulative average), affine = true }
   */
  constructor(channels: number, options?: BatchNormOptions) {
    super(channels, options, 'BatchNorm2d');
  }

  get channels(): number {
    return this.features;
  }

  protected override get pixels(): number {
    return this.#pixels;
  }

  override get widthFromPrevious(): boolean {
    return true;
  }

  override outputWidth(_width: number, index: number): number {
    return needsShape(this, index);
  }

  override outputShape(shape: readonly number[], index: number): number[] {
    return [...imageShape(this, shape, index, this.features)];
  }

  override build(_width: number, _following: readonly unknown[], shape: readonly number[]): void {
    this.#pixels = shape[0]! * shape[1]!;
  }

  override unbuild(): void {
    this.#pixels = 1;
  }

  override describe(): string {
    return `batchnorm2d${this.affine ? '' : ' (no affine)'}`;
  }

  override config(): BatchNorm2dConfig {
    return { type: 'batchnorm2d', channels: this.features, eps: this.eps, momentum: this.momentum, affine: this.affine, numBatchesTracked: this.numBatchesTracked };
  }

  /** @internal From a model file's config; `where` names it in errors. */
  static fromConfig2d(c: BatchNorm2dConfig, where: string): BatchNorm2d {
    return BatchNorm2d.restoreCount(new BatchNorm2d(c.channels, { eps: c.eps, momentum: c.momentum, affine: c.affine }), c.numBatchesTracked, where);
  }
}
