/** ONNX in: the IMPORTS table (one entry per ONNX op) and fromOnnx (see onnx.ts). */
import { encodeModelFile, ModelFormatError } from './format.js';
import { ACTIVATION_TYPES, type LayerConfig } from '../model/layers.js';
import { layerFromConfig } from '../model/layer-table.js';
import { Sequential } from '../model/sequential.js';
import { parseFile } from './model-parse.js';
import type { Backend } from '../backend/index.js';
import { describe, expectOptions, mustBe, typeError } from '../errors.js';
import {
  decodeModel, elementCount, findAttribute, floatValues, intValues,
  onnxFormatError, TensorProto_DataType, valueShape, type NodeProto, type TensorProto, type ValueInfoProto } from './onnx-pb.js';
import {
  finite, floatAttr, intAttr, NORMALIZATION_EPS, nodeLabel, onlyAttributes, stringAttr, unsupported, type ImportContext,
} from './onnx-import-util.js';

import { OnnxUnsupportedError, type FromOnnxOptions, type OnnxLayerConfig } from './onnx-types.js';
import { flattenImage, IMAGE_IMPORTS, needImage, reorderNchwRows, reshapeToImage } from './onnx-import-image.js';
import { EXPORTS } from './onnx-export.js';

/** The width the chain has when a layer needs it. */
function needFeatures(n: NodeProto, x: ImportContext): number {
  if (x.rank !== 2) unsupported(n, `its input has rank ${x.rank}; layers take [N, features] (add a Flatten before it)`);
  if (x.features === undefined) unsupported(n, 'the width of its input is not known: the graph input declares no fixed feature dimension');
  return x.features;
}

function addActivation(n: NodeProto, x: ImportContext, config: (features: number) => OnnxLayerConfig): void {
  // element-wise: on an image too, over all of its values
  const f = x.image ? x.image.c * x.image.h * x.image.w : needFeatures(n, x);
  x.layers.push({ config: config(f), buffers: {}, node: n, output: n.output[0]! });
}

/** Pushes a Dense layer from W [in × out] and an optional bias. */
function addDense(n: NodeProto, x: ImportContext, inF: number, outF: number, weight: Float32Array, bias: Float32Array | undefined): void {
  if (x.features !== undefined && x.features !== inF) unsupported(n, `its weight takes ${inF} features but its input has ${x.features}`);
  if (x.rank !== 2) unsupported(n, `its input has rank ${x.rank}; Gemm and MatMul are read on [N, features] inputs (add a Flatten before it)`);
  if (x.nchwFlatten) {
    weight = reorderNchwRows(weight, outF, x.nchwFlatten);
    x.nchwFlatten = undefined;
  }
  const buffers: Record<string, Float32Array> = { weight };
  if (bias) buffers.bias = bias;
  x.layers.push({ config: { type: 'dense', inFeatures: inF, outFeatures: outF, bias: bias !== undefined, init: 'auto' }, buffers, node: n, output: n.output[0]! });
  x.features = outF;
}

/** A bias operand broadcast to [out]: shapes [out], [1, out], [] and [1] are accepted. */
function biasVector(n: NodeProto, t: TensorProto, out: number, what: string): Float32Array {
  const { dims, values } = floatValues(t, what);
  const count = elementCount(dims);
  const shapeOk = (dims.length === 1 && (dims[0] === out || dims[0] === 1)) || (dims.length === 2 && dims[0] === 1 && (dims[1] === out || dims[1] === 1)) || dims.length === 0;
  if (!shapeOk) unsupported(n, `${what} has shape [${dims.join(', ')}]; a bias of [${out}] (or [1, ${out}], or a scalar) was expected`);
  finite(n, values, what);
  return count === out ? values : new Float32Array(out).fill(values[0]!);
}

type OpImporter = (n: NodeProto, x: ImportContext) => void;

