import { describe, expect, it } from 'vitest';
import { loadMnist, MNIST_AVAILABLE } from '../src/node/mnist.js';

/** Digits per class in the whole package (counted once by a split that takes everything). */
function classSizes(): number[] {
  const all = loadMnist({ train: MNIST_AVAILABLE - 1, test: 1, seed: 0 });
  const n = new Array<number>(10).fill(0);
  for (const l of all.trainLabels) n[l]!++;
  for (const l of all.testLabels) n[l]!++;
  return n;
}

function counts(labels: Uint8Array): number[] {
  const n = new Array<number>(10).fill(0);
  for (const l of labels) n[l]!++;
  return n;
}

/** A digit image as a string key, to find the same image in both sets. */
function keys(images: Float32Array, rows: number): string[] {
  const out: string[] = [];
  for (let r = 0; r < rows; r++) out.push(Buffer.from(images.buffer, images.byteOffset + r * 784 * 4, 784 * 4).toString('base64'));
  return out;
}

describe('loadMnist', () => {
  it('returns exactly the requested sizes, with the default 8000 / 2000 split', () => {
    const d = loadMnist();
    expect(d.trainImages).toBeInstanceOf(Float32Array);
    expect(d.trainLabels).toBeInstanceOf(Uint8Array);
    expect(d.trainImages.length).toBe(8000 * 784);
    expect(d.trainLabels.length).toBe(8000);
    expect(d.testImages.length).toBe(2000 * 784);
    expect(d.testLabels.length).toBe(2000);
    expect(d.classes).toBe(10);
    expect(d.features).toBe(784);
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of d.testImages) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    expect(lo).toBe(0);
    expect(hi).toBeLessThanOrEqual(1);
    expect(hi).toBeGreaterThan(0.9);
  });

  it('is stratified: each class count is within 1 of its proportional share', () => {
    const sizes = classSizes();
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(MNIST_AVAILABLE);
    for (const [train, test] of [[8000, 2000], [500, 200], [7, 3], [1, 9999], [9999, 1], [1234, 4321], [5000, 5000]] as const) {
      const d = loadMnist({ train, test, seed: 3 });
      const ct = counts(d.trainLabels);
      const cs = counts(d.testLabels);
      expect(ct.reduce((a, b) => a + b, 0)).toBe(train);
      expect(cs.reduce((a, b) => a + b, 0)).toBe(test);
      for (let c = 0; c < 10; c++) {
        expect(Math.abs(ct[c]! - (train * sizes[c]!) / MNIST_AVAILABLE)).toBeLessThan(1);
        expect(Math.abs(cs[c]! - (test * sizes[c]!) / MNIST_AVAILABLE)).toBeLessThan(1);
      }
    }
  });

  it('puts no digit in both the training and the test set (the package holds 10,000 distinct images)', () => {
    const d = loadMnist({ train: 6000, test: 4000, seed: 2 });
    const train = new Set(keys(d.trainImages, 6000));
    const test = new Set(keys(d.testImages, 4000));
    expect(train.size).toBe(6000);
    expect(test.size).toBe(4000);
    expect([...test].filter((k) => train.has(k))).toEqual([]);
  });

  it('interleaves the classes (the sets are shuffled)', () => {
    const d = loadMnist({ train: 1000, test: 200, seed: 1 });
    const first = counts(d.trainLabels.subarray(0, 100));
    expect(first.filter((n) => n > 0).length).toBeGreaterThanOrEqual(8);
  });

  it('is deterministic for a seed, and another seed gives another split', () => {
    const a = loadMnist({ train: 300, test: 100, seed: 7 });
    const b = loadMnist({ train: 300, test: 100, seed: 7 });
    const c = loadMnist({ train: 300, test: 100, seed: 8 });
    const same = (x: ArrayBufferView, y: ArrayBufferView): boolean =>
      Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(Buffer.from(y.buffer, y.byteOffset, y.byteLength));
    expect(same(b.trainLabels, a.trainLabels)).toBe(true);
    expect(same(b.trainImages, a.trainImages)).toBe(true);
    expect(same(b.testLabels, a.testLabels)).toBe(true);
    expect(same(b.testImages, a.testImages)).toBe(true);
    expect(same(c.trainImages, a.trainImages)).toBe(false);
    expect(same(c.testImages, a.testImages)).toBe(false);
  });

  it('returns fresh arrays (changing one result does not change the next)', () => {
    const a = loadMnist({ train: 10, test: 10, seed: 1 });
    const before = loadMnist({ train: 10, test: 10, seed: 1 }).trainImages.slice();
    a.trainImages.fill(5);
    expect(loadMnist({ train: 10, test: 10, seed: 1 }).trainImages).toEqual(before);
  });

  it('rejects bad options with a message naming the option, the expected and the given value', () => {
    expect(() => loadMnist({ train: 9000, test: 2000 })).toThrow(RangeError);
    expect(() => loadMnist({ train: 9000, test: 2000 })).toThrow(/options\.train \+ options\.test must be ≤ 10000.*got 9000 \+ 2000 = 11000/);
    expect(() => loadMnist({ train: 0 })).toThrow(/options\.train must be an integer ≥ 1, got 0/);
    expect(() => loadMnist({ test: 2.5 })).toThrow(/options\.test must be an integer ≥ 1, got 2\.5/);
    expect(() => loadMnist({ train: -3 })).toThrow(RangeError);
    expect(() => loadMnist({ seed: -1 })).toThrow(/options\.seed must be an integer ≥ 0, got -1/);
    expect(() => loadMnist({ train: '100' as unknown as number })).toThrow(TypeError);
    expect(() => loadMnist({ trian: 100 } as unknown as { train: number })).toThrow(/unknown option options\.trian/);
  });
});
