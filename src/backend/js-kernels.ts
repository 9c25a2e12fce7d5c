/**
 * The pure-TypeScript twin of `assembly/`: the same kernels, names and
 * argument order, over the same kind of linear memory (byte pointers).
 * Written plainly, loop for loop after the formulas, it is the reference the
 * tests compare the WebAssembly kernels with and the baseline benchmarks
 * measure them against. Numerics use the same methods as the wasm kernels
 * (variance of x − x[0] in two passes, max-subtracted softmax); the wasm batch
 * norm also merges row blocks of large inputs with Chan's update, so the two
 * agree to f32 rounding, not bit for bit.
 */
import * as conv from './js-conv.js';
import type { Kernels, MemoryLike, Ptr } from './types.js';

export class JsKernels implements Kernels {
  private readonly memory: MemoryLike;
  private f = new Float32Array(0);
  private i = new Int32Array(0);
  private temps: ColTemps = colTemps(0);

  constructor(memory: MemoryLike) {
    this.memory = memory;
  }

  /** Views onto memory, taken fresh whenever it has grown. */
  private views(): Float32Array {
    if (this.f.buffer !== this.memory.buffer) {
      this.f = new Float32Array(this.memory.buffer);
      this.i = new Int32Array(this.memory.buffer);
    }
    return this.f;
  }

  /** Per-column temporaries of the batch-norm kernels, grown on demand and kept between calls. */
  private colTemps(cols: number): ColTemps {
    if (this.temps.cols < cols) this.temps = colTemps(cols);
    return this.temps;
  }

