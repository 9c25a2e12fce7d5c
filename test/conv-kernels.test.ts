/**
 * The NHWC convolution helpers (im2col / col2im), pooling and dropout
 * kernels, on both backends.
 *
 * Convolution is checked whole, the way a Conv2d layer will run it:
 *   forward  = im2col → matmulForward(out, cols, W)        (W: [kh·kw·c × outC])
 *   backward = matmulBackward(dcols, dW, dout, cols, W) → col2im(dinp, dcols)
 * against a direct six-loop convolution written here in float64, and its
 * gradients against finite differences of that direct convolution. Padding
 * follows TF/Keras: 'valid' = none; 'same' = outH = ceil(h/stride) with
 * padTop = floor(total/2) (the odd row at the bottom); a number p = p on every side.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { KernelBackend as Backend } from '../src/kernels.js';
import { convAxis, poolAxis } from '../src/backend/conv-geometry.js';
import { expectRelErr, relErr } from './helpers/compare.js';
import { dot, finiteDiff, gradErr } from './helpers/gradcheck.js';
import { BACKENDS, getBackend, scoped, type Scope } from './helpers/kernels.js';
import { mulberry32, uniform } from './helpers/prng.js';

type Padding = 'valid' | 'same' | number;

interface Geometry { out: number; padBefore: number }

/** Output size and leading padding of one spatial axis (TF/Keras semantics for 'same'). */
function axis(size: number, k: number, stride: number, padding: Padding): Geometry {
  if (padding === 'valid') return { out: Math.floor((size - k) / stride) + 1, padBefore: 0 };
  if (padding === 'same') {
    const out = Math.ceil(size / stride);
    const total = Math.max((out - 1) * stride + k - size, 0);
    return { out, padBefore: Math.floor(total / 2) };
  }
  return { out: Math.floor((size + 2 * padding - k) / stride) + 1, padBefore: padding };
}

interface Conv {
  n: number; h: number; w: number; c: number; kh: number; kw: number; outC: number; stride: number; padding: Padding;
}

interface Plan extends Conv { outH: number; outW: number; padTop: number; padLeft: number; K: number; rows: number }

function plan(cv: Conv): Plan {
  const y = axis(cv.h, cv.kh, cv.stride, cv.padding), x = axis(cv.w, cv.kw, cv.stride, cv.padding);
  const K = cv.kh * cv.kw * cv.c;
  return { ...cv, outH: y.out, outW: x.out, padTop: y.padBefore, padLeft: x.padBefore, K, rows: cv.n * y.out * x.out };
}

/** Direct convolution in float64: out[b, oy, ox, co] = Σ_{ky,kx,ci} inp[b, oy·s − pt + ky, ox·s − pl + kx, ci]·W[(ky·kw + kx)·c + ci, co]. */
function naiveConv(p: Plan, x: ArrayLike<number>, W: ArrayLike<number>): Float64Array {
  const out = new Float64Array(p.rows * p.outC);
  for (let b = 0; b < p.n; b++) {
    for (let oy = 0; oy < p.outH; oy++) {
      for (let ox = 0; ox < p.outW; ox++) {
        const o = ((b * p.outH + oy) * p.outW + ox) * p.outC;
        for (let ky = 0; ky < p.kh; ky++) {
          const iy = oy * p.stride - p.padTop + ky;
          if (iy < 0 || iy >= p.h) continue;
          for (let kx = 0; kx < p.kw; kx++) {
            const ix = ox * p.stride - p.padLeft + kx;
            if (ix < 0 || ix >= p.w) continue;
            for (let ci = 0; ci < p.c; ci++) {
              const xv = x[((b * p.h + iy) * p.w + ix) * p.c + ci]!;
              const wr = ((ky * p.kw + kx) * p.c + ci) * p.outC;
              for (let co = 0; co < p.outC; co++) out[o + co] = out[o + co]! + xv * W[wr + co]!;
            }
          }
        }
      }
    }
  }
  return out;
}

const im2colArgs = (p: Plan) => [p.n, p.h, p.w, p.c, p.kh, p.kw, p.stride, p.padTop, p.padLeft, p.outH, p.outW] as const;

/** The layer's forward on a backend: im2col then matmulForward. */
function convForward(be: Backend, s: Scope, p: Plan, x: Float32Array, W: Float32Array) {
  const px = s.f32(x), pw = s.f32(W), cols = s.out(p.rows * p.K), out = s.out(p.rows * p.outC);
  be.kernels.im2col(cols, px, ...im2colArgs(p));
  be.kernels.matmulForward(out, cols, pw, p.rows, p.K, p.outC);
  return { px, pw, cols, out: s.read(out, p.rows * p.outC) };
}

/** The layer's backward: matmulBackward (dW accumulated from 0) then col2im. */
function convBackward(be: Backend, s: Scope, p: Plan, x: Float32Array, W: Float32Array, dout: Float32Array) {
  const { pw, cols } = convForward(be, s, p, x, W);
  const pd = s.f32(dout), dcols = s.out(p.rows * p.K), dW = s.filled(p.K * p.outC, 0), dx = s.out(p.n * p.h * p.w * p.c);
  be.kernels.matmulBackward(dcols, dW, pd, cols, pw, p.rows, p.K, p.outC, 1);
  be.kernels.col2im(dx, dcols, ...im2colArgs(p));
  return { dx: s.read(dx, x.length), dW: s.read(dW, W.length) };
}

