/**
 * The layer contract, at micrograd size: a forward (with a training flag), a
 * backward, and the buffers it needs. A layer owns no memory: its model plans
 * one arena from every layer's buffer specs and binds each layer to pointers
 * in it. forward/backward run kernels on pointers.
 *
 * Shapes: rows = N (the batch); a layer maps [N × inFeatures] to [N × outFeatures].
 * Backward *accumulates* parameter gradients (the model zeroes them once per
 * step) and overwrites dinp.
 *
 * Everything the model needs to know about a layer is asked through this
 * class (widths, buffers, fusion, the bias and initialization rules), so no
 * file outside a layer's own tests its class or its buffer names.
 */
import type { Heap } from '../backend/heap.js';
import type { Kernels, Ptr } from '../backend/types.js';
import { rangeError, StateError } from '../errors.js';
import type { InternalLayerType, LayerConfig, LayerType } from './config.js';
import type { Random } from './random.js';

/**
 * How a forward runs. true: training (batch statistics; BatchNorm updates its
 * running statistics and counter). false: inference. 'probe': training
 * arithmetic that leaves every state buffer as it was (BatchNorm normalizes
 * with batch statistics but updates neither its running statistics nor its
 * counter), for measurements that evaluate loss and gradients at weights the
 * model does not keep (experiment/bn-landscape.ts). 'probe' is truthy, so a
 * layer without state treats it as training.
 */
export type Training = boolean | 'probe';

/** A named buffer of a layer, `size` f32 values. */
export interface BufferSpec {
  name: string;
  size: number;
}

/**
 * A state buffer. State in the file (the default) is stored with the weights
 * (running statistics); `inFile: false` marks state that lives in the arena
 * like the rest, so snapshots and restores carry it, but is recorded in the
 * layer's config instead (BatchNorm's batch counter, an i32 word).
 */
export interface StateSpec extends BufferSpec {
  inFile?: boolean;
}

/** A buffer the forward saves for the backward (or scratch), sized for a batch of `rows`. */
export interface SavedSpec {
  name: string;
  floats: (rows: number) => number;
}

/** Pointers a model binds a layer to. Names are the layer's own spec names. */
export interface Binding {
  heap: Heap;
  params: Record<string, Ptr>;
  grads: Record<string, Ptr>;
  state: Record<string, Ptr>;
  saved: Record<string, Ptr>;
  /** Packed copies of params for inference (see Layer.packSpecs); set by the model before an inference forward, when it has them. */
  packed: Record<string, Ptr>;
}

/** A trainable parameter: a copy of its value and of its gradient after the last backward. */
export interface NamedParameter {
  name: string;
  value: Float32Array;
  grad: Float32Array;
}

/** What a Dense layer's 'auto' initialization reads from the layers after it. */
export type InitHint = 'he' | 'glorot' | 'transparent' | 'stop';

export abstract class Layer {
  /** The config type; InternalLayerType for layers that are never saved (model/noise.ts). */
  abstract readonly type: LayerType | InternalLayerType;
  protected binding: Binding | undefined;

  abstract get inFeatures(): number;
  abstract get outFeatures(): number;

  /**
   * @internal The output width for an input of `width` features, or a thrown
   * SHAPE_MISMATCH error. Pure: the model checks every layer before it builds any.
   */
  abstract outputWidth(width: number, index: number): number;

  /**
   * @internal The output shape for an input of `shape` ([features], or
   * [H, W, C] for images: NHWC, channel fastest), or a thrown SHAPE_MISMATCH
   * error. Widths are the products of shapes. The default is a layer of flat
   * features (Dense, BatchNorm): it takes a 1-D input only.
   */
  outputShape(shape: readonly number[], index: number): number[] {
    if (shape.length !== 1) {
      throw rangeError(`Sequential: layers[${index}] (${this.type}) takes a flat input of features, but the previous layer outputs the shape [${shape.join(', ')}]; put a Flatten() before it`, {
        code: 'SHAPE_MISMATCH', argument: `layers[${index}]`, expected: 'a 1-D input (add Flatten())', received: `[${shape.join(', ')}]`,
      });
    }
    return [this.outputWidth(shape[0]!, index)];
  }

  /**
   * @internal Takes the input width and resolves what depends on the layers
   * after it (`following`: the layers after it); `shape` is the input's shape
   * (its product is `width`). Called for every layer of a new
   * model after all have been checked; whatever it resolves is resolved anew
   * by the next model the layer joins.
   */
  build(_width: number, _following: readonly Layer[], _shape: readonly number[] = [_width]): void {}

  /** @internal Forgets what `build` resolved (a model that was refused, or disposed). */
  unbuild(): void {}

  /** Trainable buffers (each has a gradient of the same size). */
  paramSpecs(): BufferSpec[] {
    return [];
  }

  /** Non-trainable buffers kept in the arena (see StateSpec). */
  stateSpecs(): StateSpec[] {
    return [];
  }

  /** Buffers the forward saves for the backward, as functions of the batch size. */
  savedSpecs(): SavedSpec[] {
    return [];
  }

  /** Initial values of params and state, by name (state with inFile: false included). */
  initialValues(_rng: Random): Record<string, Float32Array | Int32Array> {
    return {};
  }

  /** @internal Values of the state not stored in the file (inFile: false), as this layer holds them now. */
  transientState(): Record<string, Int32Array | Float32Array> {
    return {};
  }

  /** Fewest rows a training batch may have (BatchNorm: 2, the variance of one sample is undefined). */
  get minTrainingRows(): number {
    return 1;
  }

  /** True when the layer takes its width from the layer before it (an activation), so it cannot come first. */
  get widthFromPrevious(): boolean {
    return false;
  }

