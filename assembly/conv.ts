// Convolution helpers (im2col / col2im), pooling and dropout, NHWC.
//
// Dimension letters: n images of h×w pixels with c channels, stored NHWC
// (image, row, column, channel; channel fastest), so a flat MNIST row is one
// 28×28×1 image. A kh×kw window moves by `stride`; padTop / padLeft zero rows
// and columns lie before the image (the bottom / right padding is implied by
// outH / outW). outH × outW is the output grid.
//
// Convolution goes through the packed matmul: im2col lays every output
// pixel's window out as one row of K = kh·kw·c values in (ky, kx, ci) order,
// so with the weight stored [K × outC]
//   conv forward  = matmulForward(out, cols, W, n·outH·outW, K, outC)   (out NHWC)
//   conv backward = matmulBackward(dcols, dW, dout, cols, W, …) + col2im(dinp, dcols, …).
// A 1×1 kernel with stride 1 and no padding makes im2col the identity
// (cols = inp): a layer can skip it and multiply inp directly.
//
// Speed: within one window row (fixed ky) the kx positions are adjacent
// pixels, so the kw·c values are one contiguous run of the input (whatever
// the stride): im2col copies, and col2im adds, whole runs with SIMD, and the
// padding is handled by clipping each run once (no per-element branch).

import { at } from './memory';

// ---------------------------------------------------------------- runs

/** dst[0:len] = src[0:len] (byte addresses, f32). */
// @ts-ignore: decorator
@inline function copyRun(dst: usize, src: usize, len: i32): void {
  let i = 0;
  for (; i + 8 <= len; i += 8) {
    const o = <usize>i << 2;
    v128.store(dst + o, v128.load(src + o));
    v128.store(dst + o, v128.load(src + o, 16), 16);
  }
  for (; i + 4 <= len; i += 4) v128.store(dst + (<usize>i << 2), v128.load(src + (<usize>i << 2)));
  for (; i < len; i++) store<f32>(dst + (<usize>i << 2), load<f32>(src + (<usize>i << 2)));
}

/** dst[0:len] = 0. */
// @ts-ignore: decorator
@inline function zeroRun(dst: usize, len: i32): void {
  const z = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= len; i += 4) v128.store(dst + (<usize>i << 2), z);
  for (; i < len; i++) store<f32>(dst + (<usize>i << 2), <f32>0);
}

/** dst[0:len] += src[0:len]. */
// @ts-ignore: decorator
@inline function addRun(dst: usize, src: usize, len: i32): void {
  let i = 0;
  for (; i + 4 <= len; i += 4) {
    const o = <usize>i << 2;
    v128.store(dst + o, f32x4.add(v128.load(dst + o), v128.load(src + o)));
  }
  for (; i < len; i++) {
    const o = <usize>i << 2;
    store<f32>(dst + o, load<f32>(dst + o) + load<f32>(src + o));
  }
}

// ---------------------------------------------------------------- im2col / col2im

/**
 * Lays each output pixel's window out as one row:
 *   cols[(b·outH + oy)·outW + ox, (ky·kw + kx)·c + ci] = inp[b, oy·stride − padTop + ky, ox·stride − padLeft + kx, ci]
 * (0 where that pixel is in the padding).
 * cols: [n·outH·outW × kh·kw·c]; inp: [n×h×w×c].
 */
