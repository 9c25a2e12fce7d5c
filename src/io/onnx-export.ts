/** ONNX out: the EXPORTS table (one entry per layer type) and toOnnx (see onnx.ts). */
import { decodeModelFile, ModelFormatError } from './format.js';
import type { LayerConfig } from '../model/layers.js';
import { Sequential } from '../model/sequential.js';
import { describe, expectOptions, NormcoreError, rangeError, typeError } from '../errors.js';
import { NORMCORE_VERSION } from '../version.js';
import {
  encodeModel, floatTensor, floatValueInfo, node, type AttrValue, type NodeProto, type TensorProto } from './onnx-pb.js';

import type { OnnxLayerConfig, ToOnnxOptions } from './onnx-types.js';

import { MAX_OPSET, MIN_OPSET } from './onnx-types.js';

export { MAX_OPSET, MIN_OPSET };
/** The IR version that goes with each opset (onnx/helper.py VERSION_TABLE). */
function irVersionFor(opset: number): number {
  if (opset <= 9) return 4;
  if (opset === 10) return 5;
  if (opset === 11) return 6;
  if (opset <= 14) return 7;
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  return 10;
}

// =================================================================== export

interface ExportContext {
  opset: number;
  /** Index of the layer in the model. */
  index: number;
  /** Tensor names: the layer's input and the output it must write. */
  input: string;
  output: string;
  /** The layer's weights by buffer name (params, then state). */
  w: Record<string, Float32Array>;
  nodes: NodeProto[];
  initializers: TensorProto[];
}

interface LayerEntry {
  /** The layer's buffers in model-file order (params, then state): name and size. */
  buffers(c: OnnxLayerConfig): Array<[string, number]>;
  /** Input and output widths. */
  widths(c: OnnxLayerConfig): [number, number];
  /** Appends the nodes and initializers that compute the layer. */
  toOnnx(c: OnnxLayerConfig, x: ExportContext): void;
}

const activation = (opType: string, attrs: (c: OnnxLayerConfig) => Record<string, AttrValue> = () => ({})): LayerEntry => ({
  buffers: () => [],
  widths: (c) => [(c as { features: number }).features, (c as { features: number }).features],
  toOnnx: (c, x) => void x.nodes.push(node(opType, `${c.type}_${x.index}`, [x.input], [x.output], attrs(c))),
});

