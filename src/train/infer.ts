/** Inference: predict, evaluate and layer outputs, run in chunks through the network in inference mode. */
import type { Ptr } from '../backend/types.js';
import { describe, expectInt, expectOptions, rangeError, typeError } from '../errors.js';
import type { Network } from '../model/network.js';
import { checkTargets, checkX, type Labels } from './data.js';
import { LOSSES } from './losses.js';
import type { Trainer } from './trainer.js';

export interface InferOptions {
  /** Check inputs for NaN/Infinity (default true). */
  checkInputs?: boolean;
}

/** options.checkInputs, default true. */
function checkInputsOption(where: string, options: InferOptions | undefined): boolean {
  const v = expectOptions(where, 'options', options, ['checkInputs']).checkInputs;
  if (v === undefined) return true;
  if (typeof v !== 'boolean') throw typeError(`${where}: options.checkInputs must be a boolean, got ${describe(v)}`, { argument: 'options.checkInputs', expected: 'a boolean', received: describe(v) });
  return v;
}

/**
 * Runs x (rows already checked) through the network in inference mode
 * (BatchNorm uses its running statistics) in chunks, calling
 * `each(rows, start, outPtr)` per chunk.
 */
function inferChunks(net: Network, x: Float32Array, N: number, upTo: number, fuse: boolean, each: (rows: number, start: number, out: Ptr) => void): void {
  const chunk = Math.min(N, Math.max(net.capacity, 256));
  net.ensureCapacity(chunk);
  const F = net.inFeatures;
  for (let start = 0; start < N; start += chunk) {
    const rows = Math.min(chunk, N - start);
    net.backend.heap.write(net.block('x'), x.subarray(start * F, (start + rows) * F));
    each(rows, start, net.forward(rows, false, upTo, fuse));
  }
}

/** rows × outputs: what the compiled loss's head makes of the outputs (softmax probabilities…), raw outputs otherwise. */
export function predict(t: Trainer, x: Float32Array, options: InferOptions | undefined): Float32Array {
  const net = t.net;
  const N = checkX('predict', 'x', x, net.inFeatures, checkInputsOption('predict', options));
  const K = net.outFeatures;
  const head = t.compiled?.lossSpec.head;
  const result = new Float32Array(N * K);
  inferChunks(net, x, N, net.layers.length - 1, true, (rows, start, out) => {
    head?.(net.k, out, rows, K);
    result.set(net.backend.heap.f32(out, rows * K), start * K);
  });
  return result;
}

/** Mean loss and accuracy (softmax cross-entropy; NaN otherwise) on x, y in inference mode. */
export function evaluate(t: Trainer, x: Float32Array, y: Labels, options: InferOptions | undefined): { loss: number; accuracy: number } {
  const net = t.net;
  const checkFinite = checkInputsOption('evaluate', options);
  const N = checkX('evaluate', 'x', x, net.inFeatures, checkFinite);
  const c = t.compiled;
  const spec = c?.lossSpec ?? LOSSES.softmaxCrossEntropy;
  const targets = checkTargets('evaluate', 'y', y, N, net.outFeatures, spec);
  const K = net.outFeatures;
  const yCols = targets instanceof Int32Array ? 1 : K;
  const classes = spec.targets === 'classes';
  let lossSum = 0, correct = 0;
  inferChunks(net, x, N, net.layers.length - 1, true, (rows, start, out) => {
    net.backend.heap.write(net.block('y'), targets.subarray(start * yCols, (start + rows) * yCols));
    if (classes) correct += net.k.countCorrect(out, net.block('y'), rows, K);
    lossSum += spec.lossAndGrad(net.k, net.block('gradA'), out, net.block('y'), rows, K, c?.loss ?? { name: 'softmaxCrossEntropy', delta: 1 }) * rows;
  });
  return { loss: lossSum / N, accuracy: classes ? correct / N : NaN };
}

/** Inference-mode outputs of the given layers (indices into `layers`), one Float32Array (rows × width) each. */
export function layerOutputs(net: Network, x: Float32Array, indices: number[], options: InferOptions | undefined): Float32Array[] {
  const checkFinite = checkInputsOption('layerOutputs', options);
  if (!Array.isArray(indices) || indices.length === 0) throw typeError(`layerOutputs: indices must be a non-empty array, got ${describe(indices)}`, { argument: 'indices', expected: 'a non-empty array of layer indices', received: describe(indices) });
  indices.forEach((i, j) => expectInt('layerOutputs', `indices[${j}]`, i, 0));
  const bad = indices.find((i) => i >= net.layers.length);
  if (bad !== undefined) throw rangeError(`layerOutputs: layer index must be < ${net.layers.length}, got ${bad}`, { argument: 'indices', expected: `< ${net.layers.length}`, received: String(bad) });
  const N = checkX('layerOutputs', 'x', x, net.inFeatures, checkFinite);
  const outs = indices.map((i) => new Float32Array(N * net.layers[i]!.outFeatures));
  inferChunks(net, x, N, Math.max(...indices), false, (rows, start) => {
    indices.forEach((i, j) => {
      const w = net.layers[i]!.outFeatures;
      outs[j]!.set(net.backend.heap.f32(net.out(i), rows * w), start * w);
    });
  });
  return outs;
}
