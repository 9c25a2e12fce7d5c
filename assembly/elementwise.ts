// Element-wise kernels over n f32 values: activations, bias, fill, copy, gather.
//
// The ReLU, sigmoid and tanh backwards take the forward's *output* (not its
// input): each derivative is a function of it (ReLU: out > 0; sigmoid:
// out·(1−out); tanh: 1−out²), so the forward output is the only thing saved.
// Leaky ReLU and GELU backwards take the forward's *input*: GELU's derivative
// is not a function of its output, and leaky ReLU's slope α may be ≤ 0.
// dinp may alias dout in every backward here.

import { at } from './memory';

// ---------------------------------------------------------------- ReLU

/** out = max(inp, 0). out, inp: [n]. May run in place. */
export function reluForward(out: usize, inp: usize, n: i32): void {
  const zero = f32x4.splat(0);
  const nv = n & ~3;
  let i = 0;
  for (; i < nv; i += 4) v128.store(at(out, i), f32x4.max(v128.load(at(inp, i)), zero));
  for (; i < n; i++) store<f32>(at(out, i), max(load<f32>(at(inp, i)), <f32>0));
}

/** Differentiates out = max(inp, 0): dinp = out > 0 ? dout : 0. dinp, dout, out: [n]. */
export function reluBackward(dinp: usize, dout: usize, out: usize, n: i32): void {
  const zero = f32x4.splat(0);
  const nv = n & ~3;
  let i = 0;
  for (; i < nv; i += 4) {
    v128.store(at(dinp, i), v128.and(v128.load(at(dout, i)), f32x4.gt(v128.load(at(out, i)), zero)));
  }
  for (; i < n; i++) store<f32>(at(dinp, i), load<f32>(at(out, i)) > 0 ? load<f32>(at(dout, i)) : <f32>0);
}

// ---------------------------------------------------------------- sigmoid

/** out = 1/(1+exp(−inp)), computed without overflow for any sign. out, inp: [n]. */
export function sigmoidForward(out: usize, inp: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const x = load<f32>(at(inp, i));
    let y: f32;
    if (x >= 0) {
      y = <f32>1 / (<f32>1 + Mathf.exp(-x));
    } else {
      const e = Mathf.exp(x);
      y = e / (<f32>1 + e);
    }
    store<f32>(at(out, i), y);
  }
}

/** Differentiates out = sigmoid(inp): dinp = dout·out·(1−out). dinp, dout, out: [n]. */
export function sigmoidBackward(dinp: usize, dout: usize, out: usize, n: i32): void {
  const one = f32x4.splat(1);
  const nv = n & ~3;
  let i = 0;
  for (; i < nv; i += 4) {
    const y = v128.load(at(out, i));
    v128.store(at(dinp, i), f32x4.mul(v128.load(at(dout, i)), f32x4.mul(y, f32x4.sub(one, y))));
  }
  for (; i < n; i++) {
    const y = load<f32>(at(out, i));
    store<f32>(at(dinp, i), load<f32>(at(dout, i)) * y * (<f32>1 - y));
  }
}

// ---------------------------------------------------------------- tanh

/** out = tanh(inp). out, inp: [n]. */
export function tanhForward(out: usize, inp: usize, n: i32): void {
  for (let i = 0; i < n; i++) store<f32>(at(out, i), Mathf.tanh(load<f32>(at(inp, i))));
}

/** Differentiates out = tanh(inp): dinp = dout·(1−out²). dinp, dout, out: [n]. */
export function tanhBackward(dinp: usize, dout: usize, out: usize, n: i32): void {
  const one = f32x4.splat(1);
  const nv = n & ~3;
  let i = 0;
  for (; i < nv; i += 4) {
    const y = v128.load(at(out, i));
    v128.store(at(dinp, i), f32x4.mul(v128.load(at(dout, i)), f32x4.sub(one, f32x4.mul(y, y))));
  }
  for (; i < n; i++) {
    const y = load<f32>(at(out, i));
    store<f32>(at(dinp, i), load<f32>(at(dout, i)) * (<f32>1 - y * y));
  }
}

// ---------------------------------------------------------------- leaky ReLU

