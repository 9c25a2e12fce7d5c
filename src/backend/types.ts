/**
 * The backend contract: the kernels (pointer-level, the same names and
 * argument order as `assembly/index.ts`), the heap they run on, and the
 * typed-array API that copies in and out.
 *
 * Dimension letters: m, k, n for products (op(A) is m×k, op(B) is k×n);
 * rows = N (the batch) and cols = C (the features) elsewhere.
 * Argument order: outputs, saved buffers, inputs, parameters, sizes, scalars.
 */

/** A byte offset into a backend's linear memory. */
export type Ptr = number;

/** Pointer-level kernels. Each is implemented in AssemblyScript and twinned in TypeScript. */
export interface Kernels {
  /**
   * c: [m×n] (+)= op(a)·op(b); a: [m×k] (or [k×m] if transA); b: [k×n] (or [n×k] if transB). Flags are 0 or 1.
   * The wasm kernels leave out multiply-adds by +0 entries of op(a) (README, "Zero steps"): the same bits
   * for finite b; where b holds ±∞ or NaN that only zeros of a meet, c stays finite (the js twin gives NaN).
   */
  matmul(c: Ptr, a: Ptr, b: Ptr, m: number, k: number, n: number, transA: number, transB: number, accumulate: number): void;
  /** out: [m×n] = inp: [m×k] · weight: [k×n]. */
  matmulForward(out: Ptr, inp: Ptr, weight: Ptr, m: number, k: number, n: number): void;
  /**
   * packed: packedWeightFloats(k, n) f32 = weight: [k×n] in matmul's panel layout, for matmulForwardPacked
   * (a layer's weights packed once per update instead of on every forward).
   */
  packWeights(packed: Ptr, weight: Ptr, k: number, n: number): void;
  /** out: [m×n] = inp: [m×k] · weight, from packWeights' packed weight: the same bits as matmulForward. */
  matmulForwardPacked(out: Ptr, inp: Ptr, packed: Ptr, m: number, k: number, n: number): void;
  /** dweight += inpᵀ·dout; dinp = dout·weightᵀ unless needDinp = 0. */
  matmulBackward(dinp: Ptr, dweight: Ptr, dout: Ptr, inp: Ptr, weight: Ptr, m: number, k: number, n: number, needDinp: number): void;
  /** Training-mode batch norm; saves mean, biased variance and invstd; updates running stats when momentum > 0. */
  batchnormForward(out: Ptr, mean: Ptr, variance: Ptr, invstd: Ptr, inp: Ptr, gamma: Ptr, beta: Ptr, runMean: Ptr, runVar: Ptr, rows: number, cols: number, eps: number, momentum: number): void;
  /** Inference-mode batch norm with running statistics. */
  batchnormInference(out: Ptr, inp: Ptr, gamma: Ptr, beta: Ptr, runMean: Ptr, runVar: Ptr, rows: number, cols: number, eps: number): void;
  /** Fused closed-form backward: dx overwritten, dgamma and dbeta accumulated. */
  batchnormBackward(dinp: Ptr, dgamma: Ptr, dbeta: Ptr, dout: Ptr, inp: Ptr, gamma: Ptr, mean: Ptr, invstd: Ptr, rows: number, cols: number): void;
  /** batchnormForward then ReLU, fused: out = max(0, γ·x̂ + β). */
  batchnormReluForward(out: Ptr, mean: Ptr, variance: Ptr, invstd: Ptr, inp: Ptr, gamma: Ptr, beta: Ptr, runMean: Ptr, runVar: Ptr, rows: number, cols: number, eps: number, momentum: number): void;
  /** batchnormInference then ReLU, fused. */
  batchnormReluInference(out: Ptr, inp: Ptr, gamma: Ptr, beta: Ptr, runMean: Ptr, runVar: Ptr, rows: number, cols: number, eps: number): void;
  /** Backward of batchnormReluForward: dout masked by out > 0, then the batch-norm backward. */
  batchnormReluBackward(dinp: Ptr, dgamma: Ptr, dbeta: Ptr, dout: Ptr, out: Ptr, inp: Ptr, gamma: Ptr, mean: Ptr, invstd: Ptr, rows: number, cols: number): void;
  reluForward(out: Ptr, inp: Ptr, n: number): void;
  reluBackward(dinp: Ptr, dout: Ptr, out: Ptr, n: number): void;
  sigmoidForward(out: Ptr, inp: Ptr, n: number): void;
  sigmoidBackward(dinp: Ptr, dout: Ptr, out: Ptr, n: number): void;
  tanhForward(out: Ptr, inp: Ptr, n: number): void;
  tanhBackward(dinp: Ptr, dout: Ptr, out: Ptr, n: number): void;
  /** out = inp > 0 ? inp : alpha·inp. May run in place. */
  leakyReluForward(out: Ptr, inp: Ptr, n: number, alpha: number): void;
  /** dinp = inp > 0 ? dout : alpha·dout (takes the forward's input). */
  leakyReluBackward(dinp: Ptr, dout: Ptr, inp: Ptr, n: number, alpha: number): void;
  /** out = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), PyTorch's approximate='tanh'. May run in place. */
  geluForward(out: Ptr, inp: Ptr, n: number): void;
  /** dinp = dout·gelu'(inp) (takes the forward's input). */
  geluBackward(dinp: Ptr, dout: Ptr, inp: Ptr, n: number): void;
  /** out[r,:] += bias. */
  biasForward(out: Ptr, bias: Ptr, rows: number, cols: number): void;
  /** dbias += Σ_r dout[r,:]. */
  biasBackward(dbias: Ptr, dout: Ptr, rows: number, cols: number): void;
  /** out[r,:] = inp[r,:]·(weights[r]·scale) (sample and class weights on a loss gradient). out, inp: [rows×cols]; weights: [rows]. May run in place. */
  scaleRows(out: Ptr, inp: Ptr, weights: Ptr, rows: number, cols: number, scale: number): void;
  /** out = inp·scale + shift, element by element (the Noise layer). May run in place. */
  noiseForward(out: Ptr, inp: Ptr, scale: Ptr, shift: Ptr, n: number): void;
  /** dinp = dout·scale (takes the forward's scale). */
  noiseBackward(dinp: Ptr, dout: Ptr, scale: Ptr, n: number): void;
  fill(ptr: Ptr, n: number, value: number): void;
  /** 32-bit words, bit-exact. */
  copy(dst: Ptr, src: Ptr, n: number): void;
  /** out[r,:] = src[indices[r],:], 32-bit words, bit-exact; indices is i32[n]. */
  gatherRows(out: Ptr, src: Ptr, indices: Ptr, n: number, cols: number): void;
  /** How many of the n f32 at ptr are NaN or ±Infinity. */
  countNonFinite(ptr: Ptr, n: number): number;
  /** Returns the mean loss; dlogits = (softmax − onehot)/rows. labels: i32[rows]. */
  softmaxCrossEntropy(dlogits: Ptr, logits: Ptr, labels: Ptr, rows: number, cols: number): number;
  softmaxForward(probs: Ptr, logits: Ptr, rows: number, cols: number): void;
  /** Returns the mean over rows·cols of (pred − target)²; dpred = 2(pred − target)/(rows·cols). */
  mseLoss(dpred: Ptr, pred: Ptr, target: Ptr, rows: number, cols: number): number;
  /**
   * Returns the mean over rows·cols of max(z,0) − z·t + log1p(exp(−|z|)) (binary cross-entropy
   * from logits z, targets t in [0, 1]); dlogits = (sigmoid(z) − t)/(rows·cols). dlogits may alias logits.
   */
  binaryCrossEntropy(dlogits: Ptr, logits: Ptr, targets: Ptr, rows: number, cols: number): number;
  /** Returns the mean over rows·cols of |pred − target|; dpred = sign(pred − target)/(rows·cols), 0 where equal. */
  maeLoss(dpred: Ptr, pred: Ptr, target: Ptr, rows: number, cols: number): number;
  /**
   * Returns the mean over rows·cols of Huber(d = pred − target): 0.5·d² where |d| ≤ delta, else
   * delta·(|d| − 0.5·delta); dpred = clamp(d, −delta, delta)/(rows·cols). delta > 0.
   */
  huberLoss(dpred: Ptr, pred: Ptr, target: Ptr, rows: number, cols: number, delta: number): number;
  /** Rows whose arg-max equals the label. labels: i32[rows]. */
  countCorrect(scores: Ptr, labels: Ptr, rows: number, cols: number): number;
  sgdUpdate(params: Ptr, grads: Ptr, velocity: Ptr, n: number, lr: number, momentum: number, weightDecay: number): void;
  rmspropUpdate(params: Ptr, grads: Ptr, sq: Ptr, n: number, lr: number, rho: number, eps: number, weightDecay: number): void;
  adamUpdate(params: Ptr, grads: Ptr, m: Ptr, v: Ptr, n: number, lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, t: number): void;
  /** AdamW (decoupled weight decay, as torch.optim.AdamW): p ← p·(1 − lr·weightDecay), then the Adam step on grads. t ≥ 1. */
  adamwUpdate(params: Ptr, grads: Ptr, m: Ptr, v: Ptr, n: number, lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, t: number): void;
  // NHWC images: n images of h×w pixels, c channels (channel fastest). Windows kh×kw (pooling: size×size) move by
  // stride; padTop / padLeft zero pixels precede the image, the bottom / right padding is implied by outH / outW.
  /**
   * cols: [n·outH·outW × kh·kw·c] = each output pixel's window as one row, columns in (ky, kx, ci) order, 0 in the
   * padding; inp: [n×h×w×c]. With W [kh·kw·c × outC], conv = matmulForward(out, cols, W, n·outH·outW, kh·kw·c, outC).
   */
  im2col(cols: Ptr, inp: Ptr, n: number, h: number, w: number, c: number, kh: number, kw: number, stride: number, padTop: number, padLeft: number, outH: number, outW: number): void;
  /** Backward of im2col: dinp [n×h×w×c] OVERWRITTEN with the sum of dcols [n·outH·outW × kh·kw·c] over the windows. */
  col2im(dinp: Ptr, dcols: Ptr, n: number, h: number, w: number, c: number, kh: number, kw: number, stride: number, padTop: number, padLeft: number, outH: number, outW: number): void;
  /** out: [n×outH×outW×c] window maxima (valid windows); argmax: i32, same shape, flat input index of the first maximum; inp: [n×h×w×c]. */
  maxPoolForward(out: Ptr, argmax: Ptr, inp: Ptr, n: number, h: number, w: number, c: number, size: number, stride: number, outH: number, outW: number): void;
  /** dinp [n×h×w×c] OVERWRITTEN: 0, then dinp[argmax[j]] += dout[j]; argmax[j] must lie in output j's window. */
  maxPoolBackward(dinp: Ptr, dout: Ptr, argmax: Ptr, n: number, h: number, w: number, c: number, size: number, stride: number, outH: number, outW: number): void;
  /** out: [n×outH×outW×c] window means (valid windows); inp: [n×h×w×c]. */
  avgPoolForward(out: Ptr, inp: Ptr, n: number, h: number, w: number, c: number, size: number, stride: number, outH: number, outW: number): void;
  /** dinp [n×h×w×c] OVERWRITTEN: each window's pixels get dout/size². */
  avgPoolBackward(dinp: Ptr, dout: Ptr, n: number, h: number, w: number, c: number, size: number, stride: number, outH: number, outW: number): void;
  /** out: [n×c] mean over the h·w pixels of inp: [n×h×w×c]. */
  globalAvgPoolForward(out: Ptr, inp: Ptr, n: number, h: number, w: number, c: number): void;
  /** dinp [n×h×w×c] OVERWRITTEN with dout [n×c] / (h·w). */
  globalAvgPoolBackward(dinp: Ptr, dout: Ptr, n: number, h: number, w: number, c: number): void;
  /**
   * Inverted dropout over [n]: mask = u ≥ rate ? 1/(1 − rate) : 0, out = inp·mask, where u is a counter-based hash of
   * (seed, offset + i) (both integers in [0, 2³²); the same bits on every backend and for any split of the range).
   */
  dropoutForward(out: Ptr, mask: Ptr, inp: Ptr, n: number, rate: number, seed: number, offset: number): void;
  /** dinp = dout·mask, [n]. */
  dropoutBackward(dinp: Ptr, dout: Ptr, mask: Ptr, n: number): void;
}

