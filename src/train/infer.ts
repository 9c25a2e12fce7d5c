/** Inference: predict, evaluate and layer outputs, run in chunks through the network in inference mode. */
import type { Ptr } from '../backend/types.js';
import { describe, expectInt, expectOptions, mustBe, NormcoreError, rangeError, typeError } from '../errors.js';
import type { Network } from '../model/network.js';
import { checkTargets, toX } from './data.js';
import type { Evaluation } from './fit-step.js';
import { LOSSES, type Loss, type ResolvedLoss } from './losses.js';
import { METRICS, type Metric } from './metrics.js';
import type { Trainer } from './trainer.js';

export interface InferOptions {
  /** Check inputs for NaN/Infinity (default true). */
  checkInputs?: boolean;
}

/** options.checkInputs, default true. */
function checkInputsOption(where: string, options: InferOptions | undefined): boolean {
  const v = expectOptions(where, 'options', options, ['checkInputs']).checkInputs;
  if (v === undefined) return true;
  if (typeof v !== 'boolean') throw mustBe(where, 'options.checkInputs', 'a boolean', v);
  return v;
}

/** Inputs of an inference: x as toX gives it, and `rescan`, set when x's scan for NaN/Infinity is left to the chunks. */
interface InferInput {
  data: Float32Array;
  rows: number;
  /** toX's scan of x, which throws its error naming the first value that is not finite. */
  rescan: (() => void) | undefined;
}

/**
 * x checked as toX checks it, except that a Float32Array's scan for
 * NaN/Infinity (when `checkFinite`) is left to `inferChunks`: the
 * countNonFinite kernel on each chunk once it is in linear memory (SIMD:
 * 128 rows of 784 features in ~5 µs, where the JavaScript loop took ~200),
 * and toX's loop only when the kernel finds something, to name the place.
 * Other kinds of x are scanned as they are converted.
 */
export function inferInput(where: string, name: string, x: unknown, features: number, checkFinite: boolean): InferInput {
  const later = checkFinite && x instanceof Float32Array;
  const m = toX(where, name, x, features, checkFinite && !later);
  return { data: m.data, rows: m.rows, rescan: later ? () => { toX(where, name, x, features, true); } : undefined };
}

/**
 * Runs x (rows already checked) through the network in inference mode
 * (BatchNorm uses its running statistics) in chunks, calling
 * `each(rows, start, outPtr)` per chunk. With `rescan`, each chunk is first
 * checked for NaN/Infinity (see `inferInput`); a bad one throws before it runs.
 */
function inferChunks(net: Network, input: InferInput, upTo: number, fuse: boolean, each: (rows: number, start: number, out: Ptr) => void): void {
  const { data: x, rows: N, rescan } = input;
  const chunk = Math.min(N, Math.max(net.capacity, 256));
  net.ensureCapacity(chunk);
  const F = net.inFeatures;
  for (let start = 0; start < N; start += chunk) {
    const rows = Math.min(chunk, N - start);
    const xp = net.block('x');
    net.backend.heap.write(xp, x.subarray(start * F, (start + rows) * F));
    if (rescan && net.k.countNonFinite(xp, rows * F) > 0) {
      rescan();
      throw new NormcoreError('inferChunks: the countNonFinite kernel found a value in x that is not finite, the scan of x none (a bug in normcore)', 'INTERNAL');
    }
    each(rows, start, net.forward(rows, false, upTo, fuse));
  }
}

/** rows × outputs: what the compiled loss's head makes of the outputs (softmax probabilities…), raw outputs otherwise. */
export function predict(t: Trainer, x0: unknown, options: InferOptions | undefined): Float32Array {
  const net = t.net;
  const input = inferInput('predict', 'x', x0, net.inFeatures, checkInputsOption('predict', options));
  const K = net.outFeatures;
  const head = t.compiled?.lossSpec.head;
  const result = new Float32Array(input.rows * K);
  inferChunks(net, input, net.layers.length - 1, true, (rows, start, out) => {
    head?.(net.k, out, rows, K);
    result.set(net.backend.heap.f32(out, rows * K), start * K);
  });
  return result;
}

