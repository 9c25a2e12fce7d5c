/**
 * Issue 12's layers through the public API on both backends: Conv2d,
 * BatchNorm2d, MaxPool2d, AvgPool2d, GlobalAvgPool2d, Flatten, Dropout.
 * Model-level finite-difference gradients (odd sizes, stride 2, 'same' and
 * 'valid', 1×1 kernels, channels 1 and 3), wasm–js parity, save/load, shape
 * errors, Dropout's statistics and determinism, and BatchNorm2d against
 * BatchNorm on the same values reshaped. The kernels' own formulas and
 * parity are in conv-kernels.test.ts.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  BatchNorm, createBackend, decodeModelFile, Dense, Dropout, encodeModelFile, ReLU, Sequential, Tanh, type Backend, type Layer,
} from '../src/index.js';
import { AvgPool2d, BatchNorm2d, Conv2d, Flatten, GlobalAvgPool2d, MaxPool2d } from '../src/cnn.js';
import { maxAbsDiff } from './helpers/compare.js';

const ROWS = 6;
const K = 3;
const inputs = (shape: number[], rows = ROWS) => new Float32Array(rows * shape.reduce((a, b) => a * b, 1)).map((_, i) => Math.sin(i * 1.37 + 0.4) * 1.2);
const labels = (rows = ROWS) => new Uint8Array(rows).map((_, i) => (i * 7) % K);

/** Stacks for the gradient checks: [name, input shape, layers]. Tanh instead of ReLU keeps the loss smooth at the perturbed weights. */
const STACKS: Array<[string, number[], () => Layer[]]> = [
  ['conv 3×3 stride 2 same, 3 channels, odd 7×5 → flatten → dense', [7, 5, 3], () => [new Conv2d(3, 4, 3, { stride: 2, padding: 'same', bias: true }), new Tanh(), new Flatten(), new Dense(4 * 3 * 4, K)]],
  ['conv 3×3 valid, 1 channel, odd 5×7 → avgpool 2 → flatten → dense', [5, 7, 1], () => [new Conv2d(1, 3, 3), new Tanh(), new AvgPool2d(2), new Flatten(), new Dense(1 * 2 * 3, K)]],
  ['conv 1×1 (direct matmul) → maxpool 2 stride 1 → global avg pool → dense', [4, 3, 3], () => [new Conv2d(3, 5, 1), new Tanh(), new MaxPool2d(2, { stride: 1 }), new GlobalAvgPool2d(), new Dense(5, K)]],
  ['conv 2×2 stride 2 padding 1 → conv 3×3 same → flatten → dense', [5, 5, 2], () => [new Conv2d(2, 3, 2, { stride: 2, padding: 1 }), new Tanh(), new Conv2d(3, 2, 3, { padding: 'same' }), new Flatten(), new Dense(3 * 3 * 2, K)]],
  ['conv (no bias) → BatchNorm2d → maxpool → flatten → dense', [6, 5, 1], () => [new Conv2d(1, 4, 3, { padding: 'same' }), new BatchNorm2d(4), new Tanh(), new MaxPool2d(2), new Flatten(), new Dense(3 * 2 * 4, K)]],
  ['BatchNorm2d without affine, momentum null, 3 channels → global avg pool → dense', [3, 5, 3], () => [new Conv2d(3, 3, 3, { padding: 'same' }), new BatchNorm2d(3, { affine: false, momentum: null }), new Tanh(), new GlobalAvgPool2d(), new Dense(3, K)]],
  ['dense → Dropout (an MLP) → dense', [7], () => [new Dense(7, 9, { bias: true }), new Tanh(), new Dropout(0.4), new Dense(9, K)]],
  ['conv → Dropout on images → flatten → dense', [4, 4, 2], () => [new Conv2d(2, 3, 3, { padding: 'same' }), new Tanh(), new Dropout(0.25), new Flatten(), new Dense(48, K)]],
];

