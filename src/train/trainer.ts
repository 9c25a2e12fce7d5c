/**
 * What compile sets up and a training step runs: the loss, the optimizer and
 * its state, the schedule, and the divergence snapshot, over a Network.
 */
import type { Ptr } from '../backend/types.js';
import { expectOptions, NormcoreError, rangeError, StateError } from '../errors.js';
import type { Network } from '../model/network.js';
import { LOSSES, resolveLoss, type Loss, type LossConfig, type ResolvedLoss } from './losses.js';
import { resolveMetrics, taskFor, type Metric, type MetricName, type Task } from './metrics.js';
import { OPTIMIZERS, resolveOptimizer, type OptimizerConfig, type ResolvedOptimizer, type StepArgs } from './optimizers.js';
import { resolveSchedule, scheduledLr, type LrSchedule } from './schedules.js';

export interface CompileOptions {
  /** Default 'softmaxCrossEntropy'. 'huber' takes { type: 'huber', delta } (default delta 1). */
  loss?: LossConfig;
  /** Default { type: 'adam', lr: 0.001 }. */
  optimizer?: OptimizerConfig;
  /** Learning-rate schedule over the steps of each fit (cosine) or its epochs (step). Default constant. */
  lrSchedule?: LrSchedule;
  /**
   * Metrics reported by fit (epoch logs, history, train and validation) and
   * evaluate: any of 'accuracy', 'precision', 'recall', 'f1', 'auc' for
   * classification losses, 'mae', 'rmse', 'r2' for mse/mae/huber. Default:
   * ['accuracy'] for classification, none for regression.
   */
  metrics?: MetricName[];
}

/** What became NaN or infinite when a fit diverged. */
export type Diverged = 'loss' | 'weights' | 'running statistics' | 'optimizer state';

/**
 * Thrown when training diverges: the loss, the weights after an update, the
 * running statistics or the optimizer state became NaN or infinite. The model
 * keeps the weights and state with which the last finite loss was computed,
 * and its optimizer state is reset; `usable` says whether that model's
 * predictions (running statistics) on the batch at hand are finite.
 */
export class DivergenceError extends NormcoreError {
  override name = 'DivergenceError';
  constructor(message: string, readonly epoch: number, readonly batch: number, readonly what: Diverged = 'loss', readonly usable = true) {
    super(message, 'DIVERGED');
  }
}

/** Optimizer state as a checkpoint holds it. */
export interface OptimizerState {
  step: number;
  slots: Float32Array[];
}

export interface Compiled {
  loss: ResolvedLoss;
  lossSpec: Loss;
  optimizer: ResolvedOptimizer;
  schedule: LrSchedule;
  task: Task;
  metrics: Metric<unknown>[];
  /** The metric names as given to compile (recorded in the model file), or undefined for the default. */
  metricNames: MetricName[] | undefined;
}

export class Trainer {
  compiled: Compiled | undefined;
  /** Optimizer steps taken (Adam's t). */
  step = 0;
  /** True while a fit runs (a second fit or a compile is refused meanwhile). */
  training = false;
  /** Multiplies the scheduled learning rate (set by callbacks such as reduceLrOnPlateau; 1 at the start of each fit). */
  lrMultiplier = 1;
  /** Set by a callback (or the user) to end a fit after the current batch. */
  stopTraining = false;

  /** Reused by every step, so a step allocates nothing. */
  private readonly args: StepArgs = { params: 0, grads: 0, slot0: 0, slot1: 0, n: 0, lr: 0, t: 0 };

  constructor(readonly net: Network) {}

  /** Chooses the loss, the optimizer (its state is reset) and the learning-rate schedule. */
  compile(options: CompileOptions | undefined): void {
    if (this.training) throw new StateError('compile: the model is training; compile after fit has finished');
    const o = expectOptions('compile', 'options', options, ['loss', 'optimizer', 'lrSchedule', 'metrics']);
    const loss = resolveLoss(o.loss ?? 'softmaxCrossEntropy');
    const lossSpec = LOSSES[loss.name];
    const K = this.net.outFeatures;
    if (K < lossSpec.minOutputs) {
      throw rangeError(`compile: ${loss.name} needs at least ${lossSpec.minOutputs} outputs, the model has ${K}`, { argument: 'options.loss', expected: `a model with ≥ ${lossSpec.minOutputs} outputs`, received: `${K} outputs` });
    }
    const optimizer = resolveOptimizer(o.optimizer ?? { type: 'adam' });
    const schedule = resolveSchedule(o.lrSchedule ?? { type: 'constant' });
    const task = taskFor(loss.name, K);
    const metrics = resolveMetrics('compile', o.metrics ?? (task === 'regression' ? [] : ['accuracy']), task);
    // Re-plan first (it may fail for lack of memory), then change the model.
    const slots = OPTIMIZERS[optimizer.type].slots;
    if (slots !== this.net.slots) this.net.replan(this.net.capacity, slots);
    this.compiled = { loss, lossSpec, optimizer, schedule, task, metrics, metricNames: o.metrics === undefined ? undefined : metrics.map((m) => m.name) };
    this.resetOptimizerState();
  }

  /** The compiled setup, or a StateError naming the call. */
  need(where: string): Compiled {
    if (!this.compiled) throw new StateError(`${where}: the model is not compiled; call model.compile({ loss, optimizer }) first`);
    return this.compiled;
  }

