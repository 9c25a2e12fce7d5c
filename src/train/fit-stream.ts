/**
 * fit over a streamed source: an async (or sync) iterable of { x, y } batches
 * (a generator reading a file, producing rows on the fly, a stream). Each
 * batch is converted, checked and written straight into the model's batch
 * blocks, so memory holds one batch at a time beside the model, whatever the
 * rows in all. Shuffling is the source's job.
 *
 * Epochs: with stepsPerEpoch, each epoch takes that many batches from one
 * iterator kept across epochs (an endless generator); the fit ends early if
 * the source runs out. Without it, each epoch asks the source for a new
 * iterator and reads it to the end (an async generator can be read once, so
 * more than one epoch needs a source whose [Symbol.asyncIterator]() starts
 * over). A batch smaller than the model's fewest training rows (1 row with
 * BatchNorm) is skipped.
 *
 * Also evaluation over such a source (a streamed validationData). Sequential
 * imports this module on first use (through io/on-demand.ts), so a page that
 * fits arrays never loads it.
 */
import { describe, expectInt, expectOptions, mustBe, rangeError, StateError, typeError } from '../errors.js';
import { checkCallbacks, type Callback, type EpochLogs } from './callbacks.js';
import { checkTargets, toX } from './data.js';
import { checkValidation, rowWeights, type Batch, type ValidationSource } from './fit-data.js';
import { diverge, emptyHistory, FitEvents, recordEpoch, Stepper, type Evaluation, type History } from './fit-step.js';
import { FIT_OPTIONS, yieldNow, type FitHooks, type FitOptions } from './fit.js';
import { Evaluator, inferInput } from './infer.js';
import { LOSSES } from './losses.js';
import type { Trainer } from './trainer.js';

const STREAM_UNSUPPORTED = ['batchSize', 'shuffle', 'seed', 'dropLast', 'validationSplit', 'sampleWeight', 'checkpoint', 'resumeFrom'] as const;

export interface StreamRun {
  source: AsyncIterable<Batch> | Iterable<Batch>;
  epochs: number;
  stepsPerEpoch: number | undefined;
  classWeight: unknown;
  checkFinite: boolean;
  val: ValidationSource | undefined;
  callbacks: Callback[];
  options: Partial<FitOptions>;
}

/** Checks a streamed fit's options; changes nothing. */
export function checkStreamFit(t: Trainer, source: AsyncIterable<Batch> | Iterable<Batch>, y: unknown, options: FitOptions | undefined): StreamRun {
  const where = 'fit';
  if (t.training) throw new StateError('fit: the model is already training; wait for the running fit to finish (or abort it with its signal)');
  if (y !== undefined) throw typeError(`fit: with a streamed source the labels come in its batches ({ x, y }); pass fit(source, undefined, options) or fit(source, options), got y = ${describe(y)}`, { argument: 'y', expected: 'undefined', received: describe(y) });
  const o = expectOptions(where, 'options', options, FIT_OPTIONS);
  t.need(where);
  for (const name of STREAM_UNSUPPORTED) {
    if (o[name] !== undefined) {
      const why = name === 'sampleWeight' ? 'give each batch its own { x, y, sampleWeight }' : name === 'batchSize' ? 'the batches are those the source gives' : name === 'shuffle' || name === 'seed' ? 'shuffling is the source\'s job' : 'it needs the whole data set in memory';
      throw typeError(`fit: options.${name} does not apply to a streamed source (${why})`, { code: 'UNKNOWN_OPTION', argument: `options.${name}`, expected: 'no such option with a streamed source', received: describe(o[name]) });
    }
  }
  const checkFinite = o.checkInputs ?? true;
  if (typeof checkFinite !== 'boolean') throw mustBe('fit', 'options.checkInputs', 'a boolean', checkFinite);
  const epochs = o.epochs === undefined ? 1 : expectInt(where, 'options.epochs', o.epochs);
  const stepsPerEpoch = o.stepsPerEpoch === undefined ? undefined : expectInt(where, 'options.stepsPerEpoch', o.stepsPerEpoch);
  if (stepsPerEpoch === undefined && t.compiled!.schedule.type === 'cosine') {
    throw typeError('fit: a cosine learning-rate schedule needs the number of steps: pass options.stepsPerEpoch with a streamed source', { argument: 'options.stepsPerEpoch', expected: 'an integer ≥ 1', received: 'undefined' });
  }
  const callbacks = checkCallbacks(o.callbacks);
  for (const name of ['onEpochEnd', 'onBatchEnd'] as const) {
    if (o[name] !== undefined && typeof o[name] !== 'function') throw mustBe('fit', `options.${name}`, 'a function', o[name]);
  }
  if (o.classWeight !== undefined) rowWeights(where, undefined, o.classWeight, new Int32Array(0), 0, t.net.outFeatures, t.compiled!.lossSpec.targets);
  const val = checkValidation(t, o.validationData, checkFinite);
  return { source, epochs, stepsPerEpoch, classWeight: o.classWeight, checkFinite, val, callbacks, options: o };
}

