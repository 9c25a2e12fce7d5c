/**
 * The fit loop: options checked up front (nothing changes on a refusal), the
 * data copied into the backend's memory once, mini-batches gathered there,
 * one forward, loss, backward and optimizer step per batch, the divergence
 * snapshot, checkpoints, callbacks, and yields to the event loop.
 */
import type { Ptr } from '../backend/types.js';
import { describe, expectInt, expectNumber, expectOptions, MAX_SEED, mustBe, rangeError, StateError, typeError } from '../errors.js';
import { crc32Update } from '../io/format.js';
import { Random } from '../model/random.js';
import { checkCallbacks, type BatchLogs, type Callback, type EpochLogs, type TrainingModel } from './callbacks.js';
import { checkTargets, toX, type Features, type Labels } from './data.js';
import { checkValidation, rowWeights, type Batch, type ValidationSource } from './fit-data.js';
import { diverge, emptyHistory, FitEvents, recordEpoch, Stepper, type Evaluation, type History } from './fit-step.js';
import type { OptimizerState, Trainer } from './trainer.js';

export type { EpochLogs, BatchLogs } from './callbacks.js';
export type { History, Evaluation } from './fit-step.js';

export type { Batch } from './fit-data.js';

/** Validation data: [x, y] in memory, or an (async) iterable of batches read anew at each epoch's end. */
export type ValidationData = [Features, Labels] | AsyncIterable<Batch> | Iterable<Batch>;

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
  /** Held-out data evaluated after every epoch (valLoss and val metrics in the logs and history). */
  validationData?: ValidationData;
  /**
   * Fraction in (0, 1) of the rows kept out of training for validation: the
   * last rows of x and y, taken before any shuffling (as Keras). Not with
   * validationData or a streamed source.
   */
  validationSplit?: number;
  /** Callback objects (earlyStopping(), reduceLrOnPlateau(), or your own { onEpochEnd, onBatchEnd, onTrainBegin, onTrainEnd }). */
  callbacks?: Callback[];
  /**
   * Weight of each class in the loss, by class index ({ 0: 1, 1: 5 } or [1, 5];
   * classes left out weigh 1). Classification losses only.
   */
  classWeight?: Record<number, number> | readonly number[];
  /** Weight of each row in the loss (≥ 0, one per row); multiplied by classWeight when both are given. */
  sampleWeight?: ArrayLike<number>;
  /** A streamed source: batches per epoch (required for an endless source; default: until the source ends). */
  stepsPerEpoch?: number;
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
  val: ValidationSource | undefined;
  /** Per-row loss weights (sample × class weights), or undefined. */
  weights: Float32Array | undefined;
  callbacks: Callback[];
  options: Partial<FitOptions>;
  checkpoint: Required<CheckpointOptions> | undefined;
  record: FitRecord | undefined;
  /** Scan x for NaN/Infinity (in prepareFit). */
  checkFinite: boolean;
}

export const FIT_OPTIONS = ['epochs', 'batchSize', 'shuffle', 'seed', 'dropLast', 'validationData', 'validationSplit', 'callbacks', 'classWeight', 'sampleWeight', 'stepsPerEpoch', 'onEpochEnd', 'onBatchEnd', 'checkInputs', 'signal', 'checkpoint', 'resumeFrom'];

