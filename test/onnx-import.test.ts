/**
 * fromOnnx (issue 14): the committed fixtures (test/fixtures/onnx/, made by
 * make_fixtures.py with onnx.helper in the shapes PyTorch's exporter and
 * tf2onnx write) import, predict what ONNX Runtime computes to 1e-5 relative,
 * and fine-tune (the loss falls). Graphs that do not map are
 * OnnxUnsupportedErrors naming the node, its op type and why; broken files are
 * ModelFormatErrors.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackend, ModelFormatError, NormcoreError, Sequential, type LossName } from '../src/index.js';
import { Sequential as NodeSequential } from '../src/node/index.js';
import { fromOnnx, OnnxUnsupportedError, onnxToLayers, onnxToModelFile } from '../src/onnx.js';
import { create, toBinary } from '@bufbuild/protobuf';
import { encodeModel, floatTensor, floatValueInfo, node, type NodeProto, type TensorProto } from '../src/io/onnx-pb.js';
import { TensorProtoSchema, TensorProto_DataLocation, TensorProto_DataType, ModelProtoSchema } from '../src/io/onnx-proto/onnx/onnx_pb.generated.js';
import { measured, record, runOrt, worstRelative } from './helpers/onnx.js';
import { rng } from './fixtures/data.js';

const TOL = 1e-5;
const fixture = (name: string) => new Uint8Array(readFileSync(new URL(`./fixtures/onnx/${name}`, import.meta.url)));

beforeAll(async () => {
  // the tests name backends by string ('wasm', 'js'), which needs each loaded once
  await createBackend('wasm');
  await createBackend('js');
});

afterAll(() => {
  console.log(`worst relative disagreement with ONNX Runtime in onnx-import: ${measured.rel.toExponential(2)} (${measured.what}); element by element ${measured.elementwise.toExponential(2)}`);
});

function uniform(n: number, seed: number, scale = 2): Float32Array {
  const u = rng(seed);
  return Float32Array.from({ length: n }, () => (u() * 2 - 1) * scale);
}

interface Fixture {
  file: string;
  /** ONNX input shape per row (after N). */
  rowShape: number[];
  layers: string[];
  outputs: number;
  softmax: boolean;
}

const FIXTURES: Fixture[] = [
  { file: 'pytorch-opset15-gemm-bn.onnx', rowShape: [20], layers: ['dense', 'batchnorm', 'relu', 'dense'], outputs: 10, softmax: true },
  { file: 'pytorch-opset9-flatten-bn.onnx', rowShape: [1, 4, 5], layers: ['dense', 'batchnorm', 'sigmoid', 'dense'], outputs: 4, softmax: true },
  { file: 'tf2onnx-matmul-add.onnx', rowShape: [20], layers: ['dense', 'relu', 'dense', 'tanh', 'dense'], outputs: 3, softmax: true },
  { file: 'pytorch-reshape-matmul-add.onnx', rowShape: [2, 10], layers: ['dense', 'batchnorm', 'tanh', 'dense'], outputs: 2, softmax: false },
];

