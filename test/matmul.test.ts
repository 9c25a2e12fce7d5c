/**
 * Matrix products: op(A)·op(B) for every transA/transB combination, against a
 * naive float64 product written here, on both backends; wasm and js agree;
 * matmulForward / matmulBackward at kernel level; a finite-difference check
 * of the backward.
 *
 * Shapes: op(A) is m×k, op(B) is k×n. A is stored m×k (k×m if transA), B is
 * stored k×n (n×k if transB). Agreement is ‖a−b‖∞ / max(1, ‖b‖∞) ≤ 1e-4.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { KernelBackend as Backend } from '../src/kernels.js';
import { expectAllClose, expectRelErr } from './helpers/compare.js';
import { dot, finiteDiff, gradErr } from './helpers/gradcheck.js';
import { BACKENDS, getBackend, scoped } from './helpers/kernels.js';
import { mulberry32, randInt, uniform, type Rng } from './helpers/prng.js';

const TOL = 1e-4;

/** Naive float64 reference: C[i,j] = Σ_p op(A)[i,p]·op(B)[p,j]. */
function refMatmul(a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number, transA: boolean, transB: boolean): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) {
        const av = transA ? a[p * m + i]! : a[i * k + p]!;
        const bv = transB ? b[j * k + p]! : b[p * n + j]!;
        s += av * bv;
      }
      c[i * n + j] = s;
    }
  }
  return c;
}

type Shape = readonly [m: number, k: number, n: number];

const TRANS: ReadonlyArray<readonly [boolean, boolean]> = [[false, false], [true, false], [false, true], [true, true]];

/** Every triple of the smallest sizes, where tails dominate. */
const SMALL = [1, 2, 3, 5, 7];
const SMALL_SHAPES: Shape[] = SMALL.flatMap((m) => SMALL.flatMap((k) => SMALL.map((n) => [m, k, n] as const)));

/** Each dimension swept over sizes up to 70 (odd ones, SIMD and tile edges) while the other two stay fixed. */
const SWEEP = [1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 13, 15, 16, 17, 23, 31, 32, 33, 47, 63, 64, 65, 67, 69, 70];
const OTHERS: ReadonlyArray<readonly [number, number]> = [[1, 1], [7, 13], [65, 70]];
const SWEEP_SHAPES: Shape[] = [];
for (const s of SWEEP) {
  for (const [u, v] of OTHERS) {
    SWEEP_SHAPES.push([s, u, v], [u, s, v], [u, v, s]);
  }
}

/** Random triples in [1, 70]³. */
const rngShapes = mulberry32(7);
const RANDOM_SHAPES: Shape[] = Array.from({ length: 30 }, () => [randInt(rngShapes, 1, 70), randInt(rngShapes, 1, 70), randInt(rngShapes, 1, 70)] as const);

/** Shapes that cross the kernel's blocking (64 rows of A, depth 256, 256 columns of B). */
const BLOCK_SHAPES: Shape[] = [[130, 257, 260], [65, 513, 9], [3, 300, 513], [129, 1, 257]];

const GROUPS: ReadonlyArray<readonly [string, Shape[]]> = [
  ['all triples of 1, 2, 3, 5, 7', SMALL_SHAPES],
  ['each dimension swept up to 70', SWEEP_SHAPES],
  ['random shapes up to 70', RANDOM_SHAPES],
  ['shapes crossing the blocking', BLOCK_SHAPES],
];

const CASES = GROUPS.flatMap(([group, shapes]) => TRANS.map(([ta, tb]) => ({ group, shapes, transA: ta, transB: tb })));

function operands(rng: Rng, [m, k, n]: Shape): { a: Float32Array; b: Float32Array } {
  return { a: uniform(rng, m * k), b: uniform(rng, k * n) };
}

