/**
 * Issue 11 through the public API, on both backends: the input kinds fit,
 * predict and evaluate take; regression targets never read as classes; the
 * Normalization layer and adapt; validationSplit; callbacks (earlyStopping,
 * reduceLrOnPlateau, stopping); class and sample weights (finite
 * differences of the weighted loss); compile metrics in logs, history and
 * evaluate; predictClasses; preprocessing kept by save/load.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { Dense, earlyStopping, METRICS, reduceLrOnPlateau, ReLU, Sequential, Tanh, type EpochLogs } from '../src/index.js';
import { createBackend, type KernelBackend as Backend } from '../src/kernels.js';
import { Normalization } from '../src/data.js';
import { blobs, bnNet, rng } from './fixtures/data.js';
import { finiteDiff, gradErr } from './helpers/gradcheck.js';
import { BACKENDS, scoped } from './helpers/kernels.js';

const { x, y } = blobs(60, 6, 3, 7);
const rowsOf = (a: Float32Array, F: number): number[][] => Array.from({ length: a.length / F }, (_, r) => Array.from(a.subarray(r * F, (r + 1) * F)));

/** A regression problem: t = 2·x0 − x1 + 0.5 with small noise, 4 features. */
function linear(rows: number, seed: number): { x: Float32Array; t: Float32Array } {
  const u = rng(seed);
  const xs = new Float32Array(rows * 4), t = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < 4; c++) xs[r * 4 + c] = u() * 2 - 1;
    t[r] = 2 * xs[r * 4]! - xs[r * 4 + 1]! + 0.5 + 0.01 * (u() - 0.5);
  }
  return { x: xs, t };
}