const CONVS: Conv[] = [
  { n: 2, h: 5, w: 5, c: 1, kh: 3, kw: 3, outC: 4, stride: 1, padding: 'same' },
  { n: 2, h: 5, w: 5, c: 1, kh: 3, kw: 3, outC: 4, stride: 1, padding: 'valid' },
  { n: 1, h: 7, w: 6, c: 3, kh: 3, kw: 3, outC: 5, stride: 2, padding: 'same' }, // pads 0 top / 1 bottom (odd total)
  { n: 2, h: 7, w: 5, c: 3, kh: 3, kw: 3, outC: 2, stride: 2, padding: 'valid' },
  { n: 1, h: 6, w: 7, c: 3, kh: 2, kw: 3, outC: 3, stride: 1, padding: 'same' }, // even kernel height: the extra row at the bottom
  { n: 2, h: 5, w: 4, c: 2, kh: 3, kw: 2, outC: 3, stride: 2, padding: 1 },
  { n: 1, h: 6, w: 6, c: 4, kh: 5, kw: 5, outC: 3, stride: 1, padding: 2 },
  { n: 1, h: 9, w: 7, c: 1, kh: 5, kw: 3, outC: 2, stride: 3, padding: 'same' },
  { n: 2, h: 4, w: 5, c: 3, kh: 1, kw: 1, outC: 4, stride: 1, padding: 'valid' },
  { n: 1, h: 5, w: 5, c: 3, kh: 1, kw: 1, outC: 2, stride: 2, padding: 'same' },
  { n: 1, h: 6, w: 5, c: 8, kh: 3, kw: 3, outC: 6, stride: 1, padding: 1 }, // c a multiple of 4 (the SIMD runs)
];

const label = (cv: Conv) => `${cv.n}×${cv.h}×${cv.w}×${cv.c} * ${cv.kh}×${cv.kw}→${cv.outC}, stride ${cv.stride}, padding ${cv.padding}`;

/** Inputs on a coarse grid of distinct values: no ties in max pooling, and ±0.1 moves keep every order. */
function distinct(rng: () => number, n: number): Float32Array {
  const v = Array.from({ length: n }, (_, i) => i - n / 2);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [v[i], v[j]] = [v[j]!, v[i]!];
  }
  return Float32Array.from(v, (x) => x * 0.5);
}

