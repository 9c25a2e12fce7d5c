/**
 * ONNX image models in: Conv, BatchNormalization on NCHW, MaxPool,
 * AveragePool, GlobalAveragePool and the Transpose / Reshape / Flatten
 * around them become normcore's image layers (src/io/onnx-import-image.ts).
 *  - normcore's own exports read back as the layers they came from, and
 *    predict what the exported model predicts;
 *  - a PyTorch-style graph (an NCHW input, Flatten of NCHW channels into a
 *    Gemm) predicts what ONNX Runtime computes on it;
 *  - what does not map is refused by name.
 */
import { describe, expect, it } from 'vitest';
import { createBackend, Sequential } from '../src/index.js';
import { CNN_NETS } from './helpers/cnn-nets.js';
import { encodeModel, floatTensor, floatValueInfo, node, type AttrValue } from '../src/io/onnx-pb.js';
import { fromOnnx, onnxToLayers, OnnxUnsupportedError, toOnnx } from '../src/onnx.js';
import { runOrt, worstRelative } from './helpers/onnx.js';

const nets = CNN_NETS;

const input = (rows: number, f: number) => Float32Array.from({ length: rows * f }, (_, i) => Math.sin(i * 0.37) + 0.2 * Math.cos(i * 1.3));

describe.each(['wasm', 'js'] as const)('normcore image models out to ONNX and back in, on the %s backend', (name) => {
  it.each(nets)('%s: the imported model has the same image layers and predicts the same (≤ 1e-6)', async (_n, inputShape, make) => {
    const be = await createBackend(name);
    const m = new Sequential(make(), { backend: be, seed: 4, inputShape }).compile({ optimizer: { type: 'adam', lr: 0.01 } });
    const F = inputShape.reduce((a, b) => a * b, 1), rows = 5;
    const x = input(rows, F);
    await m.fit(x, new Uint8Array(rows).map((_, i) => i % m.outFeatures), { epochs: 2, batchSize: 5 }); // running statistics away from their initial values
    // the final Softmax is dropped on the way in: compiled with the same loss, predict gives probabilities again
    const back = fromOnnx(toOnnx(m), { backend: be }).compile({ loss: m.lossName! });
    expect(back.inputShapeOption).toEqual(inputShape);
    const kinds = (s: Sequential) => s.layers.map((l) => l.config().type).filter((t) => t !== 'dropout' && t !== 'flatten');
    expect(kinds(back)).toEqual(kinds(m));
    expect(worstRelative(back.predict(x), m.predict(x), m.outFeatures).rel).toBeLessThan(1e-6);
  });
});

// ------------------------------------------------- a PyTorch-style graph

const init = (dims: number[], seed: number) => Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(seed + i * 0.71) * 0.5);

/** input [N, 1, 9, 9] NCHW → Conv(4, 3×3, pads 1) + B → BatchNormalization → Relu → MaxPool 2 → Conv(3, 2×2, stride 2) → Flatten → Gemm(transB) */
function torchStyle(over: { conv?: Record<string, AttrValue>; pool?: Record<string, AttrValue>; inputChannels?: number } = {}): Uint8Array {
  const ci = over.inputChannels ?? 1;
  return encodeModel({
    irVersion: 8, opset: 15, producerVersion: 'test', docString: '', graphName: 'torch',
    inputs: [floatValueInfo('x', ['N', ci, 9, 9])],
    outputs: [floatValueInfo('y', ['N', 5])],
    initializers: [
      floatTensor('c1.w', [4, ci, 3, 3], init([4, ci, 3, 3], 1)), floatTensor('c1.b', [4], init([4], 2)),
      floatTensor('bn.s', [4], Float32Array.from([1.1, 0.9, 1.3, 0.7])), floatTensor('bn.b', [4], Float32Array.from([0.1, -0.2, 0.05, 0])),
      floatTensor('bn.m', [4], Float32Array.from([0.2, -0.1, 0.3, 0.05])), floatTensor('bn.v', [4], Float32Array.from([1.5, 0.8, 2.1, 0.6])),
      floatTensor('c2.w', [3, 4, 2, 2], init([3, 4, 2, 2], 3)),
      floatTensor('fc.w', [5, 3 * 2 * 2], init([5, 12], 4)), floatTensor('fc.b', [5], init([5], 5)),
    ],
    nodes: [
      node('Conv', 'conv1', ['x', 'c1.w', 'c1.b'], ['h1'], over.conv ?? { kernel_shape: { ints: [3, 3] }, pads: { ints: [1, 1, 1, 1] } }),
      node('BatchNormalization', 'bn1', ['h1', 'bn.s', 'bn.b', 'bn.m', 'bn.v'], ['h2'], { epsilon: 1e-5 }),
      node('Relu', 'relu1', ['h2'], ['h3']),
      node('MaxPool', 'pool1', ['h3'], ['h4'], over.pool ?? { kernel_shape: { ints: [2, 2] }, strides: { ints: [2, 2] } }),
      node('Conv', 'conv2', ['h4', 'c2.w'], ['h5'], { kernel_shape: { ints: [2, 2] }, strides: { ints: [2, 2] } }),
      node('Flatten', 'flatten', ['h5'], ['h6'], { axis: { int: 1 } }),
      node('Gemm', 'fc', ['h6', 'fc.w', 'fc.b'], ['y'], { transB: { int: 1 } }),
    ],
  });
}