describe.each(['wasm', 'js'] as const)('fromOnnx fixtures on the %s backend', (backend) => {
  it.each(FIXTURES)('$file: imports as $layers and agrees with ONNX Runtime', async (f) => {
    const bytes = fixture(f.file);
    const rows = 64;
    const features = f.rowShape.reduce((a, b) => a * b, 1);
    const x = uniform(rows * features, 31, 2.5);
    const expected = await runOrt(bytes, x, rows, [rows, ...f.rowShape]);
    const m = fromOnnx(bytes, { backend });
    try {
      expect(m.layers.map((l) => l.type)).toEqual(f.layers);
      expect(m.inFeatures).toBe(features);
      expect(m.outFeatures).toBe(f.outputs);
      expect(m.lossName).toBeUndefined();
      expect(onnxToLayers(bytes).softmaxDropped).toBe(f.softmax);
      // The final Softmax is dropped; compiling with softmaxCrossEntropy makes predict return probabilities.
      m.compile({ loss: f.softmax ? 'softmaxCrossEntropy' : 'mse' });
      const r = worstRelative(m.predict(x), expected, f.outputs);
      record(r, `${backend} ${f.file}`);
      expect(r.rel, `${f.file}: worst at ${r.index}`).toBeLessThanOrEqual(TOL);
    } finally {
      m.dispose();
    }
  });

  it.each(FIXTURES)('$file: compiles and fine-tunes (the training loss falls)', async (f) => {
    const m = fromOnnx(fixture(f.file), { backend });
    try {
      const rows = 128, F = m.inFeatures, K = f.outputs;
      const x = uniform(rows * F, 41, 1.5);
      const loss: LossName = f.softmax ? 'softmaxCrossEntropy' : 'mse';
      // A learnable target: class / value from sums of input slices.
      let y: Uint8Array | Float32Array;
      if (f.softmax) {
        y = new Uint8Array(rows);
        for (let r = 0; r < rows; r++) {
          let best = 0, bestSum = -Infinity;
          for (let k = 0; k < K; k++) {
            let s = 0;
            for (let j = k; j < F; j += K) s += x[r * F + j]!;
            if (s > bestSum) { bestSum = s; best = k; }
          }
          y[r] = best;
        }
      } else {
        y = new Float32Array(rows * K);
        for (let r = 0; r < rows; r++) for (let k = 0; k < K; k++) y[r * K + k] = 0.5 * Math.tanh(x[r * F + k]! + x[r * F + k + K]!);
      }
      m.compile({ loss, optimizer: { type: 'adam', lr: 0.01 } });
      const before = m.evaluate(x, y).loss;
      const h = await m.fit(x, y, { epochs: 15, batchSize: 16, seed: 3 });
      const after = m.evaluate(x, y).loss;
      expect(h.loss[h.loss.length - 1]!).toBeLessThan(h.loss[0]!);
      expect(after).toBeLessThan(before);
    } finally {
      m.dispose();
    }
  });
});

describe('fromOnnx: what the fixtures map onto', () => {
  it('onnxToModelFile gives the bytes fromOnnx loads; normcore/node’s Sequential (fit takes checkpoint paths) loads them too', async () => {
    const bytes = fixture('tf2onnx-matmul-add.onnx');
    const a = await NodeSequential.load(onnxToModelFile(bytes), { backend: 'js' }), b = fromOnnx(bytes, { backend: 'js' });
    const c = await Sequential.load(onnxToModelFile(bytes), { backend: 'js' });
    try {
      expect(a).toBeInstanceOf(NodeSequential);
      expect(b).not.toBeInstanceOf(NodeSequential);
      const x = uniform(5 * 20, 3);
      expect(a.predict(x)).toEqual(b.predict(x));
      expect(c.predict(x)).toEqual(b.predict(x));
    } finally {
      a.dispose(); b.dispose(); c.dispose();
    }
  });

  it('Gemm transB=1 is transposed into W [in × out]; BatchNormalization momentum 0.9 / 0.99 become 0.1 / 0.01, epsilon is kept', () => {
    const a = onnxToLayers(fixture('pytorch-opset15-gemm-bn.onnx'));
    expect(a.layers[0]).toEqual({ type: 'dense', inFeatures: 20, outFeatures: 16, bias: true, init: 'auto' });
    expect(a.layers[1]).toMatchObject({ type: 'batchnorm', features: 16, affine: true, numBatchesTracked: 0 });
    expect((a.layers[1] as { momentum: number }).momentum).toBeCloseTo(0.1, 6);
    expect((a.layers[1] as { eps: number }).eps).toBeCloseTo(1e-5, 10);
    const b = onnxToLayers(fixture('pytorch-opset9-flatten-bn.onnx'));
    expect((b.layers[1] as { momentum: number }).momentum).toBeCloseTo(0.01, 6);
    expect((b.layers[1] as { eps: number }).eps).toBeCloseTo(1e-3, 9);
  });
});

// ---------------------------------------------------------------------------
// Graphs built here, each one thing wrong.

interface G {
  nodes: NodeProto[];
  inits?: TensorProto[];
  inputDims?: Array<number | string>;
  output?: string;
  outDims?: Array<number | string>;
  opset?: number;
  extraInputs?: string[];
}

function build(g: G): Uint8Array {
  return encodeModel({
    irVersion: 8, opset: g.opset ?? 15, producerVersion: 'test', docString: '', graphName: 'g', nodes: g.nodes, initializers: g.inits ?? [],
    inputs: [floatValueInfo('x', g.inputDims ?? ['N', 3]), ...(g.extraInputs ?? []).map((n) => floatValueInfo(n, ['N', 3]))],
    outputs: [floatValueInfo(g.output ?? 'y', g.outDims ?? ['N', 2])],
  });
}

