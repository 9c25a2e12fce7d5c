/**
 * The memory helpers the training loop needs: fill, copy and gatherRows
 * (32-bit words, bit-exact for f32 and i32 data), and the bias pair
 * biasForward (out[r,:] += bias) / biasBackward (dbias += Σ_r dout[r,:]).
 * Each is checked not to write outside its range.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { KernelBackend as Backend } from '../src/kernels.js';
import { expectAllClose } from './helpers/compare.js';
import { BACKENDS, getBackend, scoped } from './helpers/kernels.js';
import { mulberry32, normal, randInts } from './helpers/prng.js';

/** Words that are not ordinary floats: NaNs with payloads, ±Infinity, −0, subnormals, and plain integers. */
const ODD_WORDS = [0x7fc00001, 0xffffffff | 0, 0x7f800001, 0x7f800000, 0xff800000 | 0, 0x80000000 | 0, 0x00000001, 0x007fffff, -5, 123456789, 0];

const SENTINEL = 0x5eed5eed;

describe.each(BACKENDS)('helpers on the %s backend', (name) => {
  let be: Backend;
  beforeAll(async () => { be = await getBackend(name); });

  /** A block of guard + n + guard words set to SENTINEL; returns the pointer to the middle part. */
  const guarded = (s: { i32(d: ArrayLike<number>): number }, n: number, guard = 4) => s.i32(new Int32Array(n + 2 * guard).fill(SENTINEL)) + guard * 4;
  const guardsIntact = (ptr: number, n: number, guard = 4) => {
    const before = be.heap.i32(ptr - guard * 4, guard), after = be.heap.i32(ptr + n * 4, guard);
    return [...before, ...after].every((w) => w === SENTINEL);
  };

  it.each([1, 3, 4, 7, 16, 37])('fill sets exactly n values (n = %i)', (n) => {
    scoped(be, (s) => {
      const p = guarded(s, n);
      be.kernels.fill(p, n, -2.5);
      expect(Array.from(s.read(p, n))).toEqual(new Array(n).fill(-2.5));
      expect(guardsIntact(p, n)).toBe(true);
      be.kernels.fill(p, n, 0);
      expect(Array.from(s.read(p, n))).toEqual(new Array(n).fill(0));
    });
  });

  it.each([1, 5, 11, 64])('copy is bit-exact for f32 and i32 words (n = %i)', (n) => {
    const rng = mulberry32(n);
    const f = normal(rng, n);
    const words = new Int32Array(n).map((_, i) => ODD_WORDS[i % ODD_WORDS.length]!);
    scoped(be, (s) => {
      const src = s.f32(f), dst = guarded(s, n);
      be.kernels.copy(dst, src, n);
      expect(Array.from(be.heap.i32(dst, n))).toEqual(Array.from(new Int32Array(f.buffer)));
      expect(guardsIntact(dst, n)).toBe(true);
      const srcI = s.i32(words), dstI = guarded(s, n);
      be.kernels.copy(dstI, srcI, n);
      expect(Array.from(be.heap.i32(dstI, n))).toEqual(Array.from(words));
      expect(guardsIntact(dstI, n)).toBe(true);
    });
  });

  it('copy handles overlapping ranges in both directions', () => {
    const data = Int32Array.from({ length: 12 }, (_, i) => i + 1);
    scoped(be, (s) => {
      const p = s.i32(data);
      be.kernels.copy(p + 8, p, 9); // forward overlap: words 0..8 → 2..10
      expect(Array.from(s.readI32(p, 12))).toEqual([1, 2, 1, 2, 3, 4, 5, 6, 7, 8, 9, 12]);
      const q = s.i32(data);
      be.kernels.copy(q, q + 12, 9); // backward overlap: words 3..11 → 0..8
      expect(Array.from(s.readI32(q, 12))).toEqual([4, 5, 6, 7, 8, 9, 10, 11, 12, 10, 11, 12]);
    });
  });

  it('gatherRows copies the indexed rows of f32 data, bit-exact, in index order with repeats', () => {
    const rng = mulberry32(2);
    const [srcRows, cols, n] = [9, 7, 12];
    const src = normal(rng, srcRows * cols);
    const idx = randInts(rng, n, srcRows);
    idx[0] = srcRows - 1; idx[1] = 0; idx[2] = 0; // the last row, the first row, a repeat
    const out = scoped(be, (s) => {
      const po = guarded(s, n * cols);
      be.kernels.gatherRows(po, s.f32(src), s.i32(idx), n, cols);
      expect(guardsIntact(po, n * cols)).toBe(true);
      return be.heap.i32(po, n * cols).slice();
    });
    const srcWords = new Int32Array(src.buffer);
    const expected = Array.from(idx).flatMap((r) => Array.from(srcWords.subarray(r * cols, (r + 1) * cols)));
    expect(Array.from(out)).toEqual(expected);
  });

  it('gatherRows is bit-exact for i32 data (labels as one-column rows, odd words)', () => {
    const src = Int32Array.from(ODD_WORDS);
    const idx = new Int32Array([10, 0, 1, 2, 3, 3, 4, 5, 6, 7, 8, 9]);
    const out = scoped(be, (s) => {
      const po = s.out(idx.length);
      be.kernels.gatherRows(po, s.i32(src), s.i32(idx), idx.length, 1);
      return s.readI32(po, idx.length);
    });
    expect(Array.from(out)).toEqual(Array.from(idx, (i) => src[i]!));
  });

  it.each([[1, 1], [3, 7], [4, 8], [5, 13]] as const)('biasForward adds bias to every row (%i×%i)', (rows, cols) => {
    const rng = mulberry32(rows * 31 + cols);
    const out0 = normal(rng, rows * cols), bias = normal(rng, cols);
    const got = scoped(be, (s) => {
      const po = s.f32(out0);
      be.kernels.biasForward(po, s.f32(bias), rows, cols);
      return s.read(po, rows * cols);
    });
    expectAllClose(got, Array.from(out0, (v, i) => Math.fround(v + bias[i % cols]!)), 0, 0);
  });

  it.each([[1, 1], [3, 7], [4, 8], [6, 13]] as const)('biasBackward accumulates the column sums of dout (%i×%i)', (rows, cols) => {
    const rng = mulberry32(rows * 37 + cols);
    const dout = normal(rng, rows * cols), dbias0 = normal(rng, cols);
    const got = scoped(be, (s) => {
      const pb = s.f32(dbias0);
      be.kernels.biasBackward(pb, s.f32(dout), rows, cols);
      return s.read(pb, cols);
    });
    const expected = Array.from(dbias0, (v, j) => {
      let sum = v;
      for (let r = 0; r < rows; r++) sum += dout[r * cols + j]!;
      return sum;
    });
    expectAllClose(got, expected, 1e-6, 1e-6);
  });
});