describe.each(BACKENDS)('matmul on the %s backend', (name) => {
  let be: Backend;
  beforeAll(async () => { be = await getBackend(name); });

  it.each(CASES)('be.matmul matches a float64 product: $group, transA=$transA transB=$transB', ({ shapes, transA, transB }) => {
    const rng = mulberry32(101);
    for (const shape of shapes) {
      const [m, k, n] = shape;
      const { a, b } = operands(rng, shape);
      const c = be.matmul(a, b, { m, k, n, transA, transB });
      expect(c).toBeInstanceOf(Float32Array);
      expectRelErr(c, refMatmul(a, b, m, k, n, transA, transB), TOL, `m=${m} k=${k} n=${n}`);
    }
  });

  it('transA and transB default to false', () => {
    const rng = mulberry32(3);
    const a = uniform(rng, 6), b = uniform(rng, 12);
    expectRelErr(be.matmul(a, b, { m: 2, k: 3, n: 4 }), refMatmul(a, b, 2, 3, 4, false, false), TOL);
  });

  it('a tiny product computed by hand', () => {
    // [1 2 3; 4 5 6] · [7 8; 9 10; 11 12] = [58 64; 139 154]
    const c = be.matmul(new Float32Array([1, 2, 3, 4, 5, 6]), new Float32Array([7, 8, 9, 10, 11, 12]), { m: 2, k: 3, n: 2 });
    expect(Array.from(c)).toEqual([58, 64, 139, 154]);
    // the same A stored transposed (3×2) and B stored transposed (2×3)
    const ct = be.matmul(new Float32Array([1, 4, 2, 5, 3, 6]), new Float32Array([7, 9, 11, 8, 10, 12]), { m: 2, k: 3, n: 2, transA: true, transB: true });
    expect(Array.from(ct)).toEqual([58, 64, 139, 154]);
  });

  it.each(TRANS)('kernel matmul with accumulate=1 adds op(A)·op(B) to C (transA=%s transB=%s)', (transA, transB) => {
    const rng = mulberry32(11);
    for (const [m, k, n] of [[1, 1, 1], [5, 7, 3], [9, 17, 13], [70, 65, 67]] as const) {
      const a = uniform(rng, m * k), b = uniform(rng, k * n), c0 = uniform(rng, m * n);
      const got = scoped(be, (s) => {
        const pc = s.f32(c0);
        be.kernels.matmul(pc, s.f32(a), s.f32(b), m, k, n, transA ? 1 : 0, transB ? 1 : 0, 1);
        return s.read(pc, m * n);
      });
      const ref = refMatmul(a, b, m, k, n, transA, transB).map((v, i) => v + c0[i]!);
      expectRelErr(got, ref, TOL, `m=${m} k=${k} n=${n}`);
    }
  });

  it('kernel matmul with accumulate=0 overwrites whatever C held', () => {
    const rng = mulberry32(12);
    const [m, k, n] = [6, 5, 9];
    const a = uniform(rng, m * k), b = uniform(rng, k * n);
    const got = scoped(be, (s) => {
      const pc = s.out(m * n); // NaN everywhere
      be.kernels.matmul(pc, s.f32(a), s.f32(b), m, k, n, 0, 0, 0);
      return s.read(pc, m * n);
    });
    expectRelErr(got, refMatmul(a, b, m, k, n, false, false), TOL);
  });

  it('matmulForward computes out = inp·weight', () => {
    const rng = mulberry32(13);
    for (const [m, k, n] of [[1, 1, 1], [3, 5, 7], [33, 17, 70]] as const) {
      const inp = uniform(rng, m * k), weight = uniform(rng, k * n);
      const out = scoped(be, (s) => {
        const po = s.out(m * n);
        be.kernels.matmulForward(po, s.f32(inp), s.f32(weight), m, k, n);
        return s.read(po, m * n);
      });
      expectRelErr(out, refMatmul(inp, weight, m, k, n, false, false), TOL, `m=${m} k=${k} n=${n}`);
    }
  });

  it('matmulBackward overwrites dinp = dout·weightᵀ and accumulates dweight += inpᵀ·dout', () => {
    const rng = mulberry32(14);
    for (const [m, k, n] of [[1, 1, 1], [2, 3, 5], [7, 5, 3], [65, 33, 70]] as const) {
      const inp = uniform(rng, m * k), weight = uniform(rng, k * n), dout = uniform(rng, m * n);
      const dweight0 = uniform(rng, k * n);
      const { dinp, dweight } = scoped(be, (s) => {
        const pdi = s.out(m * k), pdw = s.f32(dweight0);
        be.kernels.matmulBackward(pdi, pdw, s.f32(dout), s.f32(inp), s.f32(weight), m, k, n, 1);
        return { dinp: s.read(pdi, m * k), dweight: s.read(pdw, k * n) };
      });
      // dinp[i,p] = Σ_j dout[i,j]·weight[p,j]: dout (m×n) times weight stored k×n read as n×k
      expectRelErr(dinp, refMatmul(dout, weight, m, n, k, false, true), TOL, `dinp m=${m} k=${k} n=${n}`);
      // dweight[p,j] += Σ_i inp[i,p]·dout[i,j]: inp stored m×k read as k×m
      const ref = refMatmul(inp, dout, k, m, n, true, false).map((v, i) => v + dweight0[i]!);
      expectRelErr(dweight, ref, TOL, `dweight m=${m} k=${k} n=${n}`);
    }
  });

  it('matmulBackward with needDinp=0 leaves dinp untouched (and needs no dinp buffer)', () => {
    const rng = mulberry32(15);
    const [m, k, n] = [5, 7, 3];
    const inp = uniform(rng, m * k), weight = uniform(rng, k * n), dout = uniform(rng, m * n);
    const { dinp, dweight } = scoped(be, (s) => {
      const pdi = s.filled(m * k, 42), pdw = s.filled(k * n, 0);
      be.kernels.matmulBackward(pdi, pdw, s.f32(dout), s.f32(inp), s.f32(weight), m, k, n, 0);
      return { dinp: s.read(pdi, m * k), dweight: s.read(pdw, k * n) };
    });
    expect(Array.from(dinp)).toEqual(new Array(m * k).fill(42));
    expectRelErr(dweight, refMatmul(inp, dout, k, m, n, true, false), TOL);
    // pointer 0 is accepted for dinp when it is not written
    const dweight2 = scoped(be, (s) => {
      const pdw = s.filled(k * n, 0);
      be.kernels.matmulBackward(0, pdw, s.f32(dout), s.f32(inp), s.f32(weight), m, k, n, 0);
      return s.read(pdw, k * n);
    });
    expect(Array.from(dweight2)).toEqual(Array.from(dweight));
  });

  it('matmulBackward matches finite differences of L = Σ (inp·weight)∘w', () => {
    const rng = mulberry32(16);
    for (const [m, k, n] of [[3, 5, 7], [6, 4, 9]] as const) {
      const inp = uniform(rng, m * k), weight = uniform(rng, k * n), w = uniform(rng, m * n);
      const forward = (x: Float32Array, wt: Float32Array): number => scoped(be, (s) => {
        const po = s.out(m * n);
        be.kernels.matmulForward(po, s.f32(x), s.f32(wt), m, k, n);
        return dot(s.read(po, m * n), w);
      });
      const { dinp, dweight } = scoped(be, (s) => {
        const pdi = s.out(m * k), pdw = s.filled(k * n, 0);
        be.kernels.matmulBackward(pdi, pdw, s.f32(w), s.f32(inp), s.f32(weight), m, k, n, 1);
        return { dinp: s.read(pdi, m * k), dweight: s.read(pdw, k * n) };
      });
      const numDinp = finiteDiff(inp, 1e-2, (x) => forward(x, weight));
      const numDweight = finiteDiff(weight, 1e-2, (wt) => forward(inp, wt));
      // the product is linear in each operand, so only f32 rounding separates the two (seen: ≤ 5e-6)
      expect(gradErr(dinp, numDinp), `dinp m=${m} k=${k} n=${n}`).toBeLessThan(1e-4);
      expect(gradErr(dweight, numDweight), `dweight m=${m} k=${k} n=${n}`).toBeLessThan(1e-4);
    }
  });

  it('results do not depend on what the heap held before (fresh backend memory reused)', () => {
    const rng = mulberry32(17);
    const a = uniform(rng, 9 * 11), b = uniform(rng, 11 * 13);
    const first = be.matmul(a, b, { m: 9, k: 11, n: 13, transB: false });
    // dirty the heap with other products in between
    be.matmul(uniform(rng, 70 * 70), uniform(rng, 70 * 70), { m: 70, k: 70, n: 70 });
    const second = be.matmul(a, b, { m: 9, k: 11, n: 13 });
    expectAllClose(second, first, 0, 0);
  });
});