describe.each(BACKENDS)('convolution through im2col on the %s backend', (name) => {
  let be: Backend;
  beforeAll(async () => { be = await getBackend(name); });

  it.each(CONVS.map((cv) => [label(cv), cv] as const))('forward equals the direct convolution (%s)', (_l, cv) => {
    const p = plan(cv);
    const rng = mulberry32(p.h * 100 + p.kh * 10 + p.stride);
    const x = uniform(rng, p.n * p.h * p.w * p.c), W = uniform(rng, p.K * p.outC);
    const got = scoped(be, (s) => convForward(be, s, p, x, W).out);
    expectRelErr(got, naiveConv(p, x, W), 1e-5, label(cv));
  });

  it.each(CONVS.map((cv) => [label(cv), cv] as const))('backward equals finite differences of the direct convolution (%s)', (_l, cv) => {
    const p = plan(cv);
    const rng = mulberry32(p.w * 100 + p.kw * 10 + p.c);
    const x = uniform(rng, p.n * p.h * p.w * p.c), W = uniform(rng, p.K * p.outC), R = uniform(rng, p.rows * p.outC);
    const g = scoped(be, (s) => convBackward(be, s, p, x, W, R));
    // L = Σ out·R, out from the float64 direct convolution: exact to rounding, so h can be large (L is linear).
    const numDx = finiteDiff(x, 0.25, (xx) => dot(naiveConv(p, xx, W), R));
    const numDW = finiteDiff(W, 0.25, (ww) => dot(naiveConv(p, x, ww), R));
    expect(gradErr(g.dx, numDx), 'dinp').toBeLessThanOrEqual(1e-5);
    expect(gradErr(g.dW, numDW), 'dW').toBeLessThanOrEqual(1e-5);
  });

  it('col2im is the adjoint of im2col: ⟨im2col(x), y⟩ = ⟨x, col2im(y)⟩', () => {
    for (const cv of CONVS) {
      const p = plan(cv);
      const rng = mulberry32(7 + p.K);
      const x = uniform(rng, p.n * p.h * p.w * p.c), y = uniform(rng, p.rows * p.K);
      const [cols, back] = scoped(be, (s) => {
        const c1 = s.out(p.rows * p.K), d = s.out(x.length);
        be.kernels.im2col(c1, s.f32(x), ...im2colArgs(p));
        be.kernels.col2im(d, s.f32(y), ...im2colArgs(p));
        return [s.read(c1, p.rows * p.K), s.read(d, x.length)];
      });
      const lhs = dot(cols, y), rhs = dot(x, back);
      expect(Math.abs(lhs - rhs), label(cv)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(lhs)));
    }
  });

  it('col2im overwrites dinp (no fill needed) and im2col writes the padding as zeros', () => {
    const p = plan(CONVS[2]!);
    const rng = mulberry32(3);
    const x = uniform(rng, p.n * p.h * p.w * p.c), y = uniform(rng, p.rows * p.K);
    const [a, b, cols] = scoped(be, (s) => {
      const d1 = s.filled(x.length, 123), d2 = s.filled(x.length, -7), c1 = s.filled(p.rows * p.K, NaN), py = s.f32(y);
      be.kernels.col2im(d1, py, ...im2colArgs(p));
      be.kernels.col2im(d2, py, ...im2colArgs(p));
      be.kernels.im2col(c1, s.f32(x), ...im2colArgs(p));
      return [s.read(d1, x.length), s.read(d2, x.length), s.read(c1, p.rows * p.K)];
    });
    expect(Array.from(a)).toEqual(Array.from(b));
    // the last output row of a 'same' stride-2 conv over 7 rows reads row 7: the bottom padding
    const row = ((p.outH - 1) * p.outW) * p.K; // image 0, oy = outH − 1, ox = 0
    for (let i = 2 * p.kw * p.c; i < 3 * p.kw * p.c; i++) expect(cols[row + i]).toBe(0);
    for (const v of cols) expect(Number.isFinite(v)).toBe(true);
  });

  it('a 1×1 kernel with stride 1 and no padding makes im2col the identity (the layer may skip it)', () => {
    const p = plan({ n: 3, h: 4, w: 5, c: 3, kh: 1, kw: 1, outC: 2, stride: 1, padding: 'valid' });
    const x = uniform(mulberry32(4), p.n * p.h * p.w * p.c);
    const cols = scoped(be, (s) => {
      const c1 = s.out(p.rows * p.K);
      be.kernels.im2col(c1, s.f32(x), ...im2colArgs(p));
      return s.read(c1, p.rows * p.K);
    });
    expect(Array.from(cols)).toEqual(Array.from(x));
  });

  it('the MNIST shapes: 64×28×28×1 * 3×3→32 same, 64×14×14×32 * 3×3→64 same (forward vs direct, sampled)', () => {
    for (const cv of [
      { n: 64, h: 28, w: 28, c: 1, kh: 3, kw: 3, outC: 32, stride: 1, padding: 'same' as const },
      { n: 64, h: 14, w: 14, c: 32, kh: 3, kw: 3, outC: 64, stride: 1, padding: 'same' as const },
    ]) {
      const p = plan(cv);
      const rng = mulberry32(p.c);
      const x = uniform(rng, p.n * p.h * p.w * p.c), W = uniform(rng, p.K * p.outC);
      const got = scoped(be, (s) => convForward(be, s, p, x, W).out);
      // the direct convolution of 4 images (first, two inner, last) is enough to catch any indexing slip
      for (const b of [0, 17, 40, p.n - 1]) {
        const one = plan({ ...cv, n: 1 });
        const ref = naiveConv(one, x.subarray(b * p.h * p.w * p.c, (b + 1) * p.h * p.w * p.c), W);
        const per = p.outH * p.outW * p.outC;
        expectRelErr(got.subarray(b * per, (b + 1) * per), ref, 1e-5, `${label(cv)} image ${b}`);
      }
    }
  });
});

describe('conv-geometry: output sizes and padding', () => {
  it('matches the TF/Keras formula written here, and every result passes the checked im2col', async () => {
    const be = await getBackend('js');
    let tried = 0;
    for (let size = 1; size <= 9; size++) for (let k = 1; k <= 5; k++) for (let stride = 1; stride <= 3; stride++) {
      for (const padding of ['valid', 'same', 0, 1, 2] as const) {
        if (typeof padding === 'number' && padding >= k) {
          expect(() => convAxis(size, k, stride, padding)).toThrow(RangeError);
          continue;
        }
        const ref = axis(size, k, stride, padding);
        if (ref.out < 1) {
          expect(() => convAxis(size, k, stride, padding), `${size} ${k} ${stride} ${padding}`).toThrow(/must fit in the padded input/);
          continue;
        }
        const g = convAxis(size, k, stride, padding);
        expect({ out: g.out, padBefore: g.padBefore }).toEqual(ref);
        if (padding === 'same' && (g.out - 1) * stride + k > size) expect(g.padAfter - g.padBefore).toBeOneOf([0, 1]);
        // the kernels' argument check accepts it (h = size, w = 1 column, one channel)
        scoped(be, (s) => {
          const x = s.filled(size, 0), cols = s.filled(g.out * k, 0);
          be.kernels.im2col(cols, x, 1, size, 1, 1, k, 1, stride, g.padBefore, 0, g.out, 1);
        });
        tried++;
      }
    }
    expect(tried).toBeGreaterThan(500);
  });

  it('poolAxis is floor((n − size)/stride) + 1 and refuses a window larger than the input', () => {
    expect(poolAxis(28, 2, 2)).toBe(14);
    expect(poolAxis(7, 2, 2)).toBe(3);
    expect(poolAxis(7, 3, 2)).toBe(3);
    expect(() => poolAxis(2, 3, 1, 'MaxPool2d')).toThrow(/^MaxPool2d: the window size 3 must be ≤ the input size 2/);
    expect(() => convAxis(5, 3, 0, 'same', 'Conv2d')).toThrow(/^Conv2d: stride must be an integer ≥ 1, got 0$/);
  });
});

