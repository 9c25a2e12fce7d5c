/**
 * Issue 10's proof by extension, through the public API on both backends:
 * optimizer adamw, losses binaryCrossEntropy, mae and huber, layers
 * LeakyReLU and GELU. Each is one record (or one table entry) plus its kernels
 * (their formulas, parity and finite differences are in extension-kernels.test.ts);
 * here: model-level finite-difference gradients, the AdamW step, save/load,
 * wasm–js agreement and the CLI.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli.js';
import {
  createBackend, decodeModelFile, Dense, encodeModelFile, GELU, LeakyReLU, ReLU, Sequential, type Backend, type CompileOptions, type Layer, type LossConfig,
} from '../src/index.js';
import { maxAbsDiff } from './helpers/compare.js';

const F = 4, H = 6, ROWS = 12;
const x = new Float32Array(ROWS * F).map((_, i) => Math.sin(i * 1.3) * 1.5 + 0.2);

/** Targets for each loss: labels for softmax CE, probabilities for BCE, values otherwise. */
function targets(loss: LossConfig, K: number): Uint8Array | Float32Array {
  if (loss === 'softmaxCrossEntropy') return new Uint8Array(ROWS).map((_, i) => i % K);
  if (loss === 'binaryCrossEntropy') return new Float32Array(ROWS * K).map((_, i) => (Math.cos(i * 0.7) + 1) / 2);
  return new Float32Array(ROWS * K).map((_, i) => Math.cos(i * 0.9) * 1.2);
}

const activations: Array<[string, () => Layer]> = [['LeakyReLU(α=0.1)', () => new LeakyReLU({ alpha: 0.1 })], ['GELU', () => new GELU()]];
const losses: LossConfig[] = ['softmaxCrossEntropy', 'binaryCrossEntropy', 'mse', 'mae', { type: 'huber', delta: 0.5 }];

