/**
 * Divergence: when the training loss becomes NaN or infinite, fit stops with a
 * DivergenceError naming the epoch and the batch, and the model keeps the
 * weights (and running statistics, and BatchNorm counters) with which the last
 * finite loss was computed: finite values, never the NaNs. The optimizer state
 * is reset, so training can go on after a compile with a lower rate.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { BatchNorm, createBackend, Dense, DivergenceError, NormcoreError, ReLU, Sequential, type Backend } from '../src/index.js';
import { blobs } from './fixtures/data.js';

const { x, y } = blobs(64, 6, 3, 9);

function allFinite(m: Sequential): boolean {
  return m.parameters().every((p) => p.value.every(Number.isFinite))
    && m.layers.every((l) => !(l instanceof BatchNorm) || Object.values(l.stateValues()).every((v) => v.every(Number.isFinite)));
}

describe.each(['wasm', 'js'] as const)('divergence on the %s backend', (name) => {
  let be: Backend;
  beforeAll(async () => { be = await createBackend(name); });

  it.each([
    ['plain ReLU net', () => new Sequential([new Dense(6, 16), new ReLU(), new Dense(16, 3)], { backend: be, seed: 3 })],
    ['net with BatchNorm', () => new Sequential([new Dense(6, 16), new ReLU(), new BatchNorm(16), new Dense(16, 3)], { backend: be, seed: 3 })],
  ])('a huge learning rate (%s): the error names epoch and batch, the weights are those of the last finite loss', async (_label, make) => {
    const m = make();
    m.compile({ optimizer: { type: 'momentum', lr: 1000 } });
    // states[t] = the model file before step t (before the forward whose loss is losses[t])
    const states: Uint8Array[] = [m.save()];
    const losses: number[] = [];
    const batches = 4;
    const e = await m.fit(x, y, {
      epochs: 50, batchSize: 16,
      onBatchEnd: (_b, logs) => { losses.push(logs.loss); states.push(m.save()); },
    }).then(() => undefined, (err: unknown) => err);
    expect(e).toBeInstanceOf(DivergenceError);
    expect(e).toBeInstanceOf(NormcoreError);
    const d = e as DivergenceError;
    expect(d.code).toBe('DIVERGED');
    const t = d.epoch * batches + d.batch; // the step whose loss was not finite
    expect(t).toBe(losses.length);
    expect(t).toBeGreaterThan(1);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(d.message).toMatch(new RegExp(`^fit: the training loss became (NaN|Infinity|-Infinity) at epoch ${d.epoch + 1}, batch ${d.batch + 1} of ${batches}; `));
    // The restored model is checked on the batch at hand in inference mode (issue 15, item 3): usable or not, the error says which.
    const bn = m.layers.some((l) => l instanceof BatchNorm);
    if (d.usable) expect(d.message).toMatch(/keeps the weights with which the last finite loss was computed/);
    else expect(d.message).toMatch(/the weights with which the last finite loss was computed are restored, but even they predict NaN or infinite values on this batch \(running statistics\): the model is not usable/);
    expect(d.usable).toBe(!bn);
    // the weights, running statistics and counters with which losses[t-1] was computed
    expect(m.save()).toEqual(states[t - 1]);
    expect(allFinite(m)).toBe(true);
    expect(m.optimizerState().step).toBe(0);
    expect(m.optimizerState().slots.every((s) => s.every((v) => v === 0))).toBe(true);
    // Without BatchNorm, inference computes what training did (that finite loss, so finite probabilities)
    // and training goes on after a compile with a sane rate. With BatchNorm, weights this large overflow
    // the f32 variance of the next layer's input, so neither is meaningful.
    if (m.layers.some((l) => l instanceof BatchNorm)) return;
    expect(m.predict(x).every(Number.isFinite)).toBe(true);
    m.compile({ optimizer: { type: 'momentum', lr: 0.01 } });
    const h = await m.fit(x, y, { epochs: 2, batchSize: 16 });
    expect(h.loss.every(Number.isFinite)).toBe(true);
    expect(allFinite(m)).toBe(true);
  });

  it('a loss that is not finite on the very first batch restores the weights the fit started with', async () => {
    // weights of 1e30: the logits overflow to ±Infinity at once
    const m = new Sequential([new Dense(6, 8, { init: { type: 'normal', std: 1e30 } }), new ReLU(), new Dense(8, 3, { init: { type: 'normal', std: 1e30 } })], { backend: be });
    m.compile();
    const before = m.save();
    const e = await m.fit(x, y, { epochs: 3, batchSize: 16 }).then(() => undefined, (err: unknown) => err);
    expect(e).toBeInstanceOf(DivergenceError);
    expect((e as DivergenceError).message).toMatch(/at epoch 1, batch 1 of 4/);
    expect(m.save()).toEqual(before);
  });
});