export type KernelName = keyof Kernels;

export type BackendName = 'wasm' | 'js';

export interface MatmulOptions {
  m: number;
  k: number;
  n: number;
  /** a is stored k×m (default false). */
  transA?: boolean;
  /** b is stored n×k (default false). */
  transB?: boolean;
}

export interface BatchNormForwardOptions {
  rows: number;
  cols: number;
  /** Added to the variance under the root (default 1e-5). */
  eps?: number;
}

export interface BatchNormForwardResult {
  /** [rows×cols] normalized, scaled and shifted. */
  y: Float32Array;
  /** [cols] per-feature batch mean. */
  mean: Float32Array;
  /** [cols] per-feature biased batch variance. */
  variance: Float32Array;
  /** [cols] 1/sqrt(variance + eps). */
  invStd: Float32Array;
}

export interface BatchNormBackwardOptions {
  rows: number;
  cols: number;
}

export interface BatchNormBackwardResult {
  dx: Float32Array;
  dGamma: Float32Array;
  dBeta: Float32Array;
}

/** Typed-array API: copies in, runs one kernel, copies out. A public contract. */
export interface TypedApi {
  matmul(a: Float32Array, b: Float32Array, options: MatmulOptions): Float32Array;
  batchNormForward(x: Float32Array, gamma: Float32Array, beta: Float32Array, options: BatchNormForwardOptions): BatchNormForwardResult;
  batchNormBackward(dy: Float32Array, x: Float32Array, gamma: Float32Array, mean: Float32Array, invStd: Float32Array, options: BatchNormBackwardOptions): BatchNormBackwardResult;
}

/** Linear memory that can grow by 64 KiB pages (a WebAssembly.Memory, or the js backend's twin). */
export interface MemoryLike {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