describe.each(['wasm', 'js'] as const)('extensions on the %s backend', (name) => {
  let be: Backend;
  beforeAll(async () => {
    be = await createBackend(name);
  });

  const net = (act: () => Layer, K: number, seed = 4) => new Sequential([new Dense(F, H, { bias: true }), act(), new Dense(H, K)], { backend: be, seed });

  describe.each(activations)('%s', (_actName, act) => {
    it.each(losses.map((l) => [typeof l === 'string' ? l : `huber δ=${l.delta}`, l] as const))(
      'loss %s: the gradients fit computes match finite differences of the loss evaluate computes',
      async (_lossName, loss) => {
        const K = loss === 'softmaxCrossEntropy' ? 3 : 2;
        const y = targets(loss, K);
        const m = net(act, K).compile({ loss, optimizer: { type: 'sgd', lr: 1e-30 } });
        const file = decodeModelFile(m.save());
        // One full batch: the backward's gradients at these weights (an lr of 1e-30 leaves them as they were).
        await m.fit(x, y, { epochs: 1, batchSize: ROWS, shuffle: false });
        const grads = Float32Array.from(m.parameters().flatMap((p) => Array.from(p.grad)));
        expect(grads.length).toBe(file.weights.length);
        const lossAt = async (w: Float32Array) => (await Sequential.load(encodeModelFile(file.header, w), { backend: be })).evaluate(x, y).loss;
        const h = 1e-3;
        for (const i of [0, 5, 13, 23, 29, 31, file.weights.length - 1]) {
          const plus = Float32Array.from(file.weights), minus = Float32Array.from(file.weights);
          plus[i]! += h;
          minus[i]! -= h;
          const fd = ((await lossAt(plus)) - (await lossAt(minus))) / (plus[i]! - minus[i]!);
          expect(Math.abs(fd - grads[i]!), `weight ${i}: fd ${fd}, backward ${grads[i]}`).toBeLessThan(2e-3 + 2e-2 * Math.abs(fd));
        }
      },
    );
  });

  it('adamw decays the weights apart from the gradient: one step is p·(1 − lr·wd) − lr·g/(|g| + eps)', async () => {
    const lr = 0.01, wd = 0.5;
    const m = net(() => new ReLU(), 3).compile({ loss: 'softmaxCrossEntropy', optimizer: { type: 'adamw', lr, weightDecay: wd } });
    const before = m.parameters().map((p) => p.value);
    await m.fit(x, targets('softmaxCrossEntropy', 3), { epochs: 1, batchSize: ROWS, shuffle: false });
    const after = m.parameters();
    after.forEach((p, j) => {
      const expected = before[j]!.map((w, i) => w * (1 - lr * wd) - (lr * p.grad[i]!) / (Math.abs(p.grad[i]!) + 1e-8));
      expect(maxAbsDiff(p.value, expected), p.name).toBeLessThan(1e-6);
    });
    // Adam with the same weightDecay adds it to the gradient instead: another step.
    const l2 = net(() => new ReLU(), 3).compile({ loss: 'softmaxCrossEntropy', optimizer: { type: 'adam', lr, weightDecay: wd } });
    await l2.fit(x, targets('softmaxCrossEntropy', 3), { epochs: 1, batchSize: ROWS, shuffle: false });
    expect(maxAbsDiff(l2.parameters()[0]!.value, after[0]!.value)).toBeGreaterThan(1e-4);
    expect(m.save().length).toBeGreaterThan(0);
  });

  it('adamw defaults: lr 0.001, weightDecay 0.01, recorded in the file and restored by load', async () => {
    const m = net(() => new ReLU(), 3).compile({ optimizer: { type: 'adamw' } });
    const h = decodeModelFile(m.save()).header as { compile: { optimizer: { type: string; lr: number; weightDecay: number } } };
    expect(h.compile.optimizer).toMatchObject({ type: 'adamw', lr: 0.001, weightDecay: 0.01 });
    const back = await Sequential.load(m.save(), { backend: be });
    expect((decodeModelFile(back.save()).header as typeof h).compile.optimizer).toEqual(h.compile.optimizer);
  });

  it('binaryCrossEntropy: predict returns the sigmoid of the outputs; 0/1 labels work with one output; targets outside [0, 1] are refused', async () => {
    const m = net(() => new GELU(), 2).compile({ loss: 'binaryCrossEntropy' });
    const y = targets('binaryCrossEntropy', 2);
    await m.fit(x, y, { epochs: 3, batchSize: 4 });
    const raw = m.layerOutputs(x, [2])[0]!;
    const p = m.predict(x);
    expect(maxAbsDiff(p, raw.map((v) => 1 / (1 + Math.exp(-v))))).toBeLessThan(1e-6);
    const one = net(() => new LeakyReLU(), 1).compile({ loss: 'binaryCrossEntropy', optimizer: { type: 'adam', lr: 0.05 } });
    const labels = new Uint8Array(ROWS).map((_, i) => (x[i * F]! > 0 ? 1 : 0));
    const h = await one.fit(x, labels, { epochs: 40, batchSize: ROWS });
    expect(h.loss[h.loss.length - 1]!).toBeLessThan(h.loss[0]! * 0.5);
    await expect(one.fit(x, new Float32Array(ROWS).fill(1.5))).rejects.toThrow(/must hold probabilities in \[0, 1\] for binaryCrossEntropy, got 1\.5 at index 0/);
  });

  it('mae and huber train a regression; huber.delta is saved and loaded', async () => {
    for (const loss of ['mae', { type: 'huber', delta: 0.25 }] as const) {
      const m = net(() => new LeakyReLU(), 2).compile({ loss, optimizer: { type: 'adam', lr: 0.02 } });
      const h = await m.fit(x, targets(loss, 2), { epochs: 60, batchSize: ROWS });
      expect(h.loss[h.loss.length - 1]!).toBeLessThan(h.loss[0]! * 0.6);
      const back = await Sequential.load(m.save(), { backend: be });
      expect(back.lossName).toBe(typeof loss === 'string' ? loss : 'huber');
      expect(back.evaluate(x, targets(loss, 2)).loss).toBe(m.evaluate(x, targets(loss, 2)).loss);
    }
    const h = decodeModelFile(net(() => new ReLU(), 2).compile({ loss: { type: 'huber', delta: 0.25 } }).save()).header as { compile: { loss: unknown } };
    expect(h.compile.loss).toEqual({ type: 'huber', delta: 0.25 });
  });

  it('LeakyReLU (default α 0.01) and GELU survive save/load with identical predictions', async () => {
    const m = new Sequential([new Dense(F, H), new LeakyReLU(), new Dense(H, H), new GELU(), new Dense(H, 3)], { backend: be, seed: 2 }).compile();
    expect((m.layers[1] as LeakyReLU).alpha).toBe(0.01);
    const back = await Sequential.load(m.save(), { backend: be });
    expect(back.layers.map((l) => l.config())).toEqual(m.layers.map((l) => l.config()));
    expect(back.layers[1]).toBeInstanceOf(LeakyReLU);
    expect(back.layers[3]).toBeInstanceOf(GELU);
    expect(back.predict(x)).toEqual(m.predict(x));
    expect(() => new LeakyReLU({ alpha: NaN })).toThrow(/^LeakyReLU: options\.alpha must be a finite number/);
  });
});

