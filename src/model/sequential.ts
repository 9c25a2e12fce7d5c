/**
 * Sequential: a stack of layers, its arena, and the training loop.
 *
 * One arena per model, planned from a table of sizes (see `planArena`):
 *
 *   params | state | snapshot | optimizer slots | grads | per-layer outputs |
 *   per-layer saved buffers | two gradient ping-pong buffers | batch x | batch y
 *
 * params, grads and each optimizer slot share one layout, so the optimizer is
 * one kernel call over the whole block. The arena is re-planned (persistent
 * part copied) only when the batch capacity grows or the optimizer changes.
 * A training step passes only pointers and sizes across the JS/WASM boundary.
 */
import type { Backend } from '../backend/index.js';
import { createBackendSync } from '../backend/index.js';
import type { Kernels, Ptr } from '../backend/types.js';
import { describe, expectInt, expectNumber, expectOptions, NormcoreError, rangeError, StateError, typeError } from '../errors.js';
import { crc32, decodeModelFile, encodeModelFile, ModelFormatError } from './format.js';
import { BatchNorm, Dense, Layer, layerFromConfig, ReLU, type LayerConfig, type NamedParameter } from './layers.js';
import { Random } from './random.js';

export type LossName = 'softmaxCrossEntropy' | 'mse';
export type OptimizerType = 'sgd' | 'momentum' | 'rmsprop' | 'adam';

export interface OptimizerConfig {
  type: OptimizerType;
  /** Learning rate. Default 0.01 for sgd and momentum, 0.001 for rmsprop and adam. */
  lr?: number;
  /** momentum: velocity decay (default 0.9). */
  momentum?: number;
  /** adam: first-moment decay (default 0.9). */
  beta1?: number;
  /** adam: second-moment decay (default 0.999). */
  beta2?: number;
  /** rmsprop, adam: added to the root in the denominator (default 1e-7 rmsprop, 1e-8 adam). */
  eps?: number;
  /** rmsprop: squared-gradient decay (default 0.9). */
  rho?: number;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay?: number;
}

export type LrSchedule = { type: 'constant' } | { type: 'cosine'; minLr?: number } | { type: 'step'; every: number; factor: number };

export interface CompileOptions {
  /** Default 'softmaxCrossEntropy'. */
  loss?: LossName;
  /** Default { type: 'adam', lr: 0.001 }. */
  optimizer?: OptimizerConfig;
  /** Learning-rate schedule over the steps of each fit (cosine) or its epochs (step). Default constant. */
  lrSchedule?: LrSchedule;
}

export interface EpochLogs {
  epoch: number;
  /** Mean training loss over the epoch's batches. */
  loss: number;
  /** Training accuracy over the epoch's batches (classification). */
  accuracy: number;
  valLoss?: number;
  valAccuracy?: number;
  /** Wall time of the epoch's training steps, in seconds. */
  seconds: number;
  samplesPerSecond: number;
}

export interface BatchLogs {
  epoch: number;
  batch: number;
  batches: number;
  loss: number;
}

export type Labels = Uint8Array | Int32Array | Uint16Array | Float32Array;

export interface FitOptions {
  /** Default 1. */
  epochs?: number;
  /** Default 32 (capped to the number of rows). */
  batchSize?: number;
  /** Shuffle the rows every epoch (default true). */
  shuffle?: boolean;
  /** Seed of the shuffles (default: the model's seed). */
  seed?: number;
  /** Drop the last incomplete batch (default false). A last batch of one row is always dropped when the model has BatchNorm. */
  dropLast?: boolean;
  validationData?: [Float32Array, Labels];
  onEpochEnd?: (epoch: number, logs: EpochLogs) => void | Promise<void>;
  onBatchEnd?: (batch: number, logs: BatchLogs) => void | Promise<void>;
  /** Check inputs for NaN/Infinity (default true; false skips the pass for speed). */
  checkInputs?: boolean;
  /** Stops training after the current batch when aborted; fit then resolves with the history so far (a partial epoch is not logged). */
  signal?: AbortSignal;
  /**
   * Saves a checkpoint (model, optimizer state, training progress) after every
   * `everyEpochs` epochs and after the last one; fit waits for `save`. In Node,
   * `checkpointFile(path)` from 'normcore/node' writes them atomically.
   */
  checkpoint?: CheckpointOptions;
  /**
   * Continues the fit recorded in these checkpoint bytes: the same model,
   * compile options, data and fit options (epochs, batchSize, shuffle, seed,
   * dropLast) are required, and the run ends with the weights an
   * uninterrupted fit would have. The returned history holds the epochs run
   * after the checkpoint. A checkpoint of a finished fit trains nothing.
   */
  resumeFrom?: Uint8Array;
}

export interface CheckpointOptions {
  /** Save after every this many epochs (default 1), and always after the last epoch. */
  everyEpochs?: number;
  /** Receives each checkpoint; fit waits for the returned promise (and fails if it rejects). */
  save: (bytes: Uint8Array, info: CheckpointInfo) => void | Promise<void>;
}

/** What a checkpoint records about its fit (see `Sequential.checkpointInfo`). */
export interface CheckpointInfo {
  /** Epochs completed. */
  epochsDone: number;
  epochs: number;
  batchSize: number;
  shuffle: boolean;
  seed: number;
  dropLast: boolean;
  /** Rows and features of the training data. */
  rows: number;
  features: number;
  /** Optimizer steps taken by the model (Adam's t). */
  step: number;
}

/** The fit a checkpoint belongs to; `data` fingerprints x and y (CRC-32 of each). */
type FitRecord = Omit<CheckpointInfo, 'epochsDone' | 'step'> & { data: string };

export interface History {
  epoch: number[];
  loss: number[];
  accuracy: number[];
  valLoss: number[];
  valAccuracy: number[];
  seconds: number[];
}

export interface SequentialOptions {
  /** A backend, or 'wasm' (default) / 'js'. A 'wasm' string needs one earlier `await createBackend('wasm')`. */
  backend?: Backend | 'wasm' | 'js';
  /** Seed of the weight initialization (default 1). */
  seed?: number;
  /**
   * Run each BatchNorm → ReLU pair as one fused kernel (default true): the
   * normalized values are never written to memory. The results are the same
   * bit for bit; false runs the layers one by one.
   */
  fuse?: boolean;
}

/** Thrown when the training loss becomes NaN or infinite. The model keeps the weights of the last finite step. */
export class DivergenceError extends NormcoreError {
  override name = 'DivergenceError';
  constructor(message: string, readonly epoch: number, readonly batch: number) {
    super(message, 'DIVERGED');
  }
}

interface Plan {
  offsets: Map<string, number>;
  bytes: number;
}

/** Lays out named f32 blocks one after another, 16-byte aligned. */
export function planArena(table: ReadonlyArray<readonly [string, number]>): Plan {
  const offsets = new Map<string, number>();
  let bytes = 0;
  for (const [name, floats] of table) {
    offsets.set(name, bytes);
    bytes += Math.ceil((floats * 4) / 16) * 16;
  }
  return { offsets, bytes };
}

const OPT_SLOTS: Record<OptimizerType, number> = { sgd: 0, momentum: 1, rmsprop: 1, adam: 2 };
/** A 32-bit WebAssembly memory holds at most 4 GiB; an arena beyond that can never be allocated. */
const MAX_ARENA_BYTES = 2 ** 32;
const FILE_KIND = 'normcore-sequential';
/** A model file plus optimizer state and training progress (see FitOptions.checkpoint). */
const CHECKPOINT_KIND = 'normcore-checkpoint';

function yieldNow(): Promise<void> {
  const g = globalThis as { setImmediate?: (f: () => void) => void };
  if (g.setImmediate) return new Promise((r) => g.setImmediate!(r));
  return new Promise((r) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => { ch.port1.close(); r(); };
    ch.port2.postMessage(0);
  });
}

