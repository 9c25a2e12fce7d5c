/**
 * The fit loop: options checked up front (nothing changes on a refusal), the
 * data copied into the backend's memory once, mini-batches gathered there,
 * one forward, loss, backward and optimizer step per batch, the divergence
 * snapshot, checkpoints, callbacks, and yields to the event loop.
 */
import type { Ptr } from '../backend/types.js';
import { describe, expectInt, MAX_SEED, expectOptions, rangeError, StateError, typeError } from '../errors.js';
import { crc32Update } from '../io/format.js';
import { Random } from '../model/random.js';
import { checkTargets, checkX, type Labels } from './data.js';
import { DivergenceError, type Diverged, type OptimizerState, type Trainer } from './trainer.js';

export interface EpochLogs {
  epoch: number;
  /** Mean training loss over the epoch's batches. */
  loss: number;
  /** Training accuracy over the epoch's batches (softmax cross-entropy; NaN for other losses). */
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
export type FitRecord = Omit<CheckpointInfo, 'epochsDone' | 'step'> & { data: string };

/** What resuming restores: the file's weights, its layers' counters, optimizer state and progress. */
export interface Resume {
  epochsDone: number;
  restore(): void;
  optimizer: OptimizerState;
}

export interface History {
  epoch: number[];
  loss: number[];
  accuracy: number[];
  valLoss: number[];
  valAccuracy: number[];
  seconds: number[];
}

/** A validated fit, ready to run. */
export interface FitRun {
  x: Float32Array;
  targets: Int32Array | Float32Array;
  N: number;
  epochs: number;
  batchSize: number;
  batches: number;
  shuffle: boolean;
  seed: number;
  val: { x: Float32Array; y: Labels } | undefined;
  options: Partial<FitOptions>;
  checkpoint: Required<CheckpointOptions> | undefined;
  record: FitRecord | undefined;
  /** Scan x for NaN/Infinity (in prepareFit). */
  checkFinite: boolean;
}

const FIT_OPTIONS = ['epochs', 'batchSize', 'shuffle', 'seed', 'dropLast', 'validationData', 'onEpochEnd', 'onBatchEnd', 'checkInputs', 'signal', 'checkpoint', 'resumeFrom'];

/** Checks a fit's arguments against the compiled model; changes nothing. */
export function checkFit(t: Trainer, modelSeed: number, x: unknown, y: unknown, options: FitOptions | undefined): FitRun {
  const where = 'fit';
  if (t.training) throw new StateError('fit: the model is already training; wait for the running fit to finish (or abort it with its signal)');
  const o = expectOptions(where, 'options', options, FIT_OPTIONS);
  const c = t.need(where);
  const net = t.net;
  const checkFinite = o.checkInputs ?? true;
  if (typeof checkFinite !== 'boolean') throw typeError(`fit: options.checkInputs must be a boolean, got ${describe(checkFinite)}`, { argument: 'options.checkInputs', expected: 'a boolean', received: describe(checkFinite) });
  // The finite scan of x (and of validation x) and the data fingerprint run sliced in prepareFit.
  const N = checkX(where, 'x', x, net.inFeatures, false);
  const targets = checkTargets(where, 'y', y, N, net.outFeatures, c.lossSpec);
  const epochs = o.epochs === undefined ? 1 : expectInt(where, 'options.epochs', o.epochs);
  const batchSize = o.batchSize === undefined ? Math.min(32, N) : expectInt(where, 'options.batchSize', o.batchSize);
  if (batchSize > N) {
    throw rangeError(`fit: options.batchSize must be ≤ the number of rows (${N}), got ${batchSize}`, { argument: 'options.batchSize', expected: `≤ ${N}`, received: String(batchSize) });
  }
  const minRows = net.minTrainingRows;
  if (batchSize < minRows) {
    throw rangeError(`fit: options.batchSize must be ≥ ${minRows} for a model with BatchNorm (the variance of one sample is undefined), got ${batchSize}${N === 1 ? ' (x has a single row)' : ''}`, {
      argument: 'options.batchSize', expected: `≥ ${minRows}`, received: String(batchSize),
    });
  }
  const shuffle = o.shuffle ?? true;
  const seed = o.seed === undefined ? modelSeed : expectInt(where, 'options.seed', o.seed, 0, MAX_SEED);
  const dropLast = o.dropLast ?? false;
  for (const [name, v] of [['shuffle', shuffle], ['dropLast', dropLast]] as const) {
    if (typeof v !== 'boolean') throw typeError(`fit: options.${name} must be a boolean, got ${describe(v)}`, { argument: `options.${name}`, expected: 'a boolean', received: describe(v) });
  }
  for (const name of ['onEpochEnd', 'onBatchEnd'] as const) {
    if (o[name] !== undefined && typeof o[name] !== 'function') throw typeError(`fit: options.${name} must be a function, got ${describe(o[name])}`, { argument: `options.${name}`, expected: 'a function', received: describe(o[name]) });
  }
  const signal = o.signal;
  if (signal !== undefined && !(typeof signal === 'object' && signal !== null && 'aborted' in signal)) {
    throw typeError(`fit: options.signal must be an AbortSignal, got ${describe(signal)}`, { argument: 'options.signal', expected: 'an AbortSignal', received: describe(signal) });
  }
  let val: FitRun['val'];
  if (o.validationData !== undefined) {
    if (!Array.isArray(o.validationData) || o.validationData.length !== 2) {
      throw typeError(`fit: options.validationData must be [x, y], got ${describe(o.validationData)}`, { argument: 'options.validationData', expected: '[x, y]', received: describe(o.validationData) });
    }
    const [vx, vy] = o.validationData;
    checkTargets(where, 'validationData[1]', vy, checkX(where, 'validationData[0]', vx, net.inFeatures, false), net.outFeatures, c.lossSpec);
    val = { x: vx, y: vy };
  }
  const checkpoint = o.checkpoint === undefined ? undefined : checkCheckpointOption(o.checkpoint);
  if (o.resumeFrom !== undefined && !(o.resumeFrom instanceof Uint8Array)) {
    throw typeError(`fit: options.resumeFrom must be the bytes of a checkpoint (Uint8Array), got ${describe(o.resumeFrom)}`, { argument: 'options.resumeFrom', expected: 'a Uint8Array', received: describe(o.resumeFrom) });
  }
  const record: FitRecord | undefined = checkpoint || o.resumeFrom
    ? { epochs, batchSize, shuffle, seed, dropLast, rows: N, features: net.inFeatures, data: '' }
    : undefined;
  let batches = Math.floor(N / batchSize);
  const rest = N - batches * batchSize;
  if (rest > 0 && !dropLast && rest >= minRows) batches++;
  return { x: x as Float32Array, targets, N, epochs, batchSize, batches, shuffle, seed, val, options: o, checkpoint, record, checkFinite };
}

/**
 * The long passes over the data that a fit makes before training, sliced so
 * the event loop runs every few milliseconds (a page training on its main
 * thread stays usable): the finite scan of x and of validation x, and the
 * fingerprint a checkpointed fit records. Throws as checkX would.
 */
export async function prepareFit(r: FitRun, checkAlive: () => void): Promise<void> {
  const F = r.x.length / r.N;
  if (r.checkFinite) {
    await scanFinite('x', r.x, F, checkAlive);
    if (r.val) await scanFinite('validationData[0]', r.val.x, F, checkAlive);
  }
  if (r.record) r.record.data = await fingerprint(r.x, r.targets, checkAlive);
}

/** Work between two yields to the event loop: about this many milliseconds. */
const SLICE_MS = 8;
/** Elements per check of the clock. */
const SLICE = 1 << 16;

/** Runs `work(start, end)` over [0, n) in slices, yielding to the event loop about every SLICE_MS. */
export async function sliced(n: number, work: (start: number, end: number) => void, checkAlive: () => void): Promise<void> {
  let last = performance.now();
  for (let start = 0; start < n; start += SLICE) {
    work(start, Math.min(n, start + SLICE));
    if (performance.now() - last > SLICE_MS) {
      await yieldNow();
      checkAlive();
      last = performance.now();
    }
  }
}

async function scanFinite(name: string, x: Float32Array, F: number, checkAlive: () => void): Promise<void> {
  await sliced(x.length, (start, end) => {
    for (let i = start; i < end; i++) {
      if (!Number.isFinite(x[i]!)) {
        throw rangeError(`fit: ${name} must hold finite numbers, got ${x[i]} at row ${Math.floor(i / F)}, feature ${i % F} (pass checkInputs: false to skip this check)`, {
          code: 'NOT_FINITE', argument: name, expected: 'finite numbers', received: String(x[i]),
        });
      }
    }
  }, checkAlive);
}

/** Checks FitOptions.checkpoint. */
function checkCheckpointOption(c: unknown): Required<CheckpointOptions> {
  if (c && typeof c === 'object' && 'path' in c) {
    throw typeError(`fit: options.checkpoint.path needs Node: use Sequential from 'normcore/node' (or checkpoint: checkpointFile(path) from there), or pass { everyEpochs, save(bytes) }`, {
      code: 'UNKNOWN_OPTION', argument: 'options.checkpoint.path', expected: 'everyEpochs, save', received: 'path',
    });
  }
  const o = expectOptions('fit', 'options.checkpoint', c as CheckpointOptions, ['everyEpochs', 'save']);
  if (typeof o.save !== 'function') throw typeError(`fit: options.checkpoint.save must be a function (bytes, info) => void | Promise<void>, got ${describe(o.save)}`, { argument: 'options.checkpoint.save', expected: 'a function', received: describe(o.save) });
  const everyEpochs = o.everyEpochs === undefined ? 1 : expectInt('fit', 'options.checkpoint.everyEpochs', o.everyEpochs);
  return { everyEpochs, save: o.save };
}

/** Identifies the training data of a checkpointed fit: CRC-32 of x and of the targets (sliced). */
async function fingerprint(x: Float32Array, targets: Int32Array | Float32Array, checkAlive: () => void): Promise<string> {
  const hex = async (a: Float32Array | Int32Array) => {
    const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    let c = 0xffffffff;
    await sliced(bytes.length, (start, end) => { c = crc32Update(c, bytes, start, end); }, checkAlive);
    return ((c ^ 0xffffffff) >>> 0).toString(16).padStart(8, '0');
  };
  return `crc32:${await hex(x)}:${await hex(targets)}`;
}

export function yieldNow(): Promise<void> {
  const g = globalThis as { setImmediate?: (f: () => void) => void };
  if (g.setImmediate) return new Promise((r) => g.setImmediate!(r));
  return new Promise((r) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => { ch.port1.close(); r(); };
    ch.port2.postMessage(0);
  });
}