describe('the extensions agree across backends', () => {
  it.each([
    ['adamw + GELU + softmax CE', () => new GELU(), { loss: 'softmaxCrossEntropy', optimizer: { type: 'adamw', lr: 0.01 } }, 3],
    ['adamw + LeakyReLU + binary CE', () => new LeakyReLU(), { loss: 'binaryCrossEntropy', optimizer: { type: 'adamw', lr: 0.01 } }, 2],
    ['adam + GELU + huber', () => new GELU(), { loss: 'huber', optimizer: { type: 'adam', lr: 0.01 } }, 2],
    ['sgd + LeakyReLU + mae', () => new LeakyReLU(), { loss: 'mae', optimizer: { type: 'sgd', lr: 0.05 } }, 2],
  ] as Array<[string, () => Layer, CompileOptions, number]>)('%s: wasm and js train to the same weights (≤ 1e-4)', async (_n, act, compile, K) => {
    const runs = await Promise.all((['wasm', 'js'] as const).map(async (b) => {
      const m = new Sequential([new Dense(F, H, { bias: true }), act(), new Dense(H, K)], { backend: await createBackend(b), seed: 8 }).compile(compile);
      const loss = compile.loss ?? 'softmaxCrossEntropy';
      const hist = await m.fit(x, targets(loss, K), { epochs: 5, batchSize: 4 });
      return { w: Float32Array.from(m.parameters().flatMap((p) => Array.from(p.value))), loss: hist.loss };
    }));
    expect(maxAbsDiff(runs[0]!.w, runs[1]!.w)).toBeLessThan(1e-4);
    expect(maxAbsDiff(runs[0]!.loss, runs[1]!.loss)).toBeLessThan(1e-4);
  });
});

describe('normcore train accepts the new optimizer and activations', () => {
  it.each([['adamw', 'gelu'], ['adamw', 'leakyrelu']])('--optimizer %s --activation %s trains and saves', async (optimizer, activation) => {
    const dir = await mkdtemp(join(tmpdir(), 'normcore-ext-'));
    try {
      let out = '';
      const code = await main(['train', '--optimizer', optimizer, '--activation', activation, '--hidden', '32', '--epochs', '1', '--train', '600', '--test', '200', '--out', dir], {
        out: (t) => void (out += t), err: (t) => void (out += t),
      });
      expect(code, out).toBe(0);
      expect(out).toMatch(new RegExp(`${optimizer} lr`));
      expect(out).toMatch(/test accuracy \d+\.\d+%/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