/**
 * Loss and metrics accumulated over chunks in inference mode: the mean loss
 * over rows, and each compiled metric (default: accuracy, for an uncompiled
 * model read as softmax cross-entropy) on the head's outputs.
 */
export class Evaluator {
  private readonly spec: Loss;
  private readonly loss: ResolvedLoss;
  private readonly metrics: Metric<unknown>[];
  private readonly states: unknown[];
  private lossSum = 0;
  rows = 0;

  constructor(private readonly t: Trainer) {
    const c = t.compiled;
    this.spec = c?.lossSpec ?? LOSSES.softmaxCrossEntropy;
    this.loss = c?.loss ?? { name: 'softmaxCrossEntropy', delta: 1 };
    this.metrics = c?.metrics ?? [METRICS.accuracy as Metric<unknown>];
    this.states = this.metrics.map((m) => m.init(t.net.outFeatures));
  }

  /** Adds N rows: x checked f32 (with `rescan`, its NaN/Infinity check is left to the chunks: see `inferInput`), targets as checkTargets returns them. */
  add(x: Float32Array, targets: Int32Array | Float32Array, N: number, rescan?: () => void): void {
    const net = this.t.net, K = net.outFeatures, heap = net.backend.heap;
    const yCols = targets instanceof Int32Array ? 1 : K;
    inferChunks(net, { data: x, rows: N, rescan }, net.layers.length - 1, true, (rows, start, out) => {
      const y = targets.subarray(start * yCols, (start + rows) * yCols);
      heap.write(net.block('y'), y);
      this.lossSum += this.spec.lossAndGrad(net.k, net.block('gradA'), out, net.block('y'), rows, K, this.loss) * rows;
      if (this.metrics.length === 0) return;
      this.spec.head?.(net.k, out, rows, K);
      const pred = heap.f32(out, rows * K);
      this.metrics.forEach((m, i) => m.update(this.states[i], pred, y, rows, K));
    });
    this.rows += N;
  }

  result(): Evaluation {
    const e: Record<string, number> = { loss: this.lossSum / this.rows };
    this.metrics.forEach((m, i) => { e[m.name] = m.result(this.states[i]); });
    return e as Evaluation;
  }
}

/** Loss and the compiled metrics (accuracy by default for classification; none but the loss for regression) on x, y in inference mode. */
export function evaluate(t: Trainer, x: unknown, y: unknown, options: InferOptions | undefined): Evaluation {
  const net = t.net;
  const checkFinite = checkInputsOption('evaluate', options);
  const m = inferInput('evaluate', 'x', x, net.inFeatures, checkFinite);
  const targets = checkTargets('evaluate', 'y', y, m.rows, net.outFeatures, t.compiled?.lossSpec ?? LOSSES.softmaxCrossEntropy);
  const e = new Evaluator(t);
  e.add(m.data, targets, m.rows, m.rescan);
  return e.result();
}

/** Inference-mode outputs of the given layers (indices into `layers`), one Float32Array (rows × width) each. */
export function layerOutputs(net: Network, x0: unknown, indices: number[], options: InferOptions | undefined): Float32Array[] {
  const checkFinite = checkInputsOption('layerOutputs', options);
  if (!Array.isArray(indices) || indices.length === 0) throw typeError(`layerOutputs: indices must be a non-empty array, got ${describe(indices)}`, { argument: 'indices', expected: 'a non-empty array of layer indices', received: describe(indices) });
  indices.forEach((i, j) => expectInt('layerOutputs', `indices[${j}]`, i, 0));
  const bad = indices.find((i) => i >= net.layers.length);
  if (bad !== undefined) throw rangeError(`layerOutputs: layer index must be < ${net.layers.length}, got ${bad}`, { argument: 'indices', expected: `< ${net.layers.length}`, received: String(bad) });
  const input = inferInput('layerOutputs', 'x', x0, net.inFeatures, checkFinite);
  const outs = indices.map((i) => new Float32Array(input.rows * net.layers[i]!.outFeatures));
  inferChunks(net, input, Math.max(...indices), false, (rows, start) => {
    indices.forEach((i, j) => {
      const w = net.layers[i]!.outFeatures;
      outs[j]!.set(net.backend.heap.f32(net.out(i), rows * w), start * w);
    });
  });
  return outs;
}