export class Sequential {
  readonly layers: readonly Layer[];
  readonly backend: Backend;
  readonly seed: number;
  private readonly k: Kernels;
  private arena: Ptr | undefined;
  private plan!: Plan;
  /** Per-layer output pointers, refreshed whenever the arena is (re)planned: the hot loop builds no names. */
  private outPtrs: Ptr[] = [];
  /** fusedRelu[i]: layer i is a BatchNorm run fused with the ReLU after it. */
  private readonly fusedRelu: boolean[];
  /** BatchNorm counters saved with the snapshot, and before the current batch (see `snapshot`). */
  private readonly snapshotCounts: Float64Array;
  private readonly pendingCounts: Float64Array;
  private capacity = 0;
  private readonly nParams: number;
  private readonly nState: number;
  private readonly maxWidth: number;
  private loss: LossName | undefined;
  private optimizer: Required<OptimizerConfig> | undefined;
  private schedule: LrSchedule = { type: 'constant' };
  /** Optimizer steps taken (Adam's t). */
  private step = 0;
  private disposed = false;
  /** True while a fit runs (a second fit or a compile is refused meanwhile). */
  private training = false;

  /**
   * @param layers  the stack; each layer's input width must match the previous output width
   * @param options { backend = 'wasm', seed = 1 }
   */
  constructor(layers: Layer[], options?: SequentialOptions) {
    const o = expectOptions('Sequential', 'options', options, ['backend', 'seed', 'fuse']);
    if (o.fuse !== undefined && typeof o.fuse !== 'boolean') throw typeError(`Sequential: options.fuse must be a boolean, got ${describe(o.fuse)}`);
    if (!Array.isArray(layers) || layers.length === 0) {
      throw typeError(`Sequential: layers must be a non-empty array of layers, got ${describe(layers)}`);
    }
    layers.forEach((l, i) => {
      if (!(l instanceof Layer)) throw typeError(`Sequential: layers[${i}] must be a Layer, got ${describe(l)}`);
    });
    if (new Set(layers).size !== layers.length) throw typeError('Sequential: the same layer object appears twice in layers');
    const taken = layers.findIndex((l) => l.attached);
    if (taken >= 0) {
      throw typeError(`Sequential: layers[${taken}] (${layers[taken]!.type}) already belongs to another model; create new layers for each model (or dispose the other model first)`);
    }
    this.seed = o.seed === undefined ? 1 : expectInt('Sequential', 'options.seed', o.seed, 0);
    const be = o.backend ?? 'wasm';
    if (typeof be === 'string' && be !== 'wasm' && be !== 'js') {
      throw typeError(`Sequential: options.backend must be a Backend, 'wasm' or 'js', got ${describe(be)}`);
    }
    this.backend = typeof be === 'string' ? createBackendSync(be) : be;
    if (!this.backend || typeof this.backend !== 'object' || !('kernels' in this.backend)) {
      throw typeError(`Sequential: options.backend must be a Backend, 'wasm' or 'js', got ${describe(be)}`);
    }
    // The model plans every pointer and validates its data once, so its kernel calls skip the per-call checks.
    this.k = this.backend.unchecked;
    this.layers = resolveLayers([...layers]);
    this.fusedRelu = this.layers.map((l, i) => (o.fuse ?? true) && l instanceof BatchNorm && this.layers[i + 1] instanceof ReLU);
    this.snapshotCounts = new Float64Array(this.layers.length);
    this.pendingCounts = new Float64Array(this.layers.length);
    this.nParams = sum(this.layers.flatMap((l) => l.paramSpecs().map((s) => s.size)));
    this.nState = sum(this.layers.flatMap((l) => l.stateSpecs().map((s) => s.size)));
    this.maxWidth = Math.max(this.layers[0]!.inFeatures, ...this.layers.map((l) => l.outFeatures));
    this.replan(1, 0);
    this.initialize();
  }

  get inFeatures(): number {
    return this.layers[0]!.inFeatures;
  }

  get outFeatures(): number {
    return this.layers[this.layers.length - 1]!.outFeatures;
  }

  /** Number of trainable values. */
  get parameterCount(): number {
    return this.nParams;
  }

  /** The compiled loss, if any. */
  get lossName(): LossName | undefined {
    return this.loss;
  }

  // ------------------------------------------------------------------ arena

  /** Optimizer slots a plan holds. */
  private slotsIn(plan: Plan): number {
    let n = 0;
    while (plan.offsets.has(`opt${n}`)) n++;
    return n;
  }

  private slots(): number {
    return this.optimizer ? OPT_SLOTS[this.optimizer.type] : 0;
  }

  private table(capacity: number, slots: number): Array<[string, number]> {
    const t: Array<[string, number]> = [
      ['params', this.nParams],
      ['state', this.nState],
      // what a diverging fit returns to, and the state before the current batch (see runFit)
      ['snapshot.params', this.nParams],
      ['snapshot.state', this.nState],
      ['pending.state', this.nState],
    ];
    // Everything above and the optimizer slots persist across a re-plan: they come first, so
    // growing the arena keeps them in place (Heap.realloc) and only the batch-sized part moves.
    for (let s = 0; s < slots; s++) t.push([`opt${s}`, this.nParams]);
    t.push(['grads', this.nParams]);
    this.layers.forEach((l, i) => {
      t.push([`out${i}`, capacity * l.outFeatures]);
      for (const s of l.savedSpecs()) t.push([`saved${i}.${s.name}`, s.size]);
    });
    t.push(['gradA', capacity * this.maxWidth], ['gradB', capacity * this.maxWidth]);
    t.push(['x', capacity * this.inFeatures], ['y', capacity * Math.max(1, this.outFeatures)]);
    return t;
  }

  /** (Re)plans the arena for `capacity` rows and `slots` optimizer slots, keeping params, state and (if kept) optimizer state. */
  private replan(capacity: number, slots: number): void {
    const plan = planArena(this.table(capacity, slots));
    if (plan.bytes > MAX_ARENA_BYTES) {
      throw rangeError(
        `Sequential: the model needs ${plan.bytes} bytes for its parameters, optimizer state and a batch of ${capacity} rows, more than the ${MAX_ARENA_BYTES} bytes (4 GiB) a WebAssembly memory can hold`,
        { argument: 'layers', expected: `at most ${MAX_ARENA_BYTES} bytes`, received: `${plan.bytes} bytes` },
      );
    }
    let ptr: Ptr;
    let oldSlots = 0;
    if (this.arena === undefined) {
      ptr = this.backend.heap.alloc(plan.bytes);
    } else {
      oldSlots = this.slotsIn(this.plan);
      const kept = Math.min(oldSlots, slots);
      const keepBytes = plan.offsets.get(kept < slots ? `opt${kept}` : 'grads')!;
      ptr = this.backend.heap.realloc(this.arena, plan.bytes, keepBytes);
    }
    for (let s = oldSlots; s < slots; s++) this.k.fill(ptr + plan.offsets.get(`opt${s}`)!, this.nParams, 0);
    this.arena = ptr;
    this.plan = plan;
    this.capacity = capacity;
    this.bindLayers();
  }

  private at(name: string): Ptr {
    const o = this.plan.offsets.get(name);
    if (o === undefined) throw new Error(`internal: no arena block ${name}`);
    return this.arena! + o;
  }

  private bindLayers(): void {
    this.outPtrs = this.layers.map((_, i) => this.at(`out${i}`));
    let p = this.at('params'), g = this.at('grads'), s = this.at('state');
    const heap = this.backend.heap;
    this.layers.forEach((l, i) => {
      const b = { heap, params: {} as Record<string, Ptr>, grads: {} as Record<string, Ptr>, state: {} as Record<string, Ptr>, saved: {} as Record<string, Ptr> };
      for (const spec of l.paramSpecs()) {
        b.params[spec.name] = p;
        b.grads[spec.name] = g;
        p += spec.size * 4;
        g += spec.size * 4;
      }
      for (const spec of l.stateSpecs()) {
        b.state[spec.name] = s;
        s += spec.size * 4;
      }
      for (const spec of l.savedSpecs()) b.saved[spec.name] = this.at(`saved${i}.${spec.name}`);
      l.bind(b);
    });
  }

