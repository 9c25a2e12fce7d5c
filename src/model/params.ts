/**
 * @internal The flat parameter vector of a Network, for measurements that
 * evaluate the loss at weights the model does not keep (the loss landscape,
 * internal covariate shift: experiment/bn-landscape.ts). The layout is the
 * params block's: every trainable value, layer by layer, each layer's
 * buffers in paramSpecs order; grads and optimizer slots share it.
 */
import { rangeError } from '../errors.js';
import { sum, type Network } from './network.js';

/** A copy of the params block. */
export function readParams(net: Network): Float32Array {
  return net.backend.heap.readF32(net.block('params'), net.nParams);
}

/** Overwrites the params block with nParams values in readParams' layout. */
export function writeParams(net: Network, values: Float32Array): void {
  if (values.length !== net.nParams) {
    throw rangeError(`writeParams: values must hold the model's ${net.nParams} parameters, got ${values.length}`, { argument: 'values', expected: `${net.nParams} values`, received: `${values.length}` });
  }
  net.backend.heap.write(net.block('params'), values);
  net.packs.changed();
}

/** A copy of the grads block after the last backward (readParams' layout). */
export function readGrads(net: Network): Float32Array {
  return net.backend.heap.readF32(net.block('grads'), net.nParams);
}

/** Where layer i's parameters sit in the flat vector: values [offset, offset + size). */
export function paramRange(net: Network, i: number): { offset: number; size: number } {
  const n = net.layers.length;
  if (!Number.isInteger(i) || i < 0 || i >= n) {
    throw rangeError(`paramRange: the layer index must be an integer in [0, ${n - 1}], got ${i}`, { argument: 'i', expected: `an integer in [0, ${n - 1}]`, received: String(i) });
  }
  let offset = 0;
  for (let j = 0; j < i; j++) offset += sum(net.layers[j]!.paramSpecs().map((s) => s.size));
  return { offset, size: sum(net.layers[i]!.paramSpecs().map((s) => s.size)) };
}