  /** True when a bias before this layer is cancelled by it (normalization subtracts the mean). */
  get cancelsBias(): boolean {
    return false;
  }

  /** See InitHint: the activation a Dense layer before this one should be initialized for. */
  get initHint(): InitHint {
    return 'glorot';
  }

  /** 'relu' when this layer is a plain ReLU that a normalization before it can apply in its own kernel. */
  get fusableActivation(): 'relu' | undefined {
    return undefined;
  }

  /**
   * @internal Params the layer keeps a packed copy of for inference (Dense:
   * its weight in matmul's panel layout, so an inference forward does not
   * repack it on every call). The model allocates them on the first inference
   * forward of 4 rows or more, calls `pack` whenever the params changed since,
   * and binds them as `packed`; an inference forward may then read them
   * instead of the params, with the same result bit for bit.
   */
  packSpecs(): BufferSpec[] {
    return [];
  }

  /** @internal Writes the packed copies (packSpecs) from the params. */
  pack(_k: Kernels): void {}

  /** @internal True when this layer runs `next` inside its own kernels (forwardFused / backwardFused). */
  canFuse(_next: Layer): boolean {
    return false;
  }

  /** @internal This layer and the next one in one kernel; `out` is the next layer's output. */
  forwardFused(_k: Kernels, _out: Ptr, _inp: Ptr, _rows: number, _training: Training): void {
    throw new Error(`internal: ${this.type} fuses no layer`);
  }

  /** @internal Backward of forwardFused: dout is the gradient at the next layer's output `out`. */
  backwardFused(_k: Kernels, _dinp: Ptr, _dout: Ptr, _inp: Ptr, _out: Ptr, _rows: number): void {
    throw new Error(`internal: ${this.type} fuses no layer`);
  }

  /** @internal Called by the model after planning its arena, and with undefined when the model is disposed. */
  bind(binding: Binding | undefined): void {
    this.binding = binding;
  }

  /** True while the layer belongs to a (not disposed) model: a layer serves one model only. */
  get attached(): boolean {
    return this.binding !== undefined;
  }

  protected get b(): Binding {
    if (!this.binding) throw new StateError(`${this.type}: the layer is not part of a model (or its model was disposed)`);
    return this.binding;
  }

  /** out: [rows × outFeatures] = layer(inp: [rows × inFeatures]). */
  abstract forward(k: Kernels, out: Ptr, inp: Ptr, rows: number, training: Training): void;

  /**
   * Given dout (dLoss/dout), accumulates parameter gradients and writes dinp
   * (dLoss/dinp) unless needDinp is false. `inp` and `out` are the forward's.
   */
  abstract backward(k: Kernels, dinp: Ptr, dout: Ptr, inp: Ptr, out: Ptr, rows: number, needDinp: boolean): void;

  /** Named trainable parameters with copies of their values and gradients. */
  parameters(): NamedParameter[] {
    const { heap, params, grads } = this.b;
    return this.paramSpecs().map((s) => ({
      name: s.name,
      value: heap.readF32(params[s.name]!, s.size),
      grad: heap.readF32(grads[s.name]!, s.size),
    }));
  }

  /** Copies of the state buffers stored in the file (running statistics), by name. */
  stateValues(): Record<string, Float32Array> {
    const { heap, state } = this.b;
    const out: Record<string, Float32Array> = {};
    for (const s of this.stateSpecs()) if (s.inFile !== false) out[s.name] = heap.readF32(state[s.name]!, s.size);
    return out;
  }

  /**
   * @internal A reason why these file values of this layer's state are
   * invalid (e.g. a negative running variance), or undefined.
   */
  checkState(_name: string, _values: Float32Array): string | undefined {
    return undefined;
  }

  /** One line for `summary()`: the layer's type and what sets it apart. */
  describe(): string {
    return this.type;
  }

  abstract config(): LayerConfig;
}

/** A width mismatch between a layer and the one before it. */
export function widthMismatch(layer: Layer, index: number, expected: number, width: number): never {
  throw rangeError(`Sequential: layers[${index}] (${layer.type}) expects ${expected} input features, but the previous layer outputs ${width}`, {
    code: 'SHAPE_MISMATCH', argument: `layers[${index}]`, expected: `${width} input features`, received: `${expected}`,
  });
}

/** The 'auto' initialization of a weight layer (Dense, Conv2d) from the layers after it (see InitHint). */
export function autoInit(following: readonly Layer[]): 'he' | 'glorot' {
  for (const l of following) {
    if (l.initHint === 'transparent') continue;
    return l.initHint === 'he' ? 'he' : 'glorot';
  }
  return 'glorot';
}

/** The number of values in a shape. */
export function shapeSize(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * A layer whose width is the previous layer's (activations, Dropout, Flatten,
 * the experiment's Noise): it has no input width of its own, takes it when the
 * model builds it and forgets it at unbuild. By default a Dense before it is
 * initialized for whatever follows it ('transparent').
 */
export abstract class SameWidthLayer extends Layer {
  #features = 0;

  /** The width, set by the model from the previous layer (0 before). */
  get features(): number {
    return this.#features;
  }

  get inFeatures(): number {
    return this.#features;
  }

  get outFeatures(): number {
    return this.#features;
  }

  override get widthFromPrevious(): boolean {
    return true;
  }

  override get initHint(): InitHint {
    return 'transparent';
  }

  outputWidth(width: number): number {
    return width;
  }

  override build(width: number): void {
    this.#features = width;
  }

  override unbuild(): void {
    this.#features = 0;
  }

  /** For a layer read from a file: the width its config records. */
  protected setFeatures(width: number): void {
    this.#features = width;
  }
}