  private ensureCapacity(rows: number): void {
    if (rows > this.capacity) this.replan(Math.max(rows, 64), this.slots());
  }

  private initialize(): void {
    const rng = new Random(this.seed);
    const heap = this.backend.heap;
    let p = this.at('params'), s = this.at('state');
    for (const l of this.layers) {
      const v = l.initialValues(rng);
      for (const spec of l.paramSpecs()) { heap.write(p, v[spec.name]!); p += spec.size * 4; }
      for (const spec of l.stateSpecs()) { heap.write(s, v[spec.name]!); s += spec.size * 4; }
    }
    if (this.nParams > 0) this.k.fill(this.at('grads'), this.nParams, 0);
  }

  private checkAlive(where: string): void {
    if (this.disposed) throw new StateError(`${where}: the model was disposed`);
  }

  // ------------------------------------------------------------------ compile

  /** Chooses the loss, the optimizer (its state is reset) and the learning-rate schedule. */
  compile(options?: CompileOptions): this {
    this.checkAlive('compile');
    if (this.training) throw new StateError('compile: the model is training; compile after fit has finished');
    const o = expectOptions('compile', 'options', options, ['loss', 'optimizer', 'lrSchedule']);
    const loss = o.loss ?? 'softmaxCrossEntropy';
    if (loss !== 'softmaxCrossEntropy' && loss !== 'mse') {
      throw typeError(`compile: options.loss must be 'softmaxCrossEntropy' or 'mse', got ${describe(loss)}`);
    }
    if (loss === 'softmaxCrossEntropy' && this.outFeatures < 2) {
      throw rangeError(`compile: softmaxCrossEntropy needs at least 2 outputs, the model has ${this.outFeatures}`);
    }
    const opt = resolveOptimizer(o.optimizer ?? { type: 'adam' });
    const schedule = resolveSchedule(o.lrSchedule ?? { type: 'constant' });
    // Re-plan first (it may fail for lack of memory), then change the model.
    const slots = OPT_SLOTS[opt.type];
    if (slots !== this.slotsIn(this.plan)) this.replan(this.capacity, slots);
    this.loss = loss;
    this.optimizer = opt;
    this.schedule = schedule;
    this.resetOptimizerState();
    return this;
  }

  // ------------------------------------------------------------------ forward / backward

  /** Runs the layers on the batch in block 'x' (rows ≤ capacity). Returns the pointer of the last output. */
  /**
   * Runs the layers on the batch in block 'x' (rows ≤ capacity). Returns the
   * pointer of the last output. A fused BatchNorm → ReLU pair writes only the
   * ReLU's output; `fuse: false` (layerOutputs) runs every layer.
   */
  private forward(rows: number, training: boolean, upTo = this.layers.length - 1, fuse = true): Ptr {
    let inp = this.at('x');
    for (let i = 0; i <= upTo; i++) {
      const layer = this.layers[i]!;
      if (fuse && this.fusedRelu[i] && i + 1 <= upTo) {
        i++;
        (layer as BatchNorm).forwardRelu(this.k, this.outPtrs[i]!, inp, rows, training);
      } else {
        layer.forward(this.k, this.outPtrs[i]!, inp, rows, training);
      }
      inp = this.outPtrs[i]!;
    }
    return inp;
  }

  /** Backward from dLoss/dOutput in 'gradA'. Parameter gradients are zeroed first. */
  private backward(rows: number): void {
    if (this.nParams > 0) this.k.fill(this.at('grads'), this.nParams, 0);
    let dout = this.at('gradA'), dinp = this.at('gradB');
    for (let i = this.layers.length - 1; i >= 0; i--) {
      const fusedPair = i > 0 && this.fusedRelu[i - 1];
      if (fusedPair) i--; // the ReLU's backward runs inside its BatchNorm's
      const inp = i === 0 ? this.at('x') : this.outPtrs[i - 1]!;
      if (fusedPair) (this.layers[i] as BatchNorm).backwardRelu(this.k, dinp, dout, inp, this.outPtrs[i + 1]!, rows);
      else this.layers[i]!.backward(this.k, dinp, dout, inp, this.outPtrs[i]!, rows, i > 0);
      [dout, dinp] = [dinp, dout];
    }
  }

  private lossAndGrad(out: Ptr, rows: number): number {
    if (this.loss === 'mse') return this.k.mseLoss(this.at('gradA'), out, this.at('y'), rows, this.outFeatures);
    return this.k.softmaxCrossEntropy(this.at('gradA'), out, this.at('y'), rows, this.outFeatures);
  }

  private learningRate(epoch: number, stepInFit: number, stepsInFit: number): number {
    const lr = this.optimizer!.lr;
    const s = this.schedule;
    if (s.type === 'cosine') {
      const min = s.minLr ?? 0;
      return min + (lr - min) * 0.5 * (1 + Math.cos((Math.PI * stepInFit) / Math.max(1, stepsInFit)));
    }
    if (s.type === 'step') return lr * Math.pow(s.factor, Math.floor(epoch / s.every));
    return lr;
  }

  private applyOptimizer(lr: number): void {
    const o = this.optimizer!;
    const n = this.nParams;
    if (n === 0) return;
    this.step++;
    const p = this.at('params'), g = this.at('grads');
    switch (o.type) {
      case 'sgd':
        this.k.sgdUpdate(p, g, p, n, lr, 0, o.weightDecay);
        break;
      case 'momentum':
        this.k.sgdUpdate(p, g, this.at('opt0'), n, lr, o.momentum, o.weightDecay);
        break;
      case 'rmsprop':
        this.k.rmspropUpdate(p, g, this.at('opt0'), n, lr, o.rho, o.eps, o.weightDecay);
        break;
      case 'adam':
        this.k.adamUpdate(p, g, this.at('opt0'), this.at('opt1'), n, lr, o.beta1, o.beta2, o.eps, o.weightDecay, this.step);
        break;
    }
  }

  /**
   * The divergence snapshot: the model with which the last finite loss was
   * computed. Per batch: 'begin' keeps the (small) state and BatchNorm
   * counters the forward is about to change; once the loss is known to be
   * finite, 'commit' saves the parameters (the forward does not change them)
   * with that state; 'restore' puts the snapshot back. 'all' saves the current
   * model directly (at the start of a fit).
   */
  private snapshot(what: 'all' | 'begin' | 'commit' | 'restore'): void {
    const k = this.k, P = this.nParams, S = this.nState;
    const params = this.at('params'), state = this.at('state');
    const snapParams = this.at('snapshot.params'), snapState = this.at('snapshot.state'), pending = this.at('pending.state');
    switch (what) {
      case 'all':
        if (P > 0) k.copy(snapParams, params, P);
        if (S > 0) k.copy(snapState, state, S);
        this.readCounts(this.snapshotCounts);
        break;
      case 'begin':
        if (S > 0) k.copy(pending, state, S);
        this.readCounts(this.pendingCounts);
        break;
      case 'commit':
        if (P > 0) k.copy(snapParams, params, P);
        if (S > 0) k.copy(snapState, pending, S);
        this.snapshotCounts.set(this.pendingCounts);
        break;
      case 'restore':
        if (P > 0) k.copy(params, snapParams, P);
        if (S > 0) k.copy(state, snapState, S);
        for (let i = 0; i < this.layers.length; i++) {
          const l = this.layers[i];
          if (l instanceof BatchNorm) l.numBatchesTracked = this.snapshotCounts[i]!;
        }
        break;
    }
  }

  /** Copies each BatchNorm's counter into `into` (by layer index), without allocating. */
  private readCounts(into: Float64Array): void {
    for (let i = 0; i < this.layers.length; i++) {
      const l = this.layers[i];
      if (l instanceof BatchNorm) into[i] = l.numBatchesTracked;
    }
  }