export function im2col(cols: usize, inp: usize, n: i32, h: i32, w: i32, c: i32, kh: i32, kw: i32, stride: i32, padTop: i32, padLeft: i32, outH: i32, outW: i32): void {
  const rowLen = kw * c; // one window row
  let dst = cols;
  for (let b = 0; b < n; b++) {
    const img = at(inp, b * h * w * c);
    for (let oy = 0; oy < outH; oy++) {
      const iy0 = oy * stride - padTop;
      const ky0 = min(kh, max(0, -iy0)), ky1 = min(kh, h - iy0); // window rows inside the image: [ky0, ky1)
      for (let ox = 0; ox < outW; ox++) {
        const ix0 = ox * stride - padLeft;
        const kx0 = min(kw, max(0, -ix0)), kx1 = max(kx0, min(kw, w - ix0)); // window columns inside the image: [kx0, kx1)
        const lead = kx0 * c, len = (kx1 - kx0) * c, trail = rowLen - lead - len;
        if (ky0 > 0) zeroRun(dst, ky0 * rowLen);
        let src = at(img, ((iy0 + ky0) * w + ix0 + kx0) * c);
        for (let ky = ky0; ky < ky1; ky++) {
          const d = dst + (<usize>(ky * rowLen) << 2);
          if (lead > 0) zeroRun(d, lead);
          copyRun(d + (<usize>lead << 2), src, len);
          if (trail > 0) zeroRun(d + (<usize>(lead + len) << 2), trail);
          src += <usize>(w * c) << 2;
        }
        const below = max(ky1, ky0);
        if (below < kh) zeroRun(dst + (<usize>(below * rowLen) << 2), (kh - below) * rowLen);
        dst += <usize>(kh * rowLen) << 2;
      }
    }
  }
}

/**
 * Differentiates im2col: each input pixel gets the sum of the column entries
 * it was copied to (padding entries are dropped).
 *   dinp[b, iy, ix, ci] = Σ dcols[row, (ky·kw + kx)·c + ci] over the windows covering it
 * dinp is OVERWRITTEN (zeroed, then the columns are added).
 * dinp: [n×h×w×c]; dcols: [n·outH·outW × kh·kw·c].
 */
export function col2im(dinp: usize, dcols: usize, n: i32, h: i32, w: i32, c: i32, kh: i32, kw: i32, stride: i32, padTop: i32, padLeft: i32, outH: i32, outW: i32): void {
  memory.fill(dinp, 0, <usize>(n * h * w * c) << 2);
  const rowLen = kw * c;
  let src = dcols;
  for (let b = 0; b < n; b++) {
    const img = at(dinp, b * h * w * c);
    for (let oy = 0; oy < outH; oy++) {
      const iy0 = oy * stride - padTop;
      const ky0 = min(kh, max(0, -iy0)), ky1 = min(kh, h - iy0);
      for (let ox = 0; ox < outW; ox++) {
        const ix0 = ox * stride - padLeft;
        const kx0 = min(kw, max(0, -ix0)), kx1 = max(kx0, min(kw, w - ix0));
        const lead = kx0 * c, len = (kx1 - kx0) * c;
        let d = at(img, ((iy0 + ky0) * w + ix0 + kx0) * c);
        for (let ky = ky0; ky < ky1; ky++) {
          addRun(d, src + (<usize>(ky * rowLen + lead) << 2), len);
          d += <usize>(w * c) << 2;
        }
        src += <usize>(kh * rowLen) << 2;
      }
    }
  }
}

// ---------------------------------------------------------------- max pool

/**
 * out[b, oy, ox, ci] = max over the size×size window at (oy·stride, ox·stride)
 * of inp[b, ·, ·, ci]; argmax holds the flat input index of that maximum (the
 * first in window order, row by row, on ties). Valid windows only:
 * outH = floor((h − size)/stride) + 1.
 * out: [n×outH×outW×c]; argmax: i32 [n×outH×outW×c]; inp: [n×h×w×c].
 */
export function maxPoolForward(out: usize, argmax: usize, inp: usize, n: i32, h: i32, w: i32, c: i32, size: i32, stride: i32, outH: i32, outW: i32): void {
  maxPoolForwardPart(out, argmax, inp, n, h, w, c, size, stride, outH, outW, 0, n);
}

// Image ranges, for the threaded backend (src/backend/threads.ts): the same
// arguments plus images b0..b1 of the n. argmax holds indices into the whole
// batch, so the parts write exactly the bytes of the whole call; the other
// kernels of this file are split by offsetting their pointers instead.