describe.each(['wasm', 'js'] as const)('CNN layers on the %s backend', (name) => {
  let be: Backend;
  beforeAll(async () => {
    be = await createBackend(name);
  });

  describe.each(STACKS)('%s', (_label, shape, make) => {
    it('the gradients of a training step match finite differences of the training loss', async () => {
      const x = inputs(shape), y = labels();
      const m = new Sequential(make(), { backend: be, seed: 3, inputShape: shape }).compile({ loss: 'softmaxCrossEntropy', optimizer: { type: 'sgd', lr: 1e-30 } });
      const file = decodeModelFile(m.save());
      // One full batch at these weights: its gradients (an lr of 1e-30 leaves the weights as they were) …
      await m.fit(x, y, { epochs: 1, batchSize: ROWS, shuffle: false });
      const grads = Float32Array.from(m.parameters().flatMap((p) => Array.from(p.grad)));
      // … and the loss of the same training step (batch statistics, the same dropout mask) at perturbed weights.
      const lossAt = async (w: Float32Array) => (await (await Sequential.load(encodeModelFile(file.header, w), { backend: be })).fit(x, y, { epochs: 1, batchSize: ROWS, shuffle: false })).loss[0]!;
      // Where each parameter sits in the file's weights (each layer's params, then its file state: running statistics).
      const at: number[] = [];
      let w = 0;
      for (const l of m.layers) {
        for (const p of l.paramSpecs()) for (let j = 0; j < p.size; j++) at.push(w++);
        for (const s of l.stateSpecs()) if (s.inFile !== false) w += s.size;
      }
      expect(at.length).toBe(grads.length);
      expect(w).toBe(file.weights.length);
      const nParams = grads.length;
      const h = 1e-3;
      const picks = [...new Set(Array.from({ length: 16 }, (_, j) => Math.floor((j * (nParams - 1)) / 15)))];
      for (const i of picks) {
        const plus = Float32Array.from(file.weights), minus = Float32Array.from(file.weights);
        plus[at[i]!]! += h;
        minus[at[i]!]! -= h;
        const fd = ((await lossAt(plus)) - (await lossAt(minus))) / (plus[at[i]!]! - minus[at[i]!]!);
        expect(Math.abs(fd - grads[i]!), `parameter ${i} of ${nParams}: fd ${fd}, backward ${grads[i]}`).toBeLessThan(2e-3 + 2e-2 * Math.abs(fd));
      }
    });

    it('saves and loads: the same predictions, the same bytes, the input shape in the header', async () => {
      const x = inputs(shape);
      const m = new Sequential(make(), { backend: be, seed: 5, inputShape: shape }).compile({ loss: 'softmaxCrossEntropy', optimizer: { type: 'adam', lr: 0.01 } });
      await m.fit(x, labels(), { epochs: 2, batchSize: 3, shuffle: true, seed: 2 });
      const bytes = m.save();
      expect((decodeModelFile(bytes).header as { inputShape?: number[] }).inputShape).toEqual(shape);
      const back = await Sequential.load(bytes, { backend: be });
      expect(back.inputShape).toEqual(shape);
      expect(back.shapes).toEqual(m.shapes);
      expect(maxAbsDiff(back.predict(x), m.predict(x))).toBe(0);
      expect(back.save()).toEqual(bytes);
    });
  });

  it('summary shows each layer\'s output shape', () => {
    const m = new Sequential([new Conv2d(1, 8, 3, { padding: 'same' }), new BatchNorm2d(8), new ReLU(), new MaxPool2d(2), new Flatten(), new Dense(14 * 14 * 8, 10)], { backend: be, inputShape: [28, 28, 1] });
    const s = m.summary();
    expect(s).toMatch(/conv2d 3×3 same\s+28×28×1 → 28×28×8\s+72/);
    expect(s).toMatch(/maxpool2d 2\s+28×28×8 → 14×14×8/);
    expect(s).toMatch(/flatten\s+14×14×8 → 1568/);
    expect(m.shapes.at(-1)).toEqual([10]);
    // Conv2d before a BatchNorm2d has no bias, and He initialization for the ReLU after it
    expect(m.parameters().map((p) => p.name)).toEqual(['0.conv2d.weight', '1.batchnorm2d.gamma', '1.batchnorm2d.beta', '5.dense.weight', '5.dense.bias']);
    const w = m.parameters()[0]!.value;
    const std = Math.sqrt(w.reduce((a, v) => a + v * v, 0) / w.length);
    expect(std).toBeGreaterThan(Math.sqrt(2 / 9) * 0.75);
    expect(std).toBeLessThan(Math.sqrt(2 / 9) * 1.25);
  });

  it('refuses shapes that do not fit, naming the layer and what it expected', () => {
    const img = { backend: be, inputShape: [8, 8, 1] };
    expect(() => new Sequential([new Conv2d(1, 2, 3), new Dense(72, 2)], img)).toThrow(/layers\[1\] \(dense\) takes a flat input of features, but the previous layer outputs the shape \[6, 6, 2\]; put a Flatten\(\) before it/);
    expect(() => new Sequential([new Conv2d(3, 2, 3)], img)).toThrow(/layers\[0\] \(conv2d\) expects 3 input channels, but its input has the shape \[8, 8, 1\]/);
    expect(() => new Sequential([new Conv2d(1, 2, 3)], { backend: be })).toThrow(/first layer must be Dense or BatchNorm.*options\.inputShape/);
    expect(() => new Sequential([new Conv2d(1, 2, 9)], img)).toThrow(/layers\[0\] \(conv2d\).*kernel size 9 must fit/);
    expect(() => new Sequential([new MaxPool2d(9)], img)).toThrow(/layers\[0\] \(maxpool2d\).*window size 9 must be ≤ the input size 8/);
    expect(() => new Sequential([new Dense(4, 2), new ReLU(), new MaxPool2d(2)], { backend: be })).toThrow(/layers\[2\] \(maxpool2d\) takes images \[H, W, C\], but the previous layer has the shape \[2\]/);
    expect(() => new Sequential([new Flatten()], { backend: be, inputShape: [0, 3] })).toThrow(/options\.inputShape must be a non-empty array of integers ≥ 1/);
    expect(() => new Sequential([new BatchNorm2d(2)], img)).toThrow(/expects 2 input channels/);
    expect(() => new Conv2d(1, 2, 3, { padding: 3 })).toThrow(/options\.padding must be 'valid', 'same' or an integer in \[0, 2\], got 3/);
    expect(() => new Conv2d(1, 2, 3, { stride: 0 })).toThrow(/Conv2d: options\.stride/);
    expect(() => new Dropout(1)).toThrow(/Dropout: rate must be in \[0, 1\)/);
    try {
      new Sequential([new Conv2d(1, 2, 3), new Dense(72, 2)], img);
    } catch (e) {
      expect((e as { code?: string }).code).toBe('SHAPE_MISMATCH');
    }
  });

  it('MLP files carry no input shape, and a model given a 1-D inputShape records it', async () => {
    const plain = new Sequential([new Dense(4, 3), new ReLU(), new Dense(3, 2)], { backend: be });
    expect('inputShape' in (decodeModelFile(plain.save()).header as object)).toBe(false);
    const given = new Sequential([new ReLU(), new Dense(4, 2)], { backend: be, inputShape: [4] });
    expect((decodeModelFile(given.save()).header as { inputShape?: number[] }).inputShape).toEqual([4]);
    expect((await Sequential.load(given.save(), { backend: be })).inputShape).toEqual([4]);
  });

  it('BatchNorm2d is BatchNorm over the N·H·W pixels: the same outputs, gradients and running statistics', async () => {
    const [H, W, C, N] = [3, 5, 4, 6];
    const x = inputs([H, W, C], N);
    const target = new Float32Array(x.length).map((_, i) => Math.cos(i * 0.61));
    const opts = { eps: 1e-3, momentum: 0.3 };
    const a = new Sequential([new BatchNorm2d(C, opts)], { backend: be, inputShape: [H, W, C] }).compile({ loss: 'mse', optimizer: { type: 'sgd', lr: 0.1 } });
    const b = new Sequential([new BatchNorm(C, opts)], { backend: be }).compile({ loss: 'mse', optimizer: { type: 'sgd', lr: 0.1 } });
    // The same values: N images of H·W pixels, or N·H·W rows of C features (mse is the mean over every value either way).
    const ha = await a.fit(x, target, { epochs: 3, batchSize: N, shuffle: false });
    const hb = await b.fit(x, target, { epochs: 3, batchSize: N * H * W, shuffle: false });
    ha.loss.forEach((l, i) => expect(Math.abs(l - hb.loss[i]!)).toBeLessThan(1e-6 * Math.max(1, Math.abs(l))));
    a.parameters().forEach((p, i) => {
      expect(maxAbsDiff(p.value, b.parameters()[i]!.value), p.name).toBeLessThan(1e-6);
      expect(maxAbsDiff(p.grad, b.parameters()[i]!.grad), p.name).toBeLessThan(1e-6);
    });
    const [sa, sb] = [decodeModelFile(a.save()).weights, decodeModelFile(b.save()).weights];
    expect(maxAbsDiff(sa, sb)).toBeLessThan(1e-6);
    expect(maxAbsDiff(a.predict(x), b.predict(x))).toBeLessThan(1e-5);
  });

  it('fusing BatchNorm2d with the ReLU after it changes no bit', async () => {
    const shape = [6, 6, 2];
    const make = () => [new Conv2d(2, 4, 3, { padding: 'same' }), new BatchNorm2d(4), new ReLU(), new GlobalAvgPool2d(), new Dense(4, K)];
    const x = inputs(shape, 8), y = labels(8);
    const run = async (fuse: boolean) => {
      const m = new Sequential(make(), { backend: be, inputShape: shape, fuse, seed: 9 }).compile({ loss: 'softmaxCrossEntropy', optimizer: { type: 'adam', lr: 0.01 } });
      await m.fit(x, y, { epochs: 2, batchSize: 4, shuffle: false });
      return m.save();
    };
    expect(await run(true)).toEqual(await run(false));
  });

  describe('Dropout', () => {
    it('drops about `rate` of the units in training, scales the rest by 1/(1 − rate), and is the identity in inference', async () => {
      const F = 3, H = 4000, rate = 0.3;
      const m = new Sequential([new Dense(F, H, { bias: true }), new Dropout(rate), new Dense(H, 1, { bias: false, init: 'glorot' })], { backend: be, seed: 2 })
        .compile({ loss: 'mse', optimizer: { type: 'sgd', lr: 1e-30 } });
      const x = Float32Array.of(0.5, -1, 2);
      await m.fit(x, Float32Array.of(1), { epochs: 1, batchSize: 1 });
      // d loss / d (first bias)_j = 0 for a dropped unit j, else (1/(1 − rate))·w2_j·d loss/d out
      const [, b1, w2] = m.parameters();
      let dropped = 0;
      let ratio = NaN;
      for (let j = 0; j < H; j++) {
        if (b1!.grad[j] === 0) dropped++;
        else if (Number.isNaN(ratio)) ratio = b1!.grad[j]! / w2!.value[j]!;
        else expect(Math.abs(b1!.grad[j]! / w2!.value[j]! - ratio)).toBeLessThan(1e-4 * Math.abs(ratio));
      }
      // binomial(4000, 0.3): sd 29 → 5 sd
      expect(Math.abs(dropped - rate * H)).toBeLessThan(145);
      // inference: the same network without the layer
      const file = decodeModelFile(m.save());
      const plain = new Sequential([new Dense(F, H, { bias: true }), new Dense(H, 1, { bias: false })], { backend: be });
      const same = await Sequential.load(encodeModelFile(decodeModelFile(plain.save()).header, file.weights), { backend: be });
      expect(maxAbsDiff(m.predict(x), same.predict(x))).toBe(0);
      expect(maxAbsDiff(m.predict(x), m.predict(x))).toBe(0);
    });

    it('is seeded by the model: the same seed gives byte-identical files, another seed other masks; each step draws anew', async () => {
      const shape = [4, 4, 2];
      const x = inputs(shape, 12), y = labels(12);
      const run = async (seed: number, epochs = 2) => {
        const m = new Sequential([new Conv2d(2, 3, 3, { padding: 'same' }), new ReLU(), new Dropout(0.5), new Flatten(), new Dense(48, K)], { backend: be, inputShape: shape, seed })
          .compile({ loss: 'softmaxCrossEntropy', optimizer: { type: 'adam', lr: 0.01 } });
        await m.fit(x, y, { epochs, batchSize: 4, shuffle: true, seed: 1 });
        return m;
      };
      const [a, b, c] = [await run(4), await run(4), await run(5)];
      expect(a.save()).toEqual(b.save());
      const dropout = (m: Sequential) => m.layers[2] as Dropout;
      expect(dropout(a).step).toBe(6);
      expect(dropout(a).seed).not.toBe(dropout(c).seed);
      // the step counter and seed travel in the file, so a loaded model goes on with the next masks
      const loaded = await Sequential.load(a.save(), { backend: be });
      expect(dropout(loaded).step).toBe(6);
      expect(dropout(loaded).seed).toBe(dropout(a).seed);
      const again = await Sequential.load(a.save(), { backend: be });
      for (const m of [loaded, again]) await m.compile({ loss: 'softmaxCrossEntropy', optimizer: { type: 'adam', lr: 0.01 } }).fit(x, y, { epochs: 1, batchSize: 4, shuffle: true, seed: 1 });
      expect(dropout(loaded).step).toBe(9);
      expect(loaded.save()).toEqual(again.save());
    });
  });
});

