import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackend } from '../src/backend/index.js';
import { bnPaperLayers, medianDrift, percentileOfSorted, runBnPaper, type BnPaperResult } from '../src/experiment/bn-paper.js';
import { Sequential } from '../src/model/sequential.js';
import { experimentMain } from '../src/experiment/cli.js';
import { loadMnist } from '../src/node/mnist.js';

/** Captures what a command writes. */
function capture(): { io: { stdout(t: string): void; stderr(t: string): void }; out: () => string; err: () => string } {
  let out = '', err = '';
  return { io: { stdout: (t) => void (out += t), stderr: (t) => void (err += t) }, out: () => out, err: () => err };
}

describe('percentileOfSorted', () => {
  it('interpolates linearly between ranks (numpy default)', () => {
    const xs = [1, 2, 3, 4, 5];
    expect(percentileOfSorted(xs, 50)).toBe(3);
    expect(percentileOfSorted(xs, 0)).toBe(1);
    expect(percentileOfSorted(xs, 100)).toBe(5);
    // position 0.15·4 = 0.6 → 1 + 0.6·(2 − 1)
    expect(percentileOfSorted(xs, 15)).toBeCloseTo(1.6, 12);
    expect(percentileOfSorted([7], 85)).toBe(7);
    expect(percentileOfSorted([], 50)).toBeNaN();
  });
});

describe('medianDrift', () => {
  it('is max − min, last − first and the summed steps of the 50th percentile', () => {
    const d = medianDrift({ p15: [-1, -1, -1, -1], p50: [0.5, -0.25, 1, 0.75], p85: [1, 2, 1, 2] });
    expect(d.range).toBe(1.25);
    expect(d.drift).toBe(0.25);
    expect(d.totalVariation).toBe(0.75 + 1.25 + 0.25);
    expect(d.meanBand).toBe(2.5);
  });
});

describe('bnPaperLayers', () => {
  it('gives both networks the same initial weights for the same seed (only the plain one has biases, at 0)', async () => {
    await createBackend('wasm');
    const plain = new Sequential(bnPaperLayers(784, 10, [100, 100, 100], 0.1, false), { seed: 7 });
    const bn = new Sequential(bnPaperLayers(784, 10, [100, 100, 100], 0.1, true), { seed: 7 });
    const weights = (m: Sequential) => m.parameters().filter((p) => p.name.endsWith('dense.weight')).map((p) => p.value);
    const a = weights(plain), b = weights(bn);
    expect(a).toHaveLength(4);
    a.forEach((w, i) => expect(w).toEqual(b[i]));
    // std 0.1 as asked
    const w0 = a[0]!;
    const std = Math.sqrt(w0.reduce((s, x) => s + x * x, 0) / w0.length);
    expect(std).toBeGreaterThan(0.098);
    expect(std).toBeLessThan(0.102);
    for (const p of plain.parameters().filter((q) => q.name.endsWith('bias'))) expect(p.value.every((x) => x === 0)).toBe(true);
    expect(bn.parameters().filter((q) => q.name.endsWith('dense.bias'))).toHaveLength(1); // only the output layer
    expect(bn.layers.map((l) => l.type)).toEqual(['dense', 'batchnorm', 'sigmoid', 'dense', 'batchnorm', 'sigmoid', 'dense', 'batchnorm', 'sigmoid', 'dense']);
    plain.dispose();
    bn.dispose();
  });
});

