/**
 * Sequential: the public face. It composes a Network (layers bound to one
 * arena, forward and backward; model/network.ts), a Trainer (loss,
 * optimizer, schedule, divergence snapshot; train/trainer.ts), the fit loop
 * (train/fit.ts), inference (train/infer.ts) and the file codec
 * (io/model-file.ts). A training step passes only pointers and sizes across
 * the JS/WASM boundary.
 */
import type { Backend } from '../backend/index.js';
import { createBackend, createBackendSync } from '../backend/index.js';
import { describe, expectInt, expectOptions, MAX_SEED, mustBe, StateError, typeError } from '../errors.js';
import { ModelFormatError } from '../io/format.js';
import { encodeCheckpoint, encodeModel } from '../io/model-file.js';
import type { parseFile } from '../io/on-demand.js';
import { summaryTable } from './summary.js';
import type { MatrixInput } from '../data/convert.js';
import type { StatsChunk } from '../data/stats.js';
import type { TrainingModel } from '../train/callbacks.js';
import type { Features, Labels } from '../train/data.js';
import { isBatchSource } from '../train/fit-data.js';
import type { Evaluation } from '../train/fit-step.js';
import { checkFit, prepareFit, runFit, type Batch, type CheckpointInfo, type FitHooks, type FitOptions, type History } from '../train/fit.js';
import { evaluate, Evaluator, layerOutputs, predict, type InferOptions } from '../train/infer.js';
import { predictedClasses } from '../train/metrics.js';
import type { LossName } from '../train/losses.js';
import { Trainer, type CompileOptions, type OptimizerState } from '../train/trainer.js';
import type { Layer, NamedParameter } from './layer.js';
import { Network } from './network.js';

export interface SequentialOptions {
  /** A backend, or 'wasm' (default) / 'js'. A string needs one earlier `await createBackend(name)` in the process (it loads those kernels). */
  backend?: Backend | 'wasm' | 'js';
  /** Seed of the weight initialization (default 1). */
  seed?: number;
  /**
   * Run each BatchNorm → ReLU pair as one fused kernel (default true): the
   * normalized values are never written to memory. The results are the same
   * bit for bit; false runs the layers one by one.
   */
  fuse?: boolean;
  /**
   * The shape of one input row, e.g. [28, 28, 1] for images (H, W, C: NHWC,
   * channel fastest, so a flat MNIST row is one image). Required when the
   * first layer takes its shape from the input (Conv2d, pooling, Flatten,
   * Dropout, activations); default [the first layer's inFeatures].
   */
  inputShape?: readonly number[];
}

function resolveBackend(where: string, be: unknown): Backend {
  if (typeof be === 'string' && be !== 'wasm' && be !== 'js') {
    throw typeError(`${where}: options.backend must be a Backend, 'wasm' or 'js', got ${describe(be)}`, { argument: 'options.backend', expected: "a Backend, 'wasm' or 'js'", received: describe(be) });
  }
  const backend = typeof be === 'string' ? createBackendSync(be as 'wasm' | 'js') : be;
  if (!backend || typeof backend !== 'object' || !('unchecked' in backend)) {
    throw typeError(`${where}: options.backend must be a Backend, 'wasm' or 'js', got ${describe(be)}`, { argument: 'options.backend', expected: "a Backend, 'wasm' or 'js'", received: describe(be) });
  }
  return backend as Backend;
}

export class Sequential implements TrainingModel {
  readonly layers: readonly Layer[];
  readonly backend: Backend;
  readonly seed: number;
  /** @internal options.inputShape as given (the model file records it only then). */ readonly inputShapeOption: readonly number[] | undefined;
  private readonly net: Network;
  private readonly trainer: Trainer;
  #preprocessing: Record<string, unknown> | undefined;

  /**
   * @param layers  the stack; each layer's input width must match the previous output width
   * @param options { backend = 'wasm', seed = 1, fuse = true, inputShape }
   */
  constructor(layers: Layer[], options?: SequentialOptions) {
    const o = expectOptions('Sequential', 'options', options, ['backend', 'seed', 'fuse', 'inputShape']);
    this.inputShapeOption = o.inputShape === undefined ? undefined : checkInputShape('Sequential', o.inputShape);
    if (o.fuse !== undefined && typeof o.fuse !== 'boolean') throw mustBe('Sequential', 'options.fuse', 'a boolean', o.fuse);
    this.seed = o.seed === undefined ? 1 : expectInt('Sequential', 'options.seed', o.seed, 0, MAX_SEED);
    this.backend = resolveBackend('Sequential', o.backend ?? 'wasm');
    this.net = new Network(layers, this.backend, o.fuse ?? true, this.inputShapeOption);
    this.layers = this.net.layers;
    this.trainer = new Trainer(this.net);
    this.net.initialize(this.seed);
  }

