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
import { JsConvKernels } from './js-conv.js';
import type { Kernels, Ptr } from './types.js';

export { JsMemory } from './js-memory.js';

/** Every kernel: matmul and batch norm from JsDenseKernels, convolution helpers, pooling and dropout from JsConvKernels, the element-wise ones, losses and optimizers here. */
export class JsKernels extends JsConvKernels implements Kernels {
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
    const O = out >>> 2, I = inp >>> 2;
    for (let j = 0; j < n; j++) { const x = f[I + j]!; f[O + j] = x < 0 ? 0 : x; } // NaN propagates, as in wasm's f32x4.max
  }

  reluBackward(dinp: Ptr, dout: Ptr, out: Ptr, n: number): void {
    const f = this.views();
    const D = dinp >>> 2, G = dout >>> 2, O = out >>> 2;
    for (let j = 0; j < n; j++) f[D + j] = f[O + j]! > 0 ? f[G + j]! : 0;
  }

  sigmoidForward(out: Ptr, inp: Ptr, n: number): void {
    const f = this.views();
    const O = out >>> 2, I = inp >>> 2;
    for (let j = 0; j < n; j++) {
      const x = f[I + j]!;
      if (x >= 0) f[O + j] = 1 / (1 + Math.exp(-x));
      else { const e = Math.exp(x); f[O + j] = e / (1 + e); }
    }
  }

  sigmoidBackward(dinp: Ptr, dout: Ptr, out: Ptr, n: number): void {
    const f = this.views();
    const D = dinp >>> 2, G = dout >>> 2, O = out >>> 2;
    for (let j = 0; j < n; j++) { const y = f[O + j]!; f[D + j] = f[G + j]! * y * (1 - y); }
  }

  tanhForward(out: Ptr, inp: Ptr, n: number): void {
    const f = this.views();
    const O = out >>> 2, I = inp >>> 2;
    for (let j = 0; j < n; j++) f[O + j] = Math.tanh(f[I + j]!);
  }

  tanhBackward(dinp: Ptr, dout: Ptr, out: Ptr, n: number): void {
    const f = this.views();
    const D = dinp >>> 2, G = dout >>> 2, O = out >>> 2;
    for (let j = 0; j < n; j++) { const y = f[O + j]!; f[D + j] = f[G + j]! * (1 - y * y); }
  }

  leakyReluForward(out: Ptr, inp: Ptr, n: number, alpha: number): void {
    const f = this.views();
    const O = out >>> 2, I = inp >>> 2;
    for (let j = 0; j < n; j++) { const x = f[I + j]!; f[O + j] = x > 0 ? x : alpha * x; }
  }

  leakyReluBackward(dinp: Ptr, dout: Ptr, inp: Ptr, n: number, alpha: number): void {
    const f = this.views();
    const D = dinp >>> 2, G = dout >>> 2, I = inp >>> 2;
    for (let j = 0; j < n; j++) { const g = f[G + j]!; f[D + j] = f[I + j]! > 0 ? g : alpha * g; }
  }

  geluForward(out: Ptr, inp: Ptr, n: number): void {
    const f = this.views();
    const O = out >>> 2, I = inp >>> 2;
    for (let j = 0; j < n; j++) {
      const x = f[I + j]!;
      f[O + j] = 0.5 * x * (1 + Math.tanh(GELU_BETA * (x + GELU_KAPPA * x * x * x)));
    }
  }

  geluBackward(dinp: Ptr, dout: Ptr, inp: Ptr, n: number): void {
    const f = this.views();
    const D = dinp >>> 2, G = dout >>> 2, I = inp >>> 2;
    for (let j = 0; j < n; j++) {
      const x = f[I + j]!;
      const th = Math.tanh(GELU_BETA * (x + GELU_KAPPA * x * x * x));
      const dy = 0.5 * (1 + th) + 0.5 * x * (1 - th * th) * GELU_BETA * (1 + 3 * GELU_KAPPA * x * x);
      f[D + j] = f[G + j]! * dy;
    }
  }

  biasForward(out: Ptr, bias: Ptr, rows: number, cols: number): void {
    const f = this.views();
    const O = out >>> 2, B = bias >>> 2;
    for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) f[O + r * cols + j] = f[O + r * cols + j]! + f[B + j]!;
  }

  biasBackward(dbias: Ptr, dout: Ptr, rows: number, cols: number): void {
    const f = this.views();
    const B = dbias >>> 2, G = dout >>> 2;
    for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) f[B + j] = f[B + j]! + f[G + r * cols + j]!;
  }

  noiseForward(out: Ptr, inp: Ptr, scale: Ptr, shift: Ptr, n: number): void {
    const f = this.views();
    const O = out >> 2, I = inp >> 2, S = scale >> 2, M = shift >> 2;
    for (let j = 0; j < n; j++) f[O + j] = Math.fround(f[I + j]! * f[S + j]!) + f[M + j]!;
  }

  noiseBackward(dinp: Ptr, dout: Ptr, scale: Ptr, n: number): void {
    const f = this.views();
    const D = dinp >> 2, G = dout >> 2, S = scale >> 2;
    for (let j = 0; j < n; j++) f[D + j] = f[G + j]! * f[S + j]!;
  }

  fill(ptr: Ptr, n: number, value: number): void {
    this.views().fill(value, ptr >>> 2, (ptr >>> 2) + n);
  }

  copy(dst: Ptr, src: Ptr, n: number): void {
    this.views();
    this.i.copyWithin(dst >>> 2, src >>> 2, (src >>> 2) + n);
  }

  gatherRows(out: Ptr, src: Ptr, indices: Ptr, n: number, cols: number): void {
    this.views();
    const w = this.i;
    const O = out >>> 2, S = src >>> 2, I = indices >>> 2;
    for (let r = 0; r < n; r++) {
      const from = S + w[I + r]! * cols;
      w.copyWithin(O + r * cols, from, from + cols);
    }
  }

  countNonFinite(ptr: Ptr, n: number): number {
    const f = this.views();
    const P = ptr >>> 2;
    let count = 0;
    for (let i = 0; i < n; i++) if (!Number.isFinite(f[P + i]!)) count++;
    return count;
  }

  softmaxCrossEntropy(dlogits: Ptr, logits: Ptr, labels: Ptr, rows: number, cols: number): number {
    const f = this.views();
    const D = dlogits >>> 2, L = logits >>> 2, T = labels >>> 2;
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
    const P = probs >>> 2, L = logits >>> 2;
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
    const D = dpred >>> 2, P = pred >>> 2, T = target >>> 2;
    const n = rows * cols;
    let total = 0;
    for (let j = 0; j < n; j++) {
      const e = f[P + j]! - f[T + j]!;
      total += e * e;
      f[D + j] = (2 / n) * e;
    }
    return total / n;
  }

  binaryCrossEntropy(dlogits: Ptr, logits: Ptr, targets: Ptr, rows: number, cols: number): number {
    const f = this.views();
    const D = dlogits >>> 2, L = logits >>> 2, T = targets >>> 2;
    const n = rows * cols;
    let total = 0;
    for (let j = 0; j < n; j++) {
      const z = f[L + j]!, t = f[T + j]!;
      const e = Math.exp(-Math.abs(z));
      total += Math.max(z, 0) - z * t + Math.log1p(e);
      const s = z >= 0 ? 1 / (1 + e) : e / (1 + e);
      f[D + j] = (s - t) / n;
    }
    return total / n;
  }

  maeLoss(dpred: Ptr, pred: Ptr, target: Ptr, rows: number, cols: number): number {
    const f = this.views();
    const D = dpred >>> 2, P = pred >>> 2, T = target >>> 2;
    const n = rows * cols;
    let total = 0;
    for (let j = 0; j < n; j++) {
      const d = f[P + j]! - f[T + j]!;
      total += Math.abs(d);
      f[D + j] = d > 0 ? 1 / n : d < 0 ? -1 / n : 0;
    }
    return total / n;
  }

  huberLoss(dpred: Ptr, pred: Ptr, target: Ptr, rows: number, cols: number, delta: number): number {
    const f = this.views();
    const D = dpred >>> 2, P = pred >>> 2, T = target >>> 2;
    const n = rows * cols;
    let total = 0;
    for (let j = 0; j < n; j++) {
      const d = f[P + j]! - f[T + j]!;
      const a = Math.abs(d);
      total += a <= delta ? 0.5 * d * d : delta * (a - 0.5 * delta);
      f[D + j] = Math.min(Math.max(d, -delta), delta) / n;
    }
    return total / n;
  }

  countCorrect(scores: Ptr, labels: Ptr, rows: number, cols: number): number {
    const f = this.views();
    const S = scores >>> 2, T = labels >>> 2;
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
    const P = params >>> 2, G = grads >>> 2, V = velocity >>> 2;
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
    const P = params >>> 2, G = grads >>> 2, S = sq >>> 2;
    for (let j = 0; j < n; j++) {
      const p = f[P + j]!;
      const g = f[G + j]! + weightDecay * p;
      const s = rho * f[S + j]! + (1 - rho) * g * g;
      f[S + j] = s;
      f[P + j] = p - (lr * g) / (Math.sqrt(s) + eps);
    }
  }

  adamUpdate(params: Ptr, grads: Ptr, m: Ptr, v: Ptr, n: number, lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, t: number): void {
    adamStep(this.views(), params, grads, m, v, n, lr, beta1, beta2, eps, weightDecay, t, false);
  }

  adamwUpdate(params: Ptr, grads: Ptr, m: Ptr, v: Ptr, n: number, lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, t: number): void {
    adamStep(this.views(), params, grads, m, v, n, lr, beta1, beta2, eps, weightDecay, t, true);
  }
}

