// The layer API and training loop (issue 3), over both backends.
import { beforeAll, describe, expect, it } from 'vitest';
import { BatchNorm, createBackend, Dense, mlp, ReLU, Sequential, Sigmoid, Tanh, type Backend } from '../src/index.js';
import { loadMnist } from '../src/node/mnist.js';

/** Two Gaussian blobs per class in 8 dimensions: learnable in a few epochs. */
function blobs(rows: number, seed: number): { x: Float32Array; y: Uint8Array } {
  let s = seed >>> 0;
  const rnd = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const x = new Float32Array(rows * 8);
  const y = new Uint8Array(rows);
  for (let r = 0; r < rows; r++) {
    const c = r % 3;
    y[r] = c;
    for (let j = 0; j < 8; j++) x[r * 8 + j] = (j % 3 === c ? 2 : 0) + (rnd() - 0.5) * 1.5 + 3;
  }
  return { x, y };
}

function bnNet(be: Backend, seed = 3, hidden = 16): Sequential {
  return new Sequential([new Dense(8, hidden), new BatchNorm(hidden), new ReLU(), new Dense(hidden, 3)], { backend: be, seed });
}

describe.each(['wasm', 'js'] as const)('Sequential on the %s backend', (name) => {
  let be: Backend;
  beforeAll(async () => {
    be = await createBackend(name);
  });

  it('gives a Dense directly before BatchNorm no bias, and other Dense layers a bias', () => {
    const m = bnNet(be);
    const names = m.parameters().map((p) => p.name);
    expect(names).toEqual(['0.dense.weight', '1.batchnorm.gamma', '1.batchnorm.beta', '3.dense.weight', '3.dense.bias']);
    const explicit = new Sequential([new Dense(8, 4, { bias: true }), new BatchNorm(4), new Dense(4, 3)], { backend: be });
    expect(explicit.parameters().map((p) => p.name)).toContain('0.dense.bias');
  });

  it('mlp builds Dense → [BatchNorm] → activation stacks with the bias rule', () => {
    const bn = new Sequential(mlp({ inputs: 8, hidden: [6, 5], outputs: 3, activation: 'tanh' }), { backend: be });
    expect(bn.layers.map((l) => l.type)).toEqual(['dense', 'batchnorm', 'tanh', 'dense', 'batchnorm', 'tanh', 'dense']);
    expect(bn.parameters().map((p) => p.name)).toEqual([
      '0.dense.weight', '1.batchnorm.gamma', '1.batchnorm.beta', '3.dense.weight', '4.batchnorm.gamma', '4.batchnorm.beta', '6.dense.weight', '6.dense.bias',
    ]);
    const plain = new Sequential(mlp({ inputs: 8, hidden: [6], outputs: 3, batchNorm: false }), { backend: be });
    expect(plain.layers.map((l) => l.type)).toEqual(['dense', 'relu', 'dense']);
    expect(plain.parameters().map((p) => p.name)).toEqual(['0.dense.weight', '0.dense.bias', '2.dense.weight', '2.dense.bias']);
    expect(() => mlp({ inputs: 8, hidden: [0], outputs: 3 })).toThrow(/mlp: hidden\[0\] must be an integer ≥ 1, got 0/);
  });

  it('initializes He before ReLU and Glorot before sigmoid/tanh, seeded', () => {
    const he = new Sequential([new Dense(400, 300), new ReLU(), new Dense(300, 2)], { backend: be, seed: 7 });
    const w = he.parameters()[0]!.value;
    const std = Math.sqrt(w.reduce((a, v) => a + v * v, 0) / w.length);
    expect(std).toBeGreaterThan(Math.sqrt(2 / 400) * 0.95);
    expect(std).toBeLessThan(Math.sqrt(2 / 400) * 1.05);
    for (const Act of [Sigmoid, Tanh]) {
      const g = new Sequential([new Dense(400, 300), new Act(), new Dense(300, 2)], { backend: be, seed: 7 });
      const gw = g.parameters()[0]!.value;
      const limit = Math.sqrt(6 / 700);
      expect(Math.max(...gw.map(Math.abs))).toBeLessThanOrEqual(limit);
      expect(Math.max(...gw.map(Math.abs))).toBeGreaterThan(limit * 0.99);
    }
    const again = new Sequential([new Dense(400, 300), new ReLU(), new Dense(300, 2)], { backend: be, seed: 7 });
    expect(again.parameters()[0]!.value).toEqual(w);
  });

  it('trains: loss falls and accuracy passes 95% on separable data, for every optimizer', async () => {
    const { x, y } = blobs(300, 1);
    for (const type of ['sgd', 'momentum', 'rmsprop', 'adam'] as const) {
      const m = bnNet(be);
      m.compile({ loss: 'softmaxCrossEntropy', optimizer: { type, lr: type === 'sgd' ? 0.1 : type === 'momentum' ? 0.05 : 0.01 } });
      const h = await m.fit(x, y, { epochs: 15, batchSize: 32, seed: 2 });
      expect(h.loss[h.loss.length - 1]!, type).toBeLessThan(h.loss[0]! * 0.5);
      expect(m.evaluate(x, y).accuracy, type).toBeGreaterThan(0.95);
    }
  });

  it('compile can switch optimizers (the arena grows or shrinks in place) and keeps the weights', async () => {
    const { x, y } = blobs(96, 7);
    const m = bnNet(be);
    m.compile({ optimizer: { type: 'sgd', lr: 0.05 } });
    await m.fit(x, y, { epochs: 2, batchSize: 16 });
    const before = m.predict(x);
    const mem = be.heap.memoryBytes;
    for (const type of ['adam', 'momentum', 'sgd', 'rmsprop'] as const) {
      m.compile({ optimizer: { type, lr: 0.01 } });
      expect(m.predict(x), type).toEqual(before);
    }
    expect(be.heap.memoryBytes).toBe(mem);
    m.compile({ optimizer: { type: 'adam', lr: 0.01 } });
    const h = await m.fit(x, y, { epochs: 3, batchSize: 16 });
    expect(h.loss[2]!).toBeLessThan(h.loss[0]!);
  });

  it('gives bit-identical weights for two runs with the same seed', async () => {
    const { x, y } = blobs(130, 5);
    const run = async () => {
      const m = bnNet(be, 11);
      m.compile({ optimizer: { type: 'adam', lr: 0.01 } });
      await m.fit(x, y, { epochs: 3, batchSize: 16, seed: 9 });
      return m.save();
    };
    expect(await run()).toEqual(await run());
  });

  it('handles the last partial batch (130 rows, batch 16: 8 full + 2 rows)', async () => {
    const { x, y } = blobs(130, 5);
    const m = bnNet(be);
    m.compile({ optimizer: { type: 'sgd', lr: 0.1 } });
    const bn = m.layers[1] as BatchNorm;
    let batches = 0;
    await m.fit(x, y, { epochs: 1, batchSize: 16, onBatchEnd: () => { batches++; } });
    expect(batches).toBe(9);
    expect(bn.numBatchesTracked).toBe(9);
    await m.fit(x, y, { epochs: 1, batchSize: 16, dropLast: true });
    expect(bn.numBatchesTracked).toBe(17);
    // 129 rows: the last batch would have one row, which batch norm cannot train on; it is dropped
    await m.fit(x.subarray(0, 129 * 8), y.subarray(0, 129), { epochs: 1, batchSize: 16 });
    expect(bn.numBatchesTracked).toBe(25);
  });

  it('predict uses running statistics: it differs from the training-mode output on the same batch', async () => {
    const { x } = blobs(64, 2);
    const m = new Sequential([new Dense(8, 6), new BatchNorm(6)], { backend: be, seed: 4 });
    m.compile({ loss: 'mse', optimizer: { type: 'sgd', lr: 1e-9 } });
    const target = new Float32Array(64 * 6);
    await m.fit(x, target, { epochs: 1, batchSize: 64, shuffle: false });
    const bn = m.layers[1] as BatchNorm;
    const { runningMean, runningVar } = bn.stateValues();
    const z = m.layerOutputs(x, [0])[0]!; // Dense output = BatchNorm input
    const pred = m.predict(x);
    const gamma = m.parameters()[1]!.value, beta = m.parameters()[2]!.value;
    // inference: (z − running mean)/sqrt(running var + eps)·γ + β, with running stats after one batch (momentum 0.1)
    let maxInf = 0, maxTrain = 0;
    for (let c = 0; c < 6; c++) {
      let mu = 0;
      for (let r = 0; r < 64; r++) mu += z[r * 6 + c]!;
      mu /= 64;
      let v = 0;
      for (let r = 0; r < 64; r++) v += (z[r * 6 + c]! - mu) ** 2;
      v /= 64;
      expect(runningMean![c]!).toBeCloseTo(0.1 * mu, 4);
      expect(runningVar![c]!).toBeCloseTo(0.9 + 0.1 * v * (64 / 63), 3);
      for (let r = 0; r < 64; r++) {
        const inf = ((z[r * 6 + c]! - runningMean![c]!) / Math.sqrt(runningVar![c]! + 1e-5)) * gamma[c]! + beta[c]!;
        const train = ((z[r * 6 + c]! - mu) / Math.sqrt(v + 1e-5)) * gamma[c]! + beta[c]!;
        maxInf = Math.max(maxInf, Math.abs(pred[r * 6 + c]! - inf));
        maxTrain = Math.max(maxTrain, Math.abs(pred[r * 6 + c]! - train));
      }
    }
    expect(maxInf).toBeLessThan(1e-3);
    expect(maxTrain).toBeGreaterThan(0.1);
  });

  it('BatchNorm with momentum null keeps the cumulative average of all batch statistics', async () => {
    const { x } = blobs(96, 3);
    const m = new Sequential([new Dense(8, 4), new BatchNorm(4, { momentum: null })], { backend: be, seed: 2 });
    m.compile({ loss: 'mse', optimizer: { type: 'sgd', lr: 1e-12 } });
    const z = m.layerOutputs(x, [0])[0]!;
    await m.fit(x, new Float32Array(96 * 4), { epochs: 1, batchSize: 32, shuffle: false });
    const { runningMean, runningVar } = (m.layers[1] as BatchNorm).stateValues();
    for (let c = 0; c < 4; c++) {
      let meanOfMeans = 0, meanOfVars = 0;
      for (let b = 0; b < 3; b++) {
        let mu = 0, v = 0;
        for (let r = b * 32; r < b * 32 + 32; r++) mu += z[r * 4 + c]!;
        mu /= 32;
        for (let r = b * 32; r < b * 32 + 32; r++) v += (z[r * 4 + c]! - mu) ** 2;
        meanOfMeans += mu / 3;
        meanOfVars += v / 31 / 3;
      }
      expect(runningMean![c]!).toBeCloseTo(meanOfMeans, 4);
      expect(runningVar![c]! / meanOfVars).toBeCloseTo(1, 4);
    }
  });

  it('save/load round trip gives identical predictions and keeps running statistics', async () => {
    const { x, y } = blobs(100, 8);
    const m = bnNet(be);
    m.compile({ optimizer: { type: 'adam', lr: 0.01 } });
    await m.fit(x, y, { epochs: 2, batchSize: 20 });
    const bytes = m.save();
    const m2 = await Sequential.load(bytes, { backend: be });
    expect(m2.predict(x)).toEqual(m.predict(x));
    expect((m2.layers[1] as BatchNorm).stateValues()).toEqual((m.layers[1] as BatchNorm).stateValues());
    expect((m2.layers[1] as BatchNorm).numBatchesTracked).toBe(10);
    expect(m2.save()).toEqual(bytes);
    await expect(Sequential.load(new TextEncoder().encode('hello, I am not a model file at all'), { backend: be })).rejects.toThrow(/not a valid normcore model file/);
  });

  it('predict returns probabilities (rows sum to 1) and evaluate agrees with them', async () => {
    const { x, y } = blobs(60, 4);
    const m = bnNet(be);
    m.compile();
    await m.fit(x, y, { epochs: 2, batchSize: 10 });
    const p = m.predict(x);
    let loss = 0, correct = 0;
    for (let r = 0; r < 60; r++) {
      const row = p.subarray(r * 3, r * 3 + 3);
      expect(row[0]! + row[1]! + row[2]!).toBeCloseTo(1, 5);
      loss -= Math.log(row[y[r]!]!);
      if (row.indexOf(Math.max(...row)) === y[r]) correct++;
    }
    const e = m.evaluate(x, y);
    expect(e.loss).toBeCloseTo(loss / 60, 4);
    expect(e.accuracy).toBeCloseTo(correct / 60, 10);
  });
});