  /** Zeroes the optimizer state and its step count, as compile does. */
  private resetOptimizerState(): void {
    this.step = 0;
    if (this.nParams === 0) return;
    for (let s = 0; s < this.slots(); s++) this.k.fill(this.at(`opt${s}`), this.nParams, 0);
  }

  /** @internal A copy of the optimizer state: steps taken, and each slot (momentum: velocity; Adam: m, v) in parameter order. */
  optimizerState(): { step: number; slots: Float32Array[] } {
    this.checkAlive('optimizerState');
    const slots: Float32Array[] = [];
    for (let s = 0; s < this.slots(); s++) slots.push(this.backend.heap.readF32(this.at(`opt${s}`), this.nParams));
    return { step: this.step, slots };
  }

  // ------------------------------------------------------------------ data checks

  private checkX(where: string, name: string, x: unknown, checkFinite: boolean): number {
    if (!(x instanceof Float32Array)) throw typeError(`${where}: ${name} must be a Float32Array (rows × ${this.inFeatures}), got ${describe(x)}`);
    const F = this.inFeatures;
    if (x.length === 0 || x.length % F !== 0) {
      throw rangeError(`${where}: ${name} must have a length that is a positive multiple of ${F} (rows × ${F} features), got length ${x.length}`, {
        code: 'SHAPE_MISMATCH', argument: name, expected: `a positive multiple of ${F}`, received: `length ${x.length}`,
      });
    }
    if (checkFinite) {
      for (let i = 0; i < x.length; i++) {
        if (!Number.isFinite(x[i]!)) {
          throw rangeError(`${where}: ${name} must hold finite numbers, got ${x[i]} at row ${Math.floor(i / F)}, feature ${i % F} (pass checkInputs: false to skip this check)`, {
            code: 'NOT_FINITE', argument: name, expected: 'finite numbers', received: String(x[i]),
          });
        }
      }
    }
    return x.length / F;
  }

  /** Labels → Int32Array class indices (softmax CE) or Float32Array targets (mse), validated. */
  private targets(where: string, name: string, y: unknown, rows: number): Int32Array | Float32Array {
    const K = this.outFeatures;
    const loss = this.loss ?? 'softmaxCrossEntropy';
    if (!(y instanceof Uint8Array || y instanceof Int32Array || y instanceof Uint16Array || y instanceof Float32Array)) {
      throw typeError(`${where}: ${name} must be class labels (Uint8Array, Uint16Array or Int32Array) or one-hot/targets (Float32Array), got ${describe(y)}`);
    }
    if (y instanceof Float32Array) {
      if (y.length !== rows * K) throw rangeError(`${where}: ${name} as a Float32Array must have length rows·outputs = ${rows}·${K} = ${rows * K}, got length ${y.length}`, { code: 'SHAPE_MISMATCH', argument: name, expected: `length ${rows * K}`, received: `length ${y.length}` });
      for (let i = 0; i < y.length; i++) {
        if (!Number.isFinite(y[i]!)) throw rangeError(`${where}: ${name} must hold finite numbers, got ${y[i]} at index ${i}`, { code: 'NOT_FINITE', argument: name, expected: 'finite numbers', received: String(y[i]) });
      }
      if (loss === 'mse') return y;
      const labels = new Int32Array(rows);
      for (let r = 0; r < rows; r++) {
        let best = 0;
        for (let j = 1; j < K; j++) if (y[r * K + j]! > y[r * K + best]!) best = j;
        labels[r] = best;
      }
      return labels;
    }
    if (y.length !== rows) throw rangeError(`${where}: ${name} must have one label per row (${rows}), got length ${y.length}`, { code: 'SHAPE_MISMATCH', argument: name, expected: `length ${rows}`, received: `length ${y.length}` });
    for (let i = 0; i < y.length; i++) {
      const v = y[i]!;
      if (v < 0 || v >= K) throw rangeError(`${where}: ${name}[${i}] must be a class index in [0, ${K - 1}], got ${v}`);
    }
    if (loss === 'mse') {
      const t = new Float32Array(rows * K);
      for (let r = 0; r < rows; r++) t[r * K + y[r]!] = 1;
      return t;
    }
    return Int32Array.from(y);
  }

  // ------------------------------------------------------------------ public API

  /**
   * Trains on x (rows × inFeatures) and y (labels, or one-hot / targets).
   * The data is copied into the backend's memory once; mini-batches are
   * gathered there. Yields to the event loop between batches.
   */
  async fit(x: Float32Array, y: Labels, options?: FitOptions): Promise<History> {
    this.checkAlive('fit');
    const where = 'fit';
    if (this.training) throw new StateError('fit: the model is already training; wait for the running fit to finish (or abort it with its signal)');
    const o = expectOptions(where, 'options', options, [
      'epochs', 'batchSize', 'shuffle', 'seed', 'dropLast', 'validationData', 'onEpochEnd', 'onBatchEnd', 'checkInputs', 'signal', 'checkpoint', 'resumeFrom',
    ]);
    if (!this.optimizer || !this.loss) throw new StateError('fit: the model is not compiled; call model.compile({ loss, optimizer }) first');
    const checkFinite = o.checkInputs ?? true;
    if (typeof checkFinite !== 'boolean') throw typeError(`fit: options.checkInputs must be a boolean, got ${describe(checkFinite)}`);
    const N = this.checkX(where, 'x', x, checkFinite);
    const targets = this.targets(where, 'y', y, N);
    const epochs = o.epochs === undefined ? 1 : expectInt(where, 'options.epochs', o.epochs);
    const batchSize = o.batchSize === undefined ? Math.min(32, N) : expectInt(where, 'options.batchSize', o.batchSize);
    if (batchSize > N) {
      throw rangeError(`fit: options.batchSize must be ≤ the number of rows (${N}), got ${batchSize}`, { argument: 'options.batchSize', expected: `≤ ${N}`, received: String(batchSize) });
    }
    const hasBn = this.layers.some((l) => l instanceof BatchNorm);
    if (hasBn && batchSize < 2) {
      throw rangeError(`fit: options.batchSize must be ≥ 2 for a model with BatchNorm (the variance of one sample is undefined), got ${batchSize}${N === 1 ? ' (x has a single row)' : ''}`, {
        argument: 'options.batchSize', expected: '≥ 2', received: String(batchSize),
      });
    }
    const shuffle = o.shuffle ?? true;
    const seed = o.seed === undefined ? this.seed : expectInt(where, 'options.seed', o.seed, 0);
    const dropLast = o.dropLast ?? false;
    for (const [name, v] of [['shuffle', shuffle], ['dropLast', dropLast]] as const) {
      if (typeof v !== 'boolean') throw typeError(`fit: options.${name} must be a boolean, got ${describe(v)}`);
    }
    for (const name of ['onEpochEnd', 'onBatchEnd'] as const) {
      if (o[name] !== undefined && typeof o[name] !== 'function') throw typeError(`fit: options.${name} must be a function, got ${describe(o[name])}`);
    }
    const signal = o.signal;
    if (signal !== undefined && !(typeof signal === 'object' && signal !== null && 'aborted' in signal)) {
      throw typeError(`fit: options.signal must be an AbortSignal, got ${describe(signal)}`);
    }
    let val: { x: Float32Array; y: Labels } | undefined;
    if (o.validationData !== undefined) {
      if (!Array.isArray(o.validationData) || o.validationData.length !== 2) {
        throw typeError(`fit: options.validationData must be [x, y], got ${describe(o.validationData)}`);
      }
      const [vx, vy] = o.validationData;
      this.targets(where, 'validationData[1]', vy, this.checkX(where, 'validationData[0]', vx, checkFinite));
      val = { x: vx, y: vy };
    }
    const checkpoint = o.checkpoint === undefined ? undefined : checkCheckpointOption(o.checkpoint);
    if (o.resumeFrom !== undefined && !(o.resumeFrom instanceof Uint8Array)) {
      throw typeError(`fit: options.resumeFrom must be the bytes of a checkpoint (Uint8Array), got ${describe(o.resumeFrom)}`);
    }
    const record: FitRecord | undefined = checkpoint || o.resumeFrom
      ? { epochs, batchSize, shuffle, seed, dropLast, rows: N, features: this.inFeatures, data: fingerprint(x, targets) }
      : undefined;
    const resume = o.resumeFrom ? this.checkResume(o.resumeFrom, record!) : undefined;

    let batches = Math.floor(N / batchSize);
    const rest = N - batches * batchSize;
    if (rest > 0 && !dropLast && !(hasBn && rest < 2)) batches++;

    // Everything is validated: from here on the model changes.
    this.training = true;
    try {
      return await this.runFit({ x, targets, N, epochs, batchSize, batches, shuffle, seed, val, options: o, checkpoint, record, resume });
    } finally {
      this.training = false;
    }
  }

