/**
 * Sequential: a stack of layers, its arena, and the training loop.
 *
 * One arena per model, planned from a table of sizes (see `planArena`):
 *
 *   params | state | optimizer slots | snapshot | grads | per-layer outputs |
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
import { describe, expectInt, expectNumber, expectOptions } from '../errors.js';
import { decodeModelFile, encodeModelFile, ModelFormatError } from './format.js';
import { BatchNorm, Dense, Layer, layerFromConfig, type LayerConfig, type NamedParameter } from './layers.js';
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
}

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
}

/** Thrown when the training loss becomes NaN or infinite. The model keeps the weights of the last finite step. */
export class DivergenceError extends Error {
  override name = 'DivergenceError';
  constructor(message: string, readonly epoch: number, readonly batch: number) {
    super(message);
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
const FILE_KIND = 'normcore-sequential';

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

  /**
   * @param layers  the stack; each layer's input width must match the previous output width
   * @param options { backend = 'wasm', seed = 1 }
   */
  constructor(layers: Layer[], options?: SequentialOptions) {
    const o = expectOptions('Sequential', 'options', options, ['backend', 'seed']);
    if (!Array.isArray(layers) || layers.length === 0) {
      throw new TypeError(`Sequential: layers must be a non-empty array of layers, got ${describe(layers)}`);
    }
    layers.forEach((l, i) => {
      if (!(l instanceof Layer)) throw new TypeError(`Sequential: layers[${i}] must be a Layer, got ${describe(l)}`);
    });
    if (new Set(layers).size !== layers.length) throw new TypeError('Sequential: the same layer object appears twice in layers');
    this.seed = o.seed === undefined ? 1 : expectInt('Sequential', 'options.seed', o.seed, 0);
    const be = o.backend ?? 'wasm';
    this.backend = typeof be === 'string' ? createBackendSync(be) : be;
    if (!this.backend || typeof this.backend !== 'object' || !('kernels' in this.backend)) {
      throw new TypeError(`Sequential: options.backend must be a Backend, 'wasm' or 'js', got ${describe(be)}`);
    }
    this.k = this.backend.kernels;
    this.layers = resolveLayers(layers);
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

  private slots(): number {
    return this.optimizer ? OPT_SLOTS[this.optimizer.type] : 0;
  }

  private table(capacity: number, slots: number): Array<[string, number]> {
    const t: Array<[string, number]> = [
      ['params', this.nParams],
      ['state', this.nState],
    ];
    for (let s = 0; s < slots; s++) t.push([`opt${s}`, this.nParams]);
    t.push(['snapshot.params', this.nParams], ['snapshot.state', this.nState], ['grads', this.nParams]);
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
    const ptr = this.backend.heap.alloc(plan.bytes);
    if (this.arena !== undefined) {
      const old = this.arena, op = this.plan;
      const copy = (name: string, n: number) => {
        if (n > 0) this.k.copy(ptr + plan.offsets.get(name)!, old + op.offsets.get(name)!, n);
      };
      copy('params', this.nParams);
      copy('state', this.nState);
      const oldSlots = [...op.offsets.keys()].filter((n) => n.startsWith('opt')).length;
      for (let s = 0; s < slots; s++) {
        if (s < oldSlots) copy(`opt${s}`, this.nParams);
        else this.k.fill(ptr + plan.offsets.get(`opt${s}`)!, this.nParams, 0);
      }
      this.backend.heap.free(old);
    } else {
      for (let s = 0; s < slots; s++) this.k.fill(ptr + plan.offsets.get(`opt${s}`)!, this.nParams, 0);
    }
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
    if (this.disposed) throw new Error(`${where}: the model was disposed`);
  }

  // ------------------------------------------------------------------ compile

  /** Chooses the loss, the optimizer (its state is reset) and the learning-rate schedule. */
  compile(options?: CompileOptions): this {
    this.checkAlive('compile');
    const o = expectOptions('compile', 'options', options, ['loss', 'optimizer', 'lrSchedule']);
    const loss = o.loss ?? 'softmaxCrossEntropy';
    if (loss !== 'softmaxCrossEntropy' && loss !== 'mse') {
      throw new TypeError(`compile: options.loss must be 'softmaxCrossEntropy' or 'mse', got ${describe(loss)}`);
    }
    if (loss === 'softmaxCrossEntropy' && this.outFeatures < 2) {
      throw new RangeError(`compile: softmaxCrossEntropy needs at least 2 outputs, the model has ${this.outFeatures}`);
    }
    const opt = resolveOptimizer(o.optimizer ?? { type: 'adam' });
    const schedule = resolveSchedule(o.lrSchedule ?? { type: 'constant' });
    this.loss = loss;
    this.optimizer = opt;
    this.schedule = schedule;
    this.step = 0;
    this.replan(this.capacity, OPT_SLOTS[opt.type]);
    for (let s = 0; s < OPT_SLOTS[opt.type]; s++) this.k.fill(this.at(`opt${s}`), this.nParams, 0);
    return this;
  }

  // ------------------------------------------------------------------ forward / backward

  /** Runs the layers on the batch in block 'x' (rows ≤ capacity). Returns the pointer of the last output. */
  private forward(rows: number, training: boolean, upTo = this.layers.length - 1): Ptr {
    let inp = this.at('x');
    for (let i = 0; i <= upTo; i++) {
      const out = this.at(`out${i}`);
      this.layers[i]!.forward(this.k, out, inp, rows, training);
      inp = out;
    }
    return inp;
  }

  /** Backward from dLoss/dOutput in 'gradA'. Parameter gradients are zeroed first. */
  private backward(rows: number): void {
    if (this.nParams > 0) this.k.fill(this.at('grads'), this.nParams, 0);
    let dout = this.at('gradA'), dinp = this.at('gradB');
    for (let i = this.layers.length - 1; i >= 0; i--) {
      const inp = i === 0 ? this.at('x') : this.at(`out${i - 1}`);
      this.layers[i]!.backward(this.k, dinp, dout, inp, this.at(`out${i}`), rows, i > 0);
      [dout, dinp] = [dinp, dout];
    }
  }

  private lossAndGrad(out: Ptr, rows: number): number {
    if (this.loss === 'mse') return this.k.mseLoss(this.at('gradA'), out, this.at('y'), rows, this.outFeatures);
    return this.k.softmaxCrossEntropy(this.at('gradA'), out, this.at('y'), rows, this.outFeatures);
  }

  private learningRate(epoch: number, epochs: number, stepInFit: number, stepsInFit: number): number {
    const lr = this.optimizer!.lr;
    const s = this.schedule;
    if (s.type === 'cosine') {
      const min = s.minLr ?? 0;
      return min + (lr - min) * 0.5 * (1 + Math.cos((Math.PI * stepInFit) / Math.max(1, stepsInFit)));
    }
    if (s.type === 'step') return lr * Math.pow(s.factor, Math.floor(epoch / s.every));
    void epochs;
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

  private snapshot(save: boolean): void {
    const pairs: Array<[string, string, number]> = [['params', 'snapshot.params', this.nParams], ['state', 'snapshot.state', this.nState]];
    for (const [live, snap, n] of pairs) {
      if (n === 0) continue;
      if (save) this.k.copy(this.at(snap), this.at(live), n);
      else this.k.copy(this.at(live), this.at(snap), n);
    }
  }

  private bnCounts(): number[] {
    return this.layers.map((l) => (l instanceof BatchNorm ? l.numBatchesTracked : 0));
  }

  private restoreBnCounts(c: number[]): void {
    this.layers.forEach((l, i) => { if (l instanceof BatchNorm) l.numBatchesTracked = c[i]!; });
  }

  // ------------------------------------------------------------------ data checks

  private checkX(where: string, name: string, x: unknown, checkFinite: boolean): number {
    if (!(x instanceof Float32Array)) throw new TypeError(`${where}: ${name} must be a Float32Array (rows × ${this.inFeatures}), got ${describe(x)}`);
    const F = this.inFeatures;
    if (x.length === 0 || x.length % F !== 0) {
      throw new RangeError(`${where}: ${name} must have a length that is a positive multiple of ${F} (rows × ${F} features), got length ${x.length}`);
    }
    if (checkFinite) {
      for (let i = 0; i < x.length; i++) {
        if (!Number.isFinite(x[i]!)) {
          throw new RangeError(`${where}: ${name} must hold finite numbers, got ${x[i]} at row ${Math.floor(i / F)}, feature ${i % F} (pass checkInputs: false to skip this check)`);
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
      throw new TypeError(`${where}: ${name} must be class labels (Uint8Array, Uint16Array or Int32Array) or one-hot/targets (Float32Array), got ${describe(y)}`);
    }
    if (y instanceof Float32Array) {
      if (y.length !== rows * K) throw new RangeError(`${where}: ${name} as a Float32Array must have length rows·outputs = ${rows}·${K} = ${rows * K}, got length ${y.length}`);
      for (let i = 0; i < y.length; i++) {
        if (!Number.isFinite(y[i]!)) throw new RangeError(`${where}: ${name} must hold finite numbers, got ${y[i]} at index ${i}`);
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
    if (y.length !== rows) throw new RangeError(`${where}: ${name} must have one label per row (${rows}), got length ${y.length}`);
    for (let i = 0; i < y.length; i++) {
      const v = y[i]!;
      if (v < 0 || v >= K) throw new RangeError(`${where}: ${name}[${i}] must be a class index in [0, ${K - 1}], got ${v}`);
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
    const o = expectOptions(where, 'options', options, ['epochs', 'batchSize', 'shuffle', 'seed', 'dropLast', 'validationData', 'onEpochEnd', 'onBatchEnd', 'checkInputs', 'signal']);
    if (!this.optimizer || !this.loss) throw new Error('fit: the model is not compiled; call model.compile({ loss, optimizer }) first');
    const checkFinite = o.checkInputs ?? true;
    const N = this.checkX(where, 'x', x, checkFinite);
    const targets = this.targets(where, 'y', y, N);
    const epochs = o.epochs === undefined ? 1 : expectInt(where, 'options.epochs', o.epochs);
    const batchSize = o.batchSize === undefined ? Math.min(32, N) : expectInt(where, 'options.batchSize', o.batchSize);
    if (batchSize > N) throw new RangeError(`fit: options.batchSize must be ≤ the number of rows (${N}), got ${batchSize}`);
    const hasBn = this.layers.some((l) => l instanceof BatchNorm);
    if (hasBn && batchSize < 2) throw new RangeError(`fit: options.batchSize must be ≥ 2 for a model with BatchNorm (the variance of one sample is undefined), got ${batchSize}`);
    const shuffle = o.shuffle ?? true;
    const seed = o.seed === undefined ? this.seed : expectInt(where, 'options.seed', o.seed, 0);
    const dropLast = o.dropLast ?? false;
    for (const [name, v] of [['shuffle', shuffle], ['dropLast', dropLast], ['checkInputs', checkFinite]] as const) {
      if (typeof v !== 'boolean') throw new TypeError(`fit: options.${name} must be a boolean, got ${describe(v)}`);
    }
    for (const name of ['onEpochEnd', 'onBatchEnd'] as const) {
      if (o[name] !== undefined && typeof o[name] !== 'function') throw new TypeError(`fit: options.${name} must be a function, got ${describe(o[name])}`);
    }
    const signal = o.signal;
    if (signal !== undefined && !(typeof signal === 'object' && signal !== null && 'aborted' in signal)) {
      throw new TypeError(`fit: options.signal must be an AbortSignal, got ${describe(signal)}`);
    }
    let val: { x: Float32Array; y: Labels } | undefined;
    if (o.validationData !== undefined) {
      if (!Array.isArray(o.validationData) || o.validationData.length !== 2) {
        throw new TypeError(`fit: options.validationData must be [x, y], got ${describe(o.validationData)}`);
      }
      const [vx, vy] = o.validationData;
      this.targets(where, 'validationData[1]', vy, this.checkX(where, 'validationData[0]', vx, checkFinite));
      val = { x: vx, y: vy };
    }

    let batches = Math.floor(N / batchSize);
    const rest = N - batches * batchSize;
    if (rest > 0 && !dropLast && !(hasBn && rest < 2)) batches++;

    // Everything is validated: from here on the model changes.
    this.ensureCapacity(batchSize);
    const heap = this.backend.heap;
    const F = this.inFeatures;
    const yCols = targets instanceof Int32Array ? 1 : this.outFeatures;
    const dx = heap.allocF32(N * F);
    const dy = heap.allocF32(N * yCols);
    const didx = heap.allocF32(N);
    const history: History = { epoch: [], loss: [], accuracy: [], valLoss: [], valAccuracy: [], seconds: [] };
    try {
      heap.write(dx, x);
      heap.write(dy, targets);
      const order = new Int32Array(N);
      for (let i = 0; i < N; i++) order[i] = i;
      const rng = new Random(seed ^ 0x5eed);
      const stepsInFit = epochs * batches;
      let lastYield = performance.now();
      for (let epoch = 0; epoch < epochs && !signal?.aborted; epoch++) {
        if (shuffle) rng.shuffle(order);
        heap.write(didx, order);
        let lossSum = 0, correct = 0, seen = 0;
        const t0 = performance.now();
        for (let b = 0; b < batches; b++) {
          const rows = Math.min(batchSize, N - b * batchSize);
          const idx = didx + b * batchSize * 4;
          this.k.gatherRows(this.at('x'), dx, idx, rows, F);
          this.k.gatherRows(this.at('y'), dy, idx, rows, yCols);
          const counts = this.bnCounts();
          this.snapshot(true);
          const out = this.forward(rows, true);
          if (this.loss === 'softmaxCrossEntropy') correct += this.k.countCorrect(out, this.at('y'), rows, this.outFeatures);
          const loss = this.lossAndGrad(out, rows);
          if (!Number.isFinite(loss)) {
            this.snapshot(false);
            this.restoreBnCounts(counts);
            throw new DivergenceError(
              `fit: the training loss became ${loss} at epoch ${epoch + 1}, batch ${b + 1} of ${batches}; training stopped and the model keeps the weights of the last step with a finite loss (lower the learning rate?)`,
              epoch, b,
            );
          }
          this.backward(rows);
          this.applyOptimizer(this.learningRate(epoch, epochs, epoch * batches + b, stepsInFit));
          lossSum += loss * rows;
          seen += rows;
          if (o.onBatchEnd) await o.onBatchEnd(b, { epoch, batch: b, batches, loss });
          if (signal?.aborted) break;
          if (performance.now() - lastYield > 8) {
            await yieldNow();
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
        if (o.onEpochEnd) await o.onEpochEnd(epoch, logs);
        await yieldNow();
        lastYield = performance.now();
      }
    } finally {
      heap.free(didx);
      heap.free(dy);
      heap.free(dx);
    }
    return history;
  }

  /**
   * Runs x through the model in inference mode (BatchNorm uses its running
   * statistics) in chunks, calling `each(rows, start, outPtr)` per chunk.
   */
  private inferChunks(where: string, x: Float32Array, checkFinite: boolean, upTo: number, each: (rows: number, start: number, out: Ptr) => void): number {
    const N = this.checkX(where, 'x', x, checkFinite);
    const chunk = Math.min(N, Math.max(this.capacity, 256));
    this.ensureCapacity(chunk);
    const F = this.inFeatures;
    for (let start = 0; start < N; start += chunk) {
      const rows = Math.min(chunk, N - start);
      this.backend.heap.write(this.at('x'), x.subarray(start * F, (start + rows) * F));
      each(rows, start, this.forward(rows, false, upTo));
    }
    return N;
  }

  /** Inference. Returns rows × outFeatures: class probabilities for softmaxCrossEntropy, raw outputs otherwise. */
  predict(x: Float32Array, options?: { checkInputs?: boolean }): Float32Array {
    this.checkAlive('predict');
    const o = expectOptions('predict', 'options', options, ['checkInputs']);
    const K = this.outFeatures;
    const result = new Float32Array((x instanceof Float32Array ? x.length / this.inFeatures : 0) * K);
    this.inferChunks('predict', x, o.checkInputs ?? true, this.layers.length - 1, (rows, start, out) => {
      if (this.loss !== 'mse') this.k.softmaxForward(out, out, rows, K);
      result.set(this.backend.heap.f32(out, rows * K), start * K);
    });
    return result;
  }

  /** Mean loss and accuracy (classification) on x, y in inference mode. */
  evaluate(x: Float32Array, y: Labels, options?: { checkInputs?: boolean }): { loss: number; accuracy: number } {
    this.checkAlive('evaluate');
    const o = expectOptions('evaluate', 'options', options, ['checkInputs']);
    const checkFinite = o.checkInputs ?? true;
    const N = this.checkX('evaluate', 'x', x, checkFinite);
    const t = this.targets('evaluate', 'y', y, N);
    const K = this.outFeatures;
    const yCols = t instanceof Int32Array ? 1 : K;
    let lossSum = 0, correct = 0;
    this.inferChunks('evaluate', x, false, this.layers.length - 1, (rows, start, out) => {
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
  layerOutputs(x: Float32Array, indices: number[]): Float32Array[] {
    this.checkAlive('layerOutputs');
    if (!Array.isArray(indices) || indices.length === 0) throw new TypeError(`layerOutputs: indices must be a non-empty array, got ${describe(indices)}`);
    indices.forEach((i, j) => expectInt('layerOutputs', `indices[${j}]`, i, 0));
    const bad = indices.find((i) => i >= this.layers.length);
    if (bad !== undefined) throw new RangeError(`layerOutputs: layer index must be < ${this.layers.length}, got ${bad}`);
    const rowsTotal = x instanceof Float32Array ? x.length / this.inFeatures : 0;
    const outs = indices.map((i) => new Float32Array(rowsTotal * this.layers[i]!.outFeatures));
    const upTo = Math.max(...indices);
    this.inferChunks('layerOutputs', x, true, upTo, (rows, start) => {
      indices.forEach((i, j) => {
        const w = this.layers[i]!.outFeatures;
        outs[j]!.set(this.backend.heap.f32(this.at(`out${i}`), rows * w), start * w);
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
    const out = new Float32Array(this.nParams + this.nState);
    let o = 0;
    for (const l of this.layers) {
      const params = l.parameters();
      for (const p of params) { out.set(p.value, o); o += p.value.length; }
      const st = l.stateValues();
      for (const s of l.stateSpecs()) { out.set(st[s.name]!, o); o += s.size; }
    }
    return out;
  }

  /** The model as bytes: topology, options and weights including running statistics (see format.ts). */
  save(): Uint8Array {
    this.checkAlive('save');
    const header = {
      kind: FILE_KIND,
      layers: this.layers.map((l) => l.config()),
      seed: this.seed,
      compile: this.optimizer ? { loss: this.loss, optimizer: this.optimizer, lrSchedule: this.schedule } : null,
    };
    return encodeModelFile(header, this.weights());
  }

  /** Rebuilds a model saved with `save()`. Throws ModelFormatError for bytes that are not a valid model file. */
  static load(bytes: Uint8Array, options?: { backend?: Backend | 'wasm' | 'js' }): Sequential {
    const o = expectOptions('load', 'options', options, ['backend']);
    const { header, weights } = decodeModelFile(bytes);
    const h = header as { kind?: unknown; layers?: unknown; seed?: unknown; compile?: unknown };
    const bad = (why: string): never => {
      throw new ModelFormatError(`load: not a valid normcore model file: ${why}`);
    };
    if (!h || typeof h !== 'object' || h.kind !== FILE_KIND) bad('the header is not a normcore Sequential model');
    if (!Array.isArray(h.layers) || h.layers.length === 0 || h.layers.length > 10000) bad('the header has no valid layer list');
    let layers: Layer[];
    try {
      layers = (h.layers as LayerConfig[]).map((c) => layerFromConfig(c));
    } catch (e) {
      return bad(`a layer in the header is invalid (${(e as Error).message})`);
    }
    let model: Sequential;
    const seed = typeof h.seed === 'number' && Number.isInteger(h.seed) && h.seed >= 0 ? h.seed : 1;
    const expectedCount = sum(layers.flatMap((l) => [...l.paramSpecs(), ...l.stateSpecs()].map((s) => s.size)));
    if (expectedCount !== weights.length) bad(`the topology needs ${expectedCount} weights, the file has ${weights.length}`);
    try {
      model = new Sequential(layers, { backend: o.backend ?? 'wasm', seed });
    } catch (e) {
      if (e instanceof ModelFormatError) throw e;
      if (e instanceof TypeError && /options\.backend|createBackend/.test(e.message)) throw e;
      return bad(`the layers do not form a valid model (${(e as Error).message})`);
    }
    const heap = model.backend.heap;
    let w = 0;
    let p = model.at('params'), s = model.at('state');
    for (const l of model.layers) {
      for (const spec of l.paramSpecs()) { heap.write(p, weights.subarray(w, w + spec.size)); p += spec.size * 4; w += spec.size; }
      for (const spec of l.stateSpecs()) { heap.write(s, weights.subarray(w, w + spec.size)); s += spec.size * 4; w += spec.size; }
    }
    const c = h.compile as CompileOptions | null | undefined;
    if (c && typeof c === 'object') {
      try {
        model.compile(c);
      } catch (e) {
        model.dispose();
        return bad(`the saved compile options are invalid (${(e as Error).message})`);
      }
    }
    return model;
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

/** Checks widths, infers activation widths, resolves Dense bias defaults and 'auto' initializations. */
function resolveLayers(layers: Layer[]): Layer[] {
  let width = layers[0]!.inFeatures;
  if ('features' in layers[0]! && !(layers[0] instanceof BatchNorm)) {
    throw new TypeError(`Sequential: the first layer must be Dense or BatchNorm (an activation has no input width of its own), got ${layers[0]!.type}`);
  }
  layers.forEach((l, i) => {
    if (l instanceof Dense || l instanceof BatchNorm) {
      if (l.inFeatures !== width) {
        throw new RangeError(`Sequential: layers[${i}] (${l.type}) expects ${l.inFeatures} input features, but the previous layer outputs ${width}`);
      }
    } else {
      (l as unknown as { features: number }).features = width;
    }
    width = l.outFeatures;
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
  if (!cfg || typeof cfg !== 'object') throw new TypeError(`compile: options.optimizer must be an object like { type: 'adam', lr: 0.001 }, got ${describe(cfg)}`);
  const c = expectOptions('compile', 'options.optimizer', cfg as OptimizerConfig, ['type', 'lr', 'momentum', 'beta1', 'beta2', 'eps', 'rho', 'weightDecay']);
  const type = c.type;
  if (type !== 'sgd' && type !== 'momentum' && type !== 'rmsprop' && type !== 'adam') {
    throw new TypeError(`compile: options.optimizer.type must be 'sgd', 'momentum', 'rmsprop' or 'adam', got ${describe(type)}`);
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
  if (!s || typeof s !== 'object') throw new TypeError(`compile: options.lrSchedule must be an object, got ${describe(s)}`);
  const t = (s as { type?: unknown }).type;
  if (t === 'constant') return { type: 'constant' };
  if (t === 'cosine') {
    const c = expectOptions('compile', 'options.lrSchedule', s as { type: 'cosine'; minLr?: number }, ['type', 'minLr']);
    return { type: 'cosine', minLr: expectNumber('compile', 'options.lrSchedule.minLr', c.minLr ?? 0, 0) };
  }
  if (t === 'step') {
    const c = expectOptions('compile', 'options.lrSchedule', s as { type: 'step'; every: number; factor: number }, ['type', 'every', 'factor']);
    return { type: 'step', every: expectInt('compile', 'options.lrSchedule.every', c.every), factor: expectNumber('compile', 'options.lrSchedule.factor', c.factor, 0, 1, true) };
  }
  throw new TypeError(`compile: options.lrSchedule.type must be 'constant', 'cosine' or 'step', got ${describe(t)}`);
}
