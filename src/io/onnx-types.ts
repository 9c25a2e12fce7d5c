/** What the ONNX export and import share: option types, the layer configs they map, the unsupported-node error. */
import type { Backend } from '../backend/index.js';
import { NormcoreError } from '../errors.js';
import type { LayerConfig } from '../model/layers.js';

/** Layer configs this module maps, including layer types newer than some builds (a build without them refuses them on import). */
export type OnnxLayerConfig =
  | LayerConfig
  | { type: 'leakyrelu'; features: number; alpha: number }
  | { type: 'gelu'; features: number };

export interface ToOnnxOptions {
  /** ONNX opset of the default domain, 9…21. Default 15. GELU needs ≥ 20. */
  opset?: number;
  /** End with a Softmax when the model is compiled with softmaxCrossEntropy (default true); false leaves logits. */
  softmax?: boolean;
  /** Name of the graph input (default 'input'); its shape is ['N', inFeatures]. The output is named 'output'. */
  inputName?: string;
}

export interface FromOnnxOptions {
  /** Backend of the returned model (default 'wasm'). */
  backend?: Backend | 'wasm' | 'js';
}

/** A valid ONNX model that fromOnnx cannot map onto layers: names the node, its op type and why. */
export class OnnxUnsupportedError extends NormcoreError {
  override name = 'OnnxUnsupportedError';
  constructor(message: string, readonly node: string, readonly opType: string) {
    super(message, 'ONNX_UNSUPPORTED');
  }
}

/** Opsets of the default domain toOnnx writes. */
export const MIN_OPSET = 9;
export const MAX_OPSET = 21;