/** out = inp > 0 ? inp : α·inp. out, inp: [n]. May run in place. */
export function leakyReluForward(out: usize, inp: usize, n: i32, alpha: f32): void {
  const zero = f32x4.splat(0), va = f32x4.splat(alpha);
  const nv = n & ~3;
  let i = 0;
  for (; i < nv; i += 4) {
    const x = v128.load(at(inp, i));
    v128.store(at(out, i), v128.bitselect(x, f32x4.mul(va, x), f32x4.gt(x, zero)));
  }
  for (; i < n; i++) {
    const x = load<f32>(at(inp, i));
    store<f32>(at(out, i), x > 0 ? x : alpha * x);
  }
}

/** Differentiates out = inp > 0 ? inp : α·inp: dinp = inp > 0 ? dout : α·dout. dinp, dout, inp: [n]. */
export function leakyReluBackward(dinp: usize, dout: usize, inp: usize, n: i32, alpha: f32): void {
  const zero = f32x4.splat(0), va = f32x4.splat(alpha);
  const nv = n & ~3;
  let i = 0;
  for (; i < nv; i += 4) {
    const g = v128.load(at(dout, i));
    v128.store(at(dinp, i), v128.bitselect(g, f32x4.mul(va, g), f32x4.gt(v128.load(at(inp, i)), zero)));
  }
  for (; i < n; i++) {
    const g = load<f32>(at(dout, i));
    store<f32>(at(dinp, i), load<f32>(at(inp, i)) > 0 ? g : alpha * g);
  }
}

// ---------------------------------------------------------------- GELU (tanh approximation)

// PyTorch's gelu(approximate='tanh') constants: √(2/π) and 0.044715.
const GELU_BETA: f32 = <f32>0.7978845608028654;
const GELU_KAPPA: f32 = <f32>0.044715;

/**
 * out = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), x = inp, as PyTorch's
 * approximate='tanh'. Finite for every finite x: where x³ overflows, tanh
 * saturates to ±1 and out = x or −0. out, inp: [n]. May run in place.
 */
export function geluForward(out: usize, inp: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const x = load<f32>(at(inp, i));
    const inner = GELU_BETA * (x + GELU_KAPPA * x * x * x);
    store<f32>(at(out, i), <f32>0.5 * x * (<f32>1 + Mathf.tanh(inner)));
  }
}

/**
 * Differentiates out = 0.5·x·(1 + tanh(u)), u = √(2/π)·(x + 0.044715·x³):
 *   dinp = dout·(0.5·(1 + tanh u) + 0.5·x·(1 − tanh²u)·√(2/π)·(1 + 3·0.044715·x²))
 * Finite for |x| < ~1e19 (where x² is): beyond |x| ≈ 9, tanh u is ±1 in f32
 * and the second term is exactly 0. dinp, dout, inp: [n].
 */
export function geluBackward(dinp: usize, dout: usize, inp: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const x = load<f32>(at(inp, i));
    const x2 = x * x;
    const th = Mathf.tanh(GELU_BETA * (x + GELU_KAPPA * x2 * x));
    const left = <f32>0.5 * (<f32>1 + th);
    const right = <f32>0.5 * x * (<f32>1 - th * th) * GELU_BETA * (<f32>1 + <f32>3 * GELU_KAPPA * x2);
    store<f32>(at(dinp, i), load<f32>(at(dout, i)) * (left + right));
  }
}

// ---------------------------------------------------------------- bias

/** out[r,:] += bias for every row. out: [rows×cols]; bias: [cols]. */
export function biasForward(out: usize, bias: usize, rows: i32, cols: i32): void {
  const cv = cols & ~3;
  for (let r = 0; r < rows; r++) {
    const row = at(out, r * cols);
    let j = 0;
    for (; j < cv; j += 4) v128.store(at(row, j), f32x4.add(v128.load(at(row, j)), v128.load(at(bias, j))));
    for (; j < cols; j++) store<f32>(at(row, j), load<f32>(at(row, j)) + load<f32>(at(bias, j)));
  }
}

/** Differentiates out[r,:] += bias: dbias += Σ_r dout[r,:]. dbias: [cols]; dout: [rows×cols]. */
export function biasBackward(dbias: usize, dout: usize, rows: i32, cols: i32): void {
  const cv = cols & ~3;
  for (let r = 0; r < rows; r++) {
    const row = at(dout, r * cols);
    let j = 0;
    for (; j < cv; j += 4) v128.store(at(dbias, j), f32x4.add(v128.load(at(dbias, j)), v128.load(at(row, j))));
    for (; j < cols; j++) store<f32>(at(dbias, j), load<f32>(at(dbias, j)) + load<f32>(at(row, j)));
  }
}

