/**
 * The threaded wasm backend: the kernels run on the calling thread plus a
 * pool of workers (Node worker_threads, or Web Workers in a cross-origin-
 * isolated page) that instantiate the same module on one shared
 * WebAssembly.Memory. Callers see an ordinary `Kernels` object on pointers
 * into `heap`: each kernel call splits its work, hands parts 1…T−1 to the
 * workers, runs part 0 itself and returns when every part is done.
 *
 * Determinism: work is split only where no sum changes order, so every
 * thread count gives the same bits as one thread (test/threads.test.ts):
 *   matmul       blocks of output rows (multiples of 4) or columns (of 8)
 *                (`matmulPart`: each element of C is computed as in the
 *                whole call; the depth blocking depends on k alone);
 *   batch norm   blocks of feature columns (multiples of 4);
 *   elementwise, optimizers, gatherRows, biasForward, dropout, countNonFinite:
 *                ranges of elements or rows (multiples of 4; a count adds up
 *                the same in any order);
 *   im2col, col2im, pooling: ranges of images (each image's values are
 *                computed alone; max pooling's argmax indices, which count
 *                from the batch's first image, through `maxPool*Part`).
 * Kept whole on the calling thread: the losses, softmax, countCorrect and
 * biasBackward (on a training batch these are ~1–10 µs, less than one
 * hand-off), matmul with m < 4 (the unpacked small-m path), and any call
 * whose work is under a threshold (`MIN_*`).
 *
 * The pool that runs the parts, and how it synchronizes: src/backend/threads-pool.ts.
 */
import type { Kernels, Ptr } from './types.js';
import type { Op, PartExports, Pool } from './threads-pool.js';

export { Pool, type PartExports } from './threads-pool.js';

/** Below these sizes a call runs whole on the calling thread. */
const MIN_MATMUL_FLOPS = 1 << 18; // m·k·n: ~5 µs of work
const MIN_BATCHNORM = 1 << 13; //    rows·cols
const MIN_ELEMENTS = 1 << 17; //     elementwise and optimizer n (rows·cols for gather and bias): memory-bound, worth splitting only when large

/** Part `i` of `parts` of 0…total, in multiples of `align` (the last part takes the rest; parts may be empty). */
function range(total: number, parts: number, align: number, i: number): [number, number] {
  const size = Math.ceil(total / parts / align) * align;
  const start = Math.min(i * size, total);
  return [start, Math.min(start + size, total)];
}

/** How many parts a call of `work` units splits into: at most `threads`, each at least `grain`. */
function partsFor(threads: number, work: number, grain: number): number {
  return Math.max(1, Math.min(threads, Math.floor(work / grain)));
}

/**
 * The kernels over a pool: the `Kernels` contract, with the same names,
 * arguments and results as `ex`'s, each call split as described at the top.
 */