const W = floatTensor('W', [3, 2], Float32Array.from([1, 2, 3, 4, 5, 6]));
const B = floatTensor('b', [2], Float32Array.from([0.5, -0.5]));

function errorOf(bytes: Uint8Array): Error {
  try {
    fromOnnx(bytes, { backend: 'js' }).dispose();
  } catch (e) {
    return e as Error;
  }
  throw new Error('fromOnnx accepted the graph');
}

function expectUnsupported(bytes: Uint8Array, nodeName: string, opType: string, why: RegExp): void {
  const e = errorOf(bytes);
  expect(e).toBeInstanceOf(OnnxUnsupportedError);
  expect(e).toBeInstanceOf(NormcoreError);
  expect(e).toMatchObject({ code: 'ONNX_UNSUPPORTED', node: nodeName, opType });
  expect(e.message).toContain(`node "${nodeName}" (${opType})`);
  expect(e.message).toMatch(why);
}

function expectFormat(bytes: Uint8Array, why: RegExp): void {
  const e = errorOf(bytes);
  expect(e).toBeInstanceOf(ModelFormatError);
  expect(e).toMatchObject({ code: 'MODEL_FORMAT' });
  expect(e.message).toMatch(/^fromOnnx: not a valid ONNX model: /);
  expect(e.message).toMatch(why);
}

