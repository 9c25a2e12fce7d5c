/**
 * The pure-TypeScript twins of `assembly/conv.ts`: im2col / col2im, max,
 * average and global average pooling, dropout. NHWC; the same names,
 * argument order and formulas, written element by element. Each function
 * takes the f32 and i32 views of linear memory first (`f`, `i`), then the
 * kernel's own arguments (byte pointers, sizes, scalars); `JsConvKernels`
 * (at the end; `JsKernels` extends it) calls them with its views. Sums run in the wasm kernels' order, so results agree
 * bit for bit except where noted.
 */
import { JsDenseKernels } from './js-dense.js';
import type { Ptr } from './types.js';

// ---------------------------------------------------------------- im2col / col2im

/**
 * cols[(b·outH + oy)·outW + ox, (ky·kw + kx)·c + ci] = inp[b, oy·stride − padTop + ky, ox·stride − padLeft + kx, ci], 0 in the padding.
 * cols: [n·outH·outW × kh·kw·c]; inp: [n×h×w×c].
 */
export function im2col(f: Float32Array, cols: Ptr, inp: Ptr, n: number, h: number, w: number, c: number, kh: number, kw: number, stride: number, padTop: number, padLeft: number, outH: number, outW: number): void {
  const X = inp >> 2;
  let d = cols >> 2;
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        for (let ky = 0; ky < kh; ky++) {
          const iy = oy * stride - padTop + ky;
          for (let kx = 0; kx < kw; kx++) {
            const ix = ox * stride - padLeft + kx;
            const inside = iy >= 0 && iy < h && ix >= 0 && ix < w;
            const src = X + ((b * h + iy) * w + ix) * c;
            for (let ci = 0; ci < c; ci++) f[d++] = inside ? f[src + ci]! : 0;
          }
        }
      }
    }
  }
}

/**
 * dinp[b, iy, ix, ci] = Σ dcols[row, (ky·kw + kx)·c + ci] over the windows covering that pixel; dinp OVERWRITTEN.
 * dinp: [n×h×w×c]; dcols: [n·outH·outW × kh·kw·c].
 */
export function col2im(f: Float32Array, dinp: Ptr, dcols: Ptr, n: number, h: number, w: number, c: number, kh: number, kw: number, stride: number, padTop: number, padLeft: number, outH: number, outW: number): void {
  const D = dinp >> 2;
  f.fill(0, D, D + n * h * w * c);
  let s = dcols >> 2;
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        for (let ky = 0; ky < kh; ky++) {
          const iy = oy * stride - padTop + ky;
          for (let kx = 0; kx < kw; kx++) {
            const ix = ox * stride - padLeft + kx;
            if (iy >= 0 && iy < h && ix >= 0 && ix < w) {
              const dst = D + ((b * h + iy) * w + ix) * c;
              for (let ci = 0; ci < c; ci++) f[dst + ci] = f[dst + ci]! + f[s + ci]!;
            }
            s += c;
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------- pooling

/**
 * out = max over each size×size window (valid windows), argmax = flat input index of the first maximum.
 * out: [n×outH×outW×c]; argmax: i32 [n×outH×outW×c]; inp: [n×h×w×c].
 */
export function maxPoolForward(f: Float32Array, i: Int32Array, out: Ptr, argmax: Ptr, inp: Ptr, n: number, h: number, w: number, c: number, size: number, stride: number, outH: number, outW: number): void {
  const X = inp >> 2, Y = out >> 2, A = argmax >> 2;
  let o = 0;
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        for (let ci = 0; ci < c; ci++) {
          let best = -Infinity, bi = -1;
          for (let ky = 0; ky < size; ky++) {
            for (let kx = 0; kx < size; kx++) {
              const idx = ((b * h + oy * stride + ky) * w + ox * stride + kx) * c + ci;
              const v = f[X + idx]!;
              if (bi < 0 || v > best) { best = v; bi = idx; }
            }
          }
          f[Y + o] = best;
          i[A + o] = bi;
          o++;
        }
      }
    }
  }
}

/**
 * dinp = 0, then dinp[argmax[j]] += dout[j] (argmax[j] in output j's window; size and stride are only the wasm
 * kernel's hint for its gather path). dinp: [n×h×w×c]; dout, argmax: [n×outH×outW×c].
 */