  /** Mean loss of the outputs at `out` against the targets in block 'y'; dLoss/dOutput goes to 'gradA'. */
  lossAndGrad(out: Ptr, rows: number): number {
    const c = this.compiled!;
    return c.lossSpec.lossAndGrad(this.net.k, this.net.block('gradA'), out, this.net.block('y'), rows, this.net.outFeatures, c.loss);
  }

  /**
   * Mean of the per-row losses weighted by `weights` (f32[rows], sample ×
   * class weights), as Keras: Σ w_r·loss_r / rows; dLoss/dOutput goes to
   * 'gradA', each row scaled by w_r/rows. One loss call per row (its mean
   * loss and unscaled gradient), then one scaleRows.
   */
  weightedLossAndGrad(out: Ptr, rows: number, weights: Ptr): number {
    const c = this.compiled!, net = this.net, k = net.k, K = net.outFeatures;
    const yCols = c.lossSpec.targets === 'classes' ? 1 : K;
    const grad = net.block('gradA'), y = net.block('y');
    const w = net.backend.heap.f32(weights, rows);
    let total = 0;
    for (let r = 0; r < rows; r++) {
      const wr = w[r]!;
      total += wr * c.lossSpec.lossAndGrad(k, grad + r * K * 4, out + r * K * 4, y + r * yCols * 4, 1, K, c.loss);
    }
    k.scaleRows(grad, grad, weights, rows, K, 1 / rows);
    return total / rows;
  }

  learningRate(epoch: number, stepInFit: number, stepsInFit: number): number {
    const c = this.compiled!;
    return scheduledLr(c.optimizer.lr, c.schedule, epoch, stepInFit, stepsInFit) * this.lrMultiplier;
  }

  applyOptimizer(lr: number): void {
    const net = this.net, n = net.nParams;
    if (n === 0) return;
    this.step++;
    const o = this.compiled!.optimizer;
    const slots = net.slots, a = this.args;
    a.params = net.block('params');
    a.grads = net.block('grads');
    a.slot0 = slots > 0 ? net.block('opt0') : 0;
    a.slot1 = slots > 1 ? net.block('opt1') : 0;
    a.n = n;
    a.lr = lr;
    a.t = this.step;
    OPTIMIZERS[o.type].step(net.k, a, o);
    net.packs.changed();
  }

  /** Zeroes the optimizer state and its step count, as compile does. */
  resetOptimizerState(): void {
    this.step = 0;
    const n = this.net.nParams;
    if (n === 0) return;
    for (let s = 0; s < this.net.slots; s++) this.net.k.fill(this.net.block(`opt${s}`), n, 0);
  }

  /** A copy of the optimizer state: steps taken, and each slot (momentum: velocity; Adam: m, v) in parameter order. */
  optimizerState(): OptimizerState {
    const slots: Float32Array[] = [];
    for (let s = 0; s < this.net.slots; s++) slots.push(this.net.backend.heap.readF32(this.net.block(`opt${s}`), this.net.nParams));
    return { step: this.step, slots };
  }

  writeOptimizerState(o: OptimizerState): void {
    this.step = o.step;
    o.slots.forEach((slot, s) => this.net.backend.heap.write(this.net.block(`opt${s}`), slot));
  }

  /**
   * What of the model is not finite, or undefined: after every step the
   * weights and the state (running statistics; cheap), with `all` also the
   * optimizer state (at epoch ends and before a checkpoint).
   */
  nonFinite(all: boolean): Diverged | undefined {
    const net = this.net, k = net.k;
    if (net.nParams > 0 && k.countNonFinite(net.block('params'), net.nParams) > 0) return 'weights';
    // The state also holds i32 counters; as f32 they are tiny finite numbers (below 2^31 batches).
    if (net.nState > 0 && k.countNonFinite(net.block('state'), net.nState) > 0) return 'running statistics';
    if (all) for (let s = 0; s < net.slots; s++) if (k.countNonFinite(net.block(`opt${s}`), net.nParams) > 0) return 'optimizer state';
    return undefined;
  }

  /**
   * The divergence snapshot: the model with which the last finite loss was
   * computed. Per batch: 'begin' keeps the state (running statistics,
   * counters) the forward is about to change; once the loss is known to be
   * finite, 'commit' saves the parameters (the forward does not change them)
   * with that state; 'restore' puts the snapshot back. 'all' saves the
   * current model directly (at the start of a fit).
   */
  snapshot(what: 'all' | 'begin' | 'commit' | 'restore'): void {
    const net = this.net, k = net.k, P = net.nParams, S = net.nState;
    const params = net.block('params'), state = net.block('state');
    const snapParams = net.block('snapshot.params'), snapState = net.block('snapshot.state'), pending = net.block('pending.state');
    switch (what) {
      case 'all':
        if (P > 0) k.copy(snapParams, params, P);
        if (S > 0) k.copy(snapState, state, S);
        break;
      case 'begin':
        if (S > 0) k.copy(pending, state, S);
        break;
      case 'commit':
        if (P > 0) k.copy(snapParams, params, P);
        if (S > 0) k.copy(snapState, pending, S);
        break;
      case 'restore':
        if (P > 0) k.copy(params, snapParams, P);
        net.packs.changed();
        if (S > 0) k.copy(state, snapState, S);
        break;
    }
  }
}
