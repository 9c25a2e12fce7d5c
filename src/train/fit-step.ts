/**
 * What both fit loops (arrays in memory, fit.ts; batches from a stream,
 * fit-stream.ts) share: one training step on the batch in blocks 'x' and 'y'
 * (forward, metrics, loss — weighted or not —, divergence check, backward,
 * optimizer step), the epoch's logs, and the end of an epoch (validation,
 * history, callbacks).
 */
import type { Ptr } from '../backend/types.js';
import type { BatchLogs, Callback, EpochLogs, TrainingModel } from './callbacks.js';
import type { Metric, MetricName } from './metrics.js';
import { DivergenceError, type Diverged, type Trainer } from './trainer.js';

/** Loss and metrics (by name) of an evaluation, e.g. { loss, accuracy } or { loss, mae, r2 }. */
export type Evaluation = { loss: number } & Partial<Record<MetricName, number>>;

export type History = {
  epoch: number[];
  loss: number[];
  /** NaN for epochs without validation data. */
  valLoss: number[];
  seconds: number[];
  learningRate: number[];
} & Partial<Record<Exclude<keyof EpochLogs, 'epoch' | 'loss' | 'valLoss' | 'seconds' | 'samplesPerSecond' | 'learningRate'>, number[]>>;

export function emptyHistory(): History {
  return { epoch: [], loss: [], valLoss: [], seconds: [], learningRate: [] };
}

/** 'valAccuracy' for 'accuracy'. */
export function valName(name: string): string {
  return `val${name[0]!.toUpperCase()}${name.slice(1)}`;
}

/**
 * One training step at a time, with the epoch's running sums. Accuracy under
 * softmax cross-entropy is counted by a kernel on the raw outputs; any other
 * metric reads the batch's outputs after the head, copied into a scratch
 * block, which exists only when such metrics were asked for.
 */
export class Stepper {
  private readonly fastAccuracy: boolean;
  private readonly slow: Metric<unknown>[];
  private states: unknown[] = [];
  private scratch: Ptr = 0;
  private scratchRows = 0;
  lossSum = 0;
  seen = 0;
  private correct = 0;
  lastLr = 0;

  constructor(private readonly t: Trainer) {
    const c = t.compiled!;
    this.fastAccuracy = c.lossSpec.targets === 'classes' && c.metrics.some((m) => m.name === 'accuracy');
    this.slow = c.metrics.filter((m) => !(this.fastAccuracy && m.name === 'accuracy'));
  }

  beginEpoch(): void {
    this.lossSum = 0;
    this.seen = 0;
    this.correct = 0;
    const K = this.t.net.outFeatures;
    this.states = this.slow.map((m) => m.init(K));
  }

  /**
   * The step on `rows` rows in blocks 'x' and 'y' ('weights': f32[rows] per-row
   * loss weights, or 0). Returns the batch's loss; throws DivergenceError
   * (after restoring the last finite model) when it is not finite.
   */
  step(rows: number, weights: Ptr, lr: number, epoch: number, batch: number, batchesText: string): number {
    const t = this.t, net = t.net, k = net.k, K = net.outFeatures;
    t.snapshot('begin');
    const out = net.forward(rows, true);
    if (this.fastAccuracy) this.correct += k.countCorrect(out, net.block('y'), rows, K);
    if (this.slow.length > 0) this.updateMetrics(out, rows);
    const loss = weights ? t.weightedLossAndGrad(out, rows, weights) : t.lossAndGrad(out, rows);
    if (!Number.isFinite(loss)) diverge(t, 'loss', `the training loss became ${loss}`, epoch, batch, batchesText, rows);
    t.snapshot('commit');
    net.backward(rows);
    t.applyOptimizer(lr);
    const bad = t.nonFinite(false);
    if (bad) diverge(t, bad, `the ${bad} became NaN or infinite after the update`, epoch, batch, batchesText, rows);
    this.lastLr = lr;
    this.lossSum += loss * rows;
    this.seen += rows;
    return loss;
  }