// ---------------------------------------------------------------- pooling

interface Pool { n: number; h: number; w: number; c: number; size: number; stride: number }
const POOLS: Pool[] = [
  { n: 2, h: 4, w: 4, c: 1, size: 2, stride: 2 },
  { n: 2, h: 5, w: 7, c: 3, size: 2, stride: 2 }, // odd sizes: the last row / column is dropped
  { n: 1, h: 7, w: 6, c: 4, size: 3, stride: 2 }, // overlapping windows, SIMD channels
  { n: 2, h: 6, w: 6, c: 8, size: 3, stride: 3 },
  { n: 1, h: 5, w: 5, c: 5, size: 3, stride: 1 },
  { n: 3, h: 4, w: 6, c: 12, size: 2, stride: 1 },
  { n: 2, h: 7, w: 5, c: 4, size: 2, stride: 2 }, // max backward's gather path with a trailing row and column no window covers
  { n: 1, h: 8, w: 7, c: 8, size: 2, stride: 3 }, // gaps between windows
];
const poolOut = (p: Pool) => ({ outH: Math.floor((p.h - p.size) / p.stride) + 1, outW: Math.floor((p.w - p.size) / p.stride) + 1 });
const poolLabel = (p: Pool) => `${p.n}×${p.h}×${p.w}×${p.c}, size ${p.size}, stride ${p.stride}`;

/** Float64 reference pools: max (with the first-max index) and mean over each valid window. */
function naivePool(p: Pool, x: ArrayLike<number>, kind: 'max' | 'avg') {
  const { outH, outW } = poolOut(p);
  const out = new Float64Array(p.n * outH * outW * p.c), arg = new Int32Array(out.length);
  let o = 0;
  for (let b = 0; b < p.n; b++) for (let oy = 0; oy < outH; oy++) for (let ox = 0; ox < outW; ox++) for (let ci = 0; ci < p.c; ci++) {
    let best = -Infinity, bi = -1, sum = 0;
    for (let ky = 0; ky < p.size; ky++) for (let kx = 0; kx < p.size; kx++) {
      const idx = ((b * p.h + oy * p.stride + ky) * p.w + ox * p.stride + kx) * p.c + ci;
      const v = x[idx]!;
      sum += v;
      if (v > best) { best = v; bi = idx; }
    }
    out[o] = kind === 'max' ? best : sum / (p.size * p.size);
    arg[o++] = bi;
  }
  return { out, arg };
}