/** Checks a fit's arguments against the compiled model; changes nothing. */
export function checkFit(t: Trainer, modelSeed: number, x: unknown, y: unknown, options: FitOptions | undefined): FitRun {
  const where = 'fit';
  if (t.training) throw new StateError('fit: the model is already training; wait for the running fit to finish (or abort it with its signal)');
  const o = expectOptions(where, 'options', options, FIT_OPTIONS);
  const c = t.need(where);
  const net = t.net;
  const checkFinite = o.checkInputs ?? true;
  if (typeof checkFinite !== 'boolean') throw mustBe('fit', 'options.checkInputs', 'a boolean', checkFinite);
  if (o.stepsPerEpoch !== undefined) throw typeError('fit: options.stepsPerEpoch is for a streamed source (an async iterable of { x, y } batches); with arrays every epoch is one pass over the rows', { code: 'UNKNOWN_OPTION', argument: 'options.stepsPerEpoch', expected: 'no stepsPerEpoch with arrays', received: String(o.stepsPerEpoch) });
  // The finite scan of a Float32Array x (and of validation x) and the data fingerprint run sliced in prepareFit; other kinds are checked as they are converted.
  const xm = toX(where, 'x', x, net.inFeatures, false);
  const allRows = xm.rows;
  const allTargets = checkTargets(where, 'y', y, allRows, net.outFeatures, c.lossSpec);
  const allWeights = rowWeights(where, o.sampleWeight, o.classWeight, allTargets, allRows, net.outFeatures, c.lossSpec.targets);
  // validationSplit: the last rows, before any shuffling
  let N = allRows;
  let split: ValidationSource | undefined;
  if (o.validationSplit !== undefined) {
    const f = expectNumber(where, 'options.validationSplit', o.validationSplit, 0, 1, true);
    if (f >= 1) throw rangeError(`fit: options.validationSplit must be in (0, 1), got ${f}`, { argument: 'options.validationSplit', expected: 'a fraction in (0, 1)', received: String(f) });
    if (o.validationData !== undefined) throw typeError('fit: give options.validationData or options.validationSplit, not both', { argument: 'options.validationSplit', expected: 'one of validationData, validationSplit', received: 'both' });
    const nVal = Math.floor(allRows * f);
    if (nVal < 1 || nVal >= allRows) throw rangeError(`fit: options.validationSplit ${f} of ${allRows} rows leaves ${nVal} validation and ${allRows - nVal} training rows; both need at least one`, { argument: 'options.validationSplit', expected: 'a split leaving rows on both sides', received: String(f) });
    N = allRows - nVal;
    const F = net.inFeatures, yCols = allTargets.length / allRows;
    split = { kind: 'arrays', x: xm.data.subarray(N * F), y: allTargets.subarray(N * yCols), rows: nVal };
  }
  const targets = N === allRows ? allTargets : allTargets.subarray(0, N * (allTargets.length / allRows));
  const xTrain = N === allRows ? xm.data : xm.data.subarray(0, N * net.inFeatures);
  const weights = allWeights && N !== allRows ? allWeights.subarray(0, N) : allWeights;
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
    if (typeof v !== 'boolean') throw mustBe('fit', `options.${name}`, 'a boolean', v);
  }
  const callbacks = checkCallbacks(o.callbacks);
  for (const name of ['onEpochEnd', 'onBatchEnd'] as const) {
    if (o[name] !== undefined && typeof o[name] !== 'function') throw mustBe('fit', `options.${name}`, 'a function', o[name]);
  }
  const signal = o.signal;
  if (signal !== undefined && !(typeof signal === 'object' && signal !== null && 'aborted' in signal)) {
    throw mustBe('fit', 'options.signal', 'an AbortSignal', signal);
  }
  const val = split ?? checkValidation(t, o.validationData, false);
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
  return { x: xTrain, targets, N, epochs, batchSize, batches, shuffle, seed, val, weights, callbacks, options: o, checkpoint, record, checkFinite };
}

/**
 * The long passes over the data that a fit makes before training, sliced so
 * the event loop runs every few milliseconds (a page training on its main
 * thread stays usable): the finite scan of validation x, and the fingerprint
 * a checkpointed fit records. Throws as checkX would. (x itself is checked by
 * runFit once it is in linear memory: the countNonFinite kernel, SIMD and
 * split over threads, reads 31 MB of digits in ~2 ms where this loop takes
 * ~30; only when it finds something does the loop run, to name the place.)
 */
export async function prepareFit(r: FitRun, checkAlive: () => void): Promise<void> {
  const F = r.x.length / r.N;
  if (r.checkFinite && r.val?.kind === 'arrays') await scanFinite('validationData[0]', r.val.x, F, checkAlive);
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
  /** Loss and metrics on validation data. */
  evaluate(val: ValidationSource): Promise<Evaluation>;
  /** What callbacks see of the model. */
  model: TrainingModel;
}