  /** The training loop of a validated fit. */
  private async runFit(r: {
    x: Float32Array; targets: Int32Array | Float32Array; N: number; epochs: number; batchSize: number; batches: number; shuffle: boolean; seed: number;
    val: { x: Float32Array; y: Labels } | undefined; options: Partial<FitOptions>;
    checkpoint: Required<CheckpointOptions> | undefined; record: FitRecord | undefined; resume: ParsedFile | undefined;
  }): Promise<History> {
    const { N, epochs, batchSize, batches, val, options: o } = r;
    const signal = o.signal;
    const heap = this.backend.heap;
    const F = this.inFeatures;
    const yCols = r.targets instanceof Int32Array ? 1 : this.outFeatures;
    const blocks: Ptr[] = [];
    const history: History = { epoch: [], loss: [], accuracy: [], valLoss: [], valAccuracy: [], seconds: [] };
    try {
      // Memory first (it may run out), then the model changes.
      this.ensureCapacity(batchSize);
      for (const floats of [N * F, N * yCols, N]) blocks.push(heap.allocF32(floats));
      const [dx, dy, didx] = blocks as [Ptr, Ptr, Ptr];
      if (r.resume) this.restoreFrom(r.resume);
      heap.write(dx, r.x);
      heap.write(dy, r.targets);
      const order = new Int32Array(N);
      for (let i = 0; i < N; i++) order[i] = i;
      const rng = new Random(r.seed ^ 0x5eed);
      // Resuming: replay the shuffles of the epochs already done, so the batches are those of an uninterrupted run.
      const first = r.resume?.fit?.epochsDone ?? 0;
      if (r.shuffle) for (let e = 0; e < first; e++) rng.shuffle(order);
      const stepsInFit = epochs * batches;
      let lastYield = performance.now();
      // Divergence: the snapshot holds the model with which the last finite loss was computed.
      this.snapshot('all');
      for (let epoch = first; epoch < epochs && !signal?.aborted; epoch++) {
        if (r.shuffle) rng.shuffle(order);
        heap.write(didx, order);
        let lossSum = 0, correct = 0, seen = 0;
        const t0 = performance.now();
        for (let b = 0; b < batches; b++) {
          const rows = Math.min(batchSize, N - b * batchSize);
          const idx = didx + b * batchSize * 4;
          this.k.gatherRows(this.at('x'), dx, idx, rows, F);
          this.k.gatherRows(this.at('y'), dy, idx, rows, yCols);
          this.snapshot('begin');
          const out = this.forward(rows, true);
          if (this.loss === 'softmaxCrossEntropy') correct += this.k.countCorrect(out, this.at('y'), rows, this.outFeatures);
          const loss = this.lossAndGrad(out, rows);
          if (!Number.isFinite(loss)) {
            this.snapshot('restore');
            this.resetOptimizerState();
            throw new DivergenceError(
              `fit: the training loss became ${loss} at epoch ${epoch + 1}, batch ${b + 1} of ${batches}; training stopped, the model keeps the weights with which the last finite loss was computed and its optimizer state is reset (lower the learning rate?)`,
              epoch, b,
            );
          }
          this.snapshot('commit');
          this.backward(rows);
          this.applyOptimizer(this.learningRate(epoch, epoch * batches + b, stepsInFit));
          lossSum += loss * rows;
          seen += rows;
          if (o.onBatchEnd) {
            await o.onBatchEnd(b, { epoch, batch: b, batches, loss });
            this.checkAlive('fit');
          }
          if (signal?.aborted) break;
          if (performance.now() - lastYield > 8) {
            await yieldNow();
            this.checkAlive('fit');
            lastYield = performance.now();
          }
        }
        if (signal?.aborted) break;
        const seconds = (performance.now() - t0) / 1000;
        const logs: EpochLogs = {
          epoch,
          loss: lossSum / seen,
          accuracy: this.loss === 'softmaxCrossEntropy' ? correct / seen : NaN,
          seconds,
          samplesPerSecond: seen / seconds,
        };
        if (val) {
          const e = this.evaluate(val.x, val.y, { checkInputs: false });
          logs.valLoss = e.loss;
          logs.valAccuracy = e.accuracy;
        }
        history.epoch.push(epoch);
        history.loss.push(logs.loss);
        history.accuracy.push(logs.accuracy);
        history.valLoss.push(logs.valLoss ?? NaN);
        history.valAccuracy.push(logs.valAccuracy ?? NaN);
        history.seconds.push(seconds);
        const done = epoch + 1;
        if (r.checkpoint && (done % r.checkpoint.everyEpochs === 0 || done === epochs)) {
          const { record } = r;
          await r.checkpoint.save(this.checkpointBytes(record!, done), { ...record!, epochsDone: done, step: this.step });
          this.checkAlive('fit');
        }
        if (o.onEpochEnd) {
          await o.onEpochEnd(epoch, logs);
          this.checkAlive('fit');
        }
        await yieldNow();
        this.checkAlive('fit');
        lastYield = performance.now();
      }
    } finally {
      for (const b of blocks.reverse()) heap.free(b);
    }
    return history;
  }

  /**
   * Runs x through the model in inference mode (BatchNorm uses its running
   * statistics) in chunks, calling `each(rows, start, outPtr)` per chunk.
   */
  private inferChunks(where: string, x: Float32Array, checkFinite: boolean, upTo: number, fuse: boolean, each: (rows: number, start: number, out: Ptr) => void): number {
    const N = this.checkX(where, 'x', x, checkFinite);
    const chunk = Math.min(N, Math.max(this.capacity, 256));
    this.ensureCapacity(chunk);
    const F = this.inFeatures;
    for (let start = 0; start < N; start += chunk) {
      const rows = Math.min(chunk, N - start);
      this.backend.heap.write(this.at('x'), x.subarray(start * F, (start + rows) * F));
      each(rows, start, this.forward(rows, false, upTo, fuse));
    }
    return N;
  }

  /** Inference. Returns rows × outFeatures: class probabilities for softmaxCrossEntropy, raw outputs otherwise. */
  predict(x: Float32Array, options?: { checkInputs?: boolean }): Float32Array {
    this.checkAlive('predict');
    const o = expectOptions('predict', 'options', options, ['checkInputs']);
    const K = this.outFeatures;
    const N = this.checkX('predict', 'x', x, checkInputsOption('predict', o.checkInputs));
    const result = new Float32Array(N * K);
    this.inferChunks('predict', x, false, this.layers.length - 1, true, (rows, start, out) => {
      if (this.loss === 'softmaxCrossEntropy') this.k.softmaxForward(out, out, rows, K);
      result.set(this.backend.heap.f32(out, rows * K), start * K);
    });
    return result;
  }

