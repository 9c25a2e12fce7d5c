/**
 * trainTestSplit (exact counts, stratified shares, seeded) and the per-feature
 * stats behind Normalization.adapt (two-pass in f64, Chan merge for streams).
 */
import { describe, expect, it } from 'vitest';
import { trainTestSplit } from '../src/data/split.js';
import { MomentsAccumulator, chunkMoments, featureStats, featureStatsStream, mergeMoments } from '../src/data/stats.js';
import { Random } from '../src/model/random.js';

describe('trainTestSplit', () => {
  const rows = 150;
  const x = Array.from({ length: rows }, (_, i) => [i, -i]);
  const y = new Int32Array(rows).map((_, i) => (i < 50 ? 0 : i < 100 ? 1 : 2));

  it('puts round(testFraction · rows) rows in the test part, each row once, x and y together', () => {
    const s = trainTestSplit(x, y, { testFraction: 0.2 });
    expect(s.testIndex.length).toBe(30);
    expect(s.trainIndex.length).toBe(120);
    const all = [...s.trainIndex, ...s.testIndex].sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: rows }, (_, i) => i));
    expect(s.xTest).toBeInstanceOf(Float32Array);
    expect(s.yTest).toBeInstanceOf(Int32Array);
    s.testIndex.forEach((r, i) => {
      expect(s.xTest[2 * i]).toBe(r);
      expect(s.xTest[2 * i + 1]).toBe(-r);
      expect(s.yTest[i]).toBe(y[r]);
    });
    expect(trainTestSplit(x, y, { testFraction: 0.33 }).testIndex.length).toBe(50); // 49.5 rounds to 50
  });

  it('is deterministic for a seed and differs between seeds', () => {
    const a = trainTestSplit(x, y, { seed: 7 });
    const b = trainTestSplit(x, y, { seed: 7 });
    const c = trainTestSplit(x, y, { seed: 8 });
    expect(Array.from(a.testIndex)).toEqual(Array.from(b.testIndex));
    expect(Array.from(a.testIndex)).not.toEqual(Array.from(c.testIndex));
  });

  it('stratified: each class gets its share, rounded by largest remainder so the total is exact', () => {
    const s = trainTestSplit(x, y, { testFraction: 0.2, stratify: true, seed: 3 });
    const counts = [0, 0, 0];
    for (const v of s.yTest) counts[v]!++;
    expect(counts).toEqual([10, 10, 10]);
    // classes of 7, 5 and 3 rows at 0.3: exact shares 2.1, 1.5, 0.9 (total 4.5 → 5 test rows);
    // floors 2, 1, 0 then the two largest remainders (0.9, 0.5) → 2, 2, 1
    const yy = [0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2];
    const t = trainTestSplit(new Float32Array(15), yy, { testFraction: 0.3, stratify: true, features: 1 });
    expect(t.yTest).toBeInstanceOf(Float64Array);
    const c2 = [0, 0, 0];
    for (const v of t.yTest) c2[v]!++;
    expect(c2).toEqual([2, 2, 1]);
  });

  it('splits regression targets with several outputs per row', () => {
    const yr = new Float32Array(20).map((_, i) => i / 2);
    const s = trainTestSplit(new Float64Array(10).map((_, i) => i), yr, { features: 1, testFraction: 0.3 });
    expect(s.outputs).toBe(2);
    expect(s.yTest.length).toBe(6);
    s.testIndex.forEach((r, i) => expect([s.yTest[2 * i], s.yTest[2 * i + 1]]).toEqual([r, r + 0.5]));
  });

  it('names bad options', () => {
    expect(() => trainTestSplit(x, y, { testFraction: 1 })).toThrow(/options.testFraction must be a number in \(0, 1\), got 1/);
    expect(() => trainTestSplit([[1], [2]], [0, 1], { testFraction: 0.1 })).toThrow(/gives 0 test rows; both parts need at least one row/);
    expect(() => trainTestSplit(x, y.subarray(1))).toThrow(/y must have the same number of rows as x \(150\), got length 149/);
    expect(() => trainTestSplit([[1], [2], [3]], [0, 0.5, 1], { stratify: true })).toThrow(/stratify needs class indices .* y\[1\] = 0.5/);
    expect(() => trainTestSplit(x, y, { testfraction: 0.2 } as never)).toThrow(/unknown option options.testfraction/);
  });
});

