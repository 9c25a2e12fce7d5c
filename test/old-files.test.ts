/**
 * Files saved before the house split still load (issue 10): test/fixtures/v0.1
 * holds a model and a checkpoint written by normcore 0.1.0 at commit e657cbf
 * (make.mjs there made them, and recorded what that version predicted and the
 * weights its uninterrupted fit ended with).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BatchNorm, createBackend, Sequential } from '../src/index.js';
import { maxAbsDiff } from './helpers/compare.js';

const dir = join(import.meta.dirname, 'fixtures/v0.1');
const bytes = (name: string) => new Uint8Array(readFileSync(join(dir, name)));
const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as {
  x: number[]; y: number[]; probe: number[]; fitOptions: { epochs: number; batchSize: number; seed: number };
  predict: number[]; weights: Array<{ name: string; value: number[] }>; numBatchesTracked: number;
};

describe.each(['js', 'wasm'] as const)('a model file of normcore 0.1.0 on the %s backend', (name) => {
  it('loads, predicts what 0.1.0 predicted, and keeps its BatchNorm counter', async () => {
    const m = await Sequential.load(bytes('model.nc'), { backend: await createBackend(name) });
    expect(m.layers.map((l) => l.type)).toEqual(['dense', 'batchnorm', 'relu', 'dense', 'batchnorm', 'tanh', 'dense']);
    expect((m.layers[1] as BatchNorm).numBatchesTracked).toBe(expected.numBatchesTracked);
    const p = m.predict(Float32Array.from(expected.probe));
    // the file came from the js backend: bit for bit there, to f32 rounding on wasm
    if (name === 'js') expect(Array.from(p)).toEqual(expected.predict);
    else expect(maxAbsDiff(p, expected.predict)).toBeLessThan(1e-5);
    // and saves to the same bytes it was read from
    if (name === 'js') expect(m.save()).toEqual(bytes('model.nc'));
  });

  it('resumes a 0.1.0 checkpoint to the weights 0.1.0 reached without interruption', async () => {
    const be = await createBackend(name);
    const info = await Sequential.checkpointInfo(bytes('checkpoint.nc'));
    expect(info).toMatchObject({ epochsDone: 2, epochs: 4 });
    const m = await Sequential.load(bytes('checkpoint.nc'), { backend: be });
    await m.fit(Float32Array.from(expected.x), Uint8Array.from(expected.y), { ...expected.fitOptions, resumeFrom: bytes('checkpoint.nc') });
    const got = m.parameters();
    expect(got.map((q) => q.name)).toEqual(expected.weights.map((q) => q.name));
    got.forEach((q, i) => {
      if (name === 'js') expect(Array.from(q.value), q.name).toEqual(expected.weights[i]!.value);
      else expect(maxAbsDiff(q.value, expected.weights[i]!.value), q.name).toBeLessThan(1e-4);
    });
    expect((m.layers[1] as BatchNorm).numBatchesTracked).toBe(expected.numBatchesTracked);
  });
});