/** One entry per layer type: how its weights are laid out in the model file and how it is written in ONNX. */
export const EXPORTS: Record<string, LayerEntry> = {
  dense: {
    buffers: (c) => {
      const d = c as Extract<LayerConfig, { type: 'dense' }>;
      const b: Array<[string, number]> = [['weight', d.inFeatures * d.outFeatures]];
      if (d.bias) b.push(['bias', d.outFeatures]);
      return b;
    },
    widths: (c) => [(c as Extract<LayerConfig, { type: 'dense' }>).inFeatures, (c as Extract<LayerConfig, { type: 'dense' }>).outFeatures],
    toOnnx: (c, x) => {
      const d = c as Extract<LayerConfig, { type: 'dense' }>;
      const name = `dense_${x.index}`;
      // normcore keeps W as [in × out], which is Gemm's B without transB (and MatMul's B).
      x.initializers.push(floatTensor(`${name}.weight`, [d.inFeatures, d.outFeatures], x.w.weight!));
      if (d.bias) {
        x.initializers.push(floatTensor(`${name}.bias`, [d.outFeatures], x.w.bias!));
        x.nodes.push(node('Gemm', name, [x.input, `${name}.weight`, `${name}.bias`], [x.output]));
      } else {
        x.nodes.push(node('MatMul', name, [x.input, `${name}.weight`], [x.output]));
      }
    },
  },
  batchnorm: {
    buffers: (c) => {
      const b = c as Extract<LayerConfig, { type: 'batchnorm' }>;
      const C = b.features;
      const params: Array<[string, number]> = b.affine ? [['gamma', C], ['beta', C]] : [];
      const state: Array<[string, number]> = [['runningMean', C], ['runningVar', C]];
      if (!b.affine) state.push(['ones', C], ['zeros', C]);
      return [...params, ...state];
    },
    widths: (c) => [(c as { features: number }).features, (c as { features: number }).features],
    toOnnx: (c, x) => {
      const b = c as Extract<LayerConfig, { type: 'batchnorm' }>;
      const name = `batchnorm_${x.index}`;
      const C = b.features;
      x.initializers.push(
        floatTensor(`${name}.scale`, [C], b.affine ? x.w.gamma! : new Float32Array(C).fill(1)),
        floatTensor(`${name}.bias`, [C], b.affine ? x.w.beta! : new Float32Array(C)),
        floatTensor(`${name}.running_mean`, [C], x.w.runningMean!),
        floatTensor(`${name}.running_var`, [C], x.w.runningVar!),
      );
      // ONNX momentum weighs the old running value (PyTorch's weighs the new batch); null (cumulative) → ONNX's default 0.9.
      const momentum = b.momentum === null ? 0.9 : 1 - b.momentum;
      // training_mode (opset ≥ 14) is left out: its default 0 is inference.
      x.nodes.push(node('BatchNormalization', name, [x.input, `${name}.scale`, `${name}.bias`, `${name}.running_mean`, `${name}.running_var`], [x.output], {
        epsilon: b.eps, momentum,
      }));
    },
  },
  normalization: {
    buffers: (c) => [['mean', (c as { features: number }).features], ['variance', (c as { features: number }).features]],
    widths: (c) => [(c as { features: number }).features, (c as { features: number }).features],
    // (x − mean) / sqrt(variance + eps): Sub then Div, the divisor formed in f64 and rounded once
    toOnnx: (c, x) => {
      const nc = c as Extract<LayerConfig, { type: 'normalization' }>;
      const name = `normalization_${x.index}`;
      const C = nc.features;
      x.initializers.push(
        floatTensor(`${name}.mean`, [C], x.w.mean!),
        floatTensor(`${name}.std`, [C], x.w.variance!.map((v) => Math.sqrt(v + nc.eps))),
      );
      x.nodes.push(node('Sub', `${name}.sub`, [x.input, `${name}.mean`], [`${name}.centered`]));
      x.nodes.push(node('Div', `${name}.div`, [`${name}.centered`, `${name}.std`], [x.output]));
    },
  },
  relu: activation('Relu'),
  sigmoid: activation('Sigmoid'),
  tanh: activation('Tanh'),
  leakyrelu: activation('LeakyRelu', (c) => ({ alpha: (c as { alpha: number }).alpha })),
  gelu: {
    ...activation('Gelu', () => ({ approximate: 'tanh' })),
    toOnnx: (_c, x) => {
      if (x.opset < 20) {
        throw rangeError(`toOnnx: layer ${x.index} is a GELU, which ONNX has as an operator from opset 20 (Gelu, approximate='tanh'); pass { opset: 20 } or higher`, {
          argument: 'options.opset', expected: 'an opset ≥ 20 for a model with GELU', received: String(x.opset),
        });
      }
      x.nodes.push(node('Gelu', `gelu_${x.index}`, [x.input], [x.output], { approximate: 'tanh' }));
    },
  },
};

/** The ONNX opset range toOnnx writes. */
export const ONNX_EXPORT_OPSETS = { min: MIN_OPSET, max: MAX_OPSET } as const;

/**
 * The model as an ONNX file (ModelProto bytes). `model` is a Sequential or
 * the bytes of a model file (`model.save()`, or a checkpoint). The graph has
 * one input `inputName` of shape [N, inFeatures] (N dynamic) and one output
 * 'output' [N, outFeatures]: class probabilities when the model is compiled
 * with softmaxCrossEntropy (unless `softmax: false`), raw outputs otherwise.
 * BatchNorm layers are written in inference form (running statistics).
 */