  private updateMetrics(out: Ptr, rows: number): void {
    const t = this.t, net = t.net, heap = net.backend.heap, K = net.outFeatures;
    if (rows > this.scratchRows) {
      if (this.scratch) heap.free(this.scratch);
      this.scratch = 0;
      this.scratch = heap.allocF32(rows * K);
      this.scratchRows = rows;
    }
    net.k.copy(this.scratch, out, rows * K);
    t.compiled!.lossSpec.head?.(net.k, this.scratch, rows, K);
    const pred = heap.f32(this.scratch, rows * K);
    const y = t.compiled!.lossSpec.targets === 'classes' ? heap.i32(net.block('y'), rows) : heap.f32(net.block('y'), rows * K);
    this.slow.forEach((m, i) => m.update(this.states[i], pred, y, rows, K));
  }

  /** The training part of the epoch's logs. */
  epochLogs(epoch: number, seconds: number): EpochLogs {
    const logs: EpochLogs = { epoch, loss: this.lossSum / this.seen, seconds, samplesPerSecond: this.seen / seconds, learningRate: this.lastLr };
    const named = logs as Record<string, number>;
    for (const m of this.t.compiled!.metrics) {
      if (m.name === 'accuracy' && this.fastAccuracy) named.accuracy = this.correct / this.seen;
    }
    this.slow.forEach((m, i) => { named[m.name] = m.result(this.states[i]); });
    // the order of compile's list
    const ordered: Record<string, number> = { epoch, loss: logs.loss };
    for (const m of this.t.compiled!.metrics) ordered[m.name] = named[m.name]!;
    return { ...ordered, seconds, samplesPerSecond: logs.samplesPerSecond, learningRate: this.lastLr } as EpochLogs;
  }

  free(): void {
    if (this.scratch) this.t.net.backend.heap.free(this.scratch);
    this.scratch = 0;
    this.scratchRows = 0;
  }
}

/**
 * Puts back the model with which the last finite loss was computed, resets the
 * optimizer state, checks that model on the batch at hand (block 'x', `rows`
 * rows) in inference mode, and throws the DivergenceError that says all of it.
 */
export function diverge(t: Trainer, what: Diverged, happened: string, epoch: number, b: number, batches: number | string, rows: number): never {
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

/** Adds the validation values to the logs and the epoch to the history. */
export function recordEpoch(history: History, logs: EpochLogs, val: Evaluation | undefined): void {
  const named = logs as Record<string, number>;
  if (val) {
    for (const [key, v] of Object.entries(val)) if (typeof v === 'number') named[valName(key)] = v;
  }
  const h = history as unknown as Record<string, number[]>;
  const length = history.epoch.length;
  for (const [key, v] of Object.entries(named)) {
    if (key === 'samplesPerSecond') continue;
    if (!h[key]) h[key] = new Array<number>(length).fill(NaN);
    h[key]!.push(v);
  }
  for (const key of Object.keys(h)) if (h[key]!.length === length) h[key]!.push(NaN);
}

/** The hooks of one fit: the user's onEpochEnd/onBatchEnd and the callbacks, with the model they control. */
export class FitEvents {
  constructor(
    private readonly callbacks: readonly Callback[],
    private readonly model: TrainingModel,
    private readonly onEpochEnd: ((epoch: number, logs: EpochLogs) => void | Promise<void>) | undefined,
    private readonly onBatchEnd: ((batch: number, logs: BatchLogs) => void | Promise<void>) | undefined,
    private readonly checkAlive: () => void,
  ) {}

  get wantsBatches(): boolean {
    return this.onBatchEnd !== undefined || this.callbacks.some((c) => c.onBatchEnd);
  }

  async trainBegin(): Promise<void> {
    for (const c of this.callbacks) if (c.onTrainBegin) { await c.onTrainBegin(this.model); this.checkAlive(); }
  }

  async batchEnd(batch: number, logs: BatchLogs): Promise<void> {
    if (this.onBatchEnd) { await this.onBatchEnd(batch, logs); this.checkAlive(); }
    for (const c of this.callbacks) if (c.onBatchEnd) { await c.onBatchEnd(batch, logs, this.model); this.checkAlive(); }
  }

  async epochEnd(epoch: number, logs: EpochLogs): Promise<void> {
    if (this.onEpochEnd) { await this.onEpochEnd(epoch, logs); this.checkAlive(); }
    for (const c of this.callbacks) if (c.onEpochEnd) { await c.onEpochEnd(epoch, logs, this.model); this.checkAlive(); }
  }

  async trainEnd(logs: EpochLogs | undefined): Promise<void> {
    for (const c of this.callbacks) if (c.onTrainEnd) { await c.onTrainEnd(logs, this.model); this.checkAlive(); }
  }
}