/** One entry per ONNX op: how it becomes layers (or nothing). */
const IMPORTS: Record<string, OpImporter> = {
  Gemm: (n, x) => {
    onlyAttributes(n, ['alpha', 'beta', 'transA', 'transB']);
    if (intAttr(n, 'transA', 0) !== 0) unsupported(n, 'transA = 1 transposes the batch input; only transA = 0 maps onto a Dense layer');
    if (n.input[0] !== x.input) unsupported(n, 'the chain must be its first input (A)');
    const alpha = floatAttr(n, 'alpha', 1), beta = floatAttr(n, 'beta', 1);
    const transB = intAttr(n, 'transB', 0);
    const { dims, values } = floatValues(x.constant(n, 1, 'B'), `${nodeLabel(n)} input B`);
    if (dims.length !== 2) unsupported(n, `B has shape [${dims.join(', ')}]; a matrix was expected`);
    finite(n, values, 'B');
    const [rows, cols] = dims as [number, number];
    const inF = transB ? cols : rows, outF = transB ? rows : cols;
    // normcore's W is [in × out] row-major: B as is, or B transposed when transB = 1 (PyTorch's [out × in]).
    const weight = new Float32Array(inF * outF);
    for (let i = 0; i < inF; i++) for (let j = 0; j < outF; j++) weight[i * outF + j] = alpha * values[transB ? j * inF + i : i * outF + j]!;
    let bias: Float32Array | undefined;
    if (n.input.length > 2 && n.input[2] !== '') {
      bias = biasVector(n, x.constant(n, 2, 'C'), outF, `${nodeLabel(n)} input C`).map((v) => beta * v);
    }
    addDense(n, x, inF, outF, weight, bias);
  },
  /** x − c: the first half of a Normalization (its Div follows). */
  Sub: (n, x) => {
    onlyAttributes(n, []);
    if (n.input[0] !== x.input) unsupported(n, 'a Sub is read only as x − constant (the centring of a Normalization, a Div by a constant after it)');
    const f = needFeatures(n, x);
    const mean = biasVector(n, x.constant(n, 1, 'the subtrahend'), f, `${nodeLabel(n)} input B`);
    x.layers.push({ config: { type: 'normalization', features: f, eps: NORMALIZATION_EPS }, buffers: { mean, variance: new Float32Array(f).fill(1 - NORMALIZATION_EPS) }, node: n, output: n.output[0]! });
  },
  /** (x − c) / d: a Normalization with mean c and variance d² − eps. */
  Div: (n, x) => {
    onlyAttributes(n, []);
    const prev = x.layers[x.layers.length - 1];
    if (!prev || prev.config.type !== 'normalization' || prev.output !== x.input || prev.node.opType !== 'Sub' || n.input[0] !== x.input) {
      unsupported(n, 'a Div is read only right after a Sub, as (x − mean) / std (a Normalization)');
    }
    const std = biasVector(n, x.constant(n, 1, 'the divisor'), (prev.config as { features: number }).features, `${nodeLabel(n)} input B`);
    if (std.some((v) => !(v > 0))) unsupported(n, 'the divisor of a Normalization must be positive');
    prev.buffers.variance = std.map((d) => Math.max(0, d * d - NORMALIZATION_EPS));
    prev.node = n;
    prev.output = n.output[0]!;
  },
  MatMul: (n, x) => {
    onlyAttributes(n, []);
    if (n.input[0] !== x.input) unsupported(n, 'the chain must be its first input (x·W); W·x does not map onto a Dense layer');
    const { dims, values } = floatValues(x.constant(n, 1, 'B'), `${nodeLabel(n)} input B`);
    if (dims.length !== 2) unsupported(n, `B has shape [${dims.join(', ')}]; a matrix [in, out] was expected`);
    addDense(n, x, dims[0]!, dims[1]!, finite(n, values, 'B'), undefined);
  },
  Add: (n, x) => {
    onlyAttributes(n, []);
    const prev = x.layers[x.layers.length - 1];
    const slot = n.input[0] === x.input ? 1 : 0;
    if (!prev || prev.config.type !== 'dense' || prev.output !== x.input) {
      unsupported(n, 'an Add is read only as the bias of the MatMul or Gemm right before it (x·W + b)');
    }
    const dense = prev.config as Extract<LayerConfig, { type: 'dense' }>;
    const b = biasVector(n, x.constant(n, slot, 'the bias'), dense.outFeatures, `${nodeLabel(n)} bias`);
    if (prev.buffers.bias) {
      const sum = prev.buffers.bias.map((v, i) => v + b[i]!);
      prev.buffers.bias = sum;
    } else {
      prev.buffers.bias = b;
      prev.config = { ...dense, bias: true };
    }
    prev.output = n.output[0]!;
  },
  BatchNormalization: (n, x) => {
    onlyAttributes(n, ['epsilon', 'momentum', 'training_mode', 'spatial', 'is_test', 'consumed_inputs']);
    // on an image: per channel (ONNX's axis 1 of NCHW), normcore's BatchNorm2d
    const image = x.image ? needImage(n, x) : undefined;
    const C = image ? image.c : needFeatures(n, x);
    if (n.input[0] !== x.input) unsupported(n, 'the chain must be its first input (X)');
    if (intAttr(n, 'training_mode', 0) !== 0) unsupported(n, 'training_mode = 1 computes batch statistics; an exported model runs in inference mode (training_mode 0)');
    if (n.input.length !== 5) throw onnxFormatError(`${nodeLabel(n)} has ${n.input.length} inputs; BatchNormalization takes 5 (X, scale, B, mean, var)`);
    const names = ['scale', 'B', 'input_mean', 'input_var'];
    const [scale, bias, mean, variance] = names.map((what, k) => {
      const { dims, values } = floatValues(x.constant(n, k + 1, what), `${nodeLabel(n)} input ${what}`);
      if (dims.length !== 1 || dims[0] !== C) unsupported(n, `${what} has shape [${dims.join(', ')}]; [${C}] was expected (one value per feature)`);
      return finite(n, values, what);
    }) as [Float32Array, Float32Array, Float32Array, Float32Array];
    const bad = variance.findIndex((v) => v < 0);
    if (bad >= 0) throw onnxFormatError(`${nodeLabel(n)}: input_var holds ${variance[bad]} at index ${bad}; a variance is ≥ 0`);
    const eps = floatAttr(n, 'epsilon', 1e-5);
    if (!(eps > 0)) unsupported(n, `epsilon ${eps} must be > 0`);
    const onnxMomentum = floatAttr(n, 'momentum', 0.9);
    // normcore (PyTorch convention) weighs the new batch: 1 − ONNX's momentum, in (0, 1].
    if (!(onnxMomentum >= 0 && onnxMomentum < 1)) unsupported(n, `momentum ${onnxMomentum} has no normcore equivalent (normcore's momentum = 1 − ONNX's must be in (0, 1])`);
    x.layers.push({
      config: image
        ? { type: 'batchnorm2d', channels: C, eps, momentum: 1 - onnxMomentum, affine: true, numBatchesTracked: 0 }
        : { type: 'batchnorm', features: C, eps, momentum: 1 - onnxMomentum, affine: true, numBatchesTracked: 0 },
      buffers: { gamma: scale, beta: bias, runningMean: mean, runningVar: variance },
      node: n, output: n.output[0]!,
    });
  },
  Relu: (n, x) => (onlyAttributes(n, []), addActivation(n, x, (features) => ({ type: 'relu', features }))),
  Sigmoid: (n, x) => (onlyAttributes(n, []), addActivation(n, x, (features) => ({ type: 'sigmoid', features }))),
  Tanh: (n, x) => (onlyAttributes(n, []), addActivation(n, x, (features) => ({ type: 'tanh', features }))),
  LeakyRelu: (n, x) => {
    onlyAttributes(n, ['alpha']);
    const alpha = floatAttr(n, 'alpha', 0.01);
    addActivation(n, x, (features) => ({ type: 'leakyrelu', features, alpha }));
  },
  Gelu: (n, x) => {
    onlyAttributes(n, ['approximate']);
    const approximate = stringAttr(n, 'approximate', 'none');
    if (approximate !== 'tanh') unsupported(n, `approximate = '${approximate}' (the erf form); normcore's GELU is the tanh approximation (approximate = 'tanh')`);
    addActivation(n, x, (features) => ({ type: 'gelu', features }));
  },
  Softmax: (n, x) => {
    onlyAttributes(n, ['axis']);
    if (!x.last) unsupported(n, 'a Softmax is read only as the last node (it is dropped: compile with softmaxCrossEntropy and predict returns probabilities)');
    const axis = intAttr(n, 'axis', x.opset >= 13 ? -1 : 1);
    if (x.rank !== 2 || (axis !== 1 && axis !== -1)) unsupported(n, `axis ${axis} on a rank-${x.rank} input; a Softmax over the features of [N, features] was expected`);
    x.softmaxDropped = true;
  },
  Identity: () => {},
  Dropout: (n) => {
    onlyAttributes(n, ['ratio', 'seed', 'is_test']);
    if (n.input.length > 2 && n.input[2] !== '') unsupported(n, 'a training_mode input is not supported (an exported model runs Dropout as identity)');
  },
  Flatten: (n, x) => {
    onlyAttributes(n, ['axis']);
    const axis = intAttr(n, 'axis', 1);
    if (axis !== 1) unsupported(n, `axis ${axis}; only axis 1 (keep the batch dimension) maps onto normcore's [N, features]`);
    flattenTo(n, x);
  },
  Reshape: (n, x) => {
    onlyAttributes(n, ['allowzero']);
    const { values } = intValues(x.constant(n, 1, 'shape'), `${nodeLabel(n)} input shape`);
    if (values.length === 4 && (values[0] === -1 || values[0] === 0) && !x.image) return reshapeToImage(n, x, values);
    const target = values[1];
    if (values.length !== 2 || (values[0] !== -1 && values[0] !== 0) || target === undefined || target < 1) {
      unsupported(n, `shape [${values.join(', ')}]; only [-1, F] or [0, F] (flatten each row) is supported`);
    }
    flattenTo(n, x, target);
  },
  ...IMAGE_IMPORTS,
};