/** Hooks the loop calls outside the training itself. */
export interface FitHooks {
  /** Throws when the model was disposed meanwhile (checked after every await). */
  checkAlive(): void;
  /** The checkpoint bytes after `epochsDone` epochs. */
  checkpointBytes(epochsDone: number): Uint8Array;
  /** Mean loss and accuracy on validation data. */
  evaluate(x: Float32Array, y: Labels): { loss: number; accuracy: number };
}

/**
 * Puts back the model with which the last finite loss was computed, resets the
 * optimizer state, checks that model on the batch at hand (block 'x', `rows`
 * rows) in inference mode, and throws the DivergenceError that says all of it.
 */
function diverge(t: Trainer, what: Diverged, happened: string, epoch: number, b: number, batches: number, rows: number): never {
  t.snapshot('restore');
  t.resetOptimizerState();
  const net = t.net;
  const out = net.forward(rows, false);
  const usable = net.k.countNonFinite(out, rows * net.outFeatures) === 0;
  const verdict = usable
    ? 'the model keeps the weights with which the last finite loss was computed and its optimizer state is reset (lower the learning rate?)'
    : 'the weights with which the last finite loss was computed are restored, but even they predict NaN or infinite values on this batch (running statistics): the model is not usable; load a checkpoint or start again with a lower learning rate';
  throw new DivergenceError(`fit: ${happened} at epoch ${epoch + 1}, batch ${b + 1} of ${batches}; training stopped, ${verdict}`, epoch, b, what, usable);
}

