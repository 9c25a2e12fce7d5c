/**
 * The js twin of assembly/matmul.ts and assembly/batchnorm.ts (see js-kernels.ts for the conventions).
 */
import { JsView } from './js-memory.js';
import type { Ptr } from './types.js';

/** matmul's packing constants (assembly/memory.ts): columns and depth packed at once. */
const NC = 256, KC = 256;

/** matmul's depth blocks for depth k: equal, a multiple of 4 when k allows, at most KC (assembly/matmul.ts `depthBlock`). */
function depthBlock(k: number): number {
  const nkb = Math.ceil(k / KC);
  return Math.min(KC, (Math.ceil(k / nkb) + 3) & ~3);
}

/**
 * Visits a packed weight [k×n] (assembly/matmul.ts `packWeights` has the
 * layout) in the order p, then j: for depth p and the panel of columns
 * j…j + 7 (nr of them inside n), `at` is the float offset of its 8 values.
 */
function eachPanel(k: number, n: number, visit: (p: number, j: number, nr: number, at: number) => void): void {
  const kb = depthBlock(k);
  for (let p = 0; p < k; p++) {
    const pc = p - (p % kb), kc = Math.min(kb, k - pc);
    for (let jb = 0; jb < n; jb += NC) {
      const ncp = Math.ceil(Math.min(NC, n - jb) / 8) * 8;
      for (let j = jb; j < Math.min(jb + NC, n); j += 8) {
        visit(p, j, Math.min(8, n - j), jb * k + pc * ncp + (j - jb) * kc + (p - pc) * 8);
      }
    }
  }
}