  matmul(c: Ptr, a: Ptr, b: Ptr, m: number, k: number, n: number, transA: number, transB: number, accumulate: number): void {
    const f = this.views();
    const C = c >> 2, A = a >> 2, B = b >> 2;
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

  matmulBackward(dinp: Ptr, dweight: Ptr, dout: Ptr, inp: Ptr, weight: Ptr, m: number, k: number, n: number, needDinp: number): void {
    this.matmul(dweight, inp, dout, k, m, n, 1, 0, 1);
    if (needDinp) this.matmul(dinp, dout, weight, m, n, k, 0, 1, 0);
  }

  batchnormForward(out: Ptr, mean: Ptr, variance: Ptr, invstd: Ptr, inp: Ptr, gamma: Ptr, beta: Ptr, runMean: Ptr, runVar: Ptr, rows: number, cols: number, eps: number, momentum: number): void {
    const f = this.views();
    const X = inp >> 2, Y = out >> 2;
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
      scale[c] = f[(gamma >> 2) + c]! * is;
      f[(invstd >> 2) + c] = is;
    }
    const B = beta >> 2;
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
      f[(mean >> 2) + c] = mu;
      f[(variance >> 2) + c] = v;
      if (momentum > 0) {
        const rm = (runMean >> 2) + c, rv = (runVar >> 2) + c;
        f[rm] = (1 - momentum) * f[rm]! + momentum * mu;
        f[rv] = (1 - momentum) * f[rv]! + momentum * v * unbias;
      }
    }
  }

  batchnormInference(out: Ptr, inp: Ptr, gamma: Ptr, beta: Ptr, runMean: Ptr, runVar: Ptr, rows: number, cols: number, eps: number): void {
    const f = this.views();
    const X = inp >> 2, Y = out >> 2;
    for (let c = 0; c < cols; c++) {
      const scale = Math.fround(f[(gamma >> 2) + c]! / Math.fround(Math.sqrt(Math.fround(f[(runVar >> 2) + c]! + eps))));
      const mu = f[(runMean >> 2) + c]!, b = f[(beta >> 2) + c]!;
      for (let r = 0; r < rows; r++) f[Y + r * cols + c] = Math.fround(f[X + r * cols + c]! - mu) * scale + b;
    }
  }

  batchnormBackward(dinp: Ptr, dgamma: Ptr, dbeta: Ptr, dout: Ptr, inp: Ptr, gamma: Ptr, mean: Ptr, invstd: Ptr, rows: number, cols: number): void {
    const f = this.views();
    const X = inp >> 2, G = dout >> 2, D = dinp >> 2, M = mean >> 2, S = invstd >> 2;
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
      f[(dbeta >> 2) + c] = f[(dbeta >> 2) + c]! + sdy[c]!;
      f[(dgamma >> 2) + c] = f[(dgamma >> 2) + c]! + sdyx[c]!;
      const a = f[(gamma >> 2) + c]! * f[S + c]!;
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

  batchnormReluForward(out: Ptr, mean: Ptr, variance: Ptr, invstd: Ptr, inp: Ptr, gamma: Ptr, beta: Ptr, runMean: Ptr, runVar: Ptr, rows: number, cols: number, eps: number, momentum: number): void {
    this.batchnormForward(out, mean, variance, invstd, inp, gamma, beta, runMean, runVar, rows, cols, eps, momentum);
    this.reluForward(out, out, rows * cols);
  }

  batchnormReluInference(out: Ptr, inp: Ptr, gamma: Ptr, beta: Ptr, runMean: Ptr, runVar: Ptr, rows: number, cols: number, eps: number): void {
    this.batchnormInference(out, inp, gamma, beta, runMean, runVar, rows, cols, eps);
    this.reluForward(out, out, rows * cols);
  }

  batchnormReluBackward(dinp: Ptr, dgamma: Ptr, dbeta: Ptr, dout: Ptr, out: Ptr, inp: Ptr, gamma: Ptr, mean: Ptr, invstd: Ptr, rows: number, cols: number): void {
    // the mask into dinp first (it may alias dout), then the batch-norm backward in place on it
    this.reluBackward(dinp, dout, out, rows * cols);
    this.batchnormBackward(dinp, dgamma, dbeta, dinp, inp, gamma, mean, invstd, rows, cols);
  }

  reluForward(out: Ptr, inp: Ptr, n: number): void {
    const f = this.views();
    const O = out >> 2, I = inp >> 2;
    for (let j = 0; j < n; j++) { const x = f[I + j]!; f[O + j] = x < 0 ? 0 : x; } // NaN propagates, as in wasm's f32x4.max
  }

  reluBackward(dinp: Ptr, dout: Ptr, out: Ptr, n: number): void {
    const f = this.views();
    const D = dinp >> 2, G = dout >> 2, O = out >> 2;
    for (let j = 0; j < n; j++) f[D + j] = f[O + j]! > 0 ? f[G + j]! : 0;
  }

  sigmoidForward(out: Ptr, inp: Ptr, n: number): void {
    const f = this.views();
    const O = out >> 2, I = inp >> 2;
    for (let j = 0; j < n; j++) {
      const x = f[I + j]!;
      if (x >= 0) f[O + j] = 1 / (1 + Math.exp(-x));
      else { const e = Math.exp(x); f[O + j] = e / (1 + e); }
    }
  }

  sigmoidBackward(dinp: Ptr, dout: Ptr, out: Ptr, n: number): void {
    const f = this.views();
    const D = dinp >> 2, G = dout >> 2, O = out >> 2;
    for (let j = 0; j < n; j++) { const y = f[O + j]!; f[D + j] = f[G + j]! * y * (1 - y); }
  }

  tanhForward(out: Ptr, inp: Ptr, n: number): void {
    const f = this.views();
    const O = out >> 2, I = inp >> 2;
    for (let j = 0; j < n; j++) f[O + j] = Math.tanh(f[I + j]!);
  }

  tanhBackward(dinp: Ptr, dout: Ptr, out: Ptr, n: number): void {
    const f = this.views();
    const D = dinp >> 2, G = dout >> 2, O = out >> 2;
    for (let j = 0; j < n; j++) { const y = f[O + j]!; f[D + j] = f[G + j]! * (1 - y * y); }
  }

  biasForward(out: Ptr, bias: Ptr, rows: number, cols: number): void {
    const f = this.views();
    const O = out >> 2, B = bias >> 2;
    for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) f[O + r * cols + j] = f[O + r * cols + j]! + f[B + j]!;
  }

  biasBackward(dbias: Ptr, dout: Ptr, rows: number, cols: number): void {
    const f = this.views();
    const B = dbias >> 2, G = dout >> 2;
    for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) f[B + j] = f[B + j]! + f[G + r * cols + j]!;
  }

  fill(ptr: Ptr, n: number, value: number): void {
    this.views().fill(value, ptr >> 2, (ptr >> 2) + n);
  }

  copy(dst: Ptr, src: Ptr, n: number): void {
    this.views();
    this.i.copyWithin(dst >> 2, src >> 2, (src >> 2) + n);
  }

  gatherRows(out: Ptr, src: Ptr, indices: Ptr, n: number, cols: number): void {
    this.views();
    const w = this.i;
    const O = out >> 2, S = src >> 2, I = indices >> 2;
    for (let r = 0; r < n; r++) {
      const from = S + w[I + r]! * cols;
      w.copyWithin(O + r * cols, from, from + cols);
    }
  }

  softmaxCrossEntropy(dlogits: Ptr, logits: Ptr, labels: Ptr, rows: number, cols: number): number {
    const f = this.views();
    const D = dlogits >> 2, L = logits >> 2, T = labels >> 2;
    let total = 0;
    for (let r = 0; r < rows; r++) {
      const lr = L + r * cols, dr = D + r * cols;
      const t = this.i[T + r]!;
      let mx = f[lr]!;
      for (let j = 1; j < cols; j++) mx = Math.max(mx, f[lr + j]!);
      const target = f[lr + t]! - mx;
      let sum = 0;
      for (let j = 0; j < cols; j++) { const e = Math.exp(f[lr + j]! - mx); f[dr + j] = e; sum += e; }
      total += Math.log(sum) - target;
      for (let j = 0; j < cols; j++) f[dr + j] = f[dr + j]! / sum / rows;
      f[dr + t] = f[dr + t]! - 1 / rows;
    }
    return total / rows;
  }

  softmaxForward(probs: Ptr, logits: Ptr, rows: number, cols: number): void {
    const f = this.views();
    const P = probs >> 2, L = logits >> 2;
    for (let r = 0; r < rows; r++) {
      const lr = L + r * cols, pr = P + r * cols;
      let mx = f[lr]!;
      for (let j = 1; j < cols; j++) mx = Math.max(mx, f[lr + j]!);
      let sum = 0;
      for (let j = 0; j < cols; j++) { const e = Math.exp(f[lr + j]! - mx); f[pr + j] = e; sum += e; }
      for (let j = 0; j < cols; j++) f[pr + j] = f[pr + j]! / sum;
    }
  }

  mseLoss(dpred: Ptr, pred: Ptr, target: Ptr, rows: number, cols: number): number {
    const f = this.views();
    const D = dpred >> 2, P = pred >> 2, T = target >> 2;
    const n = rows * cols;
    let total = 0;
    for (let j = 0; j < n; j++) {
      const e = f[P + j]! - f[T + j]!;
      total += e * e;
      f[D + j] = (2 / n) * e;
    }
    return total / n;
  }

  countCorrect(scores: Ptr, labels: Ptr, rows: number, cols: number): number {
    const f = this.views();
    const S = scores >> 2, T = labels >> 2;
    let correct = 0;
    for (let r = 0; r < rows; r++) {
      let best = 0, bv = f[S + r * cols]!;
      for (let j = 1; j < cols; j++) { const v = f[S + r * cols + j]!; if (v > bv) { bv = v; best = j; } }
      if (best === this.i[T + r]) correct++;
    }
    return correct;
  }

  sgdUpdate(params: Ptr, grads: Ptr, velocity: Ptr, n: number, lr: number, momentum: number, weightDecay: number): void {
    const f = this.views();
    const P = params >> 2, G = grads >> 2, V = velocity >> 2;
    for (let j = 0; j < n; j++) {
      const p = f[P + j]!;
      const g = f[G + j]! + weightDecay * p;
      if (momentum > 0) {
        const v = momentum * f[V + j]! + g;
        f[V + j] = v;
        f[P + j] = p - lr * v;
      } else {
        f[P + j] = p - lr * g;
      }
    }
  }

  rmspropUpdate(params: Ptr, grads: Ptr, sq: Ptr, n: number, lr: number, rho: number, eps: number, weightDecay: number): void {
    const f = this.views();
    const P = params >> 2, G = grads >> 2, S = sq >> 2;
    for (let j = 0; j < n; j++) {
      const p = f[P + j]!;
      const g = f[G + j]! + weightDecay * p;
      const s = rho * f[S + j]! + (1 - rho) * g * g;
      f[S + j] = s;
      f[P + j] = p - (lr * g) / (Math.sqrt(s) + eps);
    }
  }

  adamUpdate(params: Ptr, grads: Ptr, m: Ptr, v: Ptr, n: number, lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, t: number): void {
    const f = this.views();
    const P = params >> 2, G = grads >> 2, M = m >> 2, V = v >> 2;
    const stepSize = lr / (1 - Math.pow(beta1, t));
    const sqrtBc2 = Math.sqrt(1 - Math.pow(beta2, t));
    for (let j = 0; j < n; j++) {
      const p = f[P + j]!;
      const g = f[G + j]! + weightDecay * p;
      const mi = beta1 * f[M + j]! + (1 - beta1) * g;
      const vi = beta2 * f[V + j]! + (1 - beta2) * g * g;
      f[M + j] = mi;
      f[V + j] = vi;
      f[P + j] = p - (stepSize * mi) / (Math.sqrt(vi) / sqrtBc2 + eps);
    }
  }

  // Convolution helpers, pooling and dropout: the twins live in js-conv.ts.
  im2col(cols: Ptr, inp: Ptr, n: number, h: number, w: number, c: number, kh: number, kw: number, stride: number, padTop: number, padLeft: number, outH: number, outW: number): void {
    conv.im2col(this.views(), cols, inp, n, h, w, c, kh, kw, stride, padTop, padLeft, outH, outW);
  }

  col2im(dinp: Ptr, dcols: Ptr, n: number, h: number, w: number, c: number, kh: number, kw: number, stride: number, padTop: number, padLeft: number, outH: number, outW: number): void {
    conv.col2im(this.views(), dinp, dcols, n, h, w, c, kh, kw, stride, padTop, padLeft, outH, outW);
  }

  maxPoolForward(out: Ptr, argmax: Ptr, inp: Ptr, n: number, h: number, w: number, c: number, size: number, stride: number, outH: number, outW: number): void {
    conv.maxPoolForward(this.views(), this.i, out, argmax, inp, n, h, w, c, size, stride, outH, outW);
  }

  maxPoolBackward(dinp: Ptr, dout: Ptr, argmax: Ptr, n: number, h: number, w: number, c: number, size: number, stride: number, outH: number, outW: number): void {
    conv.maxPoolBackward(this.views(), this.i, dinp, dout, argmax, n, h, w, c, size, stride, outH, outW);
  }

  avgPoolForward(out: Ptr, inp: Ptr, n: number, h: number, w: number, c: number, size: number, stride: number, outH: number, outW: number): void {
    conv.avgPoolForward(this.views(), out, inp, n, h, w, c, size, stride, outH, outW);
  }

  avgPoolBackward(dinp: Ptr, dout: Ptr, n: number, h: number, w: number, c: number, size: number, stride: number, outH: number, outW: number): void {
    conv.avgPoolBackward(this.views(), dinp, dout, n, h, w, c, size, stride, outH, outW);
  }

  globalAvgPoolForward(out: Ptr, inp: Ptr, n: number, h: number, w: number, c: number): void {
    conv.globalAvgPoolForward(this.views(), out, inp, n, h, w, c);
  }

  globalAvgPoolBackward(dinp: Ptr, dout: Ptr, n: number, h: number, w: number, c: number): void {
    conv.globalAvgPoolBackward(this.views(), dinp, dout, n, h, w, c);
  }

  dropoutForward(out: Ptr, mask: Ptr, inp: Ptr, n: number, rate: number, seed: number, offset: number): void {
    conv.dropoutForward(this.views(), out, mask, inp, n, rate, seed, offset);
  }

  dropoutBackward(dinp: Ptr, dout: Ptr, mask: Ptr, n: number): void {
    conv.dropoutBackward(this.views(), dinp, dout, mask, n);
  }
}

/** Per-column scratch of the batch-norm kernels (f32 as the wasm kernels keep it, f64 where the twin sums in doubles). */
interface ColTemps {
  cols: number;
  f32a: Float32Array; f32b: Float32Array; f32c: Float32Array; f32d: Float32Array;
  f64a: Float64Array; f64b: Float64Array; f64c: Float64Array; f64d: Float64Array; f64e: Float64Array;
}

function colTemps(cols: number): ColTemps {
  const f32 = () => new Float32Array(cols);
  const f64 = () => new Float64Array(cols);
  return { cols, f32a: f32(), f32b: f32(), f32c: f32(), f32d: f32(), f64a: f64(), f64b: f64(), f64c: f64(), f64d: f64(), f64e: f64() };
}

/** Growable linear memory for the js backend: the same contract as WebAssembly.Memory. */
export class JsMemory implements MemoryLike {
  buffer = new ArrayBuffer(0);

  grow(pages: number): number {
    const old = this.buffer;
    const next = new ArrayBuffer(old.byteLength + pages * 65536);
    new Uint8Array(next).set(new Uint8Array(old));
    this.buffer = next;
    return old.byteLength / 65536;
  }
}