describe('fromOnnx: graphs that do not map name the node, its op type and why', () => {
  it('an op with no layer', () => {
    expectUnsupported(build({ nodes: [node('Gemm', 'fc', ['x', 'W'], ['h']), node('Erf', 'weird', ['h'], ['y'])], inits: [W] }), 'weird', 'Erf', /op Erf has no normcore layer \(supported: Gemm, Sub, Div, MatMul/);
  });

  it('a tensor that feeds two nodes (a branch)', () => {
    const nodes = [node('Gemm', 'fc', ['x', 'W'], ['h']), node('Relu', 'r', ['h'], ['a']), node('Sigmoid', 's', ['h'], ['c']), node('Add', 'sum', ['a', 'c'], ['y'])];
    expectUnsupported(build({ nodes, inits: [W] }), 'r', 'Relu', /tensor "h" feeds 2 nodes/);
  });

  it('a cycle through a node that reads two computed tensors, and a cycle off the chain', () => {
    const loop = [node('Gemm', 'fc', ['x', 'W'], ['h']), node('Add', 'add', ['h', 'c'], ['y']), node('Relu', 'back', ['y'], ['c'])];
    const e = errorOf(build({ nodes: loop, inits: [W] }));
    expect(e).toBeInstanceOf(NormcoreError);
    expect(e.message).toMatch(/node "add" \(Add\): it reads 2 computed tensors \(h, c\)/);
    const island = [node('Gemm', 'fc', ['x', 'W'], ['y']), node('Relu', 'p', ['q'], ['r']), node('Relu', 'q', ['r'], ['q'])];
    expectUnsupported(build({ nodes: island, inits: [W] }), 'p', 'Relu', /not on the chain from the graph input to its output/);
  });

  it('Gemm with transA, a computed weight, a weight of the wrong width', () => {
    expectUnsupported(build({ nodes: [node('Gemm', 'fc', ['x', 'W'], ['y'], { transA: { int: 1 } })], inits: [W] }), 'fc', 'Gemm', /transA = 1/);
    expectUnsupported(build({ nodes: [node('Gemm', 'fc', ['x', 'x'], ['y'])] }), 'fc', 'Gemm', /reads 2 computed tensors/);
    const W4 = floatTensor('W', [4, 2], new Float32Array(8));
    expectUnsupported(build({ nodes: [node('Gemm', 'fc', ['x', 'W'], ['y'])], inits: [W4] }), 'fc', 'Gemm', /its weight takes 4 features but its input has 3/);
  });

  it('BatchNormalization in training mode, with a momentum of 1, with statistics of the wrong length', () => {
    const stats = (c: number) => ['s', 'bb', 'm', 'v'].map((n) => floatTensor(n, [c], new Float32Array(c).fill(1)));
    const bn = (attrs: Record<string, number | { int: number }>) => [node('Gemm', 'fc', ['x', 'W'], ['h']), node('BatchNormalization', 'bn', ['h', 's', 'bb', 'm', 'v'], ['y'], attrs)];
    expectUnsupported(build({ nodes: bn({ training_mode: { int: 1 } }), inits: [W, ...stats(2)] }), 'bn', 'BatchNormalization', /training_mode = 1/);
    expectUnsupported(build({ nodes: bn({ momentum: 1 }), inits: [W, ...stats(2)] }), 'bn', 'BatchNormalization', /momentum 1 has no normcore equivalent/);
    expectUnsupported(build({ nodes: bn({}), inits: [W, ...stats(3)] }), 'bn', 'BatchNormalization', /scale has shape \[3\]; \[2\] was expected/);
  });

  it('a Softmax before the end, an Add that is not a bias, Gelu in its erf form', () => {
    expectUnsupported(build({ nodes: [node('Softmax', 'sm', ['x'], ['p']), node('Gemm', 'fc', ['p', 'W'], ['y'])], inits: [W] }), 'sm', 'Softmax', /only as the last node/);
    expectUnsupported(build({ nodes: [node('Relu', 'r', ['x'], ['h']), node('Add', 'plus', ['h', 'b'], ['z']), node('Gemm', 'fc', ['z', 'W'], ['y'])], inits: [W, B] }), 'plus', 'Add', /only as the bias of the MatMul or Gemm right before it/);
    expectUnsupported(build({ nodes: [node('Gemm', 'fc', ['x', 'W'], ['h']), node('Gelu', 'g', ['h'], ['y'])], inits: [W], opset: 20 }), 'g', 'Gelu', /erf form/);
  });

  it('a chain that starts with an activation (normcore’s first layer is Dense, BatchNorm or Normalization), even one declaring 2³¹−1 features', () => {
    expectUnsupported(build({ nodes: [node('Relu', 'r', ['x'], ['h']), node('Gemm', 'fc', ['h', 'W'], ['y'])], inits: [W] }), 'r', 'Relu', /normcore's first layer is a Dense, a BatchNorm or a Normalization/);
    expectUnsupported(build({ nodes: [node('Relu', 'r', ['x'], ['y'])], inputDims: ['N', 2147483647] }), 'r', 'Relu', /first layer is a Dense, a BatchNorm or a Normalization/);
  });

  it('two graph inputs; a rank-4 input with no Flatten', () => {
    const e = errorOf(build({ nodes: [node('Gemm', 'fc', ['x', 'W'], ['y'])], inits: [W], extraInputs: ['x2'] }));
    expect(e).toMatchObject({ code: 'ONNX_UNSUPPORTED' });
    expect(e.message).toMatch(/the graph has 2 inputs \(x, x2\)/);
    expectUnsupported(build({ nodes: [node('Gemm', 'fc', ['x', 'W'], ['y'])], inits: [W], inputDims: ['N', 1, 1, 3] }), 'fc', 'Gemm', /rank 4.*Flatten/);
  });
});

describe('fromOnnx: broken files are ModelFormatErrors, without allocating what they declare', () => {
  it('raw_data shorter than the dims declare', () => {
    const bad = create(TensorProtoSchema, { name: 'W', dims: [3n, 2n], dataType: TensorProto_DataType.FLOAT, rawData: new Uint8Array(20) });
    expectFormat(build({ nodes: [node('Gemm', 'fc', ['x', 'W'], ['y'])], inits: [bad] }), /declares 3×2 \(6 floats, 24 bytes\) but its raw_data holds 20 bytes/);
  });

  it('huge declared dims with 4 bytes of data are refused before any allocation', () => {
    const huge = create(TensorProtoSchema, { name: 'W', dims: [1n << 40n, 1n << 40n], dataType: TensorProto_DataType.FLOAT, rawData: new Uint8Array(4) });
    expectFormat(build({ nodes: [node('Gemm', 'fc', ['x', 'W'], ['y'])], inits: [huge] }), /declares dimension 1099511627776/);
    const many = create(TensorProtoSchema, { name: 'W', dims: [65536n, 65536n], dataType: TensorProto_DataType.FLOAT, rawData: new Uint8Array(4) });
    expectFormat(build({ nodes: [node('Gemm', 'fc', ['x', 'W'], ['y'])], inits: [many] }), /more than any file this reader takes/);
    const neg = create(TensorProtoSchema, { name: 'W', dims: [-1n, 2n], dataType: TensorProto_DataType.FLOAT, rawData: new Uint8Array(8) });
    expectFormat(build({ nodes: [node('Gemm', 'fc', ['x', 'W'], ['y'])], inits: [neg] }), /declares dimension -1/);
  });

  it('external data, a double tensor, NaN weights, a negative variance', () => {
    const ext = create(TensorProtoSchema, { name: 'W', dims: [3n, 2n], dataType: TensorProto_DataType.FLOAT, dataLocation: TensorProto_DataLocation.EXTERNAL });
    expectFormat(build({ nodes: [node('Gemm', 'fc', ['x', 'W'], ['y'])], inits: [ext] }), /external file/);
    const dbl = create(TensorProtoSchema, { name: 'W', dims: [3n, 2n], dataType: TensorProto_DataType.DOUBLE, doubleData: [1, 2, 3, 4, 5, 6] });
    expectFormat(build({ nodes: [node('Gemm', 'fc', ['x', 'W'], ['y'])], inits: [dbl] }), /data type DOUBLE/);
    const nan = floatTensor('W', [3, 2], Float32Array.from([1, 2, NaN, 4, 5, 6]));
    expectFormat(build({ nodes: [node('Gemm', 'fc', ['x', 'W'], ['y'])], inits: [nan] }), /B holds NaN at index 2/);
    const stats = ['s', 'bb', 'm'].map((n) => floatTensor(n, [2], Float32Array.from([1, 1])));
    const v = floatTensor('v', [2], Float32Array.from([1, -2]));
    expectFormat(build({ nodes: [node('Gemm', 'fc', ['x', 'W'], ['h']), node('BatchNormalization', 'bn', ['h', 's', 'bb', 'm', 'v'], ['y'])], inits: [W, ...stats, v] }), /input_var holds -2 at index 1/);
  });

  it('two nodes writing one tensor; a graph with no opset; not protobuf at all; every truncation of a fixture', () => {
    expectFormat(build({ nodes: [node('Gemm', 'fc', ['x', 'W'], ['y']), node('Relu', 'r', ['x'], ['y'])], inits: [W] }), /tensor "y" is written by two nodes/);
    expectFormat(toBinary(ModelProtoSchema, create(ModelProtoSchema, { irVersion: 8n })), /has no graph/);
    expectFormat(new TextEncoder().encode('this is not an onnx file at all, just text'), /could not be parsed/);
    const bytes = fixture('pytorch-opset15-gemm-bn.onnx');
    let formats = 0;
    for (let n = 0; n < bytes.length; n++) {
      const e = errorOf(bytes.subarray(0, n));
      expect(e, `prefix of ${n} bytes`).toBeInstanceOf(NormcoreError);
      expect(['MODEL_FORMAT', 'ONNX_UNSUPPORTED']).toContain((e as NormcoreError).code);
      if ((e as NormcoreError).code === 'MODEL_FORMAT') formats++;
    }
    expect(formats).toBeGreaterThan(bytes.length / 2);
  });

  it('graphs nested in attributes 300 deep stop at the parser’s depth limit', () => {
    const varint = (n: number): number[] => { const o: number[] = []; while (n > 127) { o.push((n & 127) | 128); n >>>= 7; } o.push(n); return o; };
    const wrap = (tag: number, body: number[]): number[] => [tag, ...varint(body.length), ...body];
    // GraphProto.node (1) → NodeProto.attribute (5) → AttributeProto.g (6) → GraphProto …, in ModelProto.graph (7)
    let g: number[] = [];
    for (let i = 0; i < 300; i++) g = wrap(0x0a, wrap(0x2a, wrap(0x32, g)));
    expectFormat(Uint8Array.from(wrap(0x3a, g)), /maximum recursion depth/);
  });

  it('bad arguments are typed errors', () => {
    const ok = build({ nodes: [node('Gemm', 'fc', ['x', 'W', 'b'], ['y'])], inits: [W, B] });
    expect(() => fromOnnx([1, 2] as unknown as Uint8Array)).toThrow(/fromOnnx: bytes must be a Uint8Array, got Array\(2\)/);
    expect(() => fromOnnx(ok, { backend: 'gpu' as 'js' })).toThrow(/options\.backend must be a Backend, 'wasm' or 'js', got "gpu"/);
    expect(() => fromOnnx(ok, { seed: 1 } as object)).toThrow(/unknown option options\.seed/);
    const m = fromOnnx(ok, { backend: 'js' });
    expect(m.predict(Float32Array.from([1, 1, 1]))).toEqual(Float32Array.from([9.5, 11.5]));
    m.dispose();
  });
});