describe.each(BACKENDS)('pooling on the %s backend', (name) => {
  let be: Backend;
  beforeAll(async () => { be = await getBackend(name); });

  function maxPool(p: Pool, x: Float32Array, dout?: Float32Array) {
    const { outH, outW } = poolOut(p);
    const len = p.n * outH * outW * p.c;
    return scoped(be, (s) => {
      const out = s.out(len), arg = s.filled(len, -1), px = s.f32(x);
      be.kernels.maxPoolForward(out, arg, px, p.n, p.h, p.w, p.c, p.size, p.stride, outH, outW);
      let dx: Float32Array | undefined;
      if (dout) {
        const d = s.filled(x.length, 99);
        be.kernels.maxPoolBackward(d, s.f32(dout), arg, p.n, p.h, p.w, p.c, p.size, p.stride, outH, outW);
        dx = s.read(d, x.length);
      }
      return { out: s.read(out, len), arg: s.readI32(arg, len), dx };
    });
  }

  function avgPool(p: Pool, x: Float32Array, dout?: Float32Array) {
    const { outH, outW } = poolOut(p);
    const len = p.n * outH * outW * p.c;
    return scoped(be, (s) => {
      const out = s.out(len);
      be.kernels.avgPoolForward(out, s.f32(x), p.n, p.h, p.w, p.c, p.size, p.stride, outH, outW);
      let dx: Float32Array | undefined;
      if (dout) {
        const d = s.filled(x.length, 99);
        be.kernels.avgPoolBackward(d, s.f32(dout), p.n, p.h, p.w, p.c, p.size, p.stride, outH, outW);
        dx = s.read(d, x.length);
      }
      return { out: s.read(out, len), dx };
    });
  }

  it.each(POOLS.map((p) => [poolLabel(p), p] as const))('max pool: values, first-max indices, gradient by finite differences (%s)', (_l, p) => {
    const x = distinct(mulberry32(p.h * p.w + p.c), p.n * p.h * p.w * p.c);
    const ref = naivePool(p, x, 'max');
    const R = uniform(mulberry32(5), ref.out.length);
    const got = maxPool(p, x, R);
    expect(Array.from(got.out)).toEqual(Array.from(ref.out));
    expect(Array.from(got.arg)).toEqual(Array.from(ref.arg));
    const num = finiteDiff(x, 0.1, (xx) => dot(maxPool(p, xx).out, R));
    expect(gradErr(got.dx!, num)).toBeLessThanOrEqual(1e-6);
  });

  it('max pool ties go to the first element of the window (row by row), SIMD and scalar channels alike', () => {
    for (const c of [1, 3, 4, 8]) {
      const p = { n: 1, h: 4, w: 4, c, size: 2, stride: 2 };
      const x = new Float32Array(16 * c).fill(1); // every window is a tie
      const got = maxPool(p, x);
      expect(Array.from(got.arg)).toEqual(Array.from(naivePool(p, x, 'max').arg));
      expect(got.arg[0]).toBe(0);
    }
  });

  it.each(POOLS.map((p) => [poolLabel(p), p] as const))('average pool: values and gradient by finite differences (%s)', (_l, p) => {
    const x = uniform(mulberry32(p.h * 7 + p.c), p.n * p.h * p.w * p.c);
    const ref = naivePool(p, x, 'avg');
    const R = uniform(mulberry32(6), ref.out.length);
    const got = avgPool(p, x, R);
    expectRelErr(got.out, ref.out, 1e-6, 'out');
    // L = Σ out·R is linear in x: a large step keeps f32 rounding of the outputs far below the tolerance
    const num = finiteDiff(x, 0.25, (xx) => dot(avgPool(p, xx).out, R));
    expect(gradErr(got.dx!, num)).toBeLessThanOrEqual(1e-5);
  });

  it.each([[2, 3, 3, 1], [3, 4, 5, 4], [2, 7, 7, 10], [1, 1, 1, 6]] as const)('global average pool %i×%i×%i×%i: values and gradient by finite differences', (n, h, w, c) => {
    const x = uniform(mulberry32(n * h * w * c), n * h * w * c);
    const R = uniform(mulberry32(9), n * c);
    const run = (xx: Float32Array, withBackward: boolean) => scoped(be, (s) => {
      const out = s.out(n * c);
      be.kernels.globalAvgPoolForward(out, s.f32(xx), n, h, w, c);
      let dx: Float32Array | undefined;
      if (withBackward) {
        const d = s.filled(xx.length, 99);
        be.kernels.globalAvgPoolBackward(d, s.f32(R), n, h, w, c);
        dx = s.read(d, xx.length);
      }
      return { out: s.read(out, n * c), dx };
    });
    const got = run(x, true);
    const ref = new Float64Array(n * c);
    for (let b = 0; b < n; b++) for (let p = 0; p < h * w; p++) for (let ci = 0; ci < c; ci++) ref[b * c + ci] = ref[b * c + ci]! + x[(b * h * w + p) * c + ci]! / (h * w);
    expectRelErr(got.out, ref, 1e-6, 'out');
    const num = finiteDiff(x, 0.25, (xx) => dot(run(xx, false).out, R));
    expect(gradErr(got.dx!, num)).toBeLessThanOrEqual(1e-5);
  });
});

// ---------------------------------------------------------------- dropout

/** The documented draw, in BigInt arithmetic: key = mix(seed ^ 0x9e3779b9); x = mix(mix(counter ^ key) + key); u = (x >> 8)·2⁻²⁴. */
function referenceUniform(seed: number, counter: number): number {
  const M = 0xffffffffn;
  const mix = (v: bigint) => {
    v ^= v >> 16n; v = (v * 0x7feb352dn) & M;
    v ^= v >> 15n; v = (v * 0x846ca68bn) & M;
    return v ^ (v >> 16n);
  };
  const key = mix(BigInt(seed) ^ 0x9e3779b9n);
  const x = mix((mix((BigInt(counter) & M) ^ key) + key) & M);
  return Number(x >> 8n) / 2 ** 24;
}