  /** Mean loss and accuracy (classification) on x, y in inference mode. */
  evaluate(x: Float32Array, y: Labels, options?: { checkInputs?: boolean }): { loss: number; accuracy: number } {
    this.checkAlive('evaluate');
    const o = expectOptions('evaluate', 'options', options, ['checkInputs']);
    const checkFinite = checkInputsOption('evaluate', o.checkInputs);
    const N = this.checkX('evaluate', 'x', x, checkFinite);
    const t = this.targets('evaluate', 'y', y, N);
    const K = this.outFeatures;
    const yCols = t instanceof Int32Array ? 1 : K;
    let lossSum = 0, correct = 0;
    this.inferChunks('evaluate', x, false, this.layers.length - 1, true, (rows, start, out) => {
      this.backend.heap.write(this.at('y'), t.subarray(start * yCols, (start + rows) * yCols));
      if (this.loss === 'mse') {
        lossSum += this.k.mseLoss(this.at('gradA'), out, this.at('y'), rows, K) * rows;
      } else {
        correct += this.k.countCorrect(out, this.at('y'), rows, K);
        lossSum += this.k.softmaxCrossEntropy(this.at('gradA'), out, this.at('y'), rows, K) * rows;
      }
    });
    return { loss: lossSum / N, accuracy: this.loss === 'mse' ? NaN : correct / N };
  }

  /** Inference-mode outputs of the given layers (indices into `layers`), one Float32Array (rows × width) each. */
  layerOutputs(x: Float32Array, indices: number[], options?: { checkInputs?: boolean }): Float32Array[] {
    this.checkAlive('layerOutputs');
    const o = expectOptions('layerOutputs', 'options', options, ['checkInputs']);
    const checkFinite = o.checkInputs ?? true;
    if (typeof checkFinite !== 'boolean') throw typeError(`layerOutputs: options.checkInputs must be a boolean, got ${describe(checkFinite)}`);
    if (!Array.isArray(indices) || indices.length === 0) throw typeError(`layerOutputs: indices must be a non-empty array, got ${describe(indices)}`);
    indices.forEach((i, j) => expectInt('layerOutputs', `indices[${j}]`, i, 0));
    const bad = indices.find((i) => i >= this.layers.length);
    if (bad !== undefined) throw rangeError(`layerOutputs: layer index must be < ${this.layers.length}, got ${bad}`);
    const rowsTotal = this.checkX('layerOutputs', 'x', x, checkFinite);
    const outs = indices.map((i) => new Float32Array(rowsTotal * this.layers[i]!.outFeatures));
    const upTo = Math.max(...indices);
    this.inferChunks('layerOutputs', x, false, upTo, false, (rows, start) => {
      indices.forEach((i, j) => {
        const w = this.layers[i]!.outFeatures;
        outs[j]!.set(this.backend.heap.f32(this.outPtrs[i]!, rows * w), start * w);
      });
    });
    return outs;
  }

  /** All trainable parameters, named "<layer index>.<type>.<name>", with copies of value and gradient. */
  parameters(): NamedParameter[] {
    this.checkAlive('parameters');
    return this.layers.flatMap((l, i) => l.parameters().map((p) => ({ ...p, name: `${i}.${l.type}.${p.name}` })));
  }

  /** A one-table description of the layers and their sizes. */
  summary(): string {
    const rows = this.layers.map((l, i) => {
      const params = l.paramSpecs().reduce((a, s) => a + s.size, 0);
      const extra = l instanceof Dense ? (l.bias ? ' +bias' : ' (no bias)') : '';
      return `${String(i).padStart(3)}  ${(l.type + extra).padEnd(18)} ${String(l.inFeatures).padStart(6)} → ${String(l.outFeatures).padEnd(6)} ${String(params).padStart(9)}`;
    });
    return [`  #  layer              in      out      params`, ...rows, `trainable parameters: ${this.nParams}, backend: ${this.backend.name}`].join('\n');
  }

  /** Params and state, in file order (each layer's params, then its state). */
  private weights(): Float32Array {
    const heap = this.backend.heap;
    const out = new Float32Array(this.nParams + this.nState);
    let o = 0, p = this.at('params'), st = this.at('state');
    for (const l of this.layers) {
      for (const spec of l.paramSpecs()) { out.set(heap.f32(p, spec.size), o); o += spec.size; p += spec.size * 4; }
      for (const spec of l.stateSpecs()) { out.set(heap.f32(st, spec.size), o); o += spec.size; st += spec.size * 4; }
    }
    return out;
  }

  /** The model as bytes: topology, options and weights including running statistics (see format.ts). */
  save(): Uint8Array {
    this.checkAlive('save');
    return encodeModelFile(this.header(FILE_KIND), this.weights());
  }

  private header(kind: string): { kind: string; layers: LayerConfig[]; seed: number; compile: unknown } {
    return {
      kind,
      layers: this.layers.map((l) => l.config()),
      seed: this.seed,
      compile: this.optimizer ? { loss: this.loss, optimizer: this.optimizer, lrSchedule: this.schedule } : null,
    };
  }

  /** A checkpoint: the model file, plus the optimizer state and the progress of the fit `record` after `epochsDone` epochs. */
  private checkpointBytes(record: FitRecord, epochsDone: number): Uint8Array {
    const model = this.weights();
    const slots = this.slots();
    const all = new Float32Array(model.length + slots * this.nParams);
    all.set(model);
    for (let s = 0; s < slots; s++) all.set(this.backend.heap.f32(this.at(`opt${s}`), this.nParams), model.length + s * this.nParams);
    const header = { ...this.header(CHECKPOINT_KIND), optimizerState: { step: this.step, slots }, fit: { ...record, epochsDone } };
    return encodeModelFile(header, all);
  }

  /** Writes params and state from a file's weights (each layer's params, then its state). */
  private writeWeights(weights: Float32Array): void {
    const heap = this.backend.heap;
    let w = 0;
    let p = this.at('params'), s = this.at('state');
    for (const l of this.layers) {
      for (const spec of l.paramSpecs()) { heap.write(p, weights.subarray(w, w + spec.size)); p += spec.size * 4; w += spec.size; }
      for (const spec of l.stateSpecs()) { heap.write(s, weights.subarray(w, w + spec.size)); s += spec.size * 4; w += spec.size; }
    }
  }

  private writeOptimizerState(o: { step: number; slots: Float32Array[] }): void {
    this.step = o.step;
    o.slots.forEach((slot, s) => this.backend.heap.write(this.at(`opt${s}`), slot));
  }

  /** Checks that checkpoint bytes belong to this model, compile options and fit (see FitOptions.resumeFrom). Changes nothing. */
  private checkResume(bytes: Uint8Array, record: FitRecord): ParsedFile {
    const f = parseFile('fit: options.resumeFrom', bytes);
    const mismatch = (why: string): never => {
      throw new NormcoreError(`fit: options.resumeFrom ${why}`, 'CHECKPOINT_MISMATCH');
    };
    if (!f.fit || !f.optimizer) return mismatch('is a model file, not a checkpoint (it holds no optimizer state or training progress)');
    const layerKey = (c: LayerConfig) => JSON.stringify({ ...c, numBatchesTracked: undefined });
    if (f.layers.length !== this.layers.length) mismatch(`was written by a model of ${f.layers.length} layers, this model has ${this.layers.length}`);
    f.layers.forEach((l, i) => {
      const mine = this.layers[i]!.config(), theirs = l.config();
      if (layerKey(theirs) !== layerKey(mine)) mismatch(`was written by another model: its layers[${i}] is ${layerKey(theirs)}, this model's is ${layerKey(mine)}`);
    });
    const mine = JSON.stringify(this.header(CHECKPOINT_KIND).compile), theirs = JSON.stringify(f.compile);
    if (mine !== theirs) mismatch(`was written with other compile options: ${theirs}; this model has ${mine}`);
    const fit = f.fit;
    if (fit.data !== record.data || fit.rows !== record.rows || fit.features !== record.features) {
      mismatch(`was written for other training data (${fit.rows} rows × ${fit.features} features, fingerprint ${fit.data}); this fit has ${record.rows} × ${record.features}, fingerprint ${record.data}`);
    }
    for (const key of ['epochs', 'batchSize', 'shuffle', 'seed', 'dropLast'] as const) {
      if (fit[key] !== record[key]) mismatch(`was written by a fit with options.${key} = ${fit[key]}, this fit has ${record[key]}; resume with the same options`);
    }
    return f;
  }

