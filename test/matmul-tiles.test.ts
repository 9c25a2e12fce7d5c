/**
 * matmul's two register tiles (assembly/matmul.ts): the relaxed build packs
 * A in panels of 6 rows where the rows allow (a 6×8 tile of 12 fused
 * multiply-add chains), the baseline build in panels of 4 (4×8). The tile
 * decides which rows share a pass over B, never the order of an element's
 * sum, so both give the same bits: every product here is computed with the
 * module's `setWideTile` on and off, in the same build, and compared bit for
 * bit. The shapes walk the panel rule (6-row panels while ≥ 9 or 5–6 rows
 * are left, else 4) through every remainder, the 64-row blocks, several
 * depth and column blocks; the operands are dense (6-row panels), sparse by
 * depth step or by element (panels of 6 narrowed to 4 that skip zero steps,
 * and steps whose only non-zero is in rows 4–5), and runs of dense and
 * sparse rows (the two kinds of panel alternating in one block).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createBackend, type KernelBackend as Backend } from '../src/kernels.js';
import { scoped } from './helpers/kernels.js';
import { mulberry32, uniform, type Rng } from './helpers/prng.js';

interface TileSwitch { setWideTile(on: number): number }
const tiles = (be: Backend) => be.unchecked as unknown as TileSwitch;

/** body() with the 6-row panels on or off, the backend's setting restored after. */
function withTile<T>(be: Backend, on: boolean, body: () => T): T {
  const was = tiles(be).setWideTile(on ? 1 : 0);
  try {
    return body();
  } finally {
    tiles(be).setWideTile(was);
  }
}

const bits = (x: Float32Array) => Array.from(new Uint32Array(x.buffer, x.byteOffset, x.length));

type Kind = 'dense' | 'zero steps' | 'one in ten' | 'mixed rows';
/**
 * op(A) values: uniform; with half the depth steps +0 in every row; each value non-zero with probability 0.1;
 * or rows in runs of 1–11, each run dense or one in ten (panels of 6 rows and narrowed ones of 4 alternate).
 */
function operandA(rng: Rng, kind: Kind, m: number, k: number, transA: boolean): Float32Array {
  if (kind === 'dense') return uniform(rng, m * k);
  const dead = Array.from({ length: k }, () => kind === 'zero steps' && rng() < 0.5);
  const denseRow: boolean[] = [];
  while (denseRow.length < m) {
    const dense = rng() < 0.5;
    for (let r = 1 + Math.floor(rng() * 11); r > 0; r--) denseRow.push(kind === 'mixed rows' && dense);
  }
  const a = new Float32Array(m * k);
  for (let i = 0; i < m; i++) {
    for (let p = 0; p < k; p++) {
      const keep = kind === 'zero steps' ? !dead[p] : denseRow[i] || rng() < 0.1;
      a[transA ? p * m + i : i * k + p] = keep ? rng() * 2 - 1 : 0;
    }
  }
  return a;
}

/** C = op(A)·op(B) (+ c0 when given) through the pointer-level kernel. */
function product(be: Backend, a: Float32Array, b: Float32Array, m: number, k: number, n: number, tA: boolean, tB: boolean, c0?: Float32Array): Float32Array {
  return scoped(be, (s) => {
    const c = c0 ? s.f32(c0) : s.out(m * n);
    be.kernels.matmul(c, s.f32(a), s.f32(b), m, k, n, tA ? 1 : 0, tB ? 1 : 0, c0 ? 1 : 0);
    return s.read(c, m * n);
  });
}

/** Rows 4…14 (every remainder of the panel rule), around the 64-row block, the bench network's layers; depths over 1–3 depth blocks; columns around the 8-wide panel and the 256-wide block. */
const SHAPES = [
  ...Array.from({ length: 11 }, (_, i) => [4 + i, 37, 13] as const),
  [17, 300, 8], [23, 1, 9], [63, 64, 16], [64, 129, 24], [65, 7, 31], [69, 513, 8], [70, 33, 260], [71, 5, 1],
  [128, 784, 256], [784, 128, 256], [130, 257, 40],
] as const;
const TRANS = [[false, false], [true, false], [false, true], [true, true]] as const;
const KINDS: Kind[] = ['dense', 'zero steps', 'one in ten', 'mixed rows'];

describe('matmul: the 6×8 and 4×8 tiles give the same bits', () => {
  let relaxed: Backend, baseline: Backend, debug: Backend;
  beforeAll(async () => {
    [relaxed, baseline, debug] = await Promise.all([
      createBackend('wasm', { simd: 'relaxed' }), createBackend('wasm', { simd: 'baseline' }), createBackend('wasm', { debug: true }),
    ]);
    return () => { for (const be of [relaxed, baseline, debug]) be.dispose(); };
  });

  it('the relaxed build takes 6-row panels by default, the baseline and debug builds 4-row ones', () => {
    expect(relaxed.build).toBe('relaxed');
    expect(withTile(relaxed, false, () => 0)).toBe(0);
    // setWideTile returns the setting it replaces: the build's default, restored by withTile
    expect(tiles(relaxed).setWideTile(1)).toBe(1);
    expect(tiles(baseline).setWideTile(0)).toBe(0);
    expect(tiles(debug).setWideTile(0)).toBe(0);
  });

  it.each(TRANS)('every shape, operand kind and build, accumulate 0 and 1 (transA=%s transB=%s)', (tA, tB) => {
    const rng = mulberry32(61);
    for (const be of [relaxed, baseline, debug]) {
      for (const [m, k, n] of SHAPES) {
        // the two largest shapes on the relaxed build only: the debug build is slow, and it has shown the layout already
        if (m * k * n > 1e7 && be !== relaxed) continue;
        for (const kind of KINDS) {
          const a = operandA(rng, kind, m, k, tA), b = uniform(rng, k * n), c0 = uniform(rng, m * n);
          const where = `${be.build}, ${kind}, m=${m} k=${k} n=${n}`;
          const wide = withTile(be, true, () => [product(be, a, b, m, k, n, tA, tB), product(be, a, b, m, k, n, tA, tB, c0)]);
          const four = withTile(be, false, () => [product(be, a, b, m, k, n, tA, tB), product(be, a, b, m, k, n, tA, tB, c0)]);
          expect(bits(wide[0]!), where).toEqual(bits(four[0]!));
          expect(bits(wide[1]!), `${where}, accumulate`).toEqual(bits(four[1]!));
        }
      }
    }
  });

  it('the packed-weights product (inference from 4 rows up) too', () => {
    const rng = mulberry32(62);
    for (const be of [relaxed, baseline]) {
      for (const [m, k, n] of [[4, 784, 256], [9, 100, 30], [128, 784, 256], [70, 300, 260]] as const) {
        for (const kind of KINDS) {
          const x = operandA(rng, kind, m, k, false), w = uniform(rng, k * n);
          const run = () => scoped(be, (s) => {
            const packed = s.out(((n + 7) & ~7) * k), out = s.out(m * n);
            be.kernels.packWeights(packed, s.f32(w), k, n);
            be.kernels.matmulForwardPacked(out, s.f32(x), packed, m, k, n);
            return s.read(out, m * n);
          });
          const where = `${be.build}, ${kind}, m=${m} k=${k} n=${n}`;
          const wide = withTile(be, true, run), four = withTile(be, false, run);
          expect(bits(wide), where).toEqual(bits(four));
          // and the packed product equals the product that packs on the fly
          expect(bits(wide), `${where}, against matmul`).toEqual(bits(product(be, x, w, m, k, n, false, false)));
        }
      }
    }
  });
});