describe.each(BACKENDS)('dropout on the %s backend', (name) => {
  let be: Backend;
  beforeAll(async () => { be = await getBackend(name); });

  function drop(x: Float32Array, rate: number, seed: number, offset: number) {
    return scoped(be, (s) => {
      const out = s.out(x.length), mask = s.out(x.length);
      be.kernels.dropoutForward(out, mask, s.f32(x), x.length, rate, seed, offset);
      return { out: s.read(out, x.length), mask: s.read(mask, x.length) };
    });
  }

  it('the mask follows the documented hash, element by element', () => {
    const x = uniform(mulberry32(1), 257);
    for (const [rate, seed, offset] of [[0.5, 0, 0], [0.1, 12345, 1000], [0.9, 4294967295, 77]] as const) {
      const { out, mask } = drop(x, rate, seed, offset);
      const keep = Math.fround(1 / (1 - rate));
      for (let i = 0; i < x.length; i++) {
        const want = referenceUniform(seed, offset + i) >= rate ? keep : 0;
        if (mask[i] !== want) expect.fail(`rate ${rate} seed ${seed} offset ${offset}: mask[${i}] = ${mask[i]}, expected ${want}`);
        expect(out[i]).toBe(Math.fround(x[i]! * want));
      }
    }
  });

  it.each([0.1, 0.3, 0.5, 0.8])('rate %f drops that fraction of 10⁵ elements and keeps the mean (inverted scaling)', (rate) => {
    const n = 100_000;
    const x = new Float32Array(n).fill(1);
    const { out, mask } = drop(x, rate, 42, 0);
    let zeros = 0, sum = 0, pairs = 0;
    for (let i = 0; i < n; i++) {
      if (mask[i] === 0) zeros++;
      else expect(mask[i]).toBe(Math.fround(1 / (1 - rate)));
      sum += out[i]!;
      if (i > 0 && mask[i] === 0 && mask[i - 1] === 0) pairs++;
    }
    const sd = Math.sqrt(rate * (1 - rate) / n);
    expect(Math.abs(zeros / n - rate), `dropped ${zeros / n}`).toBeLessThanOrEqual(5 * sd);
    expect(Math.abs(sum / n - 1), `mean ${sum / n}`).toBeLessThanOrEqual(5 * sd / (1 - rate));
    // neighbours are independent: both dropped with probability rate²
    const sdPairs = Math.sqrt(rate * rate * (1 - rate * rate) / (n - 1));
    expect(Math.abs(pairs / (n - 1) - rate * rate), `adjacent pairs ${pairs / (n - 1)}`).toBeLessThanOrEqual(5 * sdPairs);
  });

  it('a range split in two (offsets) gives the same mask, also across the 2³² wrap; seeds differ; rate 0 keeps all', () => {
    const x = uniform(mulberry32(2), 1000);
    const whole = drop(x, 0.4, 9, 500).mask;
    const a = drop(x.subarray(0, 300), 0.4, 9, 500).mask, b = drop(x.subarray(300), 0.4, 9, 800).mask;
    expect(Array.from(whole)).toEqual([...a, ...b]);
    const wrap = drop(x.subarray(0, 6), 0.4, 9, 2 ** 32 - 3).mask;
    expect(Array.from(wrap)).toEqual([...drop(x.subarray(0, 3), 0.4, 9, 2 ** 32 - 3).mask, ...drop(x.subarray(0, 3), 0.4, 9, 0).mask]);
    const other = drop(x, 0.4, 10, 500).mask;
    let same = 0;
    for (let i = 0; i < x.length; i++) if (other[i] === whole[i]) same++;
    expect(same).toBeLessThan(700); // independent masks agree on 0.6² + 0.4² = 52 % of elements
    const none = drop(x, 0, 9, 0);
    expect(Array.from(none.mask)).toEqual(new Array(x.length).fill(1));
    expect(Array.from(none.out)).toEqual(Array.from(x));
  });

  it('backward is dout·mask, and equals finite differences of Σ out·R', () => {
    const x = uniform(mulberry32(3), 200), R = uniform(mulberry32(4), 200);
    const { mask } = drop(x, 0.3, 5, 0);
    const dx = scoped(be, (s) => {
      const d = s.out(200);
      be.kernels.dropoutBackward(d, s.f32(R), s.f32(mask), 200);
      return s.read(d, 200);
    });
    expect(Array.from(dx)).toEqual(Array.from(R, (r, i) => Math.fround(r * mask[i]!)));
    const num = finiteDiff(x, 0.25, (xx) => dot(drop(xx, 0.3, 5, 0).out, R));
    expect(gradErr(dx, num)).toBeLessThanOrEqual(1e-6);
  });
});

// ---------------------------------------------------------------- the two backends agree

