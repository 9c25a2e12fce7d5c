/**
 * Losses as records: what targets each takes, its fused loss-and-gradient
 * kernel, and the head that turns outputs into predictions. A new loss is one
 * entry in LOSSES plus its kernel; the compiler checks every LossName has one.
 */
import type { Kernels, Ptr } from '../backend/types.js';
import { describe, expectF32Number, expectOptions, typeError } from '../errors.js';

export type LossName = 'softmaxCrossEntropy' | 'mse' | 'binaryCrossEntropy' | 'mae' | 'huber';

/** A loss by name, or with its options: { type: 'huber', delta }. */
export type LossConfig = LossName | { type: 'huber'; delta?: number };

/** A loss with every option set. */
export interface ResolvedLoss {
  name: LossName;
  /** huber: where the quadratic part turns linear (default 1). */
  delta: number;
}

export interface Loss {
  /**
   * 'classes': one class index per row (i32; one-hot or soft Float32Array
   * targets are read by their arg-max). 'values': rows × outputs targets
   * (class labels become one-hot rows). 'probabilities': rows × outputs
   * targets in [0, 1] (with one output, labels 0/1).
   */
  targets: 'classes' | 'values' | 'probabilities';
  /** Fewest outputs the model must have. */
  minOutputs: number;
  /** Returns the mean loss over the batch and writes dLoss/dOutput into `dout`. */
  lossAndGrad(k: Kernels, dout: Ptr, out: Ptr, y: Ptr, rows: number, cols: number, l: ResolvedLoss): number;
  /** Turns outputs into what `predict` returns, in place (softmax, sigmoid); identity when absent. */
  head?(k: Kernels, out: Ptr, rows: number, cols: number): void;
  /** The form `predict` returns, in words (for docs and summary). */
  returns: string;
}

export const LOSSES: Record<LossName, Loss> = {
  softmaxCrossEntropy: {
    targets: 'classes',
    minOutputs: 2,
    lossAndGrad: (k, d, out, y, rows, cols) => k.softmaxCrossEntropy(d, out, y, rows, cols),
    head: (k, out, rows, cols) => k.softmaxForward(out, out, rows, cols),
    returns: 'class probabilities (softmax)',
  },
  binaryCrossEntropy: {
    targets: 'probabilities',
    minOutputs: 1,
    lossAndGrad: (k, d, out, y, rows, cols) => k.binaryCrossEntropy(d, out, y, rows, cols),
    head: (k, out, rows, cols) => k.sigmoidForward(out, out, rows * cols),
    returns: 'probabilities (sigmoid of each output)',
  },
  mse: {
    targets: 'values',
    minOutputs: 1,
    lossAndGrad: (k, d, out, y, rows, cols) => k.mseLoss(d, out, y, rows, cols),
    returns: 'the raw outputs',
  },
  mae: {
    targets: 'values',
    minOutputs: 1,
    lossAndGrad: (k, d, out, y, rows, cols) => k.maeLoss(d, out, y, rows, cols),
    returns: 'the raw outputs',
  },
  huber: {
    targets: 'values',
    minOutputs: 1,
    lossAndGrad: (k, d, out, y, rows, cols, l) => k.huberLoss(d, out, y, rows, cols, l.delta),
    returns: 'the raw outputs',
  },
};

export const LOSS_NAMES = Object.keys(LOSSES) as LossName[];

/** Validates a loss config (name or { type, …options }). */
export function resolveLoss(cfg: unknown): ResolvedLoss {
  const name = typeof cfg === 'object' && cfg !== null && !Array.isArray(cfg) ? (cfg as { type?: unknown }).type : cfg;
  if (typeof name !== 'string' || !Object.hasOwn(LOSSES, name)) {
    throw typeError(`compile: options.loss must be one of ${LOSS_NAMES.map((n) => `'${n}'`).join(', ')} (or { type: 'huber', delta }), got ${describe(name)}`, {
      argument: 'options.loss', expected: LOSS_NAMES.join(' | '), received: describe(name),
    });
  }
  let delta = 1;
  if (typeof cfg === 'object') {
    if (name === 'huber') {
      const o = expectOptions('compile', 'options.loss', cfg as { type: 'huber'; delta?: number }, ['type', 'delta']);
      delta = expectF32Number('compile', 'options.loss.delta', o.delta ?? 1, 0, Infinity, true);
    } else {
      expectOptions('compile', 'options.loss', cfg as { type: string }, ['type']);
    }
  }
  return { name: name as LossName, delta };
}

/** The form a model file records: the name, or { type: 'huber', delta } when delta is not the default. */
export function lossConfig(l: ResolvedLoss): LossConfig {
  return l.name === 'huber' && l.delta !== 1 ? { type: 'huber', delta: l.delta } : l.name;
}