  get inFeatures(): number {
    return this.net.inFeatures;
  }

  get outFeatures(): number {
    return this.net.outFeatures;
  }

  /** The shape of one input row (options.inputShape, or [inFeatures]), and each layer's output shape. */ get inputShape(): readonly number[] { return this.net.inputShape; }
  get shapes(): readonly (readonly number[])[] { return this.net.shapes; }

  /** Number of trainable values. */
  get parameterCount(): number {
    return this.net.nParams;
  }

  /** The compiled loss, if any. */
  get lossName(): LossName | undefined {
    return this.trainer.compiled?.loss.name;
  }

  /**
   * A JSON object saved in the model file's header and given back by load
   * (e.g. the CSV encoding `normcore train --data` applies to raw rows), or undefined.
   */
  get preprocessing(): Record<string, unknown> | undefined {
    return this.#preprocessing;
  }

  set preprocessing(p: Record<string, unknown> | undefined) {
    if (p !== undefined && (typeof p !== 'object' || p === null || Array.isArray(p))) {
      throw typeError(`preprocessing must be a JSON object or undefined, got ${describe(p)}`, { argument: 'preprocessing', expected: 'a JSON object', received: describe(p) });
    }
    // a copy through JSON: what the file will hold, and a value that cannot change behind the model's back
    this.#preprocessing = p === undefined ? undefined : JSON.parse(JSON.stringify(p)) as Record<string, unknown>;
  }

  /** Set to true (e.g. in a callback) to end the running fit after the current batch. */
  get stopTraining(): boolean {
    return this.trainer.stopTraining;
  }

  set stopTraining(v: boolean) {
    this.trainer.stopTraining = v === true;
  }

  /** Multiplies the learning rate of every later step of the running fit (reduceLrOnPlateau sets it; 1 at the start of each fit). */
  get learningRateMultiplier(): number {
    return this.trainer.lrMultiplier;
  }

  set learningRateMultiplier(v: number) {
    if (typeof v !== 'number' || !(v > 0) || v === Infinity) throw typeError(`learningRateMultiplier must be a finite number > 0, got ${describe(v)}`, { argument: 'learningRateMultiplier', expected: 'a finite number > 0', received: describe(v) });
    this.trainer.lrMultiplier = v;
  }

  /** The compiled learning rate (before schedule and multiplier); NaN before compile. */
  get baseLearningRate(): number {
    return this.trainer.compiled?.optimizer.lr ?? NaN;
  }

  /** A copy of the weights and file state (running statistics, normalization statistics), in file order. */
  getWeights(): Float32Array {
    this.net.checkAlive('getWeights');
    return this.net.readWeights();
  }

  /** Writes weights read with getWeights (same model). */
  setWeights(weights: Float32Array): void {
    this.net.checkAlive('setWeights');
    if (!(weights instanceof Float32Array) || weights.length !== this.net.fileWeightCount) {
      throw typeError(`setWeights: weights must be a Float32Array of ${this.net.fileWeightCount} values (from getWeights), got ${describe(weights)}`, { argument: 'weights', expected: `a Float32Array of ${this.net.fileWeightCount}`, received: describe(weights) });
    }
    this.net.writeWeights(weights);
  }

  /**
   * Computes the statistics of the Normalization layer at the model's input
   * from x (rows × inFeatures; Float32Array, Float64Array, number[][] or
   * flat number[]), or from an (async) iterable of chunks or { x } batches
   * (then returns a promise). See Normalization.adapt.
   */
  adapt(x: MatrixInput): this;
  adapt(x: AsyncIterable<StatsChunk> | Iterable<StatsChunk>): Promise<this>;
  adapt(x: unknown): this | Promise<this> {
    this.net.checkAlive('adapt');
    if (this.trainer.training) throw new StateError('adapt: the model is training; adapt before fit');
    const first = this.layers[0] as Layer & { adapt?: (x: unknown) => unknown };
    if (typeof first.adapt !== 'function') {
      throw typeError(`adapt: the model's first layer (${first.type}) computes no statistics; put a Normalization(${this.inFeatures}) first`, { argument: 'layers[0]', expected: 'a Normalization layer', received: first.type });
    }
    const r = first.adapt(x);
    return r instanceof Promise ? r.then(() => this) : this;
  }

  /** Chooses the loss, the optimizer (its state is reset) and the learning-rate schedule. */
  compile(options?: CompileOptions): this {
    this.net.checkAlive('compile');
    this.trainer.compile(options);
    return this;
  }