  /** Restores weights, running statistics, BatchNorm counters and optimizer state from a checked checkpoint. */
  private restoreFrom(f: ParsedFile): void {
    this.writeWeights(f.weights);
    this.layers.forEach((l, i) => {
      if (l instanceof BatchNorm) l.numBatchesTracked = (f.layers[i] as BatchNorm).numBatchesTracked;
    });
    if (f.optimizer) this.writeOptimizerState(f.optimizer);
  }

  /**
   * Rebuilds a model saved with `save()`, or the model in a checkpoint (with
   * its optimizer state). Throws ModelFormatError for bytes that are not a
   * valid model file: the sizes, checksum, topology and weight count are
   * checked against the file before anything is allocated, weights must be
   * finite and running variances ≥ 0.
   */
  static load<M extends Sequential>(
    this: new (layers: Layer[], options?: SequentialOptions) => M,
    bytes: Uint8Array,
    options?: { backend?: Backend | 'wasm' | 'js' },
  ): M {
    const o = expectOptions('load', 'options', options, ['backend']);
    if (typeof o.backend === 'string' && o.backend !== 'wasm' && o.backend !== 'js') {
      throw typeError(`load: options.backend must be a Backend, 'wasm' or 'js', got ${describe(o.backend)}`);
    }
    const f = parseFile('load', bytes);
    const bad = (why: string): never => {
      throw new ModelFormatError(`load: not a valid normcore model file: ${why}`);
    };
    let model: M;
    try {
      model = new this(f.layers, { backend: o.backend ?? 'wasm', seed: f.seed });
    } catch (e) {
      if (e instanceof ModelFormatError) throw e;
      if (e instanceof TypeError && /options\.backend|createBackend/.test(e.message)) throw e;
      return bad(`the layers do not form a valid model (${(e as Error).message})`);
    }
    if (model.nParams + model.nState !== f.weights.length) {
      model.dispose();
      bad(`the model needs ${model.nParams + model.nState} weights, the file has ${f.weights.length}`);
    }
    model.writeWeights(f.weights);
    if (f.compile) {
      try {
        model.compile(f.compile);
      } catch (e) {
        model.dispose();
        return bad(`the saved compile options are invalid (${(e as Error).message})`);
      }
    }
    if (f.optimizer) model.writeOptimizerState(f.optimizer);
    return model;
  }

  /** What a checkpoint records about its fit. Throws ModelFormatError for invalid bytes (or a model file, which is no checkpoint). */
  static checkpointInfo(bytes: Uint8Array): CheckpointInfo {
    const f = parseFile('checkpointInfo', bytes);
    if (!f.fit || !f.optimizer) throw new ModelFormatError('checkpointInfo: the bytes are a model file, not a checkpoint (no optimizer state or training progress)');
    const { data: _data, ...fit } = f.fit;
    return { ...fit, step: f.optimizer.step };
  }