/** What may read the features of a Flatten of NCHW channels before a Dense reorders them: order-blind nodes. */
const ORDER_BLIND = ['Gemm', 'MatMul', 'Relu', 'Sigmoid', 'Tanh', 'LeakyRelu', 'Gelu', 'Identity', 'Dropout'];

/** Flatten each row: [N, d1, d2, …] → [N, d1·d2·…]. */
function flattenTo(n: NodeProto, x: ImportContext, target?: number): void {
  if (x.image) {
    if (target !== undefined && target !== x.image.c * x.image.h * x.image.w) unsupported(n, `reshapes an image of ${x.image.c * x.image.h * x.image.w} values into ${target}`);
    return flattenImage(n, x);
  }
  if (x.rank > 2) {
    const rest = x.dims?.slice(1) ?? [];
    if (rest.length !== x.rank - 1 || !rest.every((d) => typeof d === 'number')) unsupported(n, `its input's dims [${x.dims?.join(', ')}] are not all known`);
    x.features = elementCount(rest as number[]);
    x.rank = 2;
  }
  if (target !== undefined && x.features !== undefined && target !== x.features) unsupported(n, `reshapes ${x.features} features into ${target}`);
  if (target !== undefined) x.features = target;
}

/** ONNX ops fromOnnx reads. */
export const ONNX_IMPORT_OPS: readonly string[] = Object.keys(IMPORTS);

