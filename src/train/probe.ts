/**
 * @internal Loss and parameter gradients of a Network on one fixed batch at
 * its current parameters, through the model's own kernels, without an
 * optimizer step and without changing any state: the forward runs in
 * 'probe' mode (batch statistics as in training; BatchNorm's running
 * statistics and counter untouched, see Training in model/layer.ts). The
 * measurements of experiment/bn-landscape.ts write parameters with
 * model/params.ts and probe the loss there.
 *
 * The batch lives in its own heap buffers and is copied into the model's 'x'
 * and 'y' blocks on each call, so probing between training steps is safe.
 * Softmax cross-entropy over class labels.
 */
import type { Ptr } from '../backend/types.js';
import { rangeError, StateError } from '../errors.js';
import type { Network } from '../model/network.js';
import { LOSSES } from './losses.js';

export class Probe {
  readonly rows: number;
  #x: Ptr | undefined;
  #y: Ptr;

  /** x: rows × net.inFeatures; labels: rows class indices in [0, net.outFeatures). */
  constructor(readonly net: Network, x: Float32Array, labels: Int32Array) {
    const F = net.inFeatures, K = net.outFeatures;
    const rows = labels.length;
    if (rows < net.minTrainingRows || x.length !== rows * F) {
      throw rangeError(`Probe: x must be rows × ${F} values with rows = labels.length ≥ ${net.minTrainingRows}, got ${x.length} values and ${rows} labels`, { argument: 'x', expected: `${rows} × ${F} values`, received: `${x.length}` });
    }
    for (let i = 0; i < rows; i++) {
      if (!Number.isInteger(labels[i]) || labels[i]! < 0 || labels[i]! >= K) throw rangeError(`Probe: labels[${i}] must be a class in [0, ${K - 1}], got ${labels[i]}`, { argument: `labels[${i}]` });
    }
    this.rows = rows;
    const heap = net.backend.heap;
    this.#x = heap.put(x);
    this.#y = heap.put(labels);
  }

  /** Mean loss at the current parameters; with `gradients`, the backward runs too and the grads block holds ∇L (read it with model/params.ts readGrads). */
  loss(gradients: boolean): number {
    const x = this.#x;
    if (x === undefined) throw new StateError('Probe: disposed');
    const net = this.net, rows = this.rows;
    net.checkAlive('Probe');
    net.ensureCapacity(rows);
    net.k.copy(net.block('x'), x, rows * net.inFeatures);
    net.k.copy(net.block('y'), this.#y, rows);
    const out = net.forward(rows, 'probe');
    const loss = LOSSES.softmaxCrossEntropy.lossAndGrad(net.k, net.block('gradA'), out, net.block('y'), rows, net.outFeatures, { name: 'softmaxCrossEntropy', delta: 1 });
    if (gradients) net.backward(rows);
    return loss;
  }

  /** Frees the batch buffers. */
  dispose(): void {
    if (this.#x === undefined) return;
    this.net.backend.heap.free(this.#x);
    this.net.backend.heap.free(this.#y);
    this.#x = undefined;
  }
}