describe('wasm and js backends', () => {
  it('follow the same loss trajectory for a fixed seed (within f32 tolerance)', async () => {
    const { x, y } = blobs(200, 6);
    const traj = async (name: 'wasm' | 'js') => {
      const m = new Sequential(
        [new Dense(8, 32), new BatchNorm(32), new Tanh(), new Dense(32, 16), new BatchNorm(16), new ReLU(), new Dense(16, 3)],
        { backend: await createBackend(name), seed: 5 },
      );
      m.compile({ optimizer: { type: 'adam', lr: 0.005 } });
      const losses: number[] = [];
      await m.fit(x, y, { epochs: 4, batchSize: 25, seed: 1, onBatchEnd: (_b, l) => { losses.push(l.loss); } });
      return losses;
    };
    const a = await traj('wasm'), b = await traj('js');
    expect(a.length).toBe(32);
    a.forEach((v, i) => expect(Math.abs(v - b[i]!) / Math.max(1e-3, Math.abs(b[i]!))).toBeLessThan(1e-3));
  });
});

describe('end to end on real MNIST digits (subset)', () => {
  it('784-64-10 with BatchNorm reaches > 85% test accuracy in 3 epochs on 2000 digits', async () => {
    const d = loadMnist({ train: 2000, test: 500, seed: 1 });
    const m = new Sequential([new Dense(784, 64), new BatchNorm(64), new ReLU(), new Dense(64, 10)], { backend: await createBackend('wasm'), seed: 1 });
    m.compile({ optimizer: { type: 'adam', lr: 0.003 } });
    const h = await m.fit(d.trainImages, d.trainLabels, { epochs: 3, batchSize: 64, validationData: [d.testImages, d.testLabels] });
    expect(h.loss[2]!).toBeLessThan(h.loss[0]!);
    expect(h.valAccuracy![2]!).toBeGreaterThan(0.85);
  });
});