/** maxPoolForward over images b0..b1 only. */
export function maxPoolForwardPart(out: usize, argmax: usize, inp: usize, n: i32, h: i32, w: i32, c: i32, size: i32, stride: i32, outH: i32, outW: i32, b0: i32, b1: i32): void {
  let o = b0 * outH * outW * c; // flat output index
  for (let b = b0; b < b1; b++) {
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        const first = ((b * h + oy * stride) * w + ox * stride) * c; // window's top-left pixel, channel 0
        let ci = 0;
        if ((c & 3) == 0) {
          const lane = i32x4(0, 1, 2, 3);
          for (; ci < c; ci += 4) {
            let best = v128.load(at(inp, first + ci));
            let bi = i32x4.add(i32x4.splat(first + ci), lane);
            for (let ky = 0; ky < size; ky++) {
              for (let kx = ky == 0 ? 1 : 0; kx < size; kx++) {
                const idx = first + (ky * w + kx) * c + ci;
                const v = v128.load(at(inp, idx));
                const gt = f32x4.gt(v, best);
                best = v128.bitselect(v, best, gt);
                bi = v128.bitselect(i32x4.add(i32x4.splat(idx), lane), bi, gt);
              }
            }
            v128.store(at(out, o + ci), best);
            v128.store(at(argmax, o + ci), bi);
          }
        }
        for (; ci < c; ci++) {
          let bi = first + ci;
          let best = load<f32>(at(inp, bi));
          for (let ky = 0; ky < size; ky++) {
            for (let kx = ky == 0 ? 1 : 0; kx < size; kx++) {
              const idx = first + (ky * w + kx) * c + ci;
              const v = load<f32>(at(inp, idx));
              if (v > best) { best = v; bi = idx; }
            }
          }
          store<f32>(at(out, o + ci), best);
          store<i32>(at(argmax, o + ci), bi);
        }
        o += c;
      }
    }
  }
}

/**
 * Differentiates maxPoolForward: each output gradient goes to its argmax.
 *   dinp[argmax[j]] += dout[j] for every output j, after dinp = 0.
 * dinp is OVERWRITTEN. argmax[j] must lie in output j's window (as maxPoolForward writes it).
 * Non-overlapping windows (stride ≥ size) with c % 4 == 0 take a gather path:
 * every window pixel is written once, dout where it is the argmax and 0
 * elsewhere (no zeroing pass, no read-modify-write); otherwise zero, then scatter-add.
 * dinp: [n×h×w×c]; dout: [n×outH×outW×c]; argmax: i32 [n×outH×outW×c].
 */
export function maxPoolBackward(dinp: usize, dout: usize, argmax: usize, n: i32, h: i32, w: i32, c: i32, size: i32, stride: i32, outH: i32, outW: i32): void {
  maxPoolBackwardPart(dinp, dout, argmax, n, h, w, c, size, stride, outH, outW, 0, n);
}

/** maxPoolBackward over images b0..b1 only: it writes only their part of dinp (an argmax lies in its own image). */
export function maxPoolBackwardPart(dinp: usize, dout: usize, argmax: usize, n: i32, h: i32, w: i32, c: i32, size: i32, stride: i32, outH: i32, outW: i32, b0: i32, b1: i32): void {
  const image = h * w * c;
  if (stride < size || (c & 3) != 0) {
    memory.fill(at(dinp, b0 * image), 0, <usize>((b1 - b0) * image) << 2);
    const total = b1 * outH * outW * c;
    for (let j = b0 * outH * outW * c; j < total; j++) {
      const d = at(dinp, load<i32>(at(argmax, j)));
      store<f32>(d, load<f32>(d) + load<f32>(at(dout, j)));
    }
    return;
  }
  // pixels no window covers (gaps between windows, trailing rows / columns) stay 0
  if (stride > size || outH * stride < h || outW * stride < w) memory.fill(at(dinp, b0 * image), 0, <usize>((b1 - b0) * image) << 2);
  const lane = i32x4(0, 1, 2, 3);
  let o = b0 * outH * outW * c;
  for (let b = b0; b < b1; b++) {
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        const first = ((b * h + oy * stride) * w + ox * stride) * c;
        for (let ci = 0; ci < c; ci += 4) {
          const g = v128.load(at(dout, o + ci));
          const a = v128.load(at(argmax, o + ci));
          for (let ky = 0; ky < size; ky++) {
            for (let kx = 0; kx < size; kx++) {
              const idx = first + (ky * w + kx) * c + ci;
              v128.store(at(dinp, idx), v128.and(g, i32x4.eq(a, i32x4.add(i32x4.splat(idx), lane))));
            }
          }
        }
        o += c;
      }
    }
  }
}