describe('matmul: wasm and js agree', () => {
  let wasm: Backend, js: Backend;
  beforeAll(async () => { [wasm, js] = await Promise.all([getBackend('wasm'), getBackend('js')]); });

  it.each(CASES)('$group, transA=$transA transB=$transB', ({ shapes, transA, transB }) => {
    const rng = mulberry32(202);
    for (const shape of shapes) {
      const [m, k, n] = shape;
      const { a, b } = operands(rng, shape);
      const o = { m, k, n, transA, transB };
      expectRelErr(wasm.matmul(a, b, o), js.matmul(a, b, o), TOL, `m=${m} k=${k} n=${n}`);
    }
  });

  it('the debug wasm build (asserts on) agrees with js too', async () => {
    const { createBackend } = await import('../src/kernels.js');
    const debug = await createBackend('wasm', { debug: true });
    const rng = mulberry32(203);
    for (const [m, k, n] of [[1, 1, 1], [5, 7, 3], [17, 65, 9]] as const) {
      for (const [transA, transB] of TRANS) {
        const a = uniform(rng, m * k), b = uniform(rng, k * n);
        const o = { m, k, n, transA, transB };
        expectRelErr(debug.matmul(a, b, o), js.matmul(a, b, o), TOL, `m=${m} k=${k} n=${n}`);
      }
    }
  });
});