describe.each(['wasm', 'js'] as const)('checkpoints of a CNN with Dropout on the %s backend', (name) => {
  it('resuming from each checkpoint ends bit for bit where the uninterrupted fit ends (masks, BatchNorm2d counters, weights)', async () => {
    const be = await createBackend(name);
    const shape = [6, 6, 1];
    const x = inputs(shape, 24), y = labels(24);
    const make = () => new Sequential([new Conv2d(1, 4, 3, { padding: 'same' }), new BatchNorm2d(4), new ReLU(), new MaxPool2d(2), new Flatten(), new Dropout(0.3), new Dense(36, K)], { backend: be, inputShape: shape, seed: 8 })
      .compile({ loss: 'softmaxCrossEntropy', optimizer: { type: 'adam', lr: 0.01 } });
    const fit = { epochs: 3, batchSize: 8, seed: 2 };
    const ref = make();
    const checkpoints: Uint8Array[] = [];
    await ref.fit(x, y, { ...fit, checkpoint: { save: (b) => { checkpoints.push(b); } } });
    expect(checkpoints).toHaveLength(3);
    for (const ck of checkpoints.slice(0, 2)) {
      const m = make();
      await m.fit(x, y, { ...fit, resumeFrom: ck });
      expect(m.save()).toEqual(ref.save());
    }
  });
});