export class JsDenseKernels extends JsView {
  matmul(c: Ptr, a: Ptr, b: Ptr, m: number, k: number, n: number, transA: number, transB: number, accumulate: number): void {
    const f = this.views();
    const C = c >>> 2, A = a >>> 2, B = b >>> 2;
    if (!accumulate) f.fill(0, C, C + m * n);
    if (!transA && !transB) {
      for (let i = 0; i < m; i++) {
        const ci = C + i * n;
        for (let p = 0; p < k; p++) {
          const av = f[A + i * k + p]!;
          const bp = B + p * n;
          for (let j = 0; j < n; j++) f[ci + j] = f[ci + j]! + av * f[bp + j]!;
        }
      }
    } else if (transA && !transB) {
      // a stored k×m
      for (let p = 0; p < k; p++) {
        const bp = B + p * n;
        for (let i = 0; i < m; i++) {
          const av = f[A + p * m + i]!;
          const ci = C + i * n;
          for (let j = 0; j < n; j++) f[ci + j] = f[ci + j]! + av * f[bp + j]!;
        }
      }
    } else {
      // b stored n×k (and a stored m×k, or k×m when transA)
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let s = 0;
          const bj = transB ? B + j * k : B + j;
          const bs = transB ? 1 : n;
          const ai = transA ? A + i : A + i * k;
          const as = transA ? m : 1;
          for (let p = 0; p < k; p++) s += f[ai + p * as]! * f[bj + p * bs]!;
          f[C + i * n + j] = f[C + i * n + j]! + s;
        }
      }
    }
  }

  matmulForward(out: Ptr, inp: Ptr, weight: Ptr, m: number, k: number, n: number): void {
    this.matmul(out, inp, weight, m, k, n, 0, 0, 0);
  }

  packWeights(packed: Ptr, weight: Ptr, k: number, n: number): void {
    const f = this.views();
    const P = packed >>> 2, W = weight >>> 2;
    eachPanel(k, n, (p, j, nr, at) => {
      for (let jj = 0; jj < 8; jj++) f[P + at + jj] = jj < nr ? f[W + p * n + j + jj]! : 0;
    });
  }

  matmulForwardPacked(out: Ptr, inp: Ptr, packed: Ptr, m: number, k: number, n: number): void {
    // matmul's order (each element summed over p in order, from 0), reading weight [p, j] from its panel
    const f = this.views();
    const C = out >>> 2, A = inp >>> 2, P = packed >>> 2;
    const kb = depthBlock(k);
    f.fill(0, C, C + m * n);
    for (let i = 0; i < m; i++) {
      const ci = C + i * n;
      for (let p = 0; p < k; p++) {
        const av = f[A + i * k + p]!;
        const pc = p - (p % kb), kc = Math.min(kb, k - pc);
        for (let jb = 0; jb < n; jb += NC) {
          const ncp = Math.ceil(Math.min(NC, n - jb) / 8) * 8, end = Math.min(jb + NC, n);
          // the panel of columns j…j + 7 holds depth p's 8 values at b
          for (let j = jb, b = P + jb * k + pc * ncp + (p - pc) * 8; j < end; j += 8, b += 8 * kc) {
            const e = Math.min(8, end - j), cj = ci + j;
            for (let jj = 0; jj < e; jj++) f[cj + jj] = f[cj + jj]! + av * f[b + jj]!;
          }
        }
      }
    }
  }

  matmulBackward(dinp: Ptr, dweight: Ptr, dout: Ptr, inp: Ptr, weight: Ptr, m: number, k: number, n: number, needDinp: number): void {
    this.matmul(dweight, inp, dout, k, m, n, 1, 0, 1);
    if (needDinp) this.matmul(dinp, dout, weight, m, n, k, 0, 1, 0);
  }

  batchnormForward(out: Ptr, mean: Ptr, variance: Ptr, invstd: Ptr, inp: Ptr, gamma: Ptr, beta: Ptr, runMean: Ptr, runVar: Ptr, rows: number, cols: number, eps: number, momentum: number): void {
    const f = this.views();
    const X = inp >>> 2, Y = out >>> 2;
    const unbias = rows > 1 ? rows / (rows - 1) : 1;
    const invN = Math.fround(1 / rows);
    // Row by row (unit stride), one f32 accumulator per column; per column
    // the same operations in the same order as a column-by-column loop.
    const { f32a: shift, f32b: md, f32c: q, f32d: scale } = this.colTemps(cols);
    shift.set(f.subarray(X, X + cols));
    md.fill(0, 0, cols);
    for (let r = 1; r < rows; r++) {
      const xr = X + r * cols;
      for (let c = 0; c < cols; c++) md[c] = md[c]! + Math.fround(f[xr + c]! - shift[c]!);
    }
    for (let c = 0; c < cols; c++) md[c] = md[c]! * invN;
    q.fill(0, 0, cols);
    for (let r = 0; r < rows; r++) {
      const xr = X + r * cols;
      for (let c = 0; c < cols; c++) {
        const e = Math.fround(Math.fround(f[xr + c]! - shift[c]!) - md[c]!);
        q[c] = q[c]! + Math.fround(e * e);
      }
    }
    for (let c = 0; c < cols; c++) {
      const v = Math.fround(q[c]! * invN);
      const is = Math.fround(1 / Math.fround(Math.sqrt(Math.fround(v + eps))));
      q[c] = v;
      scale[c] = f[(gamma >>> 2) + c]! * is;
      f[(invstd >>> 2) + c] = is;
    }
    const B = beta >>> 2;
    for (let r = 0; r < rows; r++) {
      const xr = X + r * cols, yr = Y + r * cols;
      for (let c = 0; c < cols; c++) {
        const e = Math.fround(Math.fround(f[xr + c]! - shift[c]!) - md[c]!);
        f[yr + c] = e * scale[c]! + f[B + c]!;
      }
    }
    for (let c = 0; c < cols; c++) {
      const mu = Math.fround(shift[c]! + md[c]!);
      const v = q[c]!;
      f[(mean >>> 2) + c] = mu;
      f[(variance >>> 2) + c] = v;
      if (momentum > 0) {
        const rm = (runMean >>> 2) + c, rv = (runVar >>> 2) + c;
        f[rm] = (1 - momentum) * f[rm]! + momentum * mu;
        f[rv] = (1 - momentum) * f[rv]! + momentum * v * unbias;
      }
    }
  }

  batchnormInference(out: Ptr, inp: Ptr, gamma: Ptr, beta: Ptr, runMean: Ptr, runVar: Ptr, rows: number, cols: number, eps: number): void {
    const f = this.views();
    const X = inp >>> 2, Y = out >>> 2;
    for (let c = 0; c < cols; c++) {
      const scale = Math.fround(f[(gamma >>> 2) + c]! / Math.fround(Math.sqrt(Math.fround(f[(runVar >>> 2) + c]! + eps))));
      const mu = f[(runMean >>> 2) + c]!, b = f[(beta >>> 2) + c]!;
      for (let r = 0; r < rows; r++) f[Y + r * cols + c] = Math.fround(f[X + r * cols + c]! - mu) * scale + b;
    }
  }

  batchnormBackward(dinp: Ptr, dgamma: Ptr, dbeta: Ptr, dout: Ptr, inp: Ptr, gamma: Ptr, mean: Ptr, invstd: Ptr, rows: number, cols: number): void {
    const f = this.views();
    const X = inp >>> 2, G = dout >>> 2, D = dinp >>> 2, M = mean >>> 2, S = invstd >>> 2;
    // Row by row, one (double) accumulator per column, as in the forward.
    const { f64a: sdy, f64b: sdyx, f64c: ka, f64d: kb, f64e: kx } = this.colTemps(cols);
    sdy.fill(0, 0, cols);
    sdyx.fill(0, 0, cols);
    for (let r = 0; r < rows; r++) {
      const xr = X + r * cols, gr = G + r * cols;
      for (let c = 0; c < cols; c++) {
        const g = f[gr + c]!;
        sdy[c] = sdy[c]! + g;
        sdyx[c] = sdyx[c]! + g * (f[xr + c]! - f[M + c]!) * f[S + c]!;
      }
    }
    for (let c = 0; c < cols; c++) {
      f[(dbeta >>> 2) + c] = f[(dbeta >>> 2) + c]! + sdy[c]!;
      f[(dgamma >>> 2) + c] = f[(dgamma >>> 2) + c]! + sdyx[c]!;
      const a = f[(gamma >>> 2) + c]! * f[S + c]!;
      ka[c] = a;
      kb[c] = (a * sdy[c]!) / rows;
      kx[c] = (a * sdyx[c]!) / rows;
    }
    for (let r = 0; r < rows; r++) {
      const xr = X + r * cols, gr = G + r * cols, dr = D + r * cols;
      for (let c = 0; c < cols; c++) {
        const xh = (f[xr + c]! - f[M + c]!) * f[S + c]!;
        f[dr + c] = ka[c]! * f[gr + c]! - kb[c]! - xh * kx[c]!;
      }
    }
  }

  /** out[r,:] = inp[r,:]·(weights[r]·scale); f32 products as in wasm. May run in place. */
  scaleRows(out: Ptr, inp: Ptr, weights: Ptr, rows: number, cols: number, scale: number): void {
    const f = this.views();
    const O = out >> 2, X = inp >> 2, W = weights >> 2;
    for (let r = 0; r < rows; r++) {
      const w = Math.fround(f[W + r]! * Math.fround(scale));
      for (let j = 0; j < cols; j++) f[O + r * cols + j] = f[X + r * cols + j]! * w;
    }
  }
}