/**
 * Reads an ONNX model whose graph is a chain of the ops in ONNX_IMPORT_OPS
 * (the shapes PyTorch and tf2onnx write for MLPs) and returns it as an
 * uncompiled Sequential that predicts the same: compile it to fine-tune (a
 * final Softmax is dropped; compile with loss 'softmaxCrossEntropy' and
 * `predict` returns probabilities again). A node that does not map is an
 * OnnxUnsupportedError naming it; bytes that are no valid ONNX model, or
 * tensors that contradict their shapes, a ModelFormatError. Nothing is
 * allocated from declared sizes before the data behind them is checked.
 */
export function fromOnnx(bytes: Uint8Array, options?: FromOnnxOptions): Sequential {
  return fromOnnxWith((file, o) => Sequential.loadWith(parseFile, file, o), bytes, options);
}

/** @internal fromOnnx with the class that loads the model file (normcore/node passes its Sequential). */
export function fromOnnxWith<M extends Sequential>(
  load: (file: Uint8Array, options: { backend: Backend | 'wasm' | 'js' }) => M, bytes: Uint8Array, options?: FromOnnxOptions,
): M {
  const o = expectOptions('fromOnnx', 'options', options, ['backend']);
  if (!(bytes instanceof Uint8Array)) {
    throw mustBe('fromOnnx', 'bytes', 'a Uint8Array', bytes);
  }
  if (typeof o.backend === 'string' && o.backend !== 'wasm' && o.backend !== 'js') {
    throw typeError(`fromOnnx: options.backend must be a Backend, 'wasm' or 'js', got ${describe(o.backend)}`, { argument: 'options.backend', expected: "a Backend, 'wasm' or 'js'", received: describe(o.backend) });
  }
  const file = onnxToModelFile(bytes);
  try {
    return load(file, { backend: o.backend ?? 'wasm' });
  } catch (e) {
    if (e instanceof ModelFormatError) throw onnxFormatError((e as Error).message.replace(/^load: not a valid normcore model file: /, ''));
    throw e;
  }
}