describe('wasm and js agree on every conv, pool and dropout kernel', () => {
  let wasm: Backend, js: Backend;
  beforeAll(async () => { wasm = await getBackend('wasm'); js = await getBackend('js'); });

  /** Runs body on both backends with the same inputs; returns each backend's outputs. */
  function both<T>(body: (be: Backend, s: Scope) => T): [T, T] {
    return [scoped(wasm, (s) => body(wasm, s)), scoped(js, (s) => body(js, s))];
  }

  it('im2col and col2im (bit-exact copies; col2im sums in the same order)', () => {
    for (const cv of [...CONVS, { n: 4, h: 14, w: 14, c: 32, kh: 3, kw: 3, outC: 1, stride: 1, padding: 'same' as const }]) {
      const p = plan(cv);
      const rng = mulberry32(p.K + p.h);
      const x = uniform(rng, p.n * p.h * p.w * p.c), y = uniform(rng, p.rows * p.K);
      const [a, b] = both((be, s) => {
        const cols = s.out(p.rows * p.K), d = s.out(x.length);
        be.kernels.im2col(cols, s.f32(x), ...im2colArgs(p));
        be.kernels.col2im(d, s.f32(y), ...im2colArgs(p));
        return { cols: s.read(cols, p.rows * p.K), d: s.read(d, x.length) };
      });
      expect(Array.from(a.cols), label(cv)).toEqual(Array.from(b.cols));
      expect(relErr(a.d, b.d), label(cv)).toBeLessThanOrEqual(1e-5);
    }
  });

  it('pools (max with indices, average, global average) forward and backward', () => {
    for (const p of [...POOLS, { n: 4, h: 28, w: 28, c: 32, size: 2, stride: 2 }]) {
      const { outH, outW } = poolOut(p);
      const len = p.n * outH * outW * p.c, inLen = p.n * p.h * p.w * p.c;
      const rng = mulberry32(inLen);
      const x = uniform(rng, inLen), g = uniform(rng, len), gg = uniform(rng, p.n * p.c);
      const [a, b] = both((be, s) => {
        const px = s.f32(x), pg = s.f32(g);
        const mo = s.out(len), arg = s.filled(len, -1), md = s.out(inLen), ao = s.out(len), ad = s.out(inLen), go = s.out(p.n * p.c), gd = s.out(inLen);
        be.kernels.maxPoolForward(mo, arg, px, p.n, p.h, p.w, p.c, p.size, p.stride, outH, outW);
        be.kernels.maxPoolBackward(md, pg, arg, p.n, p.h, p.w, p.c, p.size, p.stride, outH, outW);
        be.kernels.avgPoolForward(ao, px, p.n, p.h, p.w, p.c, p.size, p.stride, outH, outW);
        be.kernels.avgPoolBackward(ad, pg, p.n, p.h, p.w, p.c, p.size, p.stride, outH, outW);
        be.kernels.globalAvgPoolForward(go, px, p.n, p.h, p.w, p.c);
        be.kernels.globalAvgPoolBackward(gd, s.f32(gg), p.n, p.h, p.w, p.c);
        return [s.read(mo, len), s.readI32(arg, len), s.read(md, inLen), s.read(ao, len), s.read(ad, inLen), s.read(go, p.n * p.c), s.read(gd, inLen)] as const;
      });
      expect(Array.from(a[0]), `max ${poolLabel(p)}`).toEqual(Array.from(b[0]));
      expect(Array.from(a[1]), `argmax ${poolLabel(p)}`).toEqual(Array.from(b[1]));
      for (const k of [2, 3, 4, 5, 6] as const) expectRelErr(a[k], b[k], 1e-5, `output ${k} of ${poolLabel(p)}`);
    }
  });

  it('dropout masks are bit-identical', () => {
    const n = 10_007;
    const x = uniform(mulberry32(8), n);
    for (const [rate, seed, offset] of [[0.5, 1, 0], [0.25, 2 ** 31 + 5, 2 ** 32 - 100], [0.75, 0, 123456789]] as const) {
      const [a, b] = both((be, s) => {
        const out = s.out(n), mask = s.out(n);
        be.kernels.dropoutForward(out, mask, s.f32(x), n, rate, seed, offset);
        return [new Uint32Array(s.read(mask, n).buffer), new Uint32Array(s.read(out, n).buffer)] as const;
      });
      expect(Array.from(a[0])).toEqual(Array.from(b[0]));
      expect(Array.from(a[1])).toEqual(Array.from(b[1]));
    }
  });
});

// ---------------------------------------------------------------- bad input through the checked kernels

