/**
 * Inverted dropout: in training each value is kept with probability 1 − rate
 * and scaled by 1/(1 − rate); in inference the layer is the identity. Any
 * shape (images or features).
 *
 * Seeded: the layer draws its stream's seed from the model's seed when the
 * model initializes it, and each training batch hashes (seed, batch count)
 * into the kernel's seed, so the same seed and data give the same masks on
 * every backend. Seed and count are arena state recorded in the layer's
 * config (like BatchNorm's counter), so a checkpoint resumes exactly.
 */
import type { Kernels, Ptr } from '../backend/types.js';
import { expectF32Number, expectInt, rangeError } from '../errors.js';
import type { DropoutConfig } from './config.js';
import { SameWidthLayer, type Binding, type SavedSpec, type StateSpec, type Training } from './layer.js';
import type { Random } from './random.js';

export class Dropout extends SameWidthLayer {
  readonly type = 'dropout' as const;
  /** Probability of dropping a value, in [0, 1). */
  readonly rate: number;
  /** What a new model starts from: undefined (draw from the model's seed), or the file's values. */
  #initialSeed: number | undefined;
  #initialStep = 0;

  /** @param rate probability of dropping each value during training, in [0, 1) */
  constructor(rate: number) {
    super();
    this.rate = expectF32Number('Dropout', 'rate', rate, 0, 1);
    if (this.rate >= 1) throw rangeError(`Dropout: rate must be in [0, 1), got ${rate}`, { argument: 'rate', expected: 'a number in [0, 1)', received: String(rate) });
  }

  override outputShape(shape: readonly number[]): number[] {
    return [...shape];
  }

  override stateSpecs(): StateSpec[] {
    return [{ name: 'seed', size: 1, inFile: false }, { name: 'step', size: 1, inFile: false }];
  }

  /** The mask of the last training batch (0 or 1/(1 − rate) per value). */
  override savedSpecs(): SavedSpec[] {
    return [{ name: 'mask', floats: (rows) => rows * this.features }];
  }

  override initialValues(rng: Random): Record<string, Int32Array> {
    const seed = this.#initialSeed ?? Math.floor(rng.next() * 2 ** 32);
    return { seed: Int32Array.of(seed | 0), step: Int32Array.of(this.#initialStep) };
  }

  /** The stream's seed, an integer in [0, 2³²). */
  get seed(): number {
    const b = this.binding;
    return b ? b.heap.getI32(b.state.seed!) >>> 0 : (this.#initialSeed ?? 0);
  }

  /** Training batches seen. */
  get step(): number {
    const b = this.binding;
    return b ? b.heap.getI32(b.state.step!) : this.#initialStep;
  }

  override transientState(): Record<string, Int32Array> {
    return { seed: Int32Array.of(this.seed | 0), step: Int32Array.of(this.step) };
  }

  override bind(binding: Binding | undefined): void {
    if (binding === undefined) {
      this.#initialSeed = undefined;
      this.#initialStep = 0;
    }
    super.bind(binding);
  }

  forward(k: Kernels, out: Ptr, inp: Ptr, rows: number, training: Training): void {
    const n = rows * this.features;
    if (!training) {
      k.copy(out, inp, n);
      return;
    }
    const { heap, state, saved } = this.b;
    const step = heap.getI32(state.step!);
    k.dropoutForward(out, saved.mask!, inp, n, this.rate, mix(heap.getI32(state.seed!) >>> 0, step), 0);
    // a probe (see Training) draws the next batch's mask and leaves the counter as it was
    if (training !== 'probe') heap.setI32(state.step!, (step + 1) | 0);
  }

  backward(k: Kernels, dinp: Ptr, dout: Ptr, _inp: Ptr, _out: Ptr, rows: number, needDinp: boolean): void {
    if (needDinp) k.dropoutBackward(dinp, dout, this.b.saved.mask!, rows * this.features);
  }

  override describe(): string {
    return `dropout ${this.rate}`;
  }

  config(): DropoutConfig {
    return { type: 'dropout', rate: this.rate, seed: this.seed, step: this.step };
  }

  /** @internal From a model file's config; `where` names it in errors. */
  static fromConfig(c: DropoutConfig, where: string): Dropout {
    const l = new Dropout(c.rate);
    l.#initialSeed = expectInt('load', `${where}.seed`, c.seed, 0, 2 ** 32 - 1);
    l.#initialStep = expectInt('load', `${where}.step`, c.step, 0, 0x7fffffff);
    return l;
  }
}

/** A 32-bit hash of (seed, step): each batch's kernel seed (murmur3's finalizer over the pair). */
function mix(seed: number, step: number): number {
  let h = (seed ^ Math.imul(step + 1, 0x9e3779b9)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
