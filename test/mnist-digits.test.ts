/**
 * data/mnist-digits.bin, the digits normcore ships instead of depending on the
 * 41 MB `mnist` package (a devDependency, read here as the reference): the same
 * f32 values bit for bit, class by class in the package's own order.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeDigitsFile, readDigitsFile } from '../src/node/digits.js';
import { loadMnist } from '../src/node/mnist.js';

const mnistDir = dirname(createRequire(import.meta.url).resolve('mnist/package.json'));
const reference = (c: number) => Float32Array.from((JSON.parse(readFileSync(join(mnistDir, 'src', 'digits', `${c}.json`), 'utf8')) as { data: number[] }).data);
const shipped = readDigitsFile(new URL('../data/mnist-digits.bin', import.meta.url));

describe('data/mnist-digits.bin', () => {
  it('holds every digit of the mnist package, class by class, with the same f32 bits', () => {
    expect(shipped.features).toBe(784);
    expect(shipped.classes).toBe(10);
    expect(shipped.trainRows).toBe(10_000);
    let row = 0;
    for (let c = 0; c < 10; c++) {
      const ref = reference(c);
      const n = ref.length / 784;
      expect(Array.from(new Set(shipped.labels.subarray(row, row + n)))).toEqual([c]);
      const got = shipped.images.subarray(row * 784, (row + n) * 784);
      // Compare the bits, so -0 / +0 or a NaN payload would count as different.
      expect(Buffer.from(got.buffer, got.byteOffset, got.byteLength).equals(Buffer.from(ref.buffer))).toBe(true);
      row += n;
    }
    expect(row).toBe(10_000);
  });

  it('gives loadMnist digits that are rows of the mnist package with their class as the label', () => {
    const d = loadMnist({ train: 30, test: 10, seed: 7 });
    const byClass = Array.from({ length: 10 }, (_, c) => {
      const ref = reference(c);
      const set = new Set<string>();
      for (let i = 0; i < ref.length / 784; i++) set.add(Buffer.from(ref.buffer, i * 784 * 4, 784 * 4).toString('base64'));
      return set;
    });
    const check = (images: Float32Array, labels: Uint8Array) => {
      for (let r = 0; r < labels.length; r++) {
        const key = Buffer.from(images.buffer, images.byteOffset + r * 784 * 4, 784 * 4).toString('base64');
        expect(byClass[labels[r]!]!.has(key)).toBe(true);
      }
    };
    check(d.trainImages, d.trainLabels);
    check(d.testImages, d.testLabels);
  });

  it('rejects bytes that are not a digits file, or a truncated one, with a MODEL_FORMAT error naming the source', () => {
    expect(() => decodeDigitsFile(new TextEncoder().encode('not digits'), 'x.bin')).toThrow(
      expect.objectContaining({ code: 'MODEL_FORMAT', message: expect.stringContaining('x.bin: not a normcore digits file') }),
    );
    const raw = new Uint8Array(24 + 1024 + 1 + 784);
    raw.set(new TextEncoder().encode('NCDIGIT1'));
    const view = new DataView(raw.buffer);
    view.setUint32(8, 2, true); // promises two rows, holds one
    view.setUint32(16, 784, true);
    view.setUint32(20, 10, true);
    expect(() => decodeDigitsFile(gzipSync(raw), 'y.bin')).toThrow(
      expect.objectContaining({ code: 'MODEL_FORMAT', message: expect.stringContaining(`holds ${raw.length} bytes, its header promises ${24 + 1024 + 2 + 2 * 784}`) }),
    );
  });

  it('names the missing file and how to make it', () => {
    expect(() => readDigitsFile('/nonexistent/mnist-digits.bin')).toThrow(
      expect.objectContaining({ code: 'UNAVAILABLE', message: expect.stringContaining('/nonexistent/mnist-digits.bin cannot be read') }),
    );
  });
});