type AnyIterator = AsyncIterator<Batch> | Iterator<Batch>;

function iteratorOf(source: AsyncIterable<Batch> | Iterable<Batch>): AnyIterator {
  const s = source as Partial<AsyncIterable<Batch> & Iterable<Batch>>;
  return s[Symbol.asyncIterator] ? s[Symbol.asyncIterator]!() : s[Symbol.iterator]!();
}

/** The training loop of a validated streamed fit. */
export async function runStreamFit(t: Trainer, r: StreamRun, hooks: FitHooks): Promise<History> {
  const net = t.net, heap = net.backend.heap, o = r.options, signal = o.signal;
  const F = net.inFeatures, K = net.outFeatures, minRows = net.minTrainingRows;
  const history = emptyHistory();
  const events = new FitEvents(r.callbacks, hooks.model, o.onEpochEnd, o.onBatchEnd, hooks.checkAlive);
  const stepper = new Stepper(t);
  let weights = 0, weightRows = 0;
  let last: EpochLogs | undefined;
  let it: AnyIterator | undefined;
  let index = 0;
  try {
    t.lrMultiplier = 1;
    t.stopTraining = false;
    await events.trainBegin();
    t.snapshot('all');
    let lastYield = performance.now();
    let ended = false;
    for (let epoch = 0; epoch < r.epochs && !ended && !signal?.aborted && !t.stopTraining; epoch++) {
      if (r.stepsPerEpoch === undefined || it === undefined) it = iteratorOf(r.source);
      stepper.beginEpoch();
      const t0 = performance.now();
      let b = 0;
      /** Rows of the last batch stepped on (still in block 'x'), for the divergence check's verdict. */
      let lastRows = 0;
      while (r.stepsPerEpoch === undefined || b < r.stepsPerEpoch) {
        const next = await it.next();
        hooks.checkAlive();
        if (next.done) {
          if (r.stepsPerEpoch !== undefined) ended = true;
          break;
        }
        const batch = checkBatch('fit', next.value, index);
        const m = toX('fit', `batch ${index}.x`, batch.x, F, r.checkFinite);
        const targets = checkTargets('fit', `batch ${index}.y`, batch.y, m.rows, K, t.compiled!.lossSpec);
        const w = rowWeights('fit', batch.sampleWeight, r.classWeight, targets, m.rows, K, t.compiled!.lossSpec.targets);
        index++;
        if (m.rows < minRows) continue;
        net.ensureCapacity(m.rows);
        if (w && m.rows > weightRows) {
          if (weights) heap.free(weights);
          weights = 0;
          weights = heap.allocF32(m.rows);
          weightRows = m.rows;
        }
        heap.write(net.block('x'), m.data);
        heap.write(net.block('y'), targets);
        if (w) heap.write(weights, w);
        const batches = r.stepsPerEpoch ?? NaN;
        lastRows = m.rows;
        const loss = stepper.step(m.rows, w ? weights : 0, t.learningRate(epoch, epoch * (r.stepsPerEpoch ?? 0) + b, r.epochs * (r.stepsPerEpoch ?? 0)), epoch, b, r.stepsPerEpoch === undefined ? 'a streamed epoch' : String(batches));
        if (events.wantsBatches) await events.batchEnd(b, { epoch, batch: b, batches, loss });
        b++;
        if (signal?.aborted || t.stopTraining) break;
        if (performance.now() - lastYield > 8) {
          await yieldNow();
          hooks.checkAlive();
          lastYield = performance.now();
        }
      }
      if (signal?.aborted) break;
      if (stepper.seen === 0) {
        if (epoch === 0 || r.stepsPerEpoch === undefined) {
          throw rangeError(`fit: the source gave no training batch in epoch ${epoch + 1}${epoch > 0 ? ' (an async generator can be read once: pass stepsPerEpoch, or an object whose [Symbol.asyncIterator]() starts over)' : ''}`, {
            argument: 'x', expected: 'a source of { x, y } batches', received: `${index} batches`,
          });
        }
        break;
      }
      // Nothing non-finite reaches the callbacks or the end of the fit (the optimizer state is checked here, as in fit.ts).
      const bad = t.nonFinite(true);
      if (bad) diverge(t, bad, `the ${bad} became NaN or infinite`, epoch, b - 1, r.stepsPerEpoch === undefined ? 'a streamed epoch' : String(r.stepsPerEpoch), lastRows);
      const logs = stepper.epochLogs(epoch, (performance.now() - t0) / 1000);
      recordEpoch(history, logs, r.val ? await hooks.evaluate(r.val) : undefined);
      hooks.checkAlive();
      last = logs;
      await events.epochEnd(epoch, logs);
      await yieldNow();
      hooks.checkAlive();
      lastYield = performance.now();
    }
    await events.trainEnd(last);
  } finally {
    stepper.free();
    if (weights) heap.free(weights);
    // an endless source is closed when the fit ends
    if (it && r.stepsPerEpoch !== undefined) await it.return?.();
  }
  return history;
}

