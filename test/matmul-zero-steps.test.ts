/**
 * matmul's zero steps (assembly/matmul.ts, `skipZeroSteps`): a depth step
 * whose values in a 4-row panel of op(A) are all +0 is left out of the
 * product when a fifth or more of the panel's steps are. Left out, it
 * changes no bit of C while B is finite, since adding +0·b to a sum changes
 * nothing.
 *
 * The reference for "the same bits" is the same product with every +0 of A
 * written as −0: −0 is not all-zero bits, so the kernel keeps every step
 * (its plain loop), and −0·b adds a zero as +0·b does. That those steps are
 * really skipped shows in the one case where a skipped step would have
 * mattered: a NaN in B's row p, multiplied by A's zeros at p, gives NaN in C
 * through the plain loop and not through the skipping one.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createBackend, type KernelBackend as Backend } from '../src/kernels.js';
import { loadMnist } from '../src/node/index.js';
import { expectRelErr } from './helpers/compare.js';
import { getBackend, scoped } from './helpers/kernels.js';
import { mulberry32, uniform, type Rng } from './helpers/prng.js';

/**
 * op(A) m×k with many all-zero depth steps: each depth p is zero in every row
 * with probability `zeroSteps`, and any other value is zero with probability
 * `zeros` (as digits' pixels are); stored m×k, or k×m when transA.
 */
function sparseA(rng: Rng, m: number, k: number, transA: boolean, zeroSteps = 0.5, zeros = 0.5): Float32Array {
  const deadStep = Array.from({ length: k }, () => rng() < zeroSteps);
  const a = new Float32Array(m * k);
  for (let i = 0; i < m; i++) {
    for (let p = 0; p < k; p++) {
      a[transA ? p * m + i : i * k + p] = deadStep[p] || rng() < zeros ? 0 : rng() * 2 - 1;
    }
  }
  return a;
}

/** a with each +0 written as −0 (bits 0x80000000): the product keeps every step. */
function negativeZeros(a: Float32Array): Float32Array {
  return a.map((v) => (Object.is(v, 0) ? -0 : v));
}

const bits = (x: Float32Array) => Array.from(new Uint32Array(x.buffer, x.byteOffset, x.length));

/** Shapes around the tile (4×8), the blocking (64 rows, depth 256, 256 columns), the layers of the bench network, and rows below 4 (the unpacked path; k = 5000 is too long for its list). */
const SHAPES = [[4, 16, 8], [5, 33, 9], [67, 255, 129], [130, 257, 260], [128, 784, 256], [784, 128, 256], [3, 300, 17], [1, 784, 256], [2, 5000, 33], [9, 1, 8]] as const;
const TRANS = [[false, false], [true, false], [false, true], [true, true]] as const;

/** C = op(A)·op(B) (+ c0 when accumulate) through the pointer-level kernel. */
function product(be: Backend, a: Float32Array, b: Float32Array, m: number, k: number, n: number, tA: boolean, tB: boolean, c0?: Float32Array): Float32Array {
  return scoped(be, (s) => {
    const c = c0 ? s.f32(c0) : s.out(m * n);
    be.kernels.matmul(c, s.f32(a), s.f32(b), m, k, n, tA ? 1 : 0, tB ? 1 : 0, c0 ? 1 : 0);
    return s.read(c, m * n);
  });
}

