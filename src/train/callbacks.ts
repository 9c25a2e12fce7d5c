/**
 * Callbacks, as Keras: plain objects with hooks that fit calls, each given
 * the logs and the model being trained. A hook may stop the training by
 * setting `model.stopTraining = true` (the fit ends after the current batch
 * or epoch and resolves with the history so far), and may change the
 * learning rate through `model.learningRateMultiplier`. Hooks may be async.
 */
import { describe, expectInt, expectNumber, expectOptions, mustBe, rangeError, typeError } from '../errors.js';
import type { MetricName } from './metrics.js';

/** A metric's name in the logs for validation data: 'valLoss', 'valAccuracy', 'valR2'… */
export type ValName = `val${Capitalize<MetricName | 'loss'>}`;
/** Names a callback can watch: 'loss', a metric, or their validation forms. */
export type Monitor = 'loss' | MetricName | ValName;

/** What one epoch gives: loss and metrics on the training batches, and on the validation data when there is some. */
export type EpochLogs = {
  epoch: number;
  /** Mean training loss over the epoch's batches (weighted when sample or class weights are given). */
  loss: number;
  valLoss?: number;
  /** Wall time of the epoch's training steps, in seconds. */
  seconds: number;
  samplesPerSecond: number;
  /** The learning rate of the epoch's last step. */
  learningRate: number;
} & Partial<Record<MetricName | Exclude<ValName, 'valLoss'>, number>>;

export interface BatchLogs {
  epoch: number;
  batch: number;
  /** Batches per epoch (NaN for a streamed source without stepsPerEpoch). */
  batches: number;
  loss: number;
}

/** What a hook sees of the model it trains. */
export interface TrainingModel {
  /** Set to true to end the fit (after the current batch; see FitOptions.signal for aborting). */
  stopTraining: boolean;
  /** Multiplies the learning rate of every later step (1 at the start of each fit). */
  learningRateMultiplier: number;
  /** The compiled learning rate (before schedule and multiplier). */
  readonly baseLearningRate: number;
  /** A copy of the weights and file state (running statistics), in file order. */
  getWeights(): Float32Array;
  /** Writes weights read with getWeights. */
  setWeights(weights: Float32Array): void;
}

export interface Callback {
  onTrainBegin?(model: TrainingModel): void | Promise<void>;
  onEpochEnd?(epoch: number, logs: EpochLogs, model: TrainingModel): void | Promise<void>;
  onBatchEnd?(batch: number, logs: BatchLogs, model: TrainingModel): void | Promise<void>;
  /** Called when the fit ends normally (not when it throws), with the last epoch's logs if any. */
  onTrainEnd?(logs: EpochLogs | undefined, model: TrainingModel): void | Promise<void>;
}

const HOOKS = ['onTrainBegin', 'onEpochEnd', 'onBatchEnd', 'onTrainEnd'] as const;

/** Checks FitOptions.callbacks. */
export function checkCallbacks(list: unknown): Callback[] {
  if (list === undefined) return [];
  if (!Array.isArray(list)) throw typeError(`fit: options.callbacks must be an array of callback objects, got ${describe(list)}`, { argument: 'options.callbacks', expected: 'an array of { onEpochEnd?, onBatchEnd?, onTrainBegin?, onTrainEnd? }', received: describe(list) });
  list.forEach((c: unknown, i) => {
    if (typeof c !== 'object' || c === null) throw typeError(`fit: options.callbacks[${i}] must be an object with hooks, got ${describe(c)}`, { argument: `options.callbacks[${i}]`, expected: 'an object', received: describe(c) });
    const hooks = HOOKS.filter((h) => h in c);
    if (hooks.length === 0) throw typeError(`fit: options.callbacks[${i}] has none of the hooks ${HOOKS.join(', ')}`, { argument: `options.callbacks[${i}]`, expected: HOOKS.join(' | '), received: Object.keys(c).join(', ') || 'no keys' });
    for (const h of hooks) {
      const f = (c as Record<string, unknown>)[h];
      if (typeof f !== 'function') throw mustBe('fit', `options.callbacks[${i}].${h}`, 'a function', f);
    }
  });
  return list as Callback[];
}

/** Metrics where larger is better (the others, and losses, are minimized). */
const MAXIMIZED = new Set(['accuracy', 'precision', 'recall', 'f1', 'auc', 'r2']);

function direction(monitor: string): 1 | -1 {
  const base = monitor.startsWith('val') ? monitor[3]!.toLowerCase() + monitor.slice(4) : monitor;
  return MAXIMIZED.has(base) ? -1 : 1;
}

function checkMonitor(where: string, m: unknown): Monitor {
  if (typeof m !== 'string' || m.length === 0) throw typeError(`${where}: options.monitor must be a log name such as 'valLoss', got ${describe(m)}`, { argument: 'options.monitor', expected: "'loss', 'valLoss', a metric or 'val' + metric", received: describe(m) });
  return m as Monitor;
}

function read(where: string, logs: EpochLogs, monitor: Monitor): number {
  const v = (logs as Record<string, unknown>)[monitor];
  if (typeof v !== 'number') {
    const have = Object.keys(logs).filter((k) => typeof (logs as Record<string, unknown>)[k] === 'number' && !['epoch', 'seconds', 'samplesPerSecond', 'learningRate'].includes(k));
    throw rangeError(`${where}: monitor '${monitor}' is not in the epoch logs (they have ${have.join(', ')}); validation values need validationData or validationSplit`, {
      argument: 'options.monitor', expected: have.join(' | '), received: monitor,
    });
  }
  return v;
}