export function maxPoolBackward(f: Float32Array, i: Int32Array, dinp: Ptr, dout: Ptr, argmax: Ptr, n: number, h: number, w: number, c: number, _size: number, _stride: number, outH: number, outW: number): void {
  const D = dinp >> 2, G = dout >> 2, A = argmax >> 2;
  f.fill(0, D, D + n * h * w * c);
  const total = n * outH * outW * c;
  for (let j = 0; j < total; j++) {
    const d = D + i[A + j]!;
    f[d] = f[d]! + f[G + j]!;
  }
}

/** out = (Σ over each size×size window)·(1/size²). out: [n×outH×outW×c]; inp: [n×h×w×c]. */
export function avgPoolForward(f: Float32Array, out: Ptr, inp: Ptr, n: number, h: number, w: number, c: number, size: number, stride: number, outH: number, outW: number): void {
  const X = inp >> 2, Y = out >> 2;
  const inv = Math.fround(1 / (size * size));
  let o = 0;
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        for (let ci = 0; ci < c; ci++) {
          let s = 0;
          for (let ky = 0; ky < size; ky++) {
            for (let kx = 0; kx < size; kx++) s = Math.fround(s + f[X + ((b * h + oy * stride + ky) * w + ox * stride + kx) * c + ci]!);
          }
          f[Y + o++] = s * inv;
        }
      }
    }
  }
}

/** dinp = 0, then every pixel of a window += dout·(1/size²). dinp: [n×h×w×c]; dout: [n×outH×outW×c]. */
export function avgPoolBackward(f: Float32Array, dinp: Ptr, dout: Ptr, n: number, h: number, w: number, c: number, size: number, stride: number, outH: number, outW: number): void {
  const D = dinp >> 2, G = dout >> 2;
  f.fill(0, D, D + n * h * w * c);
  const inv = Math.fround(1 / (size * size));
  let o = 0;
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        for (let ci = 0; ci < c; ci++) {
          const g = Math.fround(f[G + o++]! * inv);
          for (let ky = 0; ky < size; ky++) {
            for (let kx = 0; kx < size; kx++) {
              const d = D + ((b * h + oy * stride + ky) * w + ox * stride + kx) * c + ci;
              f[d] = f[d]! + g;
            }
          }
        }
      }
    }
  }
}

/** out[b, ci] = (Σ over the h·w pixels)·(1/(h·w)). out: [n×c]; inp: [n×h×w×c]. */
export function globalAvgPoolForward(f: Float32Array, out: Ptr, inp: Ptr, n: number, h: number, w: number, c: number): void {
  const X = inp >> 2, Y = out >> 2, hw = h * w;
  const inv = Math.fround(1 / hw);
  for (let b = 0; b < n; b++) {
    for (let ci = 0; ci < c; ci++) {
      let s = 0;
      for (let p = 0; p < hw; p++) s = Math.fround(s + f[X + (b * hw + p) * c + ci]!);
      f[Y + b * c + ci] = s * inv;
    }
  }
}

/** dinp[b, y, x, ci] = dout[b, ci]·(1/(h·w)), OVERWRITTEN. dinp: [n×h×w×c]; dout: [n×c]. */
export function globalAvgPoolBackward(f: Float32Array, dinp: Ptr, dout: Ptr, n: number, h: number, w: number, c: number): void {
  const D = dinp >> 2, G = dout >> 2, hw = h * w;
  const inv = Math.fround(1 / hw);
  for (let b = 0; b < n; b++) {
    for (let p = 0; p < hw; p++) {
      for (let ci = 0; ci < c; ci++) f[D + (b * hw + p) * c + ci] = f[G + b * c + ci]! * inv;
    }
  }
}

// ---------------------------------------------------------------- dropout

/** Wellons' "lowbias32" 32-bit hash; returns an unsigned 32-bit integer. */
function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** The dropout key of a seed (an integer, taken modulo 2³²). */
export function dropoutKey(seed: number): number {
  return mix32(seed ^ 0x9e3779b9);
}

/**
 * The draw of element `counter` (taken modulo 2³²) under `key`: uniform in
 * [0, 1) on a 2⁻²⁴ grid, bit-identical to `dropoutUniform` in assembly/conv.ts.
 */