  /**
   * Trains on x (rows × inFeatures: Float32Array, the fast path used as is;
   * Float64Array, number[][] or flat number[], converted once) and y (class
   * labels, one-hot rows, or targets: see Labels). The data is copied into
   * the backend's memory once; mini-batches are gathered there.
   *
   * Or trains on a streamed source, `fit(source, undefined, options)`: an
   * async (or sync) iterable of { x, y, sampleWeight? } batches, one batch in
   * memory at a time (see options.stepsPerEpoch). Yields to the event loop
   * between batches.
   */
  async fit(x: Features, y: Labels, options?: FitOptions): Promise<History>;
  async fit(source: AsyncIterable<Batch> | Iterable<Batch>, y?: undefined, options?: FitOptions): Promise<History>;
  async fit(x: Features | AsyncIterable<Batch> | Iterable<Batch>, y?: Labels, options?: FitOptions): Promise<History> {
    this.net.checkAlive('fit');
    const hooks: FitHooks = {
      checkAlive: () => this.net.checkAlive('fit'),
      checkpointBytes: () => new Uint8Array(0),
      evaluate: async (val) => val.kind === 'arrays' ? this.evaluateChecked(val.x, val.y, val.rows) : (await import('../io/on-demand.js')).evaluateStream(this.trainer, val.source, 'fit: validationData', true),
      model: this,
    };
    if (isBatchSource(x)) {
      const { checkStreamFit, runStreamFit } = await import('../io/on-demand.js'); // on first use: a page that fits arrays never fetches it
      hooks.checkAlive(); // disposed while it loaded?
      const run = checkStreamFit(this.trainer, x, y, options);
      this.trainer.training = true;
      try {
        return await runStreamFit(this.trainer, run, hooks);
      } finally {
        this.trainer.training = false;
      }
    }
    const run = checkFit(this.trainer, this.seed, x, y, options);
    hooks.checkpointBytes = (done) => encodeCheckpoint(this.net, this.trainer, this.seed, run.record!, done, { inputShape: this.inputShapeOption });
    this.trainer.training = true;
    try {
      // The long checks, sliced; then everything is validated and from here on the model changes.
      await prepareFit(run, hooks.checkAlive);
      const resume = run.options.resumeFrom ? (await import('../io/on-demand.js')).resumeFrom(run.options.resumeFrom, this.net, this.trainer, this.seed, run.record!) : undefined;
      return await runFit(this.trainer, run, hooks, resume);
    } finally {
      this.trainer.training = false;
    }
  }

  private evaluateChecked(x: Float32Array, y: Int32Array | Float32Array, rows: number): Evaluation {
    const e = new Evaluator(this.trainer);
    e.add(x, y, rows);
    return e.result();
  }

  /** Inference. Returns rows × outFeatures: class probabilities for softmaxCrossEntropy, sigmoid probabilities for binaryCrossEntropy, raw outputs otherwise. x as in fit. */
  predict(x: Features, options?: InferOptions): Float32Array {
    this.net.checkAlive('predict');
    return predict(this.trainer, x, options);
  }

  /** The predicted class of each row: the first arg-max of the outputs, or output > 0.5 for one sigmoid output. Classification losses only. */
  predictClasses(x: Features, options?: InferOptions): Int32Array {
    this.net.checkAlive('predictClasses');
    const c = this.trainer.compiled;
    if (c && c.task === 'regression') throw typeError(`predictClasses: the model is compiled for regression (${c.loss.name}); use predict`, { argument: 'this', expected: 'a classification model', received: c.loss.name });
    const p = predict(this.trainer, x, options);
    const K = this.outFeatures;
    return predictedClasses(p, p.length / K, K);
  }

  /**
   * Loss and the compiled metrics on x, y in inference mode: { loss, accuracy }
   * by default for classification, { loss } for regression, plus whatever
   * compile({ metrics }) asked for.
   */
  evaluate(x: Features, y: Labels, options?: InferOptions): Evaluation {
    this.net.checkAlive('evaluate');
    return evaluate(this.trainer, x, y, options);
  }

  /** Inference-mode outputs of the given layers (indices into `layers`), one Float32Array (rows × width) each. */
  layerOutputs(x: Features, indices: number[], options?: InferOptions): Float32Array[] {
    this.net.checkAlive('layerOutputs');
    return layerOutputs(this.net, x, indices, options);
  }

  /** All trainable parameters, named "<layer index>.<type>.<name>", with copies of value and gradient. */
  parameters(): NamedParameter[] {
    this.net.checkAlive('parameters');
    return this.net.parameters();
  }

  /** @internal A copy of the optimizer state: steps taken, and each slot (momentum: velocity; Adam: m, v) in parameter order. */
  optimizerState(): OptimizerState {
    this.net.checkAlive('optimizerState');
    return this.trainer.optimizerState();
  }

