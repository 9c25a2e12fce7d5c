/** ONNX out: the EXPORTS table (one entry per layer type) and toOnnx (see onnx.ts). */
import { decodeModelFile, ModelFormatError } from './format.js';
import type { LayerConfig } from '../model/layers.js';
import { Sequential } from '../model/sequential.js';
import { describe, expectOptions, mustBe, NormcoreError, rangeError, typeError } from '../errors.js';
import { NORMCORE_VERSION } from '../version.js';
import { convAxis } from '../backend/conv-geometry.js';
import {
  encodeModel, floatTensor, floatValueInfo, int64Tensor, node, type AttrValue, type NodeProto, type TensorProto } from './onnx-pb.js';

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
  /** The layer's input shape in normcore's terms: [features], or [H, W, C] (NHWC) for images. */
  shape: number[];
  /** Whether the tensor at `input` is NCHW (after an image layer) rather than flat rows. */
  layout: { nchw: boolean };
}

interface LayerEntry {
  /** The layer's buffers in model-file order (params, then state): name and size. */
  buffers(c: OnnxLayerConfig): Array<[string, number]>;
  /** Input and output widths. */
  widths(c: OnnxLayerConfig): [number, number];
  /** Appends the nodes and initializers that compute the layer. */
  toOnnx(c: OnnxLayerConfig, x: ExportContext): void;
  /**
   * Image layers: they run on ONNX's NCHW tensors. Their input is brought to
   * NCHW first (Reshape of the flat NHWC rows, then Transpose), and `outShape`
   * gives their output shape in normcore's NHWC terms.
   */
  image?: { outShape(c: OnnxLayerConfig, shape: number[]): number[] };
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


type ImageConfig<T extends string> = Extract<LayerConfig, { type: T }>;

/** Pads of one spatial axis for a window of k at stride s: [before, after], and the output size. */
function window(size: number, k: number, stride: number, padding: ImageConfig<'conv2d'>['padding']): { out: number; pads: [number, number] } {
  const a = convAxis(size, k, stride, padding, 'toOnnx');
  // a negative pad after is a trailing row no window reaches: ONNX drops it by the same floor
  return { out: a.out, pads: [a.padBefore, Math.max(0, a.padAfter)] };
}

const pool = (opType: 'MaxPool' | 'AveragePool'): LayerEntry => ({
  buffers: () => [],
  widths: () => [0, 0],
  image: {
    outShape: (c, [H, W, C]) => {
      const p = c as ImageConfig<'maxpool2d'>;
      return [window(H!, p.size, p.stride, 'valid').out, window(W!, p.size, p.stride, 'valid').out, C!];
    },
  },
  toOnnx: (c, x) => {
    const p = c as ImageConfig<'maxpool2d'>;
    x.nodes.push(node(opType, `${c.type}_${x.index}`, [x.input], [x.output], { kernel_shape: { ints: [p.size, p.size] }, strides: { ints: [p.stride, p.stride] } }));
  },
});

/** Image layers (NHWC in normcore, NCHW in ONNX; see LayerEntry.image). */
const IMAGE_EXPORTS: Record<string, LayerEntry> = {
  conv2d: {
    buffers: (c) => {
      const v = c as ImageConfig<'conv2d'>;
      const b: Array<[string, number]> = [['weight', v.kernelSize * v.kernelSize * v.inChannels * v.outChannels]];
      if (v.bias) b.push(['bias', v.outChannels]);
      return b;
    },
    widths: () => [0, 0],
    image: {
      outShape: (c, [H, W]) => {
        const v = c as ImageConfig<'conv2d'>;
        return [window(H!, v.kernelSize, v.stride, v.padding).out, window(W!, v.kernelSize, v.stride, v.padding).out, v.outChannels];
      },
    },
    toOnnx: (c, x) => {
      const v = c as ImageConfig<'conv2d'>;
      const [H, W] = x.shape as [number, number, number];
      const k = v.kernelSize, ci = v.inChannels, co = v.outChannels;
      const name = `conv2d_${x.index}`;
      // normcore: W[(ky·k + kx)·ci + c][o] (im2col's column order); ONNX: W[o][c][ky][kx]
      const w = new Float32Array(co * ci * k * k);
      for (let ky = 0; ky < k; ky++) for (let kx = 0; kx < k; kx++) for (let c0 = 0; c0 < ci; c0++) for (let o = 0; o < co; o++) {
        w[((o * ci + c0) * k + ky) * k + kx] = x.w.weight![((ky * k + kx) * ci + c0) * co + o]!;
      }
      x.initializers.push(floatTensor(`${name}.weight`, [co, ci, k, k], w));
      const inputs = [x.input, `${name}.weight`];
      if (v.bias) {
        x.initializers.push(floatTensor(`${name}.bias`, [co], x.w.bias!));
        inputs.push(`${name}.bias`);
      }
      const [top, bottom] = window(H, k, v.stride, v.padding).pads, [left, right] = window(W, k, v.stride, v.padding).pads;
      x.nodes.push(node('Conv', name, inputs, [x.output], { kernel_shape: { ints: [k, k] }, strides: { ints: [v.stride, v.stride] }, pads: { ints: [top, left, bottom, right] } }));
    },
  },
  batchnorm2d: {
    // BatchNormalization normalizes ONNX's axis 1, the channels of NCHW: the batchnorm entry, per channel
    buffers: (c) => EXPORTS.batchnorm!.buffers({ ...(c as ImageConfig<'batchnorm2d'>), type: 'batchnorm', features: (c as ImageConfig<'batchnorm2d'>).channels } as OnnxLayerConfig),
    widths: () => [0, 0],
    image: { outShape: (_c, shape) => shape },
    toOnnx: (c, x) => EXPORTS.batchnorm!.toOnnx({ ...(c as ImageConfig<'batchnorm2d'>), type: 'batchnorm', features: (c as ImageConfig<'batchnorm2d'>).channels } as OnnxLayerConfig, x),
  },
  maxpool2d: pool('MaxPool'),
  avgpool2d: pool('AveragePool'),
  globalavgpool2d: {
    buffers: () => [],
    widths: () => [0, 0],
    image: { outShape: (_c, shape) => [shape[2]!] },
    toOnnx: (_c, x) => {
      const name = `globalavgpool2d_${x.index}`;
      x.nodes.push(node('GlobalAveragePool', name, [x.input], [`${name}.nc11`]));
      x.nodes.push(node('Flatten', `${name}.flatten`, [`${name}.nc11`], [x.output], { axis: { int: 1 } }));
      x.layout.nchw = false;
    },
  },
  flatten: {
    buffers: () => [],
    widths: (_c) => [0, 0],
    toOnnx: (_c, x) => {
      const name = `flatten_${x.index}`;
      if (!x.layout.nchw) return void x.nodes.push(node('Identity', name, [x.input], [x.output]));
      // back to NHWC first, so the flat order is normcore's
      x.nodes.push(node('Transpose', `${name}.nhwc`, [x.input], [`${name}.nhwc`], { perm: { ints: [0, 2, 3, 1] } }));
      x.nodes.push(node('Flatten', name, [`${name}.nhwc`], [x.output], { axis: { int: 1 } }));
      x.layout.nchw = false;
    },
  },
  dropout: {
    // inference: the identity
    buffers: () => [],
    widths: () => [0, 0],
    toOnnx: (c, x) => void x.nodes.push(node('Identity', `${c.type}_${x.index}`, [x.input], [x.output])),
  },
};

Object.assign(EXPORTS, IMAGE_EXPORTS);

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
  if (typeof opset !== 'number') throw mustBe('toOnnx', 'options.opset', 'a number', opset);
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET) {
    throw rangeError(`toOnnx: options.opset must be an integer in [${MIN_OPSET}, ${MAX_OPSET}], got ${opset}`, {
      argument: 'options.opset', expected: `an integer in [${MIN_OPSET}, ${MAX_OPSET}]`, received: String(opset),
    });
  }
  if (o.softmax !== undefined && typeof o.softmax !== 'boolean') {
    throw mustBe('toOnnx', 'options.softmax', 'a boolean', o.softmax);
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
  const inputShape = (h as { inputShape?: unknown }).inputShape;
  let shape: number[] | undefined = Array.isArray(inputShape) && inputShape.every((v) => Number.isInteger(v) && v >= 1) ? [...inputShape as number[]] : undefined;
  const layout = { nchw: false };
  layers.forEach((c, i) => {
    const entry = c && typeof c === 'object' ? EXPORTS[c.type] : undefined;
    if (!entry) {
      throw new NormcoreError(`toOnnx: layer ${i} has type ${describe((c as { type?: unknown } | null)?.type)}, which has no ONNX mapping (mapped: ${Object.keys(EXPORTS).join(', ')})`, 'ONNX_UNSUPPORTED');
    }
    const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
    let wIn: number, wOut: number, nextShape: number[] | undefined;
    if (entry.image || c.type === 'flatten' || c.type === 'dropout') {
      if (!shape) bad(`layer ${i} (${c.type}) needs the model's inputShape, which the file does not record`);
      wIn = size(shape!);
      nextShape = entry.image ? entry.image.outShape(c, shape!) : c.type === 'flatten' ? [wIn] : shape;
      if (entry.image && shape!.length !== 3) bad(`layer ${i} (${c.type}) takes an image [H, W, C], its input is [${shape!.join(', ')}]`);
      wOut = size(nextShape!);
    } else {
      [wIn, wOut] = entry.widths(c);
      nextShape = [wOut];
      if (shape && shape.length > 1) nextShape = size(shape) === wIn && wIn === wOut ? shape : [wOut]; // element-wise layers keep the image's shape
    }
    if (i === 0) inFeatures = shape ? size(shape) : wIn;
    else if (wIn !== width) bad(`layer ${i} takes ${wIn} features but layer ${i - 1} gives ${width}`);
    if (!Number.isInteger(wIn) || !Number.isInteger(wOut) || wIn < 1 || wOut < 1) bad(`layer ${i} has widths ${wIn} → ${wOut}`);
    width = wOut;
    const w: Record<string, Float32Array> = {};
    for (const [name, n] of entry.buffers(c)) {
      if (offset + n > weights.length) bad(`the layers need more than the file's ${weights.length} weights`);
      w[name] = weights.subarray(offset, offset + n);
      offset += n;
    }
    if (entry.image && !layout.nchw) {
      // flat NHWC rows → [N, H, W, C] → NCHW
      const [H, W, C] = shape as [number, number, number];
      const name = `to_nchw_${i}`;
      initializers.push(int64Tensor(`${name}.shape`, [-1, H, W, C]));
      nodes.push(node('Reshape', `${name}.reshape`, [input, `${name}.shape`], [`${name}.nhwc`]));
      nodes.push(node('Transpose', `${name}.transpose`, [`${name}.nhwc`], [`${name}.nchw`], { perm: { ints: [0, 3, 1, 2] } }));
      input = `${name}.nchw`;
      layout.nchw = true;
    }
    const last = i === layers.length - 1;
    if (last && layout.nchw && entry.image) bad(`the model ends with an image layer (${c.type}); add Flatten (and Dense) after it`);
    const output = last ? (softmax ? 'logits' : 'output') : `${c.type}_${i}`;
    entry.toOnnx(c, { opset, index: i, input, output, w, nodes, initializers, shape: shape ?? [wIn], layout });
    input = output;
    shape = nextShape;
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
