/**
 * What MaxPool2d and AvgPool2d share: a size × size window moving by
 * `stride` over NHWC images, valid windows only (no padding), per channel.
 */
import { poolAxis } from '../backend/conv-geometry.js';
import { expectInt, expectOptions } from '../errors.js';
import { imageShape, ImageLayer, windowError } from './image.js';
import type { InitHint, Layer } from './layer.js';

export interface Pool2dOptions {
  /** Step of the window, both axes (default: the window size, so windows do not overlap). */
  stride?: number;
}

export interface PoolGeometry { h: number; w: number; c: number; outH: number; outW: number }

export abstract class Pool2d extends ImageLayer {
  readonly size: number;
  readonly stride: number;
  #g: PoolGeometry | undefined;

  constructor(where: string, size: number, options: Pool2dOptions | undefined) {
    super();
    this.size = expectInt(where, 'size', size);
    const o = expectOptions(where, 'options', options, ['stride']);
    this.stride = expectInt(where, 'options.stride', o.stride ?? this.size);
  }

  get inFeatures(): number {
    const g = this.#g;
    return g ? g.h * g.w * g.c : 0;
  }

  get outFeatures(): number {
    const g = this.#g;
    return g ? g.outH * g.outW * g.c : 0;
  }

  /** Pooling passes the scale of its input on: a Dense or Conv2d before it is initialized for what follows. */
  override get initHint(): InitHint {
    return 'transparent';
  }

  override outputShape(shape: readonly number[], index: number): number[] {
    const [h, w, c] = imageShape(this, shape, index);
    try {
      return [poolAxis(h, this.size, this.stride, this.type), poolAxis(w, this.size, this.stride, this.type), c];
    } catch (e) {
      return windowError(this, index, e);
    }
  }

  override build(_width: number, _following: readonly Layer[], shape: readonly number[]): void {
    const [h, w, c] = shape as [number, number, number];
    this.#g = { h, w, c, outH: poolAxis(h, this.size, this.stride), outW: poolAxis(w, this.size, this.stride) };
  }

  override unbuild(): void {
    this.#g = undefined;
  }

  protected get geo(): PoolGeometry {
    if (!this.#g) throw new Error(`internal: ${this.type} used before its model built it`);
    return this.#g;
  }

  /** The kernels' trailing arguments: n, h, w, c, size, stride, outH, outW. */
  protected sizes(rows: number): [number, number, number, number, number, number, number, number] {
    const g = this.geo;
    return [rows, g.h, g.w, g.c, this.size, this.stride, g.outH, g.outW];
  }

  override describe(): string {
    return `${this.type} ${this.size}${this.stride !== this.size ? `/${this.stride}` : ''}`;
  }
}