export function toOnnx(model: Sequential | Uint8Array, options?: ToOnnxOptions): Uint8Array {
  const o = expectOptions('toOnnx', 'options', options, ['opset', 'softmax', 'inputName']);
  const opset = o.opset ?? 15;
  if (typeof opset !== 'number') throw typeError(`toOnnx: options.opset must be a number, got ${describe(opset)}`, { argument: 'options.opset', expected: 'a number', received: describe(opset) });
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET) {
    throw rangeError(`toOnnx: options.opset must be an integer in [${MIN_OPSET}, ${MAX_OPSET}], got ${opset}`, {
      argument: 'options.opset', expected: `an integer in [${MIN_OPSET}, ${MAX_OPSET}]`, received: String(opset),
    });
  }
  if (o.softmax !== undefined && typeof o.softmax !== 'boolean') {
    throw typeError(`toOnnx: options.softmax must be a boolean, got ${describe(o.softmax)}`, { argument: 'options.softmax', expected: 'a boolean', received: describe(o.softmax) });
  }
  const inputName = o.inputName ?? 'input';
  if (typeof inputName !== 'string' || inputName === '' || inputName === 'output') {
    throw typeError(`toOnnx: options.inputName must be a non-empty string other than 'output', got ${describe(inputName)}`, {
      argument: 'options.inputName', expected: "a non-empty string other than 'output'", received: describe(inputName),
    });
  }
  let bytes: Uint8Array;
  if (model instanceof Sequential) bytes = model.save();
  else if (model instanceof Uint8Array) bytes = model;
  else throw typeError(`toOnnx: model must be a Sequential or model-file bytes (Uint8Array), got ${describe(model)}`, { argument: 'model', expected: 'a Sequential or a Uint8Array', received: describe(model) });

  let decoded: ReturnType<typeof decodeModelFile>;
  try {
    decoded = decodeModelFile(bytes);
  } catch (e) {
    if (e instanceof ModelFormatError) throw new ModelFormatError((e as Error).message.replace(/^load: /, 'toOnnx: '));
    throw e;
  }
  const { header, weights } = decoded;
  const bad = (why: string): never => {
    throw new ModelFormatError(`toOnnx: not a valid normcore model file: ${why}`);
  };
  const h = header as { kind?: unknown; layers?: unknown; compile?: { loss?: unknown } | null };
  if (!h || typeof h !== 'object' || (h.kind !== 'normcore-sequential' && h.kind !== 'normcore-checkpoint')) bad('the header is not a normcore model');
  if (!Array.isArray(h.layers) || h.layers.length === 0) bad('the header has no layers');
  const layers = h.layers as OnnxLayerConfig[];

  const nodes: NodeProto[] = [];
  const initializers: TensorProto[] = [];
  const softmax = (o.softmax ?? true) && h.compile?.loss === 'softmaxCrossEntropy';
  let offset = 0;
  let input = inputName;
  let width = 0;
  let inFeatures = 0;
  layers.forEach((c, i) => {
    const entry = c && typeof c === 'object' ? EXPORTS[c.type] : undefined;
    if (!entry) {
      throw new NormcoreError(`toOnnx: layer ${i} has type ${describe((c as { type?: unknown } | null)?.type)}, which has no ONNX mapping (mapped: ${Object.keys(EXPORTS).join(', ')})`, 'ONNX_UNSUPPORTED');
    }
    const [wIn, wOut] = entry.widths(c);
    if (i === 0) inFeatures = wIn;
    else if (wIn !== width) bad(`layer ${i} takes ${wIn} features but layer ${i - 1} gives ${width}`);
    if (!Number.isInteger(wIn) || !Number.isInteger(wOut) || wIn < 1 || wOut < 1) bad(`layer ${i} has widths ${wIn} → ${wOut}`);
    width = wOut;
    const w: Record<string, Float32Array> = {};
    for (const [name, size] of entry.buffers(c)) {
      if (offset + size > weights.length) bad(`the layers need more than the file's ${weights.length} weights`);
      w[name] = weights.subarray(offset, offset + size);
      offset += size;
    }
    const last = i === layers.length - 1;
    const output = last ? (softmax ? 'logits' : 'output') : `${c.type}_${i}`;
    entry.toOnnx(c, { opset, index: i, input, output, w, nodes, initializers });
    input = output;
  });
  // A checkpoint holds optimizer slots after the model's weights; a model file holds exactly the model's.
  if (h.kind === 'normcore-sequential' && offset !== weights.length) bad(`the layers need ${offset} weights, the file has ${weights.length}`);
  if (softmax) nodes.push(node('Softmax', 'softmax', ['logits'], ['output'], { axis: { int: 1 } }));

  return encodeModel({
    irVersion: irVersionFor(opset),
    opset,
    producerVersion: NORMCORE_VERSION,
    docString: `Exported by normcore ${NORMCORE_VERSION}: ${layers.map((c) => c.type).join(' → ')}${softmax ? ' → softmax' : ''}`,
    graphName: 'normcore',
    nodes,
    initializers,
    inputs: [floatValueInfo(inputName, ['N', inFeatures])],
    outputs: [floatValueInfo('output', ['N', width])],
  });
}

// =================================================================== import


/** normcore layer types toOnnx writes. */
export const ONNX_EXPORT_LAYERS: readonly string[] = Object.keys(EXPORTS);