/** The training loop of a validated fit. */
export async function runFit(t: Trainer, r: FitRun, hooks: FitHooks, resume: Resume | undefined): Promise<History> {
  const { N, epochs, batchSize, batches, val, options: o } = r;
  const net = t.net, k = net.k, signal = o.signal;
  const heap = net.backend.heap;
  const F = net.inFeatures, K = net.outFeatures;
  const yCols = r.targets instanceof Int32Array ? 1 : K;
  const countCorrect = t.compiled!.lossSpec.targets === 'classes';
  const blocks: Ptr[] = [];
  const history: History = { epoch: [], loss: [], accuracy: [], valLoss: [], valAccuracy: [], seconds: [] };
  try {
    // Memory first (it may run out), then the model changes.
    net.ensureCapacity(batchSize);
    for (const floats of [N * F, N * yCols, N]) blocks.push(heap.allocF32(floats));
    const [dx, dy, didx] = blocks as [Ptr, Ptr, Ptr];
    if (resume) {
      resume.restore();
      t.writeOptimizerState(resume.optimizer);
    }
    // The copy into linear memory, sliced too (a view per slice: memory does not grow during the copy).
    await sliced(r.x.length, (start, end) => heap.f32(dx + start * 4, end - start).set(r.x.subarray(start, end)), hooks.checkAlive);
    heap.write(dy, r.targets);
    const order = new Int32Array(N);
    for (let i = 0; i < N; i++) order[i] = i;
    const rng = new Random(r.seed ^ 0x5eed);
    // Resuming: replay the shuffles of the epochs already done, so the batches are those of an uninterrupted run.
    const first = resume?.epochsDone ?? 0;
    if (r.shuffle) for (let e = 0; e < first; e++) rng.shuffle(order);
    const stepsInFit = epochs * batches;
    let lastYield = performance.now();
    // Divergence: the snapshot holds the model with which the last finite loss was computed.
    t.snapshot('all');
    for (let epoch = first; epoch < epochs && !signal?.aborted; epoch++) {
      if (r.shuffle) rng.shuffle(order);
      heap.write(didx, order);
      let lossSum = 0, correct = 0, seen = 0;
      const t0 = performance.now();
      for (let b = 0; b < batches; b++) {
        const rows = Math.min(batchSize, N - b * batchSize);
        const idx = didx + b * batchSize * 4;
        k.gatherRows(net.block('x'), dx, idx, rows, F);
        k.gatherRows(net.block('y'), dy, idx, rows, yCols);
        t.snapshot('begin');
        const out = net.forward(rows, true);
        if (countCorrect) correct += k.countCorrect(out, net.block('y'), rows, K);
        const loss = t.lossAndGrad(out, rows);
        if (!Number.isFinite(loss)) diverge(t, 'loss', `the training loss became ${loss}`, epoch, b, batches, rows);
        t.snapshot('commit');
        net.backward(rows);
        t.applyOptimizer(t.learningRate(epoch, epoch * batches + b, stepsInFit));
        const bad = t.nonFinite(false);
        if (bad) diverge(t, bad, `the ${bad} became NaN or infinite after the update`, epoch, b, batches, rows);
        lossSum += loss * rows;
        seen += rows;
        if (o.onBatchEnd) {
          await o.onBatchEnd(b, { epoch, batch: b, batches, loss });
          hooks.checkAlive();
        }
        if (signal?.aborted) break;
        if (performance.now() - lastYield > 8) {
          await yieldNow();
          hooks.checkAlive();
          lastYield = performance.now();
        }
      }
      if (signal?.aborted) break;
      const seconds = (performance.now() - t0) / 1000;
      const logs: EpochLogs = { epoch, loss: lossSum / seen, accuracy: countCorrect ? correct / seen : NaN, seconds, samplesPerSecond: seen / seconds };
      if (val) {
        const e = hooks.evaluate(val.x, val.y);
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
      // Nothing non-finite reaches a checkpoint, the callbacks or the end of the fit.
      const bad = t.nonFinite(true);
      if (bad) diverge(t, bad, `the ${bad} became NaN or infinite`, epoch, batches - 1, batches, Math.min(batchSize, N - (batches - 1) * batchSize));
      if (r.checkpoint && (done % r.checkpoint.everyEpochs === 0 || done === epochs)) {
        await r.checkpoint.save(hooks.checkpointBytes(done), { ...r.record!, epochsDone: done, step: t.step });
        hooks.checkAlive();
      }
      if (o.onEpochEnd) {
        await o.onEpochEnd(epoch, logs);
        hooks.checkAlive();
      }
      await yieldNow();
      hooks.checkAlive();
      lastYield = performance.now();
    }
  } finally {
    for (const b of blocks.reverse()) heap.free(b);
  }
  return history;
}