describe('wasm and js agree through the model', () => {
  it.each(STACKS)('%s', async (_label, shape, make) => {
    const x = inputs(shape, 12), y = labels(12);
    const [wasm, js] = await Promise.all([createBackend('wasm'), createBackend('js')]);
    const train = async (be: Backend) => {
      const m = new Sequential(make(), { backend: be, seed: 7, inputShape: shape }).compile({ loss: 'softmaxCrossEntropy', optimizer: { type: 'adam', lr: 0.01 } });
      const h = await m.fit(x, y, { epochs: 3, batchSize: 4, shuffle: true, seed: 3 });
      return { m, h };
    };
    const [a, b] = [await train(wasm), await train(js)];
    a.h.loss.forEach((l, i) => expect(Math.abs(l - b.h.loss[i]!)).toBeLessThan(1e-4));
    a.m.parameters().forEach((p, i) => expect(maxAbsDiff(p.value, b.m.parameters()[i]!.value), p.name).toBeLessThan(1e-4));
    expect(maxAbsDiff(a.m.predict(x), b.m.predict(x))).toBeLessThan(1e-4);
  });
});

describe('hostile headers with the new layers', () => {
  it('a file whose conv2d config is invalid, or whose inputShape is not a shape, is refused as a model file', async () => {
    const be = await createBackend('js');
    const m = new Sequential([new Conv2d(1, 2, 3), new Flatten(), new Dense(2 * 2 * 2, 2)], { backend: be, inputShape: [4, 4, 1] });
    const f = decodeModelFile(m.save());
    const header = f.header as { layers: Array<Record<string, unknown>>; inputShape: unknown };
    const withLayer0 = (patch: Record<string, unknown>) => encodeModelFile({ ...header, layers: [{ ...header.layers[0], ...patch }, ...header.layers.slice(1)] }, f.weights);
    await expect(Sequential.load(withLayer0({ padding: 'full' }), { backend: be })).rejects.toThrow(/not a valid normcore model file: a layer in the header is invalid \(Conv2d: options\.padding/);
    await expect(Sequential.load(withLayer0({ bias: 1 }), { backend: be })).rejects.toThrow(/layers\[0\]\.bias must be a boolean/);
    await expect(Sequential.load(withLayer0({ inChannels: 2 }), { backend: be })).rejects.toThrow(/not a valid normcore model file/);
    for (const shape of [[4, -4, 1], 'big', [], [4, 4, 1.5]]) {
      await expect(Sequential.load(encodeModelFile({ ...header, inputShape: shape }, f.weights), { backend: be })).rejects.toThrow(/the inputShape is not an array of integers ≥ 1/);
    }
    // a shape too large for memory is refused before it is allocated
    await expect(Sequential.load(encodeModelFile({ ...header, inputShape: [100000, 100000, 1] }, f.weights), { backend: be })).rejects.toThrow(/not a valid normcore model file/);
    const drop = new Sequential([new Dense(2, 2), new Dropout(0.5)], { backend: be });
    const g = decodeModelFile(drop.save());
    const dh = g.header as { layers: Array<Record<string, unknown>> };
    await expect(Sequential.load(encodeModelFile({ ...dh, layers: [dh.layers[0], { ...dh.layers[1], seed: 2 ** 32 }] }, g.weights), { backend: be })).rejects.toThrow(/layers\[1\]\.seed must be an integer in \[0, 4294967295\]/);
  });
});