export function dropoutUniform(key: number, counter: number): number {
  const x = mix32((mix32(counter ^ key) + key) >>> 0);
  return (x >>> 8) * 5.9604644775390625e-8;
}

/** mask[i] = u(seed, offset + i) ≥ rate ? 1/(1 − rate) : 0; out = inp·mask. out, mask, inp: [n]. */
export function dropoutForward(f: Float32Array, out: Ptr, mask: Ptr, inp: Ptr, n: number, rate: number, seed: number, offset: number): void {
  const Y = out >> 2, M = mask >> 2, X = inp >> 2;
  const key = dropoutKey(seed);
  const keep = Math.fround(1 / (1 - rate));
  for (let j = 0; j < n; j++) {
    const m = dropoutUniform(key, (offset + j) >>> 0) >= rate ? keep : 0;
    f[M + j] = m;
    f[Y + j] = f[X + j]! * m;
  }
}

/** dinp = dout·mask. dinp, dout, mask: [n]. */
export function dropoutBackward(f: Float32Array, dinp: Ptr, dout: Ptr, mask: Ptr, n: number): void {
  const D = dinp >> 2, G = dout >> 2, M = mask >> 2;
  for (let j = 0; j < n; j++) f[D + j] = f[G + j]! * f[M + j]!;
}

// ---------------------------------------------------------------- the kernels, on the js backend's memory

/** The conv, pool and dropout kernels of the js twin, in the chain JsDenseKernels ← JsConvKernels ← JsKernels. */
export class JsConvKernels extends JsDenseKernels {
  im2col(cols: Ptr, inp: Ptr, n: number, h: number, w: number, c: number, kh: number, kw: number, stride: number, padTop: number, padLeft: number, outH: number, outW: number): void {
    im2col(this.views(), cols, inp, n, h, w, c, kh, kw, stride, padTop, padLeft, outH, outW);
  }

  col2im(dinp: Ptr, dcols: Ptr, n: number, h: number, w: number, c: number, kh: number, kw: number, stride: number, padTop: number, padLeft: number, outH: number, outW: number): void {
    col2im(this.views(), dinp, dcols, n, h, w, c, kh, kw, stride, padTop, padLeft, outH, outW);
  }

  maxPoolForward(out: Ptr, argmax: Ptr, inp: Ptr, n: number, h: number, w: number, c: number, size: number, stride: number, outH: number, outW: number): void {
    maxPoolForward(this.views(), this.i, out, argmax, inp, n, h, w, c, size, stride, outH, outW);
  }

  maxPoolBackward(dinp: Ptr, dout: Ptr, argmax: Ptr, n: number, h: number, w: number, c: number, size: number, stride: number, outH: number, outW: number): void {
    maxPoolBackward(this.views(), this.i, dinp, dout, argmax, n, h, w, c, size, stride, outH, outW);
  }

  avgPoolForward(out: Ptr, inp: Ptr, n: number, h: number, w: number, c: number, size: number, stride: number, outH: number, outW: number): void {
    avgPoolForward(this.views(), out, inp, n, h, w, c, size, stride, outH, outW);
  }

  avgPoolBackward(dinp: Ptr, dout: Ptr, n: number, h: number, w: number, c: number, size: number, stride: number, outH: number, outW: number): void {
    avgPoolBackward(this.views(), dinp, dout, n, h, w, c, size, stride, outH, outW);
  }

  globalAvgPoolForward(out: Ptr, inp: Ptr, n: number, h: number, w: number, c: number): void {
    globalAvgPoolForward(this.views(), out, inp, n, h, w, c);
  }

  globalAvgPoolBackward(dinp: Ptr, dout: Ptr, n: number, h: number, w: number, c: number): void {
    globalAvgPoolBackward(this.views(), dinp, dout, n, h, w, c);
  }

  dropoutForward(out: Ptr, mask: Ptr, inp: Ptr, n: number, rate: number, seed: number, offset: number): void {
    dropoutForward(this.views(), out, mask, inp, n, rate, seed, offset);
  }

  dropoutBackward(dinp: Ptr, dout: Ptr, mask: Ptr, n: number): void {
    dropoutBackward(this.views(), dinp, dout, mask, n);
  }
}