/** evaluate over an (async) iterable of { x, y } batches, one batch in memory at a time. */
export async function evaluateStream(t: Trainer, source: AsyncIterable<Batch> | Iterable<Batch>, where: string, checkFinite: boolean): Promise<Evaluation> {
  const net = t.net;
  const e = new Evaluator(t);
  let i = 0;
  for await (const b of source as AsyncIterable<Batch>) {
    const { x, y } = checkBatch(where, b, i);
    const m = inferInput(where, `batch ${i}.x`, x, net.inFeatures, checkFinite);
    e.add(m.data, checkTargets(where, `batch ${i}.y`, y, m.rows, net.outFeatures, t.compiled?.lossSpec ?? LOSSES.softmaxCrossEntropy), m.rows, m.rescan);
    i++;
  }
  if (e.rows === 0) {
    throw rangeError(`${where}: the validation source gave no rows (a generator can be read once: pass an object whose [Symbol.asyncIterator]() starts over, e.g. { [Symbol.asyncIterator]: () => makeBatches() })`, {
      argument: 'validationData', expected: 'an iterable that gives batches at every epoch', received: `${i} batches`,
    });
  }
  return e.result();
}

/** A batch must be an object { x, y }. */
export function checkBatch(where: string, b: unknown, i: number): Batch {
  if (typeof b !== 'object' || b === null || !('x' in b) || !('y' in b)) {
    throw typeError(`${where}: batch ${i} must be an object { x, y }, got ${describe(b)}`, { argument: `batch ${i}`, expected: '{ x, y }', received: describe(b) });
  }
  return b as Batch;
}