  /** A one-table description of the layers and their sizes. */
  summary(): string {
    this.net.checkAlive('summary');
    return summaryTable(this.net, this.backend.name);
  }

  /** The model as bytes: topology, options and weights including running statistics (see io/format.ts). */
  save(): Uint8Array {
    this.net.checkAlive('save');
    return encodeModel(this.net, this.trainer, this.seed, { inputShape: this.inputShapeOption, preprocessing: this.#preprocessing });
  }

  /**
   * Rebuilds a model saved with `save()`, or the model in a checkpoint (with
   * its optimizer state). Rejects with ModelFormatError for bytes that are not
   * a valid model file: the sizes, checksum, topology and weight count are
   * checked against the file before anything is allocated, weights must be
   * finite and running variances ≥ 0. options.backend: as in the constructor,
   * but a name creates that backend here. Asynchronous: the reader and its
   * table of layer types load on first use (pages that never read one skip them).
   */
  static async load<M extends Sequential>(
    this: new (layers: Layer[], options?: SequentialOptions) => M,
    bytes: Uint8Array,
    options?: { backend?: Backend | 'wasm' | 'js' },
  ): Promise<M> {
    const o = expectOptions('load', 'options', options, ['backend']);
    const named = o.backend ?? 'wasm';
    const backend = named === 'wasm' || named === 'js' ? await createBackend(named) : named;
    const { parseFile } = await import('../io/on-demand.js');
    return Sequential.loadWith.call(this, parseFile, bytes, { backend }) as M;
  }

  /** @internal `load` with the file reader given: the ONNX importers, which bring the layer table anyway, stay synchronous. */
  static loadWith<M extends Sequential>(
    this: new (layers: Layer[], options?: SequentialOptions) => M,
    parse: typeof parseFile,
    bytes: Uint8Array,
    options?: { backend?: Backend | 'wasm' | 'js' },
  ): M {
    const o = expectOptions('load', 'options', options, ['backend']);
    const backend = resolveBackend('load', o.backend ?? 'wasm');
    const f = parse('load', bytes);
    const bad = (why: string): never => { throw new ModelFormatError(`load: not a valid normcore model file: ${why}`); };
    let model: M;
    try {
      model = new this(f.layers, { backend, seed: f.seed, ...(f.inputShape ? { inputShape: f.inputShape } : {}) });
    } catch (e) {
      if (e instanceof ModelFormatError) throw e;
      return bad(`the layers do not form a valid model (${(e as Error).message})`);
    }
    const m = model as unknown as Sequential;
    if (m.net.fileWeightCount !== f.weights.length) {
      model.dispose();
      bad(`the model needs ${m.net.fileWeightCount} weights, the file has ${f.weights.length}`);
    }
    m.net.writeWeights(f.weights);
    if (f.compile) {
      try {
        model.compile(f.compile);
      } catch (e) {
        model.dispose();
        return bad(`the saved compile options are invalid (${(e as Error).message})`);
      }
    }
    if (f.optimizer) m.trainer.writeOptimizerState(f.optimizer);
    if (f.preprocessing) m.#preprocessing = f.preprocessing;
    return model;
  }

  /** What a checkpoint records about its fit. Rejects with ModelFormatError for invalid bytes (or a model file, which is no checkpoint). */
  static checkpointInfo = checkpointInfo;

  /** Returns the model's arena to the backend's heap. The model cannot be used afterwards; its layers can join a new model. */
  dispose(): void {
    this.net.dispose();
  }
}

async function checkpointInfo(bytes: Uint8Array): Promise<CheckpointInfo> {
  const { parseFile } = await import('../io/on-demand.js');
  const f = parseFile('checkpointInfo', bytes);
  if (!f.fit || !f.optimizer) throw new ModelFormatError('checkpointInfo: the bytes are a model file, not a checkpoint (no optimizer state or training progress)');
  const { data: _data, ...fit } = f.fit;
  return { ...fit, step: f.optimizer.step };
}

/** options.inputShape: a non-empty array of integers ≥ 1. */
function checkInputShape(where: string, shape: unknown): number[] {
  if (!Array.isArray(shape) || shape.length === 0 || shape.length > 8 || !shape.every((v) => Number.isInteger(v) && v >= 1 && v <= 0x7fffffff)) {
    throw typeError(`${where}: options.inputShape must be a non-empty array of integers ≥ 1 (e.g. [28, 28, 1] for H, W, C), got ${describe(shape)}`, { argument: 'options.inputShape', expected: 'an array of integers ≥ 1', received: describe(shape) });
  }
  return [...(shape as number[])];
}