  /** Returns the model's arena to the backend's heap. The model cannot be used afterwards. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.arena !== undefined) this.backend.heap.free(this.arena);
    this.arena = undefined;
    for (const l of this.layers) l.bind(undefined);
  }
}

function sum(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

/** A model or checkpoint file, checked: layers built (not yet in a model), weights split, header validated. */
interface ParsedFile {
  layers: Layer[];
  seed: number;
  compile: CompileOptions | null;
  /** Params and state, in file order. */
  weights: Float32Array;
  /** Checkpoints only. */
  optimizer?: { step: number; slots: Float32Array[] };
  fit?: FitRecord & { epochsDone: number };
}

const isInt = (v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;

/**
 * Decodes and checks a model or checkpoint file without allocating more
 * than the file's own size: every size is checked against the weights the
 * file holds before any layer gets memory. Throws ModelFormatError.
 */
function parseFile(where: string, bytes: unknown): ParsedFile {
  let decoded: { header: unknown; weights: Float32Array };
  try {
    decoded = decodeModelFile(bytes);
  } catch (e) {
    if (where === 'load' || !(e instanceof Error)) throw e;
    const message = e.message.replace(/^load: /, `${where}: `);
    throw e instanceof ModelFormatError ? new ModelFormatError(message) : typeError(message);
  }
  const { header, weights } = decoded;
  const bad = (why: string): never => {
    throw new ModelFormatError(`${where}: not a valid normcore model file: ${why}`);
  };
  const h = header as Record<string, unknown> | null;
  if (!h || typeof h !== 'object' || Array.isArray(h) || (h.kind !== FILE_KIND && h.kind !== CHECKPOINT_KIND)) {
    return bad('the header is not a normcore Sequential model or checkpoint');
  }
  const isCheckpoint = h.kind === CHECKPOINT_KIND;
  if (!Array.isArray(h.layers) || h.layers.length === 0 || h.layers.length > 10000) bad('the header has no valid layer list');
  let layers: Layer[] = [];
  try {
    layers = (h.layers as unknown[]).map((c, i) => {
      const d = c as { type?: unknown; bias?: unknown } | null;
      if (d && typeof d === 'object' && d.type === 'dense' && typeof d.bias !== 'boolean') throw new Error(`layers[${i}].bias must be a boolean, got ${describe(d.bias)}`);
      return layerFromConfig(c as LayerConfig);
    });
  } catch (e) {
    bad(`a layer in the header is invalid (${(e as Error).message})`);
  }
  const nParams = sum(layers.flatMap((l) => l.paramSpecs().map((s) => s.size)));
  const modelCount = nParams + sum(layers.flatMap((l) => l.stateSpecs().map((s) => s.size)));
  const c = h.compile;
  if (c !== null && c !== undefined && (typeof c !== 'object' || Array.isArray(c))) bad(`the compile options are not an object (${describe(c)})`);
  const compile = (c ?? null) as CompileOptions | null;
  let slotCount = 0;
  let step = 0;
  let fit: ParsedFile['fit'];
  if (isCheckpoint) {
    const os = h.optimizerState as { step?: unknown; slots?: unknown } | null;
    if (!os || typeof os !== 'object' || !isInt(os.step, 0) || !isInt(os.slots, 0, 2)) bad('the checkpoint has no valid optimizerState { step, slots }');
    step = os!.step as number;
    slotCount = os!.slots as number;
    const type = (compile?.optimizer as { type?: unknown } | undefined)?.type;
    if (slotCount > 0 && OPT_SLOTS[type as OptimizerType] !== slotCount) bad(`the checkpoint holds ${slotCount} optimizer slots, which does not fit its optimizer ${describe(type)}`);
    const r = h.fit as Record<string, unknown> | null;
    if (
      !r || typeof r !== 'object' || !isInt(r.epochs, 1) || !isInt(r.batchSize, 1) || typeof r.shuffle !== 'boolean' || !isInt(r.seed, 0)
      || typeof r.dropLast !== 'boolean' || !isInt(r.rows, 1) || !isInt(r.features, 1) || typeof r.data !== 'string' || !isInt(r.epochsDone, 0, r.epochs as number)
    ) {
      bad('the checkpoint has no valid fit record');
    }
    const v = r as unknown as FitRecord & { epochsDone: number };
    fit = { epochs: v.epochs, batchSize: v.batchSize, shuffle: v.shuffle, seed: v.seed, dropLast: v.dropLast, rows: v.rows, features: v.features, data: v.data, epochsDone: v.epochsDone };
  }
  const expected = modelCount + slotCount * nParams;
  if (expected !== weights.length) bad(`the topology needs ${expected} weights, the file has ${weights.length}`);
  for (let i = 0; i < weights.length; i++) {
    if (!Number.isFinite(weights[i]!)) bad(`weight ${i} is ${weights[i]}`);
  }
  // Running variances are ≥ 0; without affine, γ and β are the constants 1 and 0.
  let w = 0;
  for (const l of layers) {
    w += sum(l.paramSpecs().map((s) => s.size));
    for (const spec of l.stateSpecs()) {
      const v = weights.subarray(w, w + spec.size);
      if (spec.name === 'runningVar' && v.some((x) => x < 0)) bad('a BatchNorm running variance is negative');
      if (spec.name === 'ones' && v.some((x) => x !== 1)) bad('a BatchNorm without affine has γ ≠ 1');
      if (spec.name === 'zeros' && v.some((x) => x !== 0)) bad('a BatchNorm without affine has β ≠ 0');
      w += spec.size;
    }
  }
  const seed = isInt(h.seed, 0) ? h.seed : 1;
  const parsed: ParsedFile = { layers, seed, compile, weights: weights.subarray(0, modelCount) };
  if (isCheckpoint) {
    const slots: Float32Array[] = [];
    for (let s = 0; s < slotCount; s++) slots.push(weights.subarray(modelCount + s * nParams, modelCount + (s + 1) * nParams));
    parsed.optimizer = { step, slots };
    parsed.fit = fit;
  }
  return parsed;
}

/** predict/evaluate: options.checkInputs, default true. */
function checkInputsOption(where: string, v: unknown): boolean {
  if (v === undefined) return true;
  if (typeof v !== 'boolean') throw typeError(`${where}: options.checkInputs must be a boolean, got ${describe(v)}`, { argument: 'options.checkInputs', expected: 'a boolean', received: describe(v) });
  return v;
}

/** Checks FitOptions.checkpoint. */
function checkCheckpointOption(c: unknown): Required<CheckpointOptions> {
  if (c && typeof c === 'object' && 'path' in c) {
    throw typeError(`fit: options.checkpoint.path needs Node: use Sequential from 'normcore/node' (or checkpoint: checkpointFile(path) from there), or pass { everyEpochs, save(bytes) }`, {
      code: 'UNKNOWN_OPTION', argument: 'options.checkpoint.path', expected: 'everyEpochs, save', received: 'path',
    });
  }
  const o = expectOptions('fit', 'options.checkpoint', c as CheckpointOptions, ['everyEpochs', 'save']);
  if (typeof o.save !== 'function') throw typeError(`fit: options.checkpoint.save must be a function (bytes, info) => void | Promise<void>, got ${describe(o.save)}`);
  const everyEpochs = o.everyEpochs === undefined ? 1 : expectInt('fit', 'options.checkpoint.everyEpochs', o.everyEpochs);
  return { everyEpochs, save: o.save };
}

/** Identifies the training data of a checkpointed fit: CRC-32 of x and of the targets. */
function fingerprint(x: Float32Array, targets: Int32Array | Float32Array): string {
  const hex = (a: Float32Array | Int32Array) => crc32(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).toString(16).padStart(8, '0');
  return `crc32:${hex(x)}:${hex(targets)}`;
}

/** Checks widths, infers activation widths, resolves Dense bias defaults and 'auto' initializations. */
function resolveLayers(layers: Layer[]): Layer[] {
  let width = layers[0]!.inFeatures;
  if ('features' in layers[0]! && !(layers[0] instanceof BatchNorm)) {
    throw typeError(`Sequential: the first layer must be Dense or BatchNorm (an activation has no input width of its own), got ${layers[0]!.type}`);
  }
  // Check every width before changing any layer (a rejected constructor leaves the layers as they were).
  const widths = layers.map((l, i) => {
    if (l instanceof Dense || l instanceof BatchNorm) {
      if (l.inFeatures !== width) {
        throw rangeError(`Sequential: layers[${i}] (${l.type}) expects ${l.inFeatures} input features, but the previous layer outputs ${width}`, {
          code: 'SHAPE_MISMATCH', argument: `layers[${i}]`, expected: `${width} input features`, received: `${l.inFeatures}`,
        });
      }
      width = l.outFeatures;
    }
    return width;
  });
  layers.forEach((l, i) => {
    if (!(l instanceof Dense || l instanceof BatchNorm)) (l as unknown as { features: number }).features = widths[i]!;
  });
  layers.forEach((l, i) => {
    if (!(l instanceof Dense)) return;
    const next = layers[i + 1];
    if (l.bias === undefined) l.bias = !(next instanceof BatchNorm);
    if (l.init === 'auto') {
      let act: string | undefined;
      for (let j = i + 1; j < layers.length && !(layers[j] instanceof Dense); j++) {
        if (!(layers[j] instanceof BatchNorm)) { act = layers[j]!.type; break; }
      }
      l.resolvedInit = act === 'relu' ? 'he' : 'glorot';
    } else {
      l.resolvedInit = l.init;
    }
  });
  return layers;
}

function resolveOptimizer(cfg: unknown): Required<OptimizerConfig> {
  if (!cfg || typeof cfg !== 'object') throw typeError(`compile: options.optimizer must be an object like { type: 'adam', lr: 0.001 }, got ${describe(cfg)}`);
  const c = expectOptions('compile', 'options.optimizer', cfg as OptimizerConfig, ['type', 'lr', 'momentum', 'beta1', 'beta2', 'eps', 'rho', 'weightDecay']);
  const type = c.type;
  if (type !== 'sgd' && type !== 'momentum' && type !== 'rmsprop' && type !== 'adam') {
    throw typeError(`compile: options.optimizer.type must be 'sgd', 'momentum', 'rmsprop' or 'adam', got ${describe(type)}`);
  }
  const w = 'compile';
  const lr = expectNumber(w, 'options.optimizer.lr', c.lr ?? (type === 'sgd' || type === 'momentum' ? 0.01 : 0.001), 0, Infinity, true);
  return {
    type,
    lr,
    momentum: expectNumber(w, 'options.optimizer.momentum', c.momentum ?? 0.9, 0, 1),
    beta1: expectNumber(w, 'options.optimizer.beta1', c.beta1 ?? 0.9, 0, 1),
    beta2: expectNumber(w, 'options.optimizer.beta2', c.beta2 ?? 0.999, 0, 1),
    eps: expectNumber(w, 'options.optimizer.eps', c.eps ?? (type === 'rmsprop' ? 1e-7 : 1e-8), 0, 1, true),
    rho: expectNumber(w, 'options.optimizer.rho', c.rho ?? 0.9, 0, 1),
    weightDecay: expectNumber(w, 'options.optimizer.weightDecay', c.weightDecay ?? 0, 0),
  };
}

function resolveSchedule(s: unknown): LrSchedule {
  if (!s || typeof s !== 'object') throw typeError(`compile: options.lrSchedule must be an object, got ${describe(s)}`);
  const t = (s as { type?: unknown }).type;
  if (t === 'constant') {
    expectOptions('compile', 'options.lrSchedule', s as { type: 'constant' }, ['type']);
    return { type: 'constant' };
  }
  if (t === 'cosine') {
    const c = expectOptions('compile', 'options.lrSchedule', s as { type: 'cosine'; minLr?: number }, ['type', 'minLr']);
    return { type: 'cosine', minLr: expectNumber('compile', 'options.lrSchedule.minLr', c.minLr ?? 0, 0) };
  }
  if (t === 'step') {
    const c = expectOptions('compile', 'options.lrSchedule', s as { type: 'step'; every: number; factor: number }, ['type', 'every', 'factor']);
    return { type: 'step', every: expectInt('compile', 'options.lrSchedule.every', c.every), factor: expectNumber('compile', 'options.lrSchedule.factor', c.factor, 0, 1, true) };
  }
  throw typeError(`compile: options.lrSchedule.type must be 'constant', 'cosine' or 'step', got ${describe(t)}`);
}