// ---------------------------------------------------------------- row weights

/**
 * out[r,:] = inp[r,:]·(weights[r]·scale): per-row weights on a loss gradient
 * (sample and class weights). out, inp: [rows×cols]; weights: [rows]. May run in place.
 */
export function scaleRows(out: usize, inp: usize, weights: usize, rows: i32, cols: i32, scale: f32): void {
  const cv = cols & ~3;
  for (let r = 0; r < rows; r++) {
    const w = load<f32>(at(weights, r)) * scale;
    const wv = f32x4.splat(w);
    const o = at(out, r * cols), x = at(inp, r * cols);
    let j = 0;
    for (; j < cv; j += 4) v128.store(at(o, j), f32x4.mul(v128.load(at(x, j)), wv));
    for (; j < cols; j++) store<f32>(at(o, j), load<f32>(at(x, j)) * w);
  }
}

// ---------------------------------------------------------------- noise (Santurkar et al. 2018, Algorithm 1)

/**
 * out = inp·scale + shift, element by element: the distributional noise of
 * a Noise layer, its per-element scale and shift drawn in JS each step.
 * out, inp, scale, shift: [n]. May run in place.
 */
export function noiseForward(out: usize, inp: usize, scale: usize, shift: usize, n: i32): void {
  const nv = n & ~3;
  let i = 0;
  for (; i < nv; i += 4) v128.store(at(out, i), f32x4.add(f32x4.mul(v128.load(at(inp, i)), v128.load(at(scale, i))), v128.load(at(shift, i))));
  for (; i < n; i++) store<f32>(at(out, i), load<f32>(at(inp, i)) * load<f32>(at(scale, i)) + load<f32>(at(shift, i)));
}

/** Differentiates out = inp·scale + shift: dinp = dout·scale. dinp, dout, scale: [n]. */
export function noiseBackward(dinp: usize, dout: usize, scale: usize, n: i32): void {
  const nv = n & ~3;
  let i = 0;
  for (; i < nv; i += 4) v128.store(at(dinp, i), f32x4.mul(v128.load(at(dout, i)), v128.load(at(scale, i))));
  for (; i < n; i++) store<f32>(at(dinp, i), load<f32>(at(dout, i)) * load<f32>(at(scale, i)));
}

// ---------------------------------------------------------------- memory helpers

/** ptr[0:n] = value. */
export function fill(ptr: usize, n: i32, value: f32): void {
  const v = f32x4.splat(value);
  const nv = n & ~3;
  let i = 0;
  for (; i < nv; i += 4) v128.store(at(ptr, i), v);
  for (; i < n; i++) store<f32>(at(ptr, i), value);
}

/** dst[0:n] = src[0:n], 32-bit words, bit-exact. The ranges may overlap. */
export function copy(dst: usize, src: usize, n: i32): void {
  memory.copy(dst, src, <usize>n << 2);
}

/**
 * out[r,:] = src[indices[r],:] for r < n: gathers rows of 32-bit words
 * (f32 or i32, bit-exact), e.g. a shuffled mini-batch from a dataset.
 * out: [n×cols]; src: [?×cols]; indices: i32[n].
 */
export function gatherRows(out: usize, src: usize, indices: usize, n: i32, cols: i32): void {
  const rowBytes = <usize>cols << 2;
  for (let r = 0; r < n; r++) {
    const idx = load<i32>(at(indices, r));
    memory.copy(out + <usize>r * rowBytes, src + <usize>idx * rowBytes, rowBytes);
  }
}

// ---------------------------------------------------------------- finiteness

/** How many of the n values at ptr are NaN or ±Infinity (x − x is NaN exactly for those). ptr: [n]. */
export function countNonFinite(ptr: usize, n: i32): i32 {
  let acc = i32x4.splat(0);
  const nv = n & ~3;
  let i = 0;
  for (; i < nv; i += 4) {
    const x = v128.load(at(ptr, i));
    const d = f32x4.sub(x, x);
    acc = i32x4.sub(acc, f32x4.ne(d, d));
  }
  let count = i32x4.extract_lane(acc, 0) + i32x4.extract_lane(acc, 1) + i32x4.extract_lane(acc, 2) + i32x4.extract_lane(acc, 3);
  for (; i < n; i++) {
    const x = load<f32>(at(ptr, i));
    if (x - x != x - x) count++;
  }
  return count;
}
