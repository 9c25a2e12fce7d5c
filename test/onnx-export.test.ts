/**
 * toOnnx (issue 14): every exported model runs in ONNX Runtime (onnxruntime-node,
 * CPU) and agrees with `predict` to 1e-5 relative, for each layer type, both
 * backends, MNIST digits and random inputs, several opsets; fromOnnx(toOnnx(m))
 * predicts bit for bit as m.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BatchNorm, createBackend, Dense, encodeModelFile, loadMnist, mlp, ModelFormatError, NORMCORE_VERSION, NormcoreError, ReLU, Sequential, Sigmoid, Tanh,
  type LossName,
} from '../src/node/index.js';
import { fromOnnx, toOnnx } from '../src/onnx.js';
import { decodeModel } from '../src/io/onnx-pb.js';
import { layerFromConfig } from '../src/model/layer-table.js';
import { measured, record, runOrt, worstRelative } from './helpers/onnx.js';
import { rng } from './fixtures/data.js';

const TOL = 1e-5;
const BACKENDS = ['wasm', 'js'] as const;
const mnist = loadMnist({ train: 600, test: 200, seed: 3 });

beforeAll(async () => {
  // the tests name backends by string ('wasm', 'js'), which needs each loaded once
  await createBackend('wasm');
  await createBackend('js');
});

afterAll(() => {
  console.log(`worst relative disagreement with ONNX Runtime in onnx-export: ${measured.rel.toExponential(2)} (${measured.what}); element by element ${measured.elementwise.toExponential(2)}`);
});

function uniform(n: number, seed: number, scale = 2): Float32Array {
  const u = rng(seed);
  return Float32Array.from({ length: n }, () => (u() * 2 - 1) * scale);
}

async function agrees(onnx: Uint8Array, expected: Float32Array, x: Float32Array, rows: number, what: string): Promise<void> {
  const got = await runOrt(onnx, x, rows);
  const r = worstRelative(got, expected, expected.length / rows);
  const { rel, index } = r;
  record(r, what);
  expect(rel, `${what}: ONNX Runtime ${got[index]} vs predict ${expected[index]} at ${index}`).toBeLessThanOrEqual(TOL);
}

describe.each(BACKENDS)('toOnnx on the %s backend', (backend) => {
  let digits: Sequential;
  let random: Sequential;
  const xr = uniform(64 * 5, 11);

  beforeAll(async () => {
    // MNIST: Dense (no bias) → BatchNorm → ReLU ×2, Dense → softmax; trained one epoch.
    digits = new Sequential(mlp({ inputs: 784, hidden: [32, 16], outputs: 10 }), { backend, seed: 4 });
    digits.compile({ optimizer: { type: 'adam', lr: 0.01 } });
    await digits.fit(mnist.trainImages, mnist.trainLabels, { epochs: 1, batchSize: 32 });
    // Random inputs, mse: every other layer option (bias, affine false, momentum null, sigmoid, tanh).
    random = new Sequential([
      new Dense(5, 7, { bias: true }), new BatchNorm(7, { affine: false, momentum: null, eps: 1e-3 }), new Sigmoid(),
      new Dense(7, 6, { bias: false }), new Tanh(), new Dense(6, 4), new BatchNorm(4, { momentum: 0.3 }), new ReLU(), new Dense(4, 3),
    ], { backend, seed: 9 });
    random.compile({ loss: 'mse', optimizer: { type: 'sgd', lr: 0.05 } });
    await random.fit(xr, uniform(64 * 3, 12, 1), { epochs: 3, batchSize: 16 });
  });

  afterAll(() => {
    digits.dispose();
    random.dispose();
  });

  it.each([9, 13, 15, 21])('MNIST digits: ONNX Runtime gives predict’s probabilities at opset %i', async (opset) => {
    await agrees(toOnnx(digits, { opset }), digits.predict(mnist.testImages), mnist.testImages, 200, `${backend} MNIST opset ${opset}`);
  });

  it('MNIST digits with softmax: false: ONNX Runtime gives the logits', async () => {
    const logits = digits.layerOutputs(mnist.testImages, [digits.layers.length - 1])[0]!;
    await agrees(toOnnx(digits, { softmax: false }), logits, mnist.testImages, 200, `${backend} MNIST logits`);
  });

  it('the batch dimension is dynamic: one row and 64 rows run on the same file', async () => {
    const onnx = toOnnx(digits);
    await agrees(onnx, digits.predict(mnist.testImages.subarray(0, 784)), mnist.testImages.subarray(0, 784), 1, `${backend} MNIST one row`);
    await agrees(onnx, digits.predict(mnist.testImages.subarray(0, 64 * 784)), mnist.testImages.subarray(0, 64 * 784), 64, `${backend} MNIST 64 rows`);
  });

  it.each([9, 15])('random inputs, every layer option (mse, raw outputs) at opset %i', async (opset) => {
    const x = uniform(50 * 5, 13, 3);
    await agrees(toOnnx(random, { opset }), random.predict(x), x, 50, `${backend} random opset ${opset}`);
  });

  it.each([['digits', 'softmaxCrossEntropy'], ['random', 'mse']] as const)('round trip: fromOnnx(toOnnx(%s)) predicts bit for bit the same', (which, loss: LossName) => {
    const m = which === 'digits' ? digits : random;
    const x = which === 'digits' ? mnist.testImages : uniform(30 * 5, 14);
    const back = fromOnnx(toOnnx(m), { backend });
    try {
      expect(back.layers.map((l) => l.type)).toEqual(m.layers.map((l) => l.type));
      expect(back.lossName).toBeUndefined();
      back.compile({ loss });
      expect(back.predict(x)).toEqual(m.predict(x));
    } finally {
      back.dispose();
    }
  });
});

describe('toOnnx: the file', () => {
  it('names the producer, carries normcore’s version, a named input with a dynamic batch dimension and the opset asked for', async () => {
    await createBackend('wasm');
    const m = new Sequential(mlp({ inputs: 4, hidden: [3], outputs: 2 }));
    m.compile({});
    const p = decodeModel(toOnnx(m, { opset: 13, inputName: 'pixels' }));
    m.dispose();
    expect(p.producerName).toBe('normcore');
    expect(p.producerVersion).toBe(NORMCORE_VERSION);
    expect(p.docString).toContain(`normcore ${NORMCORE_VERSION}`);
    expect(p.opsetImport.map((s) => [s.domain, Number(s.version)])).toEqual([['', 13]]);
    expect(Number(p.irVersion)).toBe(7);
    const input = p.graph!.input[0]!;
    expect(input.name).toBe('pixels');
    const t = input.type!.value;
    expect(t.case).toBe('tensorType');
    if (t.case === 'tensorType') expect(t.value.shape!.dim.map((d) => d.value.value)).toEqual(['N', 4n]);
    expect(p.graph!.node.map((n) => n.opType)).toEqual(['MatMul', 'BatchNormalization', 'Relu', 'Gemm', 'Softmax']);
    const bn = p.graph!.node[1]!;
    // momentum 0.1 (PyTorch convention) is ONNX's 0.9; epsilon as given; training_mode left at its default 0
    expect(bn.attribute.find((a) => a.name === 'momentum')!.f).toBeCloseTo(0.9, 6);
    expect(bn.attribute.find((a) => a.name === 'epsilon')!.f).toBeCloseTo(1e-5, 10);
    expect(bn.attribute.find((a) => a.name === 'training_mode')).toBeUndefined();
  });

  it('NORMCORE_VERSION is package.json’s version', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(NORMCORE_VERSION).toBe(pkg.version);
  });

  it('an uncompiled or mse model ends without Softmax; a model file’s bytes export like the model', async () => {
    const m = new Sequential([new Dense(3, 2)], { backend: 'js' });
    const fromModel = toOnnx(m);
    expect(decodeModel(fromModel).graph!.node.map((n) => n.opType)).toEqual(['Gemm']);
    expect(toOnnx(m.save())).toEqual(fromModel);
    m.dispose();
  });

  it('bad options are typed errors naming the option', () => {
    const m = new Sequential([new Dense(3, 2)], { backend: 'js' });
    expect(() => toOnnx(m, { opset: 8 })).toThrow(/options\.opset must be an integer in \[9, 21\], got 8/);
    expect(() => toOnnx(m, { opset: 15.5 })).toThrow(RangeError);
    expect(() => toOnnx(m, { opset: '15' as unknown as number })).toThrow(TypeError);
    expect(() => toOnnx(m, { opset: 22 })).toThrow(/options\.opset must be an integer in \[9, 21\], got 22/);
    expect(() => toOnnx(m, { softmax: 'no' as unknown as boolean })).toThrow(TypeError);
    expect(() => toOnnx(m, { inputName: '' })).toThrow(/options\.inputName/);
    expect(() => toOnnx(m, { opset: 15, extra: 1 } as unknown as object)).toThrow(/unknown option options\.extra/);
    expect(() => toOnnx({} as Sequential)).toThrow(/model must be a Sequential or model-file bytes/);
    expect(() => toOnnx(new Uint8Array(3))).toThrow(ModelFormatError);
    expect(() => toOnnx(new Uint8Array(3))).toThrow(/^toOnnx: not a valid normcore model file: 3 bytes is shorter/);
    const unknown = encodeModelFile({ kind: 'normcore-sequential', seed: 1, compile: null, layers: [{ type: 'conv9d', features: 2 }] }, new Float32Array(0));
    expect(() => toOnnx(unknown)).toThrow(/layer 0 has type "conv9d", which has no ONNX mapping \(mapped: dense, batchnorm, normalization, relu, sigmoid, tanh, leakyrelu, gelu, conv2d, batchnorm2d, maxpool2d, avgpool2d, globalavgpool2d, flatten, dropout\)/);
    m.dispose();
  });
});

// LeakyReLU and GELU are being added to normcore by other work; their configs are
// { type: 'leakyrelu', features, alpha } and { type: 'gelu', features } (tanh
// approximation). The export reads model files, so a file holding them is built by
// hand and ONNX Runtime is checked against the formulas, computed here in f64.
describe('toOnnx: LeakyReLU and GELU (layer types newer than this build)', () => {
  const W1 = uniform(4 * 5, 21, 0.8), b1 = uniform(5, 22, 0.5), W2 = uniform(5 * 3, 23, 0.8);
  const file = encodeModelFile({
    kind: 'normcore-sequential', seed: 1, compile: null,
    layers: [
      { type: 'dense', inFeatures: 4, outFeatures: 5, bias: true, init: 'auto' },
      { type: 'leakyrelu', features: 5, alpha: 0.2 },
      { type: 'dense', inFeatures: 5, outFeatures: 3, bias: false, init: 'auto' },
      { type: 'gelu', features: 3 },
    ],
  }, Float32Array.from([...W1, ...b1, ...W2]));

  function reference(x: Float32Array, rows: number): Float32Array {
    const out = new Float32Array(rows * 3);
    for (let r = 0; r < rows; r++) {
      const h = Array.from({ length: 5 }, (_, j) => {
        let s = b1[j]!;
        for (let i = 0; i < 4; i++) s += x[r * 4 + i]! * W1[i * 5 + j]!;
        return s >= 0 ? s : 0.2 * s;
      });
      for (let j = 0; j < 3; j++) {
        let s = 0;
        for (let i = 0; i < 5; i++) s += h[i]! * W2[i * 3 + j]!;
        out[r * 3 + j] = 0.5 * s * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (s + 0.044715 * s ** 3)));
      }
    }
    return out;
  }

  it('opset 20: LeakyRelu(alpha) and Gelu(approximate=tanh) compute the formulas in ONNX Runtime', async () => {
    const x = uniform(40 * 4, 24, 2);
    const onnx = toOnnx(file, { opset: 20 });
    expect(decodeModel(onnx).graph!.node.map((n) => n.opType)).toEqual(['Gemm', 'LeakyRelu', 'MatMul', 'Gelu']);
    await agrees(onnx, reference(x, 40), x, 40, 'LeakyReLU + GELU formulas');
  });

  it('GELU below opset 20 is a RangeError naming options.opset (the decision: no hand-expanded formula)', () => {
    expect(() => toOnnx(file, { opset: 15 })).toThrow(/GELU.*opset 20.*pass \{ opset: 20 \}/);
  });

  it('fromOnnx maps them back once this build has the layers, and refuses them by node name until then', () => {
    const onnx = toOnnx(file, { opset: 20 });
    let hasLeaky = true;
    try { layerFromConfig({ type: 'leakyrelu', features: 5, alpha: 0.2 } as never); } catch { hasLeaky = false; }
    if (hasLeaky) {
      const m = fromOnnx(onnx, { backend: 'js' });
      expect(m.layers.map((l) => l.type)).toEqual(['dense', 'leakyrelu', 'dense', 'gelu']);
      const x = uniform(10 * 4, 25, 2);
      expect(worstRelative(m.predict(x), reference(x, 10), 3).rel).toBeLessThanOrEqual(TOL);
      m.dispose();
    } else {
      let err: unknown;
      try { fromOnnx(onnx, { backend: 'js' }); } catch (e) { err = e; }
      expect(err).toBeInstanceOf(NormcoreError);
      expect(err).toMatchObject({ code: 'ONNX_UNSUPPORTED', node: 'leakyrelu_1', opType: 'LeakyRelu' });
      expect((err as Error).message).toMatch(/node "leakyrelu_1" \(LeakyRelu\).*leakyrelu layer, which this build of normcore does not have/);
    }
  });
});