describe('matmul skips the all-zero depth steps of A, bit for bit', () => {
  let wasm: Backend, debug: Backend, js: Backend;
  beforeAll(async () => {
    [wasm, js] = await Promise.all([getBackend('wasm'), getBackend('js')]);
    debug = await createBackend('wasm', { debug: true });
  });

  it.each(TRANS)('the same bits as the plain loop, accumulate 0 and 1 (transA=%s transB=%s)', (tA, tB) => {
    const rng = mulberry32(31);
    for (const be of [wasm, debug]) {
      for (const [m, k, n] of SHAPES) {
        const a = sparseA(rng, m, k, tA), b = uniform(rng, k * n), c0 = uniform(rng, m * n);
        const where = `${be.build}, m=${m} k=${k} n=${n}`;
        expect(bits(product(be, a, b, m, k, n, tA, tB)), where).toEqual(bits(product(be, negativeZeros(a), b, m, k, n, tA, tB)));
        expect(bits(product(be, a, b, m, k, n, tA, tB, c0)), `${where}, accumulate`).toEqual(bits(product(be, negativeZeros(a), b, m, k, n, tA, tB, c0)));
      }
    }
  });

  it.each([64, 1])('the steps are left out: a NaN in a row of B that only zeros of A meet stays out of C (the plain loop gives NaN), m = %i', (m) => {
    const [k, n] = [96, 24];
    const rng = mulberry32(32);
    const a = sparseA(rng, m, k, false, 0.5, 0);
    const dead = Array.from({ length: k }, (_, p) => p).find((p) => Array.from({ length: m }, (_, i) => a[i * k + p]).every((v) => Object.is(v, 0)))!;
    const b = uniform(rng, k * n);
    b[dead * n + 3] = NaN;
    const skipped = product(wasm, a, b, m, k, n, false, false);
    expect(skipped.every(Number.isFinite)).toBe(true);
    const plain = product(wasm, negativeZeros(a), b, m, k, n, false, false);
    expect(Number.isNaN(plain[3])).toBe(true);
    // the js twin multiplies every step
    expect(Number.isNaN(product(js, a, b, m, k, n, false, false)[3])).toBe(true);
  });

  it('agrees with the js twin on sparse operands', () => {
    const rng = mulberry32(33);
    for (const [tA, tB] of TRANS) {
      for (const [m, k, n] of SHAPES) {
        const a = sparseA(rng, m, k, tA), b = uniform(rng, k * n);
        expectRelErr(product(wasm, a, b, m, k, n, tA, tB), product(js, a, b, m, k, n, tA, tB), 1e-4, `m=${m} k=${k} n=${n}`);
      }
    }
  });

  it('the packed-weights product skips them too, with the bits of matmulForward (and below 4 rows, where it runs a GEMV that skips nothing)', () => {
    const rng = mulberry32(34);
    for (const [m, k, n] of [[128, 784, 256], [67, 255, 129], [4, 9, 8], [1, 784, 256], [3, 300, 70], [2, 5000, 40], [1, 256, 10]] as const) {
      const inp = sparseA(rng, m, k, false), w = uniform(rng, k * n);
      const got = scoped(wasm, (s) => {
        const packed = s.out(Math.ceil(n / 8) * 8 * k), out = s.out(m * n), ref = s.out(m * n), pw = s.f32(w);
        wasm.kernels.packWeights(packed, pw, k, n);
        wasm.kernels.matmulForwardPacked(out, s.f32(inp), packed, m, k, n);
        wasm.kernels.matmulForward(ref, s.f32(negativeZeros(inp)), pw, m, k, n);
        return [s.read(out, m * n), s.read(ref, m * n)] as const;
      });
      expect(bits(got[0]), `m=${m} k=${k} n=${n}`).toEqual(bits(got[1]));
    }
  });

  it('predict of one digit (matmulForward of one row: each row sums over its inputs that are not +0): a NaN weight met only by zero pixels stays out', () => {
    const d = loadMnist({ train: 16, test: 10, seed: 1 });
    const x = d.trainImages.slice(0, 784);
    const zero = x.findIndex((v) => v === 0);
    const rng = mulberry32(36);
    const w = uniform(rng, 784 * 256);
    w[zero * 256 + 5] = NaN;
    const run = (inp: Float32Array) => scoped(wasm, (s) => {
      const out = s.out(256);
      wasm.kernels.matmulForward(out, s.f32(inp), s.f32(w), 1, 784, 256);
      return s.read(out, 256);
    });
    expect(run(x).every(Number.isFinite)).toBe(true);
    expect(Number.isNaN(run(negativeZeros(x))[5])).toBe(true);
  });

  it("on the digits, layer 1's products (forward and weight gradient) give the plain loop's bits", () => {
    const d = loadMnist({ train: 256, test: 10, seed: 1 });
    const x = d.trainImages.slice(0, 128 * 784);
    const rng = mulberry32(35);
    const w = uniform(rng, 784 * 256), dy = uniform(rng, 128 * 256);
    const fwd = product(wasm, x, w, 128, 784, 256, false, false);
    expect(bits(fwd)).toEqual(bits(product(wasm, negativeZeros(x), w, 128, 784, 256, false, false)));
    const dw = product(wasm, x, dy, 784, 128, 256, true, false);
    expect(bits(dw)).toEqual(bits(product(wasm, negativeZeros(x), dy, 784, 128, 256, true, false)));
  });
});