describe('feature stats', () => {
  it('gives the right variance for mean 1e4 and std 0.1 (f32 data)', () => {
    const rng = new Random(5);
    const n = 100_000;
    const x = new Float32Array(n * 2);
    for (let i = 0; i < n; i++) {
      x[2 * i] = 1e4 + 0.1 * rng.normal();
      x[2 * i + 1] = rng.normal();
    }
    // reference: the same f32 values, mean and variance by a plain two-pass loop in f64
    const ref = [0, 1].map((c) => {
      let m = 0;
      for (let i = 0; i < n; i++) m += x[2 * i + c]!;
      m /= n;
      let v = 0;
      for (let i = 0; i < n; i++) v += (x[2 * i + c]! - m) ** 2;
      return { m, v: v / n };
    });
    const s = featureStats(x, 2);
    expect(s.count).toBe(n);
    expect(s.mean[0]).toBeCloseTo(ref[0]!.m, 9);
    expect(s.variance[0]! / ref[0]!.v).toBeCloseTo(1, 9);
    expect(s.variance[0]).toBeGreaterThan(0.0098); // std 0.1 up to sampling and f32 spacing (~0.001 at 1e4)
    expect(s.variance[0]).toBeLessThan(0.0102);
    expect(s.variance[1]! / ref[1]!.v).toBeCloseTo(1, 12);
    // what the naive one-pass formula in f32 arithmetic gives, to show the test can fail
    let sum = Math.fround(0);
    let sq = Math.fround(0);
    for (let i = 0; i < n; i++) {
      sum = Math.fround(sum + x[2 * i]!);
      sq = Math.fround(sq + Math.fround(x[2 * i]! * x[2 * i]!));
    }
    const naive = sq / n - (sum / n) ** 2;
    expect(Math.abs(naive - ref[0]!.v)).toBeGreaterThan(1);
  });

  it('merges chunks (Chan) to the one-pass result, in any chunking', async () => {
    const rng = new Random(9);
    const rows = 1000;
    const x = new Float32Array(rows * 3);
    for (let i = 0; i < x.length; i++) x[i] = 1e4 * (i % 3) + rng.normal() * (1 + (i % 3));
    const whole = featureStats(x, 3);
    const acc = new MomentsAccumulator(3);
    const cuts = [0, 1, 7, 300, 301, 999, 1000];
    for (let k = 0; k + 1 < cuts.length; k++) acc.add(x.subarray(cuts[k]! * 3, cuts[k + 1]! * 3));
    const merged = acc.result();
    expect(merged.count).toBe(rows);
    for (let c = 0; c < 3; c++) {
      expect(merged.mean[c]! - whole.mean[c]!).toBeCloseTo(0, 9);
      expect(merged.variance[c]! / whole.variance[c]!).toBeCloseTo(1, 10);
    }
    // merge is symmetric
    const a = chunkMoments(x.subarray(0, 300), 100, 3);
    const b = chunkMoments(x.subarray(300), 900, 3);
    for (let c = 0; c < 3; c++) expect(mergeMoments(a, b).m2[c]! / mergeMoments(b, a).m2[c]!).toBeCloseTo(1, 12);

    async function* batches() {
      for (let r = 0; r < rows; r += 128) yield { x: x.subarray(r * 3, Math.min(rows, r + 128) * 3), y: new Int32Array(0) };
    }
    const streamed = await featureStatsStream(batches(), 3);
    for (let c = 0; c < 3; c++) expect(streamed.variance[c]! / whole.variance[c]!).toBeCloseTo(1, 10);
  });

  it('reads number[][] chunks, refuses chunks of another width and empty sources', async () => {
    const s = await featureStatsStream([[[1, 10], [3, 30]], [[5, 50]]]);
    expect(Array.from(s.mean)).toEqual([3, 30]);
    expect(s.variance[0]).toBeCloseTo(8 / 3, 12);
    await expect(featureStatsStream([[[1, 2]], [[1, 2, 3]]])).rejects.toThrow(/chunk 1 has 3 features per row, the first chunk had 2/);
    await expect(featureStatsStream([])).rejects.toThrow(/the source gave no rows/);
    expect(featureStats([[4], [4]]).variance[0]).toBe(0);
  });
});
