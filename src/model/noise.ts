/**
 * @internal The distributional noise of Santurkar et al. (2018), "How Does
 * Batch Normalization Help Optimization?", Algorithm 1, as a layer an
 * experiment inserts after a BatchNorm (or Dense) output:
 *
 *   out[i,j] = s[i,j]·inp[i,j] + m[i,j]     (sample i, unit j)
 *
 * with, per unit and per `redraw`, μ_j ~ U(−nμ, nμ), σ_j ~ U(1, nσ), and per
 * sample m[i,j] ~ U(μ_j − rμ, μ_j + rμ), s[i,j] ~ N(σ_j, rσ²) (rσ is taken
 * as a standard deviation). The values are drawn in JS from the layer's own
 * seeded generator, written into the layer's saved buffers, and applied by
 * the noiseForward / noiseBackward kernels (dinp = dout·s). They stay fixed
 * between redraws, so a step's loss and its probes (experiment/bn-landscape.ts)
 * see the same noise; the experiment redraws once per training step. In
 * inference the layer passes its input through unchanged.
 *
 * Not part of the public API and never saved: `config()` throws.
 */
import type { Kernels, Ptr } from '../backend/types.js';
import { expectInt, expectNumber, expectOptions, rangeError, StateError } from '../errors.js';
import type { LayerConfig } from './config.js';
import { SameWidthLayer, type Binding, type SavedSpec, type Training } from './layer.js';
import { Random } from './random.js';

export interface NoiseOptions {
  /** Unit means μ_j ~ U(−meanRange, meanRange). Default 0.5 (nμ). */
  meanRange?: number;
  /** Unit scales σ_j ~ U(1, scaleMax). Default 1.25 (nσ). */
  scaleMax?: number;
  /** Per-sample shift half-width: m ~ U(μ_j − meanJitter, μ_j + meanJitter). Default 0.1 (rμ). */
  meanJitter?: number;
  /** Per-sample scale standard deviation: s ~ N(σ_j, scaleJitter²). Default 0.1 (rσ). */
  scaleJitter?: number;
  /** Seed of the layer's generator (default 1). */
  seed?: number;
}

/** The constants of the paper's Algorithm 1. */
export const NOISE_DEFAULTS = { meanRange: 0.5, scaleMax: 1.25, meanJitter: 0.1, scaleJitter: 0.1 } as const;

export class Noise extends SameWidthLayer {
  readonly type = 'noise' as const;
  readonly meanRange: number;
  readonly scaleMax: number;
  readonly meanJitter: number;
  readonly scaleJitter: number;
  /** Rows the saved buffers hold drawn values for (0: none since the last bind). */
  #drawn = 0;
  readonly #rng: Random;

  constructor(options?: NoiseOptions) {
    super();
    const o = expectOptions('Noise', 'options', options, ['meanRange', 'scaleMax', 'meanJitter', 'scaleJitter', 'seed']);
    this.meanRange = expectNumber('Noise', 'options.meanRange', o.meanRange ?? NOISE_DEFAULTS.meanRange, 0, Infinity, true);
    this.scaleMax = expectNumber('Noise', 'options.scaleMax', o.scaleMax ?? NOISE_DEFAULTS.scaleMax, 1, Infinity, true);
    this.meanJitter = expectNumber('Noise', 'options.meanJitter', o.meanJitter ?? NOISE_DEFAULTS.meanJitter, 0, Infinity, true);
    this.scaleJitter = expectNumber('Noise', 'options.scaleJitter', o.scaleJitter ?? NOISE_DEFAULTS.scaleJitter, 0, Infinity, true);
    this.#rng = new Random(expectInt('Noise', 'options.seed', o.seed ?? 1, 0));
  }

  override savedSpecs(): SavedSpec[] {
    const C = () => this.features;
    return [{ name: 'scale', floats: (rows) => rows * C() }, { name: 'shift', floats: (rows) => rows * C() }];
  }

  override bind(binding: Binding | undefined): void {
    // A new plan moves the saved buffers: the noise must be drawn again.
    this.#drawn = 0;
    super.bind(binding);
  }

  /**
   * Draws the noise of one step for `rows` samples (at most `capacity`, the
   * rows the model's arena is planned for) and writes it into the layer's buffers. Returns the values
   * written, rows × features each.
   */
  redraw(rows: number, capacity: number): { scale: Float32Array; shift: Float32Array } {
    if (!Number.isInteger(rows) || rows < 1 || rows > capacity) {
      throw rangeError(`Noise.redraw: rows must be an integer in [1, ${capacity}] (the model's capacity), got ${rows}`, { argument: 'rows', expected: `an integer in [1, ${capacity}]`, received: String(rows) });
    }
    const C = this.features, r = this.#rng;
    const mu = new Float64Array(C), sigma = new Float64Array(C);
    for (let j = 0; j < C; j++) {
      mu[j] = (2 * r.next() - 1) * this.meanRange;
      sigma[j] = 1 + r.next() * (this.scaleMax - 1);
    }
    const scale = new Float32Array(rows * C), shift = new Float32Array(rows * C);
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < C; j++) {
        shift[i * C + j] = mu[j]! + (2 * r.next() - 1) * this.meanJitter;
        scale[i * C + j] = sigma[j]! + r.normal() * this.scaleJitter;
      }
    }
    this.setNoise(scale, shift, capacity);
    return { scale, shift };
  }

  /** Writes given noise values (rows × features each, rows at most the model's capacity), e.g. for tests. */
  setNoise(scale: Float32Array, shift: Float32Array, capacity: number): void {
    const { heap, saved } = this.b;
    const C = this.features;
    if (scale.length !== shift.length || C === 0 || scale.length % C !== 0 || scale.length > capacity * C) {
      throw rangeError(`Noise: scale and shift must both hold rows × ${C} values with rows ≤ ${capacity}, got ${scale.length} and ${shift.length}`, { argument: 'scale', expected: `rows × ${C} values, rows ≤ ${capacity}`, received: `${scale.length} and ${shift.length}` });
    }
    const rows = scale.length / C;
    heap.write(saved.scale!, scale);
    heap.write(saved.shift!, shift);
    this.#drawn = rows;
  }

  forward(k: Kernels, out: Ptr, inp: Ptr, rows: number, training: Training): void {
    const n = rows * this.features;
    if (!training) {
      k.copy(out, inp, n);
      return;
    }
    if (rows > this.#drawn) throw new StateError(`Noise: the layer holds noise for ${this.#drawn} rows, the batch has ${rows}; call redraw(rows) after the model is planned for the batch`);
    const { saved } = this.b;
    k.noiseForward(out, inp, saved.scale!, saved.shift!, n);
  }

  backward(k: Kernels, dinp: Ptr, dout: Ptr, _inp: Ptr, _out: Ptr, rows: number, needDinp: boolean): void {
    if (needDinp) k.noiseBackward(dinp, dout, this.b.saved.scale!, rows * this.features);
  }

  override describe(): string {
    return 'noise';
  }

  config(): LayerConfig {
    throw new StateError('Noise: a noise layer is an experiment instrument and cannot be saved');
  }
}