describe.each(BACKENDS)('your own data on the %s backend', (name) => {
  let be: Backend;
  beforeAll(async () => { be = await createBackend(name); });

  it('fit, predict and evaluate give the same results for Float32Array, Float64Array, number[][] and flat number[] (labels as Uint8Array or number[])', async () => {
    const runs = [
      [x, y], [Float64Array.from(x), Array.from(y)], [rowsOf(x, 6), Int32Array.from(y)], [Array.from(x), Array.from(y)],
    ] as const;
    const results: Array<{ weights: Float32Array; pred: Float32Array; loss: number }> = [];
    for (const [xs, ys] of runs) {
      const m = bnNet(be);
      m.compile({ optimizer: { type: 'adam', lr: 0.01 } });
      await m.fit(xs, ys, { epochs: 2, batchSize: 16 });
      results.push({ weights: m.getWeights(), pred: m.predict(xs), loss: m.evaluate(xs, ys).loss });
      m.dispose();
    }
    for (const r of results.slice(1)) {
      expect(r.weights).toEqual(results[0]!.weights);
      expect(r.pred).toEqual(results[0]!.pred);
      expect(r.loss).toBe(results[0]!.loss);
    }
  });

  it('under mse, mae and huber integer targets are values, never class indices: Uint8Array [0, 3, 7] trains a 1-output model', async () => {
    for (const loss of ['mse', 'mae', 'huber'] as const) {
      const m = new Sequential([new Dense(2, 1)], { backend: be });
      m.compile({ loss, optimizer: { type: 'sgd', lr: 0.05 } });
      const xs = [[0, 1], [1, 0], [1, 1]];
      const before = m.evaluate(xs, new Uint8Array([0, 3, 7])).loss;
      const h = await m.fit(xs, new Uint8Array([0, 3, 7]), { epochs: 30, batchSize: 3, shuffle: false });
      expect(h.loss.at(-1)).toBeLessThan(h.loss[0]!);
      // the loss is that of the raw values: predictions 0 at the start give mean((0 − t)²) for mse
      if (loss === 'mse') {
        const p = new Sequential([new Dense(2, 1)], { backend: be }).compile({ loss: 'mse' });
        p.setWeights(new Float32Array(p.getWeights().length));
        expect(p.evaluate(xs, [0, 3, 7]).loss).toBeCloseTo((0 + 9 + 49) / 3, 5);
        p.dispose();
      }
      expect(Number.isFinite(before)).toBe(true);
      m.dispose();
    }
    // with 3 outputs, labels of one per row are a shape error under mse (they used to become one-hot rows)
    const m3 = new Sequential([new Dense(6, 3)], { backend: be }).compile({ loss: 'mse' });
    await expect(m3.fit(x, y)).rejects.toThrow(/^fit: y must hold length 60 × 3 targets, got length 60$/);
    m3.dispose();
  });

  it('Normalization: adapt gives each feature mean 0 and variance 1 on its data (f64 two-pass stats, stored f32), in training and inference; not trained', async () => {
    const u = rng(3);
    const rows = 500, F = 3;
    const xs = new Float64Array(rows * F);
    for (let r = 0; r < rows; r++) { xs[r * F] = 1e4 + 0.1 * (u() - 0.5); xs[r * F + 1] = 50 * u(); xs[r * F + 2] = -3; }
    const norm = new Normalization(F);
    expect(norm.adapted).toBe(false);
    const m = new Sequential([norm], { backend: be });
    m.adapt(xs);
    expect(norm.adapted).toBe(true);
    const out = m.layerOutputs(xs, [0])[0]!;
    const { mean, variance } = norm.statistics();
    for (let c = 0; c < F; c++) {
      let s = 0, ss = 0;
      // adapt reads the inputs as f32, as the model does
      for (let r = 0; r < rows; r++) s += Math.fround(xs[r * F + c]!);
      const mu = s / rows;
      for (let r = 0; r < rows; r++) ss += (Math.fround(xs[r * F + c]!) - mu) ** 2;
      expect(mean[c]).toBe(Math.fround(mu));
      expect(variance[c]).toBe(Math.fround(ss / rows));
      // the kernel's output against (x − mean)/sqrt(var + eps) in f64 from the stored f32 statistics and inputs
      for (let r = 0; r < rows; r++) {
        const want = (Math.fround(xs[r * F + c]!) - mean[c]!) / Math.sqrt(variance[c]! + 1e-7);
        expect(Math.abs(out[r * F + c]! - want)).toBeLessThanOrEqual(4e-7 * Math.max(1, Math.abs(want)));
      }
    }
    // the constant feature maps to 0; its neighbours are standardized
    expect(out[2]).toBe(0);
    m.dispose();
    // adapt needs a Normalization first; a bad width is named
    const d = new Sequential([new Dense(3, 2)], { backend: be });
    expect(() => d.adapt(xs)).toThrow(/^adapt: the model's first layer \(dense\) computes no statistics; put a Normalization\(3\) first$/);
    d.dispose();
    expect(() => new Normalization(2).adapt([[1, 2, 3]])).toThrow(/^Normalization\.adapt: x must have 2 features per row, got 3$/);
    expect(new Normalization(2).describe()).toBe('normalization (not adapted)');
  });

  it('Normalization in a model: its statistics survive save/load and training (nothing in it is trained); adapt from an async iterable equals adapt on all rows', async () => {
    const { x: xs, t } = linear(200, 4);
    const big = xs.map((v, i) => (i % 4 === 2 ? 1000 + 300 * v : v));
    const n1 = new Normalization(4);
    n1.adapt(big);
    const n2 = new Normalization(4);
    async function* chunks() { for (let r = 0; r < 200; r += 37) yield { x: big.subarray(r * 4, Math.min(200, r + 37) * 4), y: t }; }
    await n2.adapt(chunks());
    const s1 = n1.statistics(), s2 = n2.statistics();
    for (let c = 0; c < 4; c++) {
      expect(s2.mean[c]).toBeCloseTo(s1.mean[c]!, 3);
      expect(s2.variance[c]! / s1.variance[c]!).toBeCloseTo(1, 6);
    }
    const m = new Sequential([n1, new Dense(4, 16), new Tanh(), new Dense(16, 1)], { backend: be });
    m.compile({ loss: 'mse', optimizer: { type: 'adam', lr: 0.01 } });
    const h = await m.fit(big, t, { epochs: 40, batchSize: 20 });
    expect(h.loss.at(-1)!).toBeLessThan(0.02);
    expect(n1.statistics()).toEqual(s1);
    const copy = await Sequential.load(m.save(), { backend: be });
    expect(copy.layers[0]!.describe()).toBe('normalization');
    expect(copy.predict(big)).toEqual(m.predict(big));
    m.dispose();
    copy.dispose();
  });

  it('Normalization backward: dLoss/dx through it matches finite differences (a model whose first layer is not Normalization)', () => {
    const norm = new Normalization(3, { mean: [1, -2, 0.5], variance: [4, 0.25, 9] });
    const m = new Sequential([new Dense(2, 3), norm, new Dense(3, 2)], { backend: be, seed: 2 });
    m.compile({ loss: 'mse', optimizer: { type: 'sgd', lr: 1e-30 } });
    const xs = Float32Array.of(0.3, -0.7, 1.1, 0.4), ts = Float32Array.of(0.5, -0.5, 1, 0);
    const w0 = m.getWeights();
    const loss = (w: Float32Array) => { m.setWeights(w); return m.evaluate(xs, ts).loss; };
    const numeric = finiteDiff(w0.slice(), 1e-2, loss);
    m.setWeights(w0);
    return m.fit(xs, ts, { epochs: 1, batchSize: 2, shuffle: false }).then(() => {
      const analytic = m.parameters().flatMap((p) => Array.from(p.grad));
      // file order: Dense 0 (6 + 3), Normalization's mean and variance (3 + 3, not trained), Dense 2 (6 + 2)
      expect(analytic).toHaveLength(17);
      expect(gradErr(analytic, [...numeric.subarray(0, 9), ...numeric.subarray(15, 23)])).toBeLessThan(2e-3);
      expect(Array.from(numeric.subarray(9, 15)).some((v) => v !== 0)).toBe(true);
      m.dispose();
    });
  });

  it('sample and class weights: the weighted loss Σ w·loss_r / rows and its gradient (finite differences), softmax cross-entropy and mse', async () => {
    const xs = Float32Array.from({ length: 5 * 3 }, (_, i) => Math.sin(i * 1.7));
    for (const loss of ['softmaxCrossEntropy', 'mse'] as const) {
      const m = new Sequential([new Dense(3, 4), new Tanh(), new Dense(4, 3)], { backend: be, seed: 9 });
      m.compile({ loss, optimizer: { type: 'sgd', lr: 1e-30 } });
      const labels = Uint8Array.of(0, 2, 1, 2, 0);
      const ys = loss === 'mse' ? Float32Array.from({ length: 15 }, (_, i) => Math.cos(i)) : labels;
      const sampleWeight = [0.5, 2, 1, 0, 3];
      const classWeight = loss === 'mse' ? undefined : { 2: 4 };
      const w = sampleWeight.map((s, r) => s * (classWeight && labels[r] === 2 ? 4 : 1));
      const rowLoss = (r: number) => m.evaluate(xs.subarray(r * 3, r * 3 + 3), loss === 'mse' ? (ys as Float32Array).subarray(r * 3, r * 3 + 3) : [labels[r]!]).loss;
      const weighted = () => w.reduce((a, wr, r) => a + wr * rowLoss(r), 0) / 5;
      const w0 = m.getWeights();
      const numeric = finiteDiff(w0.slice(), 1e-2, (p) => { m.setWeights(p); return weighted(); });
      m.setWeights(w0);
      const expected = weighted();
      const h = await m.fit(xs, ys, { epochs: 1, batchSize: 5, shuffle: false, sampleWeight, ...(classWeight ? { classWeight } : {}) });
      expect(h.loss[0]).toBeCloseTo(expected, 5);
      const analytic = m.parameters().flatMap((p) => Array.from(p.grad));
      expect(gradErr(analytic, numeric)).toBeLessThan(2e-3);
      m.dispose();
    }
  });

  it('weights of 1 train exactly as no weights; a class weight of 0 removes the class from the loss', async () => {
    const a = bnNet(be), b = bnNet(be);
    a.compile({ optimizer: { type: 'sgd', lr: 0.1 } });
    b.compile({ optimizer: { type: 'sgd', lr: 0.1 } });
    const ha = await a.fit(x, y, { epochs: 2, batchSize: 16 });
    const hb = await b.fit(x, y, { epochs: 2, batchSize: 16, sampleWeight: new Float32Array(60).fill(1) });
    expect(hb.loss[1]).toBeCloseTo(ha.loss[1]!, 5);
    const wa = a.getWeights(), wb = b.getWeights();
    for (let i = 0; i < wa.length; i++) expect(wb[i]).toBeCloseTo(wa[i]!, 5);
    a.dispose();
    b.dispose();
    await expect(bnNet(be).compile({ loss: 'mse' }).fit(x, new Float32Array(180), { classWeight: [1, 2, 3] })).rejects.toThrow(/classWeight needs a classification loss/);
    await expect(bnNet(be).compile().fit(x, y, { sampleWeight: [1] })).rejects.toThrow(/^fit: options\.sampleWeight must have one weight per row \(60\), got length 1$/);
  });

  it('validationSplit holds out the last rows before shuffling: valLoss equals evaluate on them', async () => {
    const m = bnNet(be);
    m.compile({ optimizer: { type: 'adam', lr: 0.01 } });
    const logs: EpochLogs[] = [];
    const h = await m.fit(x, y, { epochs: 3, batchSize: 16, validationSplit: 0.25, onEpochEnd: (_e, l) => { logs.push(l); } });
    const v = m.evaluate(x.subarray(45 * 6), y.subarray(45));
    expect(h.valLoss[2]).toBe(v.loss);
    expect(h.valAccuracy![2]).toBe(v.accuracy);
    expect(logs[2]!.valAccuracy).toBe(v.accuracy);
    await expect(m.fit(x, y, { validationSplit: 0.25, validationData: [x, y] })).rejects.toThrow(/not both/);
    m.dispose();
  });

  it('earlyStopping stops after `patience` epochs without improvement and restores the best weights; a callback can stop by setting model.stopTraining', async () => {
    const m = bnNet(be);
    m.compile({ optimizer: { type: 'adam', lr: 0.05 } });
    // a monitored value that improves for 3 epochs, then worsens: stopping after 2 more, best epoch 2
    const fake = [5, 4, 3, 3.5, 4, 9, 9, 9];
    let bestWeights: Float32Array | undefined;
    const stop = earlyStopping({ monitor: 'loss', patience: 2, restoreBestWeights: true });
    const h = await m.fit(x, y, {
      epochs: 8, batchSize: 16,
      callbacks: [
        { onEpochEnd: (e, logs, model) => { logs.loss = fake[e]!; if (e === 2) bestWeights = model.getWeights(); } },
        stop,
      ],
    });
    expect(h.epoch).toEqual([0, 1, 2, 3, 4]);
    expect(stop.stoppedEpoch).toBe(4);
    expect(stop.bestEpoch).toBe(2);
    expect(m.getWeights()).toEqual(bestWeights);
    let batches = 0;
    const h2 = await m.fit(x, y, { epochs: 5, batchSize: 10, callbacks: [{ onBatchEnd: (b, _l, model) => { batches++; if (b === 2) model.stopTraining = true; } }] });
    expect(batches).toBe(3);
    // as Keras, the stopped epoch is logged with the batches it ran
    expect(h2.epoch).toEqual([0]);
    expect(() => earlyStopping({ patience: -1 })).toThrow(/patience/);
    await expect(m.fit(x, y, { callbacks: [earlyStopping()] })).rejects.toThrow(/monitor 'valLoss' is not in the epoch logs/);
    m.dispose();
  });

  it('reduceLrOnPlateau multiplies the learning rate by factor after `patience` flat epochs, never below minLr', async () => {
    const m = bnNet(be);
    m.compile({ optimizer: { type: 'sgd', lr: 0.1 } });
    const h = await m.fit(x, y, {
      epochs: 6, batchSize: 60,
      callbacks: [{ onEpochEnd: (_e, logs) => { logs.loss = 1; } }, reduceLrOnPlateau({ monitor: 'loss', factor: 0.5, patience: 1, minLr: 0.03 })],
    });
    // epoch 0 sets the best; each later flat epoch halves the rate for the next one, down to 0.03
    expect(h.learningRate.map((v) => Number(v.toPrecision(6)))).toEqual([0.1, 0.1, 0.05, 0.03, 0.03, 0.03]);
    m.dispose();
  });

  it('compile metrics: in epoch logs and history (train and val) and in evaluate, equal to the metric records on predict; no accuracy for regression', async () => {
    const m = bnNet(be);
    m.compile({ optimizer: { type: 'adam', lr: 0.01 }, metrics: ['accuracy', 'f1', 'auc'] });
    const h = await m.fit(x, y, { epochs: 2, batchSize: 20, validationData: [x, y] });
    expect(Object.keys(h).sort()).toEqual(['accuracy', 'auc', 'epoch', 'f1', 'learningRate', 'loss', 'seconds', 'valAccuracy', 'valAuc', 'valF1', 'valLoss']);
    const e = m.evaluate(x, y);
    const p = m.predict(x);
    for (const name of ['accuracy', 'f1', 'auc'] as const) {
      const s = METRICS[name].init(3);
      METRICS[name].update(s as never, p, Int32Array.from(y), 60, 3);
      expect(e[name]).toBeCloseTo(METRICS[name].result(s as never), 6);
      expect(h[`val${name[0]!.toUpperCase()}${name.slice(1)}` as 'valF1']![1]).toBe(e[name]);
    }
    expect(m.predictClasses(x)).toEqual(Int32Array.from({ length: 60 }, (_, r) => { let b = 0; for (let k = 1; k < 3; k++) if (p[r * 3 + k]! > p[r * 3 + b]!) b = k; return b; }));
    expect(() => bnNet(be).compile({ metrics: ['r2'] })).toThrow(/metric 'r2' does not fit a multiclass model/);
    m.dispose();
    const { x: xs, t } = linear(80, 2);
    const r = new Sequential([new Dense(4, 8), new ReLU(), new Dense(8, 1)], { backend: be }).compile({ loss: 'mse', optimizer: { type: 'adam', lr: 0.01 }, metrics: ['r2', 'rmse'] });
    const hr = await r.fit(xs, t, { epochs: 3, batchSize: 16, validationSplit: 0.25 });
    expect(hr.accuracy).toBeUndefined();
    expect(hr.r2).toHaveLength(3);
    const er = r.evaluate(xs, t);
    expect(Object.keys(er)).toEqual(['loss', 'r2', 'rmse']);
    expect(er.rmse).toBeCloseTo(Math.sqrt(er.loss), 5);
    expect(() => r.predictClasses(xs)).toThrow(/compiled for regression/);
    expect((await Sequential.load(r.save(), { backend: be })).evaluate(xs, t)).toEqual(er);
    r.dispose();
  });

  it('fit over an async generator of batches equals fit over the same rows in memory (no shuffle), with validation from an iterable', async () => {
    const a = bnNet(be), b = bnNet(be);
    a.compile({ optimizer: { type: 'adam', lr: 0.01 }, metrics: ['accuracy', 'f1'] });
    b.compile({ optimizer: { type: 'adam', lr: 0.01 }, metrics: ['accuracy', 'f1'] });
    const ha = await a.fit(x, y, { epochs: 2, batchSize: 15, shuffle: false, validationData: [x, y] });
    const source = { async *[Symbol.asyncIterator]() { for (let r = 0; r < 60; r += 15) yield { x: x.subarray(r * 6, (r + 15) * 6), y: y.subarray(r, r + 15) }; } };
    const hb = await b.fit(source, undefined, { epochs: 2, validationData: source });
    expect(b.getWeights()).toEqual(a.getWeights());
    for (const k of ['loss', 'accuracy', 'f1', 'valAccuracy', 'valF1'] as const) expect(hb[k]).toEqual(ha[k]);
    // the validation loss sums 4 chunks of 15 rows instead of one of 60: equal up to f64 rounding
    hb.valLoss.forEach((v, i) => expect(v).toBeCloseTo(ha.valLoss[i]!, 12));
    // an endless generator needs stepsPerEpoch; a one-shot generator cannot give a second epoch
    async function* endless() { for (;;) yield { x: x.subarray(0, 90), y: y.subarray(0, 15) }; }
    const h = await b.fit(endless(), undefined, { epochs: 3, stepsPerEpoch: 4 });
    expect(h.epoch).toEqual([0, 1, 2]);
    async function* once() { yield { x: x.subarray(0, 90), y: y.subarray(0, 15) }; }
    await expect(b.fit(once(), undefined, { epochs: 2 })).rejects.toThrow(/no training batch in epoch 2 \(an async generator can be read once/);
    await expect(b.fit(once(), undefined, { batchSize: 4 })).rejects.toThrow(/options\.batchSize does not apply to a streamed source/);
    a.dispose();
    b.dispose();
  });

  it('preprocessing: a JSON object saved in the model file header and given back by load', async () => {
    const m = bnNet(be);
    expect(m.preprocessing).toBeUndefined();
    m.preprocessing = { format: 'mine', columns: ['a', 'b'], scale: { mean: 1.5 } };
    const back = await Sequential.load(m.save(), { backend: be });
    expect(back.preprocessing).toEqual({ format: 'mine', columns: ['a', 'b'], scale: { mean: 1.5 } });
    expect((await Sequential.load(back.save(), { backend: be })).preprocessing).toEqual(m.preprocessing);
    expect(() => { m.preprocessing = [1, 2] as never; }).toThrow(/preprocessing must be a JSON object/);
    m.dispose();
    back.dispose();
  });

  it('scaleRows kernel: out[r,:] = inp[r,:]·(w[r]·scale) in f32, in place too, odd sizes', () => {
    scoped(be, (s) => {
      const rows = 3, cols = 7;
      const inp = Float32Array.from({ length: rows * cols }, (_, i) => Math.sin(i) * 10);
      const w = Float32Array.of(0.5, -2, 1e-3);
      const out = s.out(rows * cols);
      const pi = s.f32(inp), pw = s.f32(w);
      be.kernels.scaleRows(out, pi, pw, rows, cols, 0.25);
      const want = inp.map((v, i) => Math.fround(v * Math.fround(w[Math.floor(i / cols)]! * 0.25)));
      expect(s.read(out, rows * cols)).toEqual(want);
      be.kernels.scaleRows(pi, pi, pw, rows, cols, 0.25);
      expect(s.read(pi, rows * cols)).toEqual(want);
      expect(() => be.kernels.scaleRows(out, pi, pw, rows, cols, NaN)).toThrow(/scale/);
    });
  });
});