describe('a PyTorch-style graph: NCHW input, Flatten of NCHW channels into a Gemm', () => {
  it.each(['wasm', 'js'] as const)('predicts what ONNX Runtime computes (≤ 1e-5), on the %s backend', async (name) => {
    const onnx = torchStyle();
    const { layers, inputShape } = onnxToLayers(onnx);
    expect(inputShape).toEqual([9, 9, 1]);
    expect(layers.map((l) => l.type)).toEqual(['conv2d', 'batchnorm2d', 'relu', 'maxpool2d', 'conv2d', 'flatten', 'dense']);
    expect(layers[0]).toMatchObject({ padding: 1, kernelSize: 3, bias: true });
    const m = fromOnnx(onnx, { backend: await createBackend(name) });
    const rows = 3, x = input(rows, 81);
    const want = await runOrt(onnx, x, rows, [rows, 1, 9, 9]);
    expect(worstRelative(m.predict(x), want, 5).rel).toBeLessThan(1e-5);
  });

  it('reads auto_pad SAME_UPPER (for a 3×3 kernel at stride 1: the windows of padding 1)', async () => {
    const onnx = torchStyle({ conv: { kernel_shape: { ints: [3, 3] }, auto_pad: 'SAME_UPPER' } });
    expect(onnxToLayers(onnx).layers[0]).toMatchObject({ padding: 1 });
    const m = fromOnnx(onnx, { backend: await createBackend('js') });
    const x = input(2, 81);
    expect(worstRelative(m.predict(x), await runOrt(onnx, x, 2, [2, 1, 9, 9]), 5).rel).toBeLessThan(1e-5);
  });
});

describe('what does not map is refused by name', () => {
  const refused = (onnx: Uint8Array, node: string, why: RegExp) => {
    let err: unknown;
    try { onnxToLayers(onnx); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(OnnxUnsupportedError);
    expect((err as OnnxUnsupportedError).node).toBe(node);
    expect((err as Error).message).toMatch(why);
  };
  it('a grouped or dilated Conv', () => {
    refused(torchStyle({ conv: { kernel_shape: { ints: [3, 3] }, pads: { ints: [1, 1, 1, 1] }, group: { int: 2 } } }), 'conv1', /group 2/);
    refused(torchStyle({ conv: { kernel_shape: { ints: [3, 3] }, pads: { ints: [1, 1, 1, 1] }, dilations: { ints: [2, 2] } } }), 'conv1', /dilations \[2, 2\]/);
  });
  it('pads normcore cannot express (2 before, 0 after)', () => {
    refused(torchStyle({ conv: { kernel_shape: { ints: [3, 3] }, pads: { ints: [2, 2, 0, 0] } } }), 'conv1', /pads \[2, 2, 0, 0\]/);
  });
  it('a padded or ceil-mode pooling window', () => {
    refused(torchStyle({ pool: { kernel_shape: { ints: [2, 2] }, strides: { ints: [2, 2] }, pads: { ints: [1, 1, 1, 1] } } }), 'pool1', /not padded/);
    refused(torchStyle({ pool: { kernel_shape: { ints: [2, 2] }, strides: { ints: [2, 2] }, ceil_mode: { int: 1 } } }), 'pool1', /ceil_mode 1/);
  });
  it('an NCHW input of more than one channel, whose order is not normcore\'s', () => {
    expect(() => onnxToLayers(torchStyle({ inputChannels: 3 }))).toThrow(/NCHW image of 3 channels; normcore's rows are NHWC/);
  });
});