describe('runBnPaper: a short seeded run shows the paper\'s result', () => {
  const steps = 600, every = 100;
  let r: BnPaperResult;
  beforeAll(async () => {
    await createBackend('wasm');
    const data = loadMnist({ train: 3000, test: 500, seed: 1 });
    r = await runBnPaper({ data, steps, every, seed: 1, backend: 'wasm' });
  }, 60_000);

  it('records every `every` steps up to `steps`, for both networks', () => {
    const expected = [100, 200, 300, 400, 500, 600];
    for (const s of [r.plain, r.batchnorm]) {
      expect(s.step).toEqual(expected);
      for (const k of ['accuracy', 'p15', 'p50', 'p85'] as const) expect(s[k]).toHaveLength(expected.length);
      s.step.forEach((_, i) => expect(s.p15[i]!).toBeLessThanOrEqual(s.p50[i]!));
      s.step.forEach((_, i) => expect(s.p50[i]!).toBeLessThanOrEqual(s.p85[i]!));
      expect(s.divergedAt).toBeUndefined();
    }
    expect(r.batchnorm.runningStats?.p50).toHaveLength(expected.length);
    expect(r.plain.runningStats).toBeUndefined();
    expect(r.config).toMatchObject({ steps, every, lr: 0.1, batchSize: 60, hidden: [100, 100, 100], train: 3000, test: 500, features: 784, classes: 10 });
  });

  it('the BN network is ahead in test accuracy at an early checkpoint (step 200)', () => {
    const i = r.plain.step.indexOf(200);
    // Measured (this split and seed): 0.88 with BN against 0.11 without.
    expect(r.batchnorm.accuracy[i]!).toBeGreaterThan(0.8);
    expect(r.batchnorm.accuracy[i]! - r.plain.accuracy[i]!).toBeGreaterThan(0.3);
  });

  it('the median sigmoid input moves less with BN: max − min of the 50th percentile over all checkpoints', () => {
    const plain = medianDrift(r.plain), bn = medianDrift(r.batchnorm);
    // "Moving": max − min of the 50th percentile over the checkpoints 100…600; also its total variation.
    expect(bn.range).toBeLessThan(plain.range / 2);
    expect(bn.totalVariation).toBeLessThan(plain.totalVariation);
  });

  it('accuracy is between 0 and 1 and the plain network also learns', () => {
    for (const s of [r.plain, r.batchnorm]) for (const a of s.accuracy) expect(a).toBeGreaterThanOrEqual(0), expect(a).toBeLessThanOrEqual(1);
    expect(r.plain.accuracy[r.plain.accuracy.length - 1]!).toBeGreaterThan(r.plain.accuracy[0]!);
  });

  it('records the last step when steps is not a multiple of every, and rejects bad options', async () => {
    const data = loadMnist({ train: 200, test: 50, seed: 2 });
    const short = await runBnPaper({ data, steps: 5, every: 2, backend: 'wasm' });
    expect(short.plain.step).toEqual([2, 4, 5]);
    expect(short.batchnorm.step).toEqual([2, 4, 5]);
    await expect(runBnPaper({ data, steps: 0 })).rejects.toThrow(/steps/);
    await expect(runBnPaper({ data, unit: 100 })).rejects.toThrow(/unit must be < 100/);
    await expect(runBnPaper({ data, batchSize: 1 })).rejects.toThrow(/batchSize/);
  });
});

describe('experimentMain bn-paper', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'normcore-experiment-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes the HTML report with SVG figures, the two SVG files and the JSON series, and prints a summary', async () => {
    const c = capture();
    const out = join(dir, 'report');
    const code = await experimentMain(['bn-paper', '--steps', '40', '--every', '20', '--seed', '3', '--out', out], c.io);
    expect(c.err()).not.toMatch(/error|failed/i);
    expect(code).toBe(0);
    const html = await readFile(join(out, 'bn-paper.html'), 'utf8');
    expect(html).toMatch(/^<!doctype html>/);
    expect(html.match(/<svg/g)?.length).toBeGreaterThanOrEqual(2);
    expect(html).not.toMatch(/<script/);
    for (const f of ['bn-paper-accuracy.svg', 'bn-paper-percentiles.svg']) {
      expect(await readFile(join(out, f), 'utf8')).toContain('<svg');
    }
    const json = JSON.parse(await readFile(join(out, 'bn-paper.json'), 'utf8')) as BnPaperResult;
    expect(json.plain.step).toEqual([20, 40]);
    expect(json.config).toMatchObject({ steps: 40, every: 20, seed: 3 });
    expect(c.out()).toMatch(/test accuracy/);
    expect(c.out()).toMatch(/without BN .*max−min/);
    expect(c.out()).toMatch(/with BN .*max−min/);
  }, 60_000);

  it.each([
    [['bn-paper', '--bogus']],
    [['bn-paper', '--steps']],
    [['bn-paper', '--steps', 'ten']],
    [['bn-paper', '--steps', '0']],
    [['bn-paper', '--lr', '-1']],
    [['bn-paper', '--batch-size', '1']],
    [['bn-paper', '--every', '0']],
    [['bn-paper', '--seed', '1.5']],
    [['bn-paper', '--out', '']],
    [['bn-paper', 'extra']],
    [['no-such-experiment']],
  ])('bad command line %j → exit code 2 with a one-line message', async (argv) => {
    const c = capture();
    expect(await experimentMain(argv, c.io)).toBe(2);
    expect(c.err().trimEnd().split('\n')).toHaveLength(1);
    expect(c.err()).toMatch(/^normcore experiment/);
    expect(c.out()).toBe('');
  });

  it('a negative number after a value flag is its value, checked as normcore train checks it', async () => {
    const c = capture();
    expect(await experimentMain(['bn-paper', '--lr', '-1'], c.io)).toBe(2);
    expect(c.err().trimEnd()).toMatch(/^normcore experiment bn-paper: --lr must be a positive number, got "-1"$/);
    const d = capture();
    expect(await experimentMain(['bn-paper', '--seed', '-1'], d.io)).toBe(2);
    expect(d.err().trimEnd()).toMatch(/^normcore experiment bn-paper: --seed must be an integer in \[0, 4294967295\], got "-1"$/);
  });

  it('--help prints the flags and exits 0; no experiment name prints help on stderr and exits 2', async () => {
    const c = capture();
    expect(await experimentMain(['bn-paper', '--help'], c.io)).toBe(0);
    for (const f of ['--steps', '--lr', '--batch-size', '--seed', '--every', '--out']) expect(c.out()).toContain(f);
    const d = capture();
    expect(await experimentMain([], d.io)).toBe(2);
    expect(d.err()).toContain('bn-paper');
  });
});
