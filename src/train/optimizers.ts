/**
 * Optimizers as records: how many state blocks of the parameters' size each
 * keeps, its defaults, and its step — one flat kernel call over every
 * parameter, scalars in f64. A new optimizer is one entry in OPTIMIZERS plus
 * its kernel; the compiler checks that every OptimizerType has one.
 */
import type { Kernels, Ptr } from '../backend/types.js';
import { describe, expectF32Number, expectOptions, typeError } from '../errors.js';

export type OptimizerType = 'sgd' | 'momentum' | 'rmsprop' | 'adam' | 'adamw';

export interface OptimizerConfig {
  type: OptimizerType;
  /** Learning rate. Default 0.01 for sgd and momentum, 0.001 for rmsprop, adam and adamw. */
  lr?: number;
  /** momentum: velocity decay (default 0.9). */
  momentum?: number;
  /** adam, adamw: first-moment decay (default 0.9). */
  beta1?: number;
  /** adam, adamw: second-moment decay (default 0.999). */
  beta2?: number;
  /** rmsprop, adam, adamw: added to the root in the denominator (default 1e-7 rmsprop, 1e-8 adam and adamw). */
  eps?: number;
  /** rmsprop: squared-gradient decay (default 0.9). */
  rho?: number;
  /**
   * sgd, momentum, rmsprop, adam: L2 penalty added to the gradient. adamw:
   * decoupled decay, p ← p − lr·weightDecay·p before the Adam step
   * (Loshchilov & Hutter; as torch.optim.AdamW). Default 0, adamw 0.01.
   */
  weightDecay?: number;
}

/** Every option set (the model file records all of them). */
export type ResolvedOptimizer = Required<OptimizerConfig>;

/** The optimizer-state blocks a step reads and writes (0 when the optimizer keeps fewer). */
export interface StepArgs {
  params: Ptr;
  grads: Ptr;
  slot0: Ptr;
  slot1: Ptr;
  n: number;
  lr: number;
  /** Steps taken, this one included (Adam's t). */
  t: number;
}

export interface Optimizer {
  /** Blocks of the parameters' size it keeps (momentum: velocity; Adam: m, v). */
  slots: 0 | 1 | 2;
  defaults: { lr: number; eps: number; weightDecay: number };
  step(k: Kernels, a: StepArgs, o: ResolvedOptimizer): void;
}

export const OPTIMIZERS: Record<OptimizerType, Optimizer> = {
  sgd: {
    slots: 0,
    defaults: { lr: 0.01, eps: 1e-8, weightDecay: 0 },
    step: (k, a, o) => k.sgdUpdate(a.params, a.grads, a.params, a.n, a.lr, 0, o.weightDecay),
  },
  momentum: {
    slots: 1,
    defaults: { lr: 0.01, eps: 1e-8, weightDecay: 0 },
    step: (k, a, o) => k.sgdUpdate(a.params, a.grads, a.slot0, a.n, a.lr, o.momentum, o.weightDecay),
  },
  rmsprop: {
    slots: 1,
    defaults: { lr: 0.001, eps: 1e-7, weightDecay: 0 },
    step: (k, a, o) => k.rmspropUpdate(a.params, a.grads, a.slot0, a.n, a.lr, o.rho, o.eps, o.weightDecay),
  },
  adam: {
    slots: 2,
    defaults: { lr: 0.001, eps: 1e-8, weightDecay: 0 },
    step: (k, a, o) => k.adamUpdate(a.params, a.grads, a.slot0, a.slot1, a.n, a.lr, o.beta1, o.beta2, o.eps, o.weightDecay, a.t),
  },
  adamw: {
    slots: 2,
    defaults: { lr: 0.001, eps: 1e-8, weightDecay: 0.01 },
    step: (k, a, o) => k.adamwUpdate(a.params, a.grads, a.slot0, a.slot1, a.n, a.lr, o.beta1, o.beta2, o.eps, o.weightDecay, a.t),
  },
};

export const OPTIMIZER_TYPES = Object.keys(OPTIMIZERS) as OptimizerType[];

const quoted = (xs: readonly string[]) => xs.map((x) => `'${x}'`).join(', ');

/** Validates an optimizer config and fills in its defaults. */
export function resolveOptimizer(cfg: unknown): ResolvedOptimizer {
  if (!cfg || typeof cfg !== 'object' || Array.isArray(cfg)) {
    throw typeError(`compile: options.optimizer must be an object like { type: 'adam', lr: 0.001 }, got ${describe(cfg)}`, { argument: 'options.optimizer', expected: '{ type, lr, … }', received: describe(cfg) });
  }
  const c = expectOptions('compile', 'options.optimizer', cfg as OptimizerConfig, ['type', 'lr', 'momentum', 'beta1', 'beta2', 'eps', 'rho', 'weightDecay']);
  const type = c.type;
  if (typeof type !== 'string' || !Object.hasOwn(OPTIMIZERS, type)) {
    throw typeError(`compile: options.optimizer.type must be one of ${quoted(OPTIMIZER_TYPES)}, got ${describe(type)}`, {
      argument: 'options.optimizer.type', expected: OPTIMIZER_TYPES.join(' | '), received: describe(type),
    });
  }
  const d = OPTIMIZERS[type].defaults;
  const w = 'compile';
  return {
    type,
    lr: expectF32Number(w, 'options.optimizer.lr', c.lr ?? d.lr, 0, Infinity, true),
    momentum: expectF32Number(w, 'options.optimizer.momentum', c.momentum ?? 0.9, 0, 1),
    beta1: expectF32Number(w, 'options.optimizer.beta1', c.beta1 ?? 0.9, 0, 1),
    beta2: expectF32Number(w, 'options.optimizer.beta2', c.beta2 ?? 0.999, 0, 1),
    eps: expectF32Number(w, 'options.optimizer.eps', c.eps ?? d.eps, 0, 1, true),
    rho: expectF32Number(w, 'options.optimizer.rho', c.rho ?? 0.9, 0, 1),
    weightDecay: expectF32Number(w, 'options.optimizer.weightDecay', c.weightDecay ?? d.weightDecay, 0),
  };
}