export function threadedKernels(ex: PartExports, pool: Pool): Kernels {
  const T = pool.threads;

  /**
   * Elementwise op over n elements: ptrs advance by 4 bytes per element. `scalars`
   * may depend on where a part starts (dropout's hash offset continues there).
   */
  const elementwise = (name: Op & keyof Kernels, ptrs: Ptr[], n: number, scalars: number[] | ((start: number) => number[])): void => {
    const parts = pool.split(partsFor(T, n, MIN_ELEMENTS / 2));
    const fn = ex[name] as (...a: number[]) => void;
    const at = typeof scalars === 'function' ? scalars : () => scalars;
    if (parts === 1) { fn(...ptrs, n, ...at(0)); return; }
    pool.begin();
    for (let w = 1; w < parts; w++) {
      const [s, e] = range(n, parts, 4, w);
      pool.post(w, name, ...ptrs.map((p) => p + 4 * s), e - s, ...at(s));
    }
    const [, e0] = range(n, parts, 4, 0);
    try {
      fn(...ptrs, e0, ...at(0));
    } finally {
      pool.join(parts, name); // also when the caller's part trapped: no part may outlive its call
    }
  };

  /**
   * A product split over the pool: `part(i0, i1, j0, j1)` runs a block on this thread, `post` hands one to worker w.
   * By rows of C (multiples of 4) when m ≥ n, else by columns (of 8): each part repacks the operand it shares.
   */
  const splitMatmul = (name: string, m: number, n: number, parts: number, part: (i0: number, i1: number, j0: number, j1: number) => void, post: (w: number, i0: number, i1: number, j0: number, j1: number) => void): void => {
    const byRows = m >= n;
    pool.begin();
    for (let w = 1; w < parts; w++) {
      const [s, e] = range(byRows ? m : n, parts, byRows ? 4 : 8, w);
      if (s >= e) pool.post(w, 'fill', 0, 0, 0);
      else if (byRows) post(w, s, e, 0, n);
      else post(w, 0, m, s, e);
    }
    try {
      if (byRows) part(0, range(m, parts, 4, 0)[1], 0, n);
      else part(0, m, 0, range(n, parts, 8, 0)[1]);
    } finally {
      pool.join(parts, name); // also when the caller's part trapped: no part may outlive its call
    }
  };

  const matmul = (c: Ptr, a: Ptr, b: Ptr, m: number, k: number, n: number, transA: number, transB: number, accumulate: number): void => {
    const work = m * k * n;
    if (m < 4 || work < MIN_MATMUL_FLOPS) { ex.matmul(c, a, b, m, k, n, transA, transB, accumulate); return; }
    splitMatmul('matmul', m, n, pool.split(partsFor(T, work, MIN_MATMUL_FLOPS / 2)),
      (i0, i1, j0, j1) => ex.matmulPart(c, a, b, m, k, n, transA, transB, accumulate, i0, i1, j0, j1),
      (w, i0, i1, j0, j1) => pool.post(w, 'matmulPart', c, a, b, m, k, n, transA, transB, accumulate, i0, i1, j0, j1));
  };

  const matmulForwardPacked = (out: Ptr, inp: Ptr, packed: Ptr, m: number, k: number, n: number): void => {
    const work = m * k * n;
    if (m < 4 || work < MIN_MATMUL_FLOPS) { ex.matmulForwardPacked(out, inp, packed, m, k, n); return; }
    splitMatmul('matmulForwardPacked', m, n, pool.split(partsFor(T, work, MIN_MATMUL_FLOPS / 2)),
      (i0, i1, j0, j1) => ex.matmulForwardPackedPart(out, inp, packed, m, k, n, i0, i1, j0, j1),
      (w, i0, i1, j0, j1) => pool.post(w, 'matmulForwardPackedPart', out, inp, packed, m, k, n, i0, i1, j0, j1));
  };

  const bnForward = (relu: number, out: Ptr, mean: Ptr, variance: Ptr, invstd: Ptr, inp: Ptr, gamma: Ptr, beta: Ptr, runMean: Ptr, runVar: Ptr, rows: number, cols: number, eps: number, momentum: number): void => {
    const parts = pool.split(Math.min(partsFor(T, rows * cols, MIN_BATCHNORM / 2), Math.ceil(cols / 4)));
    pool.begin();
    for (let w = 1; w < parts; w++) {
      const [cb, ce] = range(cols, parts, 4, w);
      pool.post(w, 'batchnormForwardPart', out, mean, variance, invstd, inp, gamma, beta, runMean, runVar, rows, cols, eps, momentum, relu, cb, ce);
    }
    try {
      ex.batchnormForwardPart(out, mean, variance, invstd, inp, gamma, beta, runMean, runVar, rows, cols, eps, momentum, relu, 0, range(cols, parts, 4, 0)[1]);
    } finally {
      pool.join(parts, relu ? 'batchnormReluForward' : 'batchnormForward'); // also when the caller's part trapped: no part may outlive its call
    }
  };

  const bnInference = (relu: number, out: Ptr, inp: Ptr, gamma: Ptr, beta: Ptr, runMean: Ptr, runVar: Ptr, rows: number, cols: number, eps: number): void => {
    const parts = pool.split(Math.min(partsFor(T, rows * cols, MIN_BATCHNORM / 2), Math.ceil(cols / 4)));
    pool.begin();
    for (let w = 1; w < parts; w++) {
      const [cb, ce] = range(cols, parts, 4, w);
      pool.post(w, 'batchnormInferencePart', out, inp, gamma, beta, runMean, runVar, rows, cols, eps, relu, cb, ce);
    }
    try {
      ex.batchnormInferencePart(out, inp, gamma, beta, runMean, runVar, rows, cols, eps, relu, 0, range(cols, parts, 4, 0)[1]);
    } finally {
      pool.join(parts, relu ? 'batchnormReluInference' : 'batchnormInference'); // also when the caller's part trapped: no part may outlive its call
    }
  };

  const bnBackward = (relu: number, dinp: Ptr, dgamma: Ptr, dbeta: Ptr, dout: Ptr, out: Ptr, inp: Ptr, gamma: Ptr, mean: Ptr, invstd: Ptr, rows: number, cols: number): void => {
    const parts = pool.split(Math.min(partsFor(T, rows * cols, MIN_BATCHNORM / 2), Math.ceil(cols / 4)));
    pool.begin();
    for (let w = 1; w < parts; w++) {
      const [cb, ce] = range(cols, parts, 4, w);
      pool.post(w, 'batchnormBackwardPart', dinp, dgamma, dbeta, dout, out, inp, gamma, mean, invstd, rows, cols, relu, cb, ce);
    }
    try {
      ex.batchnormBackwardPart(dinp, dgamma, dbeta, dout, out, inp, gamma, mean, invstd, rows, cols, relu, 0, range(cols, parts, 4, 0)[1]);
    } finally {
      pool.join(parts, relu ? 'batchnormReluBackward' : 'batchnormBackward'); // also when the caller's part trapped: no part may outlive its call
    }
  };

  /** Rows of a [rows×cols] op split in blocks; `ptrs` advance by a row, `fixed` do not. */
  const byRows = (name: 'biasForward' | 'gatherRows', rowPtrs: Ptr[], fixed: Ptr[], rows: number, cols: number, call: (rp: Ptr[], r: number) => void, post: (w: number, rp: Ptr[], r: number) => void): void => {
    const parts = pool.split(partsFor(T, rows * cols, MIN_ELEMENTS / 2));
    if (parts === 1) { call(rowPtrs, rows); return; }
    void fixed;
    pool.begin();
    for (let w = 1; w < parts; w++) {
      const [s, e] = range(rows, parts, 4, w);
      post(w, rowPtrs.map((p, i) => p + (i === 0 ? 4 * s * cols : 4 * s)), e - s);
    }
    try {
      call(rowPtrs, range(rows, parts, 4, 0)[1]);
    } finally {
      pool.join(parts, name); // also when the caller's part trapped: no part may outlive its call
    }
  };

  /**
   * An image kernel over n images of `perImage` values of work: part w runs images
   * [b0, b1) through `call`; a worker with no images gets an empty fill.
   */
  const byImages = (name: Op, n: number, perImage: number, call: (b0: number, b1: number) => void, post: (w: number, b0: number, b1: number) => void): void => {
    const parts = pool.split(Math.min(n, partsFor(T, n * perImage, MIN_ELEMENTS / 2)));
    if (parts <= 1) { call(0, n); return; }
    pool.begin();
    for (let w = 1; w < parts; w++) {
      const [b0, b1] = range(n, parts, 1, w);
      if (b0 < b1) post(w, b0, b1);
      else pool.post(w, 'fill', 0, 0, 0);
    }
    try {
      call(0, range(n, parts, 1, 0)[1]);
    } finally {
      pool.join(parts, name); // also when the caller's part trapped: no part may outlive its call
    }
  };
  /** A kernel whose images are independent: each part gets the batch's pointers advanced to its first image. */
  const imagewise = (name: Op, ptrs: Ptr[], floatsPerImage: number[], n: number, perImage: number, rest: number[]): void => {
    const fn = ex[name] as (...a: number[]) => void;
    const at = (b0: number) => ptrs.map((p, i) => p + 4 * b0 * floatsPerImage[i]!);
    byImages(name, n, perImage, (b0, b1) => fn(...at(b0), b1 - b0, ...rest), (w, b0, b1) => pool.post(w, name, ...at(b0), b1 - b0, ...rest));
  };

  const k: Kernels = {
    matmul,
    matmulForward: (out, inp, weight, m, kk, n) => matmul(out, inp, weight, m, kk, n, 0, 0, 0),
    // packing is memory-bound and runs once per weight update: on the calling thread
    packWeights: (packed, weight, kk, n) => ex.packWeights(packed, weight, kk, n),
    matmulForwardPacked,
    matmulBackward: (dinp, dweight, dout, inp, weight, m, kk, n, needDinp) => {
      matmul(dweight, inp, dout, kk, m, n, 1, 0, 1);
      if (needDinp !== 0) matmul(dinp, dout, weight, m, n, kk, 0, 1, 0);
    },
    batchnormForward: (...a) => { if (a[9] * a[10] < MIN_BATCHNORM) ex.batchnormForward(...a); else bnForward(0, ...a); },
    batchnormReluForward: (...a) => { if (a[9] * a[10] < MIN_BATCHNORM) ex.batchnormReluForward(...a); else bnForward(1, ...a); },
    batchnormInference: (...a) => { if (a[6] * a[7] < MIN_BATCHNORM) ex.batchnormInference(...a); else bnInference(0, ...a); },
    batchnormReluInference: (...a) => { if (a[6] * a[7] < MIN_BATCHNORM) ex.batchnormReluInference(...a); else bnInference(1, ...a); },
    batchnormBackward: (dinp, dgamma, dbeta, dout, inp, gamma, mean, invstd, rows, cols) => {
      if (rows * cols < MIN_BATCHNORM) ex.batchnormBackward(dinp, dgamma, dbeta, dout, inp, gamma, mean, invstd, rows, cols);
      else bnBackward(0, dinp, dgamma, dbeta, dout, dout, inp, gamma, mean, invstd, rows, cols);
    },
    batchnormReluBackward: (...a) => { if (a[9] * a[10] < MIN_BATCHNORM) ex.batchnormReluBackward(...a); else bnBackward(1, ...a); },
    reluForward: (out, inp, n) => elementwise('reluForward', [out, inp], n, []),
    reluBackward: (dinp, dout, out, n) => elementwise('reluBackward', [dinp, dout, out], n, []),
    sigmoidForward: (out, inp, n) => elementwise('sigmoidForward', [out, inp], n, []),
    sigmoidBackward: (dinp, dout, out, n) => elementwise('sigmoidBackward', [dinp, dout, out], n, []),
    tanhForward: (out, inp, n) => elementwise('tanhForward', [out, inp], n, []),
    tanhBackward: (dinp, dout, out, n) => elementwise('tanhBackward', [dinp, dout, out], n, []),
    leakyReluForward: (out, inp, n, alpha) => elementwise('leakyReluForward', [out, inp], n, [alpha]),
    leakyReluBackward: (dinp, dout, inp, n, alpha) => elementwise('leakyReluBackward', [dinp, dout, inp], n, [alpha]),
    geluForward: (out, inp, n) => elementwise('geluForward', [out, inp], n, []),
    geluBackward: (dinp, dout, inp, n) => elementwise('geluBackward', [dinp, dout, inp], n, []),
    biasForward: (out, bias, rows, cols) => byRows('biasForward', [out], [bias], rows, cols,
      (rp, r) => ex.biasForward(rp[0]!, bias, r, cols),
      (w, rp, r) => pool.post(w, 'biasForward', rp[0]!, bias, r, cols)),
    biasBackward: (dbias, dout, rows, cols) => ex.biasBackward(dbias, dout, rows, cols),
    noiseForward: (out, inp, scale, shift, n) => elementwise('noiseForward', [out, inp, scale, shift], n, []),
    noiseBackward: (dinp, dout, scale, n) => elementwise('noiseBackward', [dinp, dout, scale], n, []),
    fill: (ptr, n, value) => elementwise('fill', [ptr], n, [value]),
    copy: (dst, src, n) => elementwise('copy', [dst, src], n, []),
    gatherRows: (out, src, indices, n, cols) => byRows('gatherRows', [out, indices], [src], n, cols,
      (rp, r) => ex.gatherRows(rp[0]!, src, rp[1]!, r, cols),
      (w, rp, r) => pool.post(w, 'gatherRows', rp[0]!, src, rp[1]!, r, cols)),
    softmaxCrossEntropy: (dlogits, logits, labels, rows, cols) => ex.softmaxCrossEntropy(dlogits, logits, labels, rows, cols),
    softmaxForward: (probs, logits, rows, cols) => ex.softmaxForward(probs, logits, rows, cols),
    mseLoss: (dpred, pred, target, rows, cols) => ex.mseLoss(dpred, pred, target, rows, cols),
    countCorrect: (scores, labels, rows, cols) => ex.countCorrect(scores, labels, rows, cols),
    // losses and counts sum over everything: on the calling thread, in one fixed order
    binaryCrossEntropy: (dlogits, logits, targets, rows, cols) => ex.binaryCrossEntropy(dlogits, logits, targets, rows, cols),
    maeLoss: (dpred, pred, target, rows, cols) => ex.maeLoss(dpred, pred, target, rows, cols),
    huberLoss: (dpred, pred, target, rows, cols, delta) => ex.huberLoss(dpred, pred, target, rows, cols, delta),
    // a count: the parts' counts add up to the same integer in any order
    countNonFinite: (ptr, n) => {
      const parts = pool.split(partsFor(T, n, MIN_ELEMENTS / 2));
      if (parts === 1) return ex.countNonFinite(ptr, n);
      pool.begin();
      for (let w = 1; w < parts; w++) { const [s, e] = range(n, parts, 4, w); pool.post(w, 'countNonFinite', ptr + 4 * s, e - s); }
      let count = 0;
      try { count = ex.countNonFinite(ptr, range(n, parts, 4, 0)[1]); } finally { pool.join(parts, 'countNonFinite'); } // no part may outlive its call
      for (let w = 1; w < parts; w++) count += pool.result(w);
      return count;
    },
    // per-row loss weights on a batch's gradient (rows × outputs values): small, on the calling thread
    scaleRows: (out, inp, weights, rows, cols, scale) => ex.scaleRows(out, inp, weights, rows, cols, scale),
    sgdUpdate: (params, grads, velocity, n, lr, momentum, weightDecay) =>
      elementwise('sgdUpdate', [params, grads, velocity], n, [lr, momentum, weightDecay]),
    rmspropUpdate: (params, grads, sq, n, lr, rho, eps, weightDecay) =>
      elementwise('rmspropUpdate', [params, grads, sq], n, [lr, rho, eps, weightDecay]),
    adamUpdate: (params, grads, m, v, n, lr, beta1, beta2, eps, weightDecay, t) =>
      elementwise('adamUpdate', [params, grads, m, v], n, [lr, beta1, beta2, eps, weightDecay, t]),
    adamwUpdate: (params, grads, m, v, n, lr, beta1, beta2, eps, weightDecay, t) =>
      elementwise('adamwUpdate', [params, grads, m, v], n, [lr, beta1, beta2, eps, weightDecay, t]),
    // convolution and pooling: by images
    im2col: (cols, inp, n, h, w, c, kh, kw, stride, padTop, padLeft, outH, outW) => imagewise('im2col', [cols, inp], [outH * outW * kh * kw * c, h * w * c], n,
      outH * outW * kh * kw * c, [h, w, c, kh, kw, stride, padTop, padLeft, outH, outW]),
    col2im: (dinp, dcols, n, h, w, c, kh, kw, stride, padTop, padLeft, outH, outW) => imagewise('col2im', [dinp, dcols], [h * w * c, outH * outW * kh * kw * c], n,
      outH * outW * kh * kw * c, [h, w, c, kh, kw, stride, padTop, padLeft, outH, outW]),
    maxPoolForward: (out, argmax, inp, n, h, w, c, size, stride, outH, outW) => byImages('maxPoolForwardPart', n, outH * outW * c * size * size,
      (b0, b1) => ex.maxPoolForwardPart(out, argmax, inp, n, h, w, c, size, stride, outH, outW, b0, b1),
      (wk, b0, b1) => pool.post(wk, 'maxPoolForwardPart', out, argmax, inp, n, h, w, c, size, stride, outH, outW, b0, b1)),
    maxPoolBackward: (dinp, dout, argmax, n, h, w, c, size, stride, outH, outW) => byImages('maxPoolBackwardPart', n, h * w * c,
      (b0, b1) => ex.maxPoolBackwardPart(dinp, dout, argmax, n, h, w, c, size, stride, outH, outW, b0, b1),
      (wk, b0, b1) => pool.post(wk, 'maxPoolBackwardPart', dinp, dout, argmax, n, h, w, c, size, stride, outH, outW, b0, b1)),
    avgPoolForward: (out, inp, n, h, w, c, size, stride, outH, outW) => imagewise('avgPoolForward', [out, inp], [outH * outW * c, h * w * c], n,
      outH * outW * c * size * size, [h, w, c, size, stride, outH, outW]),
    avgPoolBackward: (dinp, dout, n, h, w, c, size, stride, outH, outW) => imagewise('avgPoolBackward', [dinp, dout], [h * w * c, outH * outW * c], n,
      h * w * c, [h, w, c, size, stride, outH, outW]),
    globalAvgPoolForward: (out, inp, n, h, w, c) => imagewise('globalAvgPoolForward', [out, inp], [c, h * w * c], n, h * w * c, [h, w, c]),
    globalAvgPoolBackward: (dinp, dout, n, h, w, c) => imagewise('globalAvgPoolBackward', [dinp, dout], [h * w * c, c], n, h * w * c, [h, w, c]),
    // dropout's mask is a hash of (seed, offset + i): a range starting at s continues at offset + s
    dropoutForward: (out, mask, inp, n, rate, seed, offset) => elementwise('dropoutForward', [out, mask, inp], n, (s) => [rate, seed, offset + s]),
    dropoutBackward: (dinp, dout, mask, n) => elementwise('dropoutBackward', [dinp, dout, mask], n, []),
  };
  return k;
}
