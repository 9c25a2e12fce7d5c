// The Node form of checkpoints (issue 6): fit(…, { checkpoint: { path, everyEpochs } })
// and fit(…, { resumeFrom: path }) on the Sequential of 'normcore/node'.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackend, mlp, Sequential, type Backend } from '../src/node/index.js';
import { Sequential as CoreSequential } from '../src/index.js';

function data(rows: number): { x: Float32Array; y: Uint8Array } {
  const x = new Float32Array(rows * 6), y = new Uint8Array(rows);
  for (let r = 0; r < rows; r++) {
    y[r] = r % 3;
    for (let j = 0; j < 6; j++) x[r * 6 + j] = Math.sin(r * 1.7 + j * 0.9) + (j === y[r] ? 1.5 : 0);
  }
  return { x, y };
}

describe('Sequential from normcore/node', () => {
  let dir: string;
  let be: Backend;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'normcore-ckpt-path-'));
    be = await createBackend('wasm');
  });
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

  const model = () => {
    const m = new Sequential(mlp({ inputs: 6, hidden: [8], outputs: 3 }), { backend: be, seed: 3 });
    m.compile({ optimizer: { type: 'adam', lr: 0.01 } });
    return m;
  };
  const fitOptions = { epochs: 4, batchSize: 16, seed: 5 };

  it('writes a checkpoint file every epoch and resumes from its path to the uninterrupted weights', async () => {
    const { x, y } = data(100);
    const full = model();
    await full.fit(x, y, fitOptions);

    const path = join(dir, 'run.ckpt');
    const stop = new AbortController();
    const first = model();
    await first.fit(x, y, {
      ...fitOptions, checkpoint: { path, everyEpochs: 1 }, signal: stop.signal,
      onEpochEnd: (epoch) => { if (epoch === 1) stop.abort(); },
    });
    expect(await CoreSequential.checkpointInfo(new Uint8Array(await import('node:fs').then((fs) => fs.readFileSync(path))))).toMatchObject({ epochsDone: 2, epochs: 4 });

    const resumed = model();
    await resumed.fit(x, y, { ...fitOptions, checkpoint: { path }, resumeFrom: path });
    expect(resumed.save()).toEqual(full.save());
  });

  it('rejects a bad path form and a missing checkpoint, leaving the model as it was', async () => {
    const { x, y } = data(40);
    const m = model();
    const before = m.save();
    await expect(m.fit(x, y, { checkpoint: { path: '' } })).rejects.toThrow(/^fit: options\.checkpoint\.path must be a non-empty string, got ""$/);
    await expect(m.fit(x, y, { checkpoint: { path: join(dir, 'a'), every: 2 } as never })).rejects.toThrow(/unknown option options\.checkpoint\.every/);
    await expect(m.fit(x, y, { resumeFrom: join(dir, 'missing.ckpt') })).rejects.toThrow(/^readCheckpoint: there is no checkpoint at /);
    expect(m.save()).toEqual(before);
  });

  it('load returns the Node class, so a loaded model takes checkpoint paths too', async () => {
    const bytes = model().save();
    expect(await Sequential.load(bytes, { backend: be })).toBeInstanceOf(Sequential);
    expect(await CoreSequential.load(bytes, { backend: be })).not.toBeInstanceOf(Sequential);
  });
});