// ---------------------------------------------------------------- average pool

/**
 * out[b, oy, ox, ci] = (Σ over the size×size window of inp[b, ·, ·, ci]) · (1/size²), valid windows only.
 * out: [n×outH×outW×c]; inp: [n×h×w×c].
 */
export function avgPoolForward(out: usize, inp: usize, n: i32, h: i32, w: i32, c: i32, size: i32, stride: i32, outH: i32, outW: i32): void {
  const inv = <f32>1 / <f32>(size * size);
  const vinv = f32x4.splat(inv);
  let o = 0;
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        const first = ((b * h + oy * stride) * w + ox * stride) * c;
        let ci = 0;
        if ((c & 3) == 0) {
          for (; ci < c; ci += 4) {
            let s = f32x4.splat(0);
            for (let ky = 0; ky < size; ky++) {
              for (let kx = 0; kx < size; kx++) s = f32x4.add(s, v128.load(at(inp, first + (ky * w + kx) * c + ci)));
            }
            v128.store(at(out, o + ci), f32x4.mul(s, vinv));
          }
        }
        for (; ci < c; ci++) {
          let s: f32 = 0;
          for (let ky = 0; ky < size; ky++) {
            for (let kx = 0; kx < size; kx++) s += load<f32>(at(inp, first + (ky * w + kx) * c + ci));
          }
          store<f32>(at(out, o + ci), s * inv);
        }
        o += c;
      }
    }
  }
}

/**
 * Differentiates avgPoolForward: every pixel of a window gets dout·(1/size²).
 * dinp is OVERWRITTEN. dinp: [n×h×w×c]; dout: [n×outH×outW×c].
 */
export function avgPoolBackward(dinp: usize, dout: usize, n: i32, h: i32, w: i32, c: i32, size: i32, stride: i32, outH: i32, outW: i32): void {
  memory.fill(dinp, 0, <usize>(n * h * w * c) << 2);
  const inv = <f32>1 / <f32>(size * size);
  const vinv = f32x4.splat(inv);
  let o = 0;
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        const first = ((b * h + oy * stride) * w + ox * stride) * c;
        let ci = 0;
        if ((c & 3) == 0) {
          for (; ci < c; ci += 4) {
            const g = f32x4.mul(v128.load(at(dout, o + ci)), vinv);
            for (let ky = 0; ky < size; ky++) {
              for (let kx = 0; kx < size; kx++) {
                const d = at(dinp, first + (ky * w + kx) * c + ci);
                v128.store(d, f32x4.add(v128.load(d), g));
              }
            }
          }
        }
        for (; ci < c; ci++) {
          const g = load<f32>(at(dout, o + ci)) * inv;
          for (let ky = 0; ky < size; ky++) {
            for (let kx = 0; kx < size; kx++) {
              const d = at(dinp, first + (ky * w + kx) * c + ci);
              store<f32>(d, load<f32>(d) + g);
            }
          }
        }
        o += c;
      }
    }
  }
}

// ---------------------------------------------------------------- global average pool

/**
 * out[b, ci] = (Σ over the h·w pixels of inp[b, ·, ·, ci]) · (1/(h·w)).
 * out: [n×c]; inp: [n×h×w×c].
 */