export interface EarlyStoppingOptions {
  /** Default 'valLoss'. Metrics such as 'valAccuracy' or 'r2' are maximized, losses and errors minimized. */
  monitor?: Monitor;
  /** Epochs without improvement before stopping. Default 0. */
  patience?: number;
  /** Smallest change that counts as an improvement. Default 0. */
  minDelta?: number;
  /** At the end of the fit, put back the weights of the best epoch (if it was not the last). Default false. */
  restoreBestWeights?: boolean;
}

/** A callback that also says how the run went. */
export interface EarlyStopping extends Callback {
  /** 0-based epoch at which training was stopped, or -1. */
  readonly stoppedEpoch: number;
  /** 0-based epoch with the best monitored value, or -1. */
  readonly bestEpoch: number;
  readonly best: number;
}

/**
 * Stops training when `monitor` has not improved by more than `minDelta` for
 * `patience` epochs, as Keras' EarlyStopping. With restoreBestWeights the
 * model ends with the weights of its best epoch.
 */
export function earlyStopping(options?: EarlyStoppingOptions): EarlyStopping {
  const where = 'earlyStopping';
  const o = expectOptions(where, 'options', options, ['monitor', 'patience', 'minDelta', 'restoreBestWeights']);
  const monitor = checkMonitor(where, o.monitor ?? 'valLoss');
  const patience = expectInt(where, 'options.patience', o.patience ?? 0, 0);
  const minDelta = Math.abs(expectNumber(where, 'options.minDelta', o.minDelta ?? 0));
  if (o.restoreBestWeights !== undefined && typeof o.restoreBestWeights !== 'boolean') throw mustBe(where, 'options.restoreBestWeights', 'a boolean', o.restoreBestWeights);
  const restore = o.restoreBestWeights ?? false;
  const sign = direction(monitor);
  let best = Infinity, wait = 0, bestEpoch = -1, stoppedEpoch = -1, lastEpoch = -1;
  let bestWeights: Float32Array | undefined;
  return {
    get stoppedEpoch() { return stoppedEpoch; },
    get bestEpoch() { return bestEpoch; },
    get best() { return sign * best; },
    onTrainBegin() {
      best = Infinity; wait = 0; bestEpoch = -1; stoppedEpoch = -1; lastEpoch = -1; bestWeights = undefined;
    },
    onEpochEnd(epoch, logs, model) {
      lastEpoch = epoch;
      const v = sign * read(where, logs, monitor);
      if (bestEpoch < 0 || v < best - minDelta) {
        best = v;
        bestEpoch = epoch;
        wait = 0;
        if (restore) bestWeights = model.getWeights();
        return;
      }
      wait++;
      if (wait >= patience) {
        stoppedEpoch = epoch;
        model.stopTraining = true;
      }
    },
    onTrainEnd(_logs, model) {
      if (restore && bestWeights && bestEpoch !== lastEpoch) model.setWeights(bestWeights);
    },
  };
}

export interface ReduceLrOnPlateauOptions {
  /** Default 'valLoss'. */
  monitor?: Monitor;
  /** The learning rate is multiplied by this on a plateau, in (0, 1). Default 0.1. */
  factor?: number;
  /** Epochs without improvement before reducing. Default 10. */
  patience?: number;
  /** Smallest change that counts as an improvement. Default 1e-4. */
  minDelta?: number;
  /** Epochs to wait after a reduction before counting again. Default 0. */
  cooldown?: number;
  /** The learning rate never goes below this. Default 0. */
  minLr?: number;
}

/** Multiplies the learning rate by `factor` when `monitor` stops improving for `patience` epochs, as Keras' ReduceLROnPlateau. */
export function reduceLrOnPlateau(options?: ReduceLrOnPlateauOptions): Callback {
  const where = 'reduceLrOnPlateau';
  const o = expectOptions(where, 'options', options, ['monitor', 'factor', 'patience', 'minDelta', 'cooldown', 'minLr']);
  const monitor = checkMonitor(where, o.monitor ?? 'valLoss');
  const factor = expectNumber(where, 'options.factor', o.factor ?? 0.1, 0, 1, true);
  if (factor >= 1) throw rangeError(`${where}: options.factor must be < 1, got ${factor}`, { argument: 'options.factor', expected: 'a number in (0, 1)', received: String(factor) });
  const patience = expectInt(where, 'options.patience', o.patience ?? 10, 0);
  const minDelta = Math.abs(expectNumber(where, 'options.minDelta', o.minDelta ?? 1e-4));
  const cooldown = expectInt(where, 'options.cooldown', o.cooldown ?? 0, 0);
  const minLr = expectNumber(where, 'options.minLr', o.minLr ?? 0, 0);
  const sign = direction(monitor);
  let best = Infinity, wait = 0, cooling = 0;
  return {
    onTrainBegin() {
      best = Infinity; wait = 0; cooling = 0;
    },
    onEpochEnd(_epoch, logs, model) {
      const v = sign * read(where, logs, monitor);
      if (cooling > 0) cooling--;
      if (v < best - minDelta) {
        best = v;
        wait = 0;
        return;
      }
      if (cooling > 0) return;
      wait++;
      if (wait >= Math.max(patience, 1)) {
        const base = model.baseLearningRate;
        const floor = base > 0 ? minLr / base : 0;
        model.learningRateMultiplier = Math.max(model.learningRateMultiplier * factor, floor);
        cooling = cooldown;
        wait = 0;
      }
    },
  };
}