describe.each(BACKENDS)('bad conv, pool and dropout arguments on the %s backend', (name) => {
  let be: Backend;
  beforeAll(async () => { be = await getBackend(name); });

  /** Expects a RangeError whose message matches `re`. */
  function rejects(call: () => void, re: RegExp): void {
    let err: unknown;
    try { call(); } catch (e) { err = e; }
    expect(err, `expected a RangeError matching ${re}`).toBeInstanceOf(RangeError);
    expect((err as Error).message).toMatch(re);
  }

  it('im2col / col2im: outH and outW must follow from h, kh, stride and the padding', () => {
    scoped(be, (s) => {
      const x = s.filled(2 * 28 * 28, 0), cols = s.filled(2 * 28 * 28 * 9, 0);
      // 'same' 3×3 stride 1 over 28 gives 28; 27 is neither padAfter = 1 (28) nor 2 (29)
      rejects(() => be.kernels.im2col(cols, x, 2, 28, 28, 1, 3, 3, 1, 1, 1, 27, 28),
        /^im2col: outH must be floor\(\(h \+ padTop \+ padAfter − kh\)\/stride\) \+ 1 with padAfter = padTop or padTop \+ 1, i\.e\. 28 or 29 for h = 28, kh = 3, padTop = 1, stride = 1; got 27$/);
      rejects(() => be.kernels.col2im(x, cols, 2, 28, 28, 1, 3, 3, 1, 1, 1, 28, 30), /^col2im: outW must be .* got 30$/);
      rejects(() => be.kernels.im2col(cols, x, 2, 28, 28, 1, 3, 3, 1, 3, 0, 28, 26), /^im2col: padTop must be < kh = 3 \(a window entirely in the padding\), got 3$/);
      rejects(() => be.kernels.im2col(cols, x, 2, 28, 28, 1, 3, 3, 0, 1, 1, 28, 28), /^im2col: stride must be an integer ≥ 1, got 0$/);
      rejects(() => be.kernels.im2col(cols, x, 2, 28, 28, 1, 3, 3, 1, -1, 1, 28, 28), /^im2col: padTop must be an integer ≥ 0, got -1$/);
      rejects(() => be.kernels.im2col(cols, x, 2, 28, 28, 1, 30, 3, 1, 0, 1, 1, 28), /^im2col: kh = 30 must fit in h \+ 2·padTop \+ 1 = 29$/);
      // cols whose 2·28·28·9 values would run past the end of memory
      rejects(() => be.kernels.im2col(2 ** 30, x, 2, 28, 28, 1, 3, 3, 1, 1, 1, 28, 28), /^im2col: cols must point to 14112 values inside memory \(\d+ bytes\), got pointer 1073741824 whose end is 1073798272$/);
      rejects(() => be.kernels.im2col(x, x, 1, 28, 28, 1, 1, 1, 1, 0, 0, 28, 28), /^im2col: cols must not overlap inp$/);
    });
  });

  it('pools: valid windows only, argmax inside dinp', () => {
    scoped(be, (s) => {
      const x = s.filled(2 * 6 * 6 * 4, 0), out = s.filled(2 * 3 * 3 * 4, 0), arg = s.filled(2 * 3 * 3 * 4, 0), dx = s.filled(2 * 6 * 6 * 4, 0);
      rejects(() => be.kernels.maxPoolForward(out, arg, x, 2, 6, 6, 4, 2, 2, 4, 3),
        /^maxPoolForward: outH must be floor\(\(h − size\)\/stride\) \+ 1 = 3 for h = 6, size = 2, stride = 2; got 4$/);
      rejects(() => be.kernels.avgPoolForward(out, x, 2, 6, 6, 4, 7, 2, 1, 1), /^avgPoolForward: size must be ≤ h = 6 \(pooling windows are not padded\), got 7$/);
      rejects(() => be.kernels.avgPoolBackward(dx, out, 2, 6, 6, 4, 2, 2, 3, 2), /^avgPoolBackward: outW must be .* got 2$/);
      // argmax as maxPoolForward writes it, then one entry moved out of its window
      be.kernels.maxPoolForward(out, arg, x, 2, 6, 6, 4, 2, 2, 3, 3);
      be.kernels.maxPoolBackward(dx, out, arg, 2, 6, 6, 4, 2, 2, 3, 3);
      const good = s.readI32(arg, 72);
      for (const [j, v, where] of [[40, 288, 'image 1, rows 0…1, columns 2…3, channel 0'], [40, good[40]! + 1, 'image 1, rows 0…1, columns 2…3, channel 0'], [5, good[5]! + 8, 'image 0, rows 0…1, columns 2…3, channel 1']] as const) {
        const bad = s.i32(good.map((g, i) => (i === j ? v : g)));
        rejects(() => be.kernels.maxPoolBackward(dx, out, bad, 2, 6, 6, 4, 2, 2, 3, 3),
          new RegExp(`^maxPoolBackward: argmax\\[${j}\\] must be the flat index of an input pixel in output ${j}'s window \\(${where}\\), as maxPoolForward writes it; got ${v}$`));
      }
      rejects(() => be.kernels.maxPoolBackward(dx, out, arg, 2, 6, 6, 4, 2, 2, 3, 2), /^maxPoolBackward: outW must be .* got 2$/);
      rejects(() => be.kernels.globalAvgPoolForward(out, x, 2, 6, 6, 0), /^globalAvgPoolForward: c must be an integer ≥ 1, got 0$/);
    });
  });

  it('dropout: rate in [0, 1), seed and offset 32-bit unsigned integers', () => {
    scoped(be, (s) => {
      const x = s.filled(10, 1), out = s.filled(10, 0), mask = s.filled(10, 0);
      rejects(() => be.kernels.dropoutForward(out, mask, x, 10, 1, 0, 0), /^dropoutForward: rate must be in \[0, 1\), got 1$/);
      rejects(() => be.kernels.dropoutForward(out, mask, x, 10, -0.1, 0, 0), /^dropoutForward: rate must be in \[0, 1\), got -0\.1$/);
      rejects(() => be.kernels.dropoutForward(out, mask, x, 10, NaN, 0, 0), /^dropoutForward: rate must be a finite number, got NaN$/);
      rejects(() => be.kernels.dropoutForward(out, mask, x, 10, 0.5, -1, 0), /^dropoutForward: seed must be an integer ≥ 0, got -1$/);
      rejects(() => be.kernels.dropoutForward(out, mask, x, 10, 0.5, 2 ** 32, 0), /^dropoutForward: seed must be an integer in \[0, 2³² − 1\], got 4294967296$/);
      rejects(() => be.kernels.dropoutForward(out, mask, x, 10, 0.5, 0, 1.5), /^dropoutForward: offset must be an integer ≥ 0, got 1\.5$/);
      rejects(() => be.kernels.dropoutForward(out, x, x, 10, 0.5, 0, 0), /^dropoutForward: mask must not alias inp or out$/);
    });
  });

  it('the errors are normcore RangeErrors with the OUT_OF_RANGE code', () => {
    scoped(be, (s) => {
      const x = s.filled(16, 0), out = s.filled(4, 0), arg = s.filled(4, 0);
      let err: unknown;
      try { be.kernels.maxPoolForward(out, arg, x, 1, 4, 4, 1, 2, 2, 2, 3); } catch (e) { err = e; }
      expect(err).toBeInstanceOf(RangeError);
      expect((err as { code?: string }).code).toBe('OUT_OF_RANGE');
    });
  });
});