/** The normcore model file (uncompiled, seed 1) of an ONNX chain: what fromOnnx loads. */
export function onnxToModelFile(bytes: Uint8Array): Uint8Array {
  const { layers, weights, inputShape } = onnxToLayers(bytes);
  return encodeModelFile({ kind: 'normcore-sequential', layers, seed: 1, compile: null, ...(inputShape ? { inputShape } : {}) }, weights);
}

/** The layer configs and model-file weights of an ONNX chain (exported for tests and tools). */
export function onnxToLayers(bytes: Uint8Array): { layers: OnnxLayerConfig[]; weights: Float32Array; softmaxDropped: boolean; inputShape?: number[] } {
  const model = decodeModel(bytes);
  const graph = model.graph;
  if (!graph) throw onnxFormatError('the model has no graph');
  const defaultDomain = model.opsetImport.find((s) => s.domain === '' || s.domain === 'ai.onnx');
  if (!defaultDomain) throw onnxFormatError('the model imports no opset of the default ONNX domain');
  const opset = Number(defaultDomain.version);

  // Constants: initializers and Constant nodes.
  const constants = new Map<string, TensorProto>();
  const addConstant = (name: string, t: TensorProto, where: string) => {
    if (name === '') throw onnxFormatError(`${where} has no name`);
    if (constants.has(name)) throw onnxFormatError(`two constants are named ${JSON.stringify(name)}`);
    constants.set(name, t);
  };
  graph.initializer.forEach((t, i) => addConstant(t.name, t, `initializer ${i}`));
  const compute: NodeProto[] = [];
  for (const n of graph.node) {
    if (n.domain !== '' && n.domain !== 'ai.onnx') unsupported(n, `it is in domain ${JSON.stringify(n.domain)}; fromOnnx reads the default ONNX domain`);
    if (n.opType === 'Constant') {
      const v = findAttribute(n, 'value');
      if (n.output.length !== 1) throw onnxFormatError(`${nodeLabel(n)} has ${n.output.length} outputs`);
      if (!v?.t) unsupported(n, 'only a Constant with a tensor `value` attribute is supported');
      addConstant(n.output[0]!, v.t, nodeLabel(n));
    } else {
      compute.push(n);
    }
  }

  // Who writes and who reads each tensor.
  const producer = new Map<string, NodeProto>();
  const consumers = new Map<string, NodeProto[]>();
  for (const n of compute) {
    for (const out of n.output) {
      if (out === '') continue;
      if (producer.has(out) || constants.has(out)) throw onnxFormatError(`tensor ${JSON.stringify(out)} is written by two nodes (the second: ${nodeLabel(n)})`);
      producer.set(out, n);
    }
    for (const inp of new Set(n.input)) {
      if (inp === '' || constants.has(inp)) continue;
      const list = consumers.get(inp);
      if (list) list.push(n);
      else consumers.set(inp, [n]);
    }
  }

  // One input (older exporters also list the initializers as inputs) and one output.
  const inputs = graph.input.filter((v) => !constants.has(v.name));
  if (inputs.length !== 1) {
    throw new OnnxUnsupportedError(`fromOnnx: the graph has ${inputs.length} inputs (${inputs.map((v) => v.name).join(', ') || 'none'}); a model of one input was expected`, '', '');
  }
  if (graph.output.length !== 1) {
    throw new OnnxUnsupportedError(`fromOnnx: the graph has ${graph.output.length} outputs (${graph.output.map((v) => v.name).join(', ') || 'none'}); a model of one output was expected`, '', '');
  }
  const input = inputs[0]! as ValueInfoProto;
  const outputName = graph.output[0]!.name;
  const shape = valueShape(input);
  if (!shape) throw onnxFormatError(`the graph input ${JSON.stringify(input.name)} declares no tensor type`);
  if (shape.elemType !== TensorProto_DataType.FLOAT) {
    throw new OnnxUnsupportedError(`fromOnnx: the graph input ${JSON.stringify(input.name)} has element type ${TensorProto_DataType[shape.elemType] ?? shape.elemType}; FLOAT was expected`, '', '');
  }
  const dims = shape.dims;
  const rank = dims?.length ?? 2;
  if (rank < 2) throw new OnnxUnsupportedError(`fromOnnx: the graph input ${JSON.stringify(input.name)} has rank ${rank}; [N, features] was expected`, '', '');
  const declared = rank === 2 && typeof dims?.[1] === 'number' ? dims[1] : undefined;
  let image: ImportContext['image'];
  if (rank === 4) {
    // an NCHW image input (PyTorch's): normcore's rows are NHWC, the same order only for one channel
    const [, c, h, w] = dims ?? [];
    if (typeof c !== 'number' || typeof h !== 'number' || typeof w !== 'number') {
      throw new OnnxUnsupportedError(`fromOnnx: the graph input ${JSON.stringify(input.name)} has dims [${dims?.join(', ')}]; an image input [N, C, H, W] needs C, H and W fixed`, '', '');
    }
    if (c !== 1) {
      throw new OnnxUnsupportedError(`fromOnnx: the graph input ${JSON.stringify(input.name)} is an NCHW image of ${c} channels; normcore's rows are NHWC (channel fastest), the same order only for one channel (export with a flat [N, H·W·C] input, or one channel)`, '', '');
    }
    image = { c, h, w, layout: 'nchw' };
  }

  const x: ImportContext = {
    opset, features: image ? image.c * image.h * image.w : declared, rank, dims, layers: [], input: input.name, last: false, softmaxDropped: false,
    image, inputShape: image ? [image.h, image.w, image.c] : undefined,
    constant: (n, slot, what) => {
      const name = n.input[slot];
      if (name === undefined || name === '') throw onnxFormatError(`${nodeLabel(n)} lacks its input ${what}`);
      const t = constants.get(name);
      if (!t) unsupported(n, `its input ${what} (${JSON.stringify(name)}) is computed by the graph; fromOnnx reads it only as a constant (initializer or Constant node)`);
      return t;
    },
  };

  // Walk the chain from the input to the output.
  const visited = new Set<NodeProto>();
  let cur = input.name;
  while (cur !== outputName) {
    const readers = consumers.get(cur) ?? [];
    if (readers.length === 0) {
      throw new OnnxUnsupportedError(`fromOnnx: tensor ${JSON.stringify(cur)} is read by no node and is not the graph output ${JSON.stringify(outputName)}; the graph is not a chain from input to output`, '', '');
    }
    if (readers.length > 1) {
      const n = readers[0]!;
      unsupported(n, `tensor ${JSON.stringify(cur)} feeds ${readers.length} nodes (${readers.map(nodeLabel).join(', ')}); fromOnnx reads chains, where each tensor feeds one node`);
    }
    const n = readers[0]!;
    if (visited.has(n)) throw onnxFormatError(`${nodeLabel(n)} is reached twice: the graph has a cycle`);
    visited.add(n);
    const computed = n.input.filter((i) => i !== '' && !constants.has(i));
    if (computed.length !== 1) unsupported(n, `it reads ${computed.length} computed tensors (${computed.join(', ')}); in a chain a node reads the previous one and constants`);
    const importer = IMPORTS[n.opType];
    if (!importer) unsupported(n, `op ${n.opType} has no normcore layer (supported: ${ONNX_IMPORT_OPS.join(', ')})`);
    const next = n.output[0];
    if (next === undefined || next === '') throw onnxFormatError(`${nodeLabel(n)} has no output`);
    for (const extra of n.output.slice(1)) {
      if (extra !== '' && (consumers.has(extra) || extra === outputName)) unsupported(n, `its extra output ${JSON.stringify(extra)} is used; only the first output is read`);
    }
    if (x.nchwFlatten && !ORDER_BLIND.includes(n.opType)) {
      unsupported(n, `it reads the features of a Flatten of NCHW channels (order c, h, w; normcore flattens h, w, c): only a Gemm or MatMul (whose weight rows are reordered to match), activations and Dropout may follow such a Flatten`);
    }
    x.input = cur;
    x.last = next === outputName;
    importer(n, x);
    cur = next;
  }
  if (consumers.has(outputName)) {
    const n = consumers.get(outputName)![0]!;
    unsupported(n, `it reads the graph output ${JSON.stringify(outputName)}; the output must end the chain`);
  }
  const stray = compute.find((n) => !visited.has(n));
  if (stray) unsupported(stray, 'it is not on the chain from the graph input to its output');
  if (x.layers.length === 0) throw new OnnxUnsupportedError('fromOnnx: the graph computes no layer (it maps the input to the output unchanged)', '', '');
  if (x.rank !== 2) throw new OnnxUnsupportedError(`fromOnnx: the graph output has rank ${x.rank}; [N, features] was expected`, '', '');
  if (x.nchwFlatten) throw new OnnxUnsupportedError('fromOnnx: the graph ends with a Flatten of NCHW channels (order c, h, w), which normcore would give in its own order (h, w, c)', '', '');

  const first = x.layers[0]!;
  if (!x.inputShape && (ACTIVATION_TYPES as string[]).includes(first.config.type)) {
    unsupported(first.node, "the chain starts with an activation; normcore's first layer is a Dense, a BatchNorm or a Normalization (Gemm, MatMul, BatchNormalization, or Sub then Div)");
  }
  // Layer types this build lacks (an older normcore reading a newer file) are refused by name.
  for (const l of x.layers) {
    try {
      layerFromConfig(l.config as LayerConfig);
    } catch (e) {
      unsupported(l.node, `it maps onto a normcore ${l.config.type} layer, which this build of normcore does not have or refuses (${(e as Error).message})`);
    }
  }
  // Weights in model-file order.
  const parts: Float32Array[] = [];
  for (const l of x.layers) {
    for (const [name, size] of EXPORTS[l.config.type]!.buffers(l.config)) {
      const b = l.buffers[name] ?? (name === 'ones' ? new Float32Array(size).fill(1) : new Float32Array(size));
      parts.push(b);
    }
  }
  const weights = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let off = 0;
  for (const p of parts) { weights.set(p, off); off += p.length; }
  return { layers: x.layers.map((l) => l.config), weights, softmaxDropped: x.softmaxDropped, ...(x.inputShape ? { inputShape: x.inputShape } : {}) };
}