export function globalAvgPoolForward(out: usize, inp: usize, n: i32, h: i32, w: i32, c: i32): void {
  const hw = h * w;
  const inv = <f32>1 / <f32>hw;
  const vinv = f32x4.splat(inv);
  const cv = c & ~3;
  for (let b = 0; b < n; b++) {
    const ob = at(out, b * c);
    memory.fill(ob, 0, <usize>c << 2);
    let src = at(inp, b * hw * c);
    for (let p = 0; p < hw; p++) {
      addRun(ob, src, c);
      src += <usize>c << 2;
    }
    let ci = 0;
    for (; ci < cv; ci += 4) v128.store(at(ob, ci), f32x4.mul(v128.load(at(ob, ci)), vinv));
    for (; ci < c; ci++) store<f32>(at(ob, ci), load<f32>(at(ob, ci)) * inv);
  }
}

/**
 * Differentiates globalAvgPoolForward: dinp[b, y, x, ci] = dout[b, ci] · (1/(h·w)).
 * dinp is OVERWRITTEN. dinp: [n×h×w×c]; dout: [n×c].
 */
export function globalAvgPoolBackward(dinp: usize, dout: usize, n: i32, h: i32, w: i32, c: i32): void {
  const hw = h * w;
  const inv = <f32>1 / <f32>hw;
  const vinv = f32x4.splat(inv);
  const cv = c & ~3;
  for (let b = 0; b < n; b++) {
    const g = at(dout, b * c);
    let d = at(dinp, b * hw * c);
    for (let p = 0; p < hw; p++) {
      let ci = 0;
      for (; ci < cv; ci += 4) v128.store(at(d, ci), f32x4.mul(v128.load(at(g, ci)), vinv));
      for (; ci < c; ci++) store<f32>(at(d, ci), load<f32>(at(g, ci)) * inv);
      d += <usize>c << 2;
    }
  }
}

// ---------------------------------------------------------------- dropout

/** A 32-bit integer hash with full avalanche (Wellons' "lowbias32"). */
// @ts-ignore: decorator
@inline function mix32(x: u32): u32 {
  x ^= x >> 16;
  x *= 0x7feb352d;
  x ^= x >> 15;
  x *= 0x846ca68b;
  x ^= x >> 16;
  return x;
}

/**
 * The dropout draw of element `counter` under `seed`: uniform in [0, 1) on a
 * 2⁻²⁴ grid, a pure function of (seed, counter), so any split of the
 * elements (backends, threads, batches) draws the same numbers.
 *   key = mix32(seed ^ 0x9e3779b9); x = mix32(mix32(counter ^ key) + key); u = (x >>> 8)·2⁻²⁴
 * The JS twin (src/backend/js-conv.ts `dropoutUniform`) is bit-identical.
 */
// @ts-ignore: decorator
@inline function dropoutUniform(key: u32, counter: u32): f64 {
  const x = mix32(mix32(counter ^ key) + key);
  return <f64>(x >> 8) * 5.9604644775390625e-8; // 2⁻²⁴
}

/**
 * Inverted dropout: mask[i] = u(seed, offset + i) ≥ rate ? 1/(1 − rate) : 0; out = inp·mask.
 * Counters wrap modulo 2³². out may alias inp.
 * out: [n]; mask: [n]; inp: [n]. rate in [0, 1).
 */
export function dropoutForward(out: usize, mask: usize, inp: usize, n: i32, rate: f64, seed: u32, offset: u32): void {
  const key = mix32(seed ^ 0x9e3779b9);
  const keep = <f32>(1.0 / (1.0 - rate));
  for (let i = 0; i < n; i++) {
    const m: f32 = dropoutUniform(key, offset + <u32>i) >= rate ? keep : <f32>0;
    store<f32>(at(mask, i), m);
    store<f32>(at(out, i), load<f32>(at(inp, i)) * m);
  }
}

/**
 * Differentiates out = inp·mask: dinp = dout·mask. dinp may alias dout.
 * dinp: [n]; dout: [n]; mask: [n].
 */
export function dropoutBackward(dinp: usize, dout: usize, mask: usize, n: i32): void {
  const nv = n & ~3;
  let i = 0;
  for (; i < nv; i += 4) v128.store(at(dinp, i), f32x4.mul(v128.load(at(dout, i)), v128.load(at(mask, i))));
  for (; i < n; i++) store<f32>(at(dinp, i), load<f32>(at(dout, i)) * load<f32>(at(mask, i)));
}