/**
 * The loop of adamUpdate (L2: g = grad + wd·p) and adamwUpdate (decoupled:
 * p ← p·(1 − lr·wd), the decay never entering m or v), over the memory view f.
 */
function adamStep(f: Float32Array, params: Ptr, grads: Ptr, m: Ptr, v: Ptr, n: number, lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, t: number, decoupled: boolean): void {
  const P = params >>> 2, G = grads >>> 2, M = m >>> 2, V = v >>> 2;
  const stepSize = lr / (1 - Math.pow(beta1, t));
  const sqrtBc2 = Math.sqrt(1 - Math.pow(beta2, t));
  const decay = 1 - lr * weightDecay;
  for (let j = 0; j < n; j++) {
    let p = f[P + j]!, g = f[G + j]!;
    if (decoupled) p *= decay;
    else g += weightDecay * p;
    const mi = beta1 * f[M + j]! + (1 - beta1) * g;
    const vi = beta2 * f[V + j]! + (1 - beta2) * g * g;
    f[M + j] = mi;
    f[V + j] = vi;
    f[P + j] = p - (stepSize * mi) / (Math.sqrt(vi) / sqrtBc2 + eps);
  }
}

/** GELU's tanh approximation (PyTorch approximate='tanh'): √(2/π) and the cubic coefficient. */
const GELU_BETA = Math.sqrt(2 / Math.PI);
const GELU_KAPPA = 0.044715;