/** The training loop of a validated fit. */
export async function runFit(t: Trainer, r: FitRun, hooks: FitHooks, resume: Resume | undefined): Promise<History> {
  const { N, epochs, batchSize, batches, val, options: o } = r;
  const net = t.net, k = net.k, signal = o.signal;
  const heap = net.backend.heap;
  const F = net.inFeatures, K = net.outFeatures;
  const yCols = r.targets instanceof Int32Array ? 1 : K;
  const blocks: Ptr[] = [];
  const history = emptyHistory();
  const events = new FitEvents(r.callbacks, hooks.model, o.onEpochEnd, o.onBatchEnd, hooks.checkAlive);
  const stepper = new Stepper(t);
  let last: EpochLogs | undefined;
  try {
    // Memory first (it may run out), then the model changes.
    net.ensureCapacity(batchSize);
    for (const floats of [N * F, N * yCols, N]) blocks.push(heap.allocF32(floats));
    if (r.weights) blocks.push(heap.allocF32(N), heap.allocF32(batchSize));
    const [dx, dy, didx, dw, bw] = blocks as [Ptr, Ptr, Ptr, Ptr | undefined, Ptr | undefined];
    // The copy into linear memory, sliced too (a view per slice: memory does not grow during the copy).
    await sliced(r.x.length, (start, end) => heap.f32(dx + start * 4, end - start).set(r.x.subarray(start, end)), hooks.checkAlive);
    // x finite, checked there before anything of the model changes; the JS scan only names the first bad value
    if (r.checkFinite && k.countNonFinite(dx, r.x.length) > 0) await scanFinite('x', r.x, F, hooks.checkAlive);
    if (resume) {
      resume.restore();
      t.writeOptimizerState(resume.optimizer);
    }
    t.lrMultiplier = 1;
    t.stopTraining = false;
    heap.write(dy, r.targets);
    if (r.weights) heap.write(dw!, r.weights);
    const order = new Int32Array(N);
    for (let i = 0; i < N; i++) order[i] = i;
    const rng = new Random(r.seed ^ 0x5eed);
    // Resuming: replay the shuffles of the epochs already done, so the batches are those of an uninterrupted run.
    const first = resume?.epochsDone ?? 0;
    if (r.shuffle) for (let e = 0; e < first; e++) rng.shuffle(order);
    const stepsInFit = epochs * batches;
    let lastYield = performance.now();
    await events.trainBegin();
    // Divergence: the snapshot holds the model with which the last finite loss was computed.
    t.snapshot('all');
    for (let epoch = first; epoch < epochs && !signal?.aborted && !t.stopTraining; epoch++) {
      if (r.shuffle) rng.shuffle(order);
      heap.write(didx, order);
      stepper.beginEpoch();
      const t0 = performance.now();
      for (let b = 0; b < batches; b++) {
        const rows = Math.min(batchSize, N - b * batchSize);
        const idx = didx + b * batchSize * 4;
        k.gatherRows(net.block('x'), dx, idx, rows, F);
        k.gatherRows(net.block('y'), dy, idx, rows, yCols);
        if (bw) k.gatherRows(bw, dw!, idx, rows, 1);
        const loss = stepper.step(rows, bw ?? 0, t.learningRate(epoch, epoch * batches + b, stepsInFit), epoch, b, String(batches));
        if (events.wantsBatches) await events.batchEnd(b, { epoch, batch: b, batches, loss });
        if (signal?.aborted || t.stopTraining) break;
        if (performance.now() - lastYield > 8) {
          await yieldNow();
          hooks.checkAlive();
          lastYield = performance.now();
        }
      }
      if (signal?.aborted || stepper.seen === 0) break;
      const logs = stepper.epochLogs(epoch, (performance.now() - t0) / 1000);
      recordEpoch(history, logs, val ? await hooks.evaluate(val) : undefined);
      hooks.checkAlive();
      last = logs;
      const done = epoch + 1;
      // Nothing non-finite reaches a checkpoint, the callbacks or the end of the fit.
      const bad = t.nonFinite(true);
      if (bad) diverge(t, bad, `the ${bad} became NaN or infinite`, epoch, batches - 1, batches, Math.min(batchSize, N - (batches - 1) * batchSize));
      if (r.checkpoint && (done % r.checkpoint.everyEpochs === 0 || done === epochs)) {
        await r.checkpoint.save(hooks.checkpointBytes(done), { ...r.record!, epochsDone: done, step: t.step });
        hooks.checkAlive();
      }
      await events.epochEnd(epoch, logs);
      await yieldNow();
      hooks.checkAlive();
      lastYield = performance.now();
    }
    await events.trainEnd(last);
  } finally {
    stepper.free();
    for (const b of blocks.reverse()) heap.free(b);
  }
  return history;
}
