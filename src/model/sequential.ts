/**
 * Sequential: the public face. It composes a Network (layers bound to one
 * arena, forward and backward; model/network.ts), a Trainer (loss,
 * optimizer, schedule, divergence snapshot; train/trainer.ts), the fit loop
 * (train/fit.ts), inference (train/infer.ts) and the file codec
 * (io/model-file.ts). A training step passes only pointers and sizes across
 * the JS/WASM boundary.
 */
import type { Backend } from '../backend/index.js';
import { createBackendSync } from '../backend/index.js';
import { describe, expectInt, MAX_SEED, expectOptions, typeError } from '../errors.js';
import { ModelFormatError } from '../io/format.js';
import { checkResume, encodeCheckpoint, encodeModel, parseFile } from '../io/model-file.js';
import type { Labels } from '../train/data.js';
import { checkFit, prepareFit, runFit, type CheckpointInfo, type FitOptions, type History, type Resume } from '../train/fit.js';
import { evaluate, layerOutputs, predict, type InferOptions } from '../train/infer.js';
import type { LossName } from '../train/losses.js';
import { Trainer, type CompileOptions, type OptimizerState } from '../train/trainer.js';
import type { Layer, NamedParameter } from './layer.js';
import { Network } from './network.js';

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

function resolveBackend(where: string, be: unknown): Backend {
  if (typeof be === 'string' && be !== 'wasm' && be !== 'js') {
    throw typeError(`${where}: options.backend must be a Backend, 'wasm' or 'js', got ${describe(be)}`, { argument: 'options.backend', expected: "a Backend, 'wasm' or 'js'", received: describe(be) });
  }
  const backend = typeof be === 'string' ? createBackendSync(be as 'wasm' | 'js') : be;
  if (!backend || typeof backend !== 'object' || !('kernels' in backend)) {
    throw typeError(`${where}: options.backend must be a Backend, 'wasm' or 'js', got ${describe(be)}`, { argument: 'options.backend', expected: "a Backend, 'wasm' or 'js'", received: describe(be) });
  }
  return backend as Backend;
}

export class Sequential {
  readonly layers: readonly Layer[];
  readonly backend: Backend;
  readonly seed: number;
  private readonly net: Network;
  private readonly trainer: Trainer;

  /**
   * @param layers  the stack; each layer's input width must match the previous output width
   * @param options { backend = 'wasm', seed = 1, fuse = true }
   */
  constructor(layers: Layer[], options?: SequentialOptions) {
    const o = expectOptions('Sequential', 'options', options, ['backend', 'seed', 'fuse']);
    if (o.fuse !== undefined && typeof o.fuse !== 'boolean') throw typeError(`Sequential: options.fuse must be a boolean, got ${describe(o.fuse)}`, { argument: 'options.fuse', expected: 'a boolean', received: describe(o.fuse) });
    this.seed = o.seed === undefined ? 1 : expectInt('Sequential', 'options.seed', o.seed, 0, MAX_SEED);
    this.backend = resolveBackend('Sequential', o.backend ?? 'wasm');
    this.net = new Network(layers, this.backend, o.fuse ?? true);
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

  /** Number of trainable values. */
  get parameterCount(): number {
    return this.net.nParams;
  }

  /** The compiled loss, if any. */
  get lossName(): LossName | undefined {
    return this.trainer.compiled?.loss.name;
  }

  /** Chooses the loss, the optimizer (its state is reset) and the learning-rate schedule. */
  compile(options?: CompileOptions): this {
    this.net.checkAlive('compile');
    this.trainer.compile(options);
    return this;
  }

  /**
   * Trains on x (rows × inFeatures) and y (labels, or one-hot / targets).
   * The data is copied into the backend's memory once; mini-batches are
   * gathered there. Yields to the event loop between batches.
   */
  async fit(x: Float32Array, y: Labels, options?: FitOptions): Promise<History> {
    this.net.checkAlive('fit');
    const run = checkFit(this.trainer, this.seed, x, y, options);
    const checkAlive = () => this.net.checkAlive('fit');
    this.trainer.training = true;
    try {
      // The long checks, sliced; then everything is validated and from here on the model changes.
      await prepareFit(run, checkAlive);
      let resume: Resume | undefined;
      if (run.options.resumeFrom) {
        const f = checkResume(run.options.resumeFrom, this.net, this.trainer, this.seed, run.record!);
        resume = {
          epochsDone: f.fit.epochsDone,
          optimizer: f.optimizer,
          restore: () => {
            this.net.writeWeights(f.weights);
            this.net.writeTransientState(f.layers);
          },
        };
      }
      return await runFit(this.trainer, run, {
        checkAlive,
        checkpointBytes: (done) => encodeCheckpoint(this.net, this.trainer, this.seed, run.record!, done),
        evaluate: (vx, vy) => evaluate(this.trainer, vx, vy, { checkInputs: false }),
      }, resume);
    } finally {
      this.trainer.training = false;
    }
  }

  /** Inference. Returns rows × outFeatures: class probabilities for softmaxCrossEntropy, sigmoid probabilities for binaryCrossEntropy, raw outputs otherwise. */
  predict(x: Float32Array, options?: InferOptions): Float32Array {
    this.net.checkAlive('predict');
    return predict(this.trainer, x, options);
  }

  /** Mean loss and accuracy (softmax cross-entropy; NaN otherwise) on x, y in inference mode. */
  evaluate(x: Float32Array, y: Labels, options?: InferOptions): { loss: number; accuracy: number } {
    this.net.checkAlive('evaluate');
    return evaluate(this.trainer, x, y, options);
  }

  /** Inference-mode outputs of the given layers (indices into `layers`), one Float32Array (rows × width) each. */
  layerOutputs(x: Float32Array, indices: number[], options?: InferOptions): Float32Array[] {
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
    const rows = this.layers.map((l, i) => {
      const params = l.paramSpecs().reduce((a, s) => a + s.size, 0);
      return `${String(i).padStart(3)}  ${l.describe().padEnd(18)} ${String(l.inFeatures).padStart(6)} → ${String(l.outFeatures).padEnd(6)} ${String(params).padStart(9)}`;
    });
    return [`  #  layer              in      out      params`, ...rows, `trainable parameters: ${this.net.nParams}, backend: ${this.backend.name}`].join('\n');
  }

  /** The model as bytes: topology, options and weights including running statistics (see io/format.ts). */
  save(): Uint8Array {
    this.net.checkAlive('save');
    return encodeModel(this.net, this.trainer, this.seed);
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
    const backend = resolveBackend('load', o.backend ?? 'wasm');
    const f = parseFile('load', bytes);
    const bad = (why: string): never => {
      throw new ModelFormatError(`load: not a valid normcore model file: ${why}`);
    };
    let model: M;
    try {
      model = new this(f.layers, { backend, seed: f.seed });
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
    return model;
  }

  /** What a checkpoint records about its fit. Throws ModelFormatError for invalid bytes (or a model file, which is no checkpoint). */
  static checkpointInfo(bytes: Uint8Array): CheckpointInfo {
    const f = parseFile('checkpointInfo', bytes);
    if (!f.fit || !f.optimizer) throw new ModelFormatError('checkpointInfo: the bytes are a model file, not a checkpoint (no optimizer state or training progress)');
    const { data: _data, ...fit } = f.fit;
    return { ...fit, step: f.optimizer.step };
  }

  /** Returns the model's arena to the backend's heap. The model cannot be used afterwards; its layers can join a new model. */
  dispose(): void {
    this.net.dispose();
  }
}
