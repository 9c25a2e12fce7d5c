// Batch normalization over the rows of a [rows×cols] matrix, f32, SIMD.
//
// Dimension letters: rows = N (the mini-batch), cols = C (the features).
// Statistics are per feature (per column), over the N rows.
//
// All three kernels walk the matrix in column chunks COL_CHUNK wide: every
// pass of one chunk touches rows·COL_CHUNK·4 bytes (256 KiB at N = 1024), so
// the second and third passes read from cache, not from main memory.

import { at, scratchPtr, COLS_OFFSET, COL_CHUNK } from './memory';

// @ts-ignore: decorator
@inline function temp(slot: i32): usize {
  return scratchPtr + COLS_OFFSET + (<usize>(slot * COL_CHUNK) << 2);
}

/**
 * Training-mode forward:
 *   μ = mean over rows of x,  σ² = mean over rows of (x−μ)²  (biased)
 *   out = γ·(x−μ)/sqrt(σ²+ε) + β
 * saves μ, σ² and invstd = 1/sqrt(σ²+ε) for the backward, and when
 * momentum > 0 updates the running statistics (PyTorch convention):
 *   runMean = (1−momentum)·runMean + momentum·μ
 *   runVar  = (1−momentum)·runVar  + momentum·σ²·N/(N−1)
 *
 * Numerics: the sums run over d = x − x[0] (row 0 as shift, exact in f32
 * for values near each other) and the variance is a second pass over
 * (d − mean(d))², so a feature with mean 1e4 and std 0.1 keeps its digits;
 * E[x²]−E[x]² is never formed.
 *
 * out: [N×C]; mean, variance, invstd: [C]; inp: [N×C]; gamma, beta: [C];
 * runMean, runVar: [C]. `out` must not alias `inp`.
 */
export function batchnormForward(
  out: usize, mean: usize, variance: usize, invstd: usize,
  inp: usize, gamma: usize, beta: usize, runMean: usize, runVar: usize,
  rows: i32, cols: i32, eps: f32, momentum: f32,
): void {
  const invN: f32 = <f32>1 / <f32>rows;
  const unbias: f32 = rows > 1 ? <f32>rows / <f32>(rows - 1) : <f32>1;
  const scale = temp(0);
  const x0 = inp; // row 0: the shift
  for (let c0 = 0; c0 < cols; c0 += COL_CHUNK) {
    const cw = min(COL_CHUNK, cols - c0);
    const cv = cw & ~3;
    const s = at(x0, c0);
    const md = at(mean, c0); // holds mean(d) until the chunk's last step
    const vr = at(variance, c0);
    memory.fill(md, 0, <usize>cw << 2);
    memory.fill(vr, 0, <usize>cw << 2);
    // pass 1: Σ d
    for (let r = 1; r < rows; r++) {
      const xr = at(inp, r * cols + c0);
      let j = 0;
      for (; j < cv; j += 4) {
        const o = <usize>j << 2;
        v128.store(md + o, f32x4.add(v128.load(md + o), f32x4.sub(v128.load(xr + o), v128.load(s + o))));
      }
      for (; j < cw; j++) {
        const o = <usize>j << 2;
        store<f32>(md + o, load<f32>(md + o) + (load<f32>(xr + o) - load<f32>(s + o)));
      }
    }
    for (let j = 0; j < cw; j++) store<f32>(md + (<usize>j << 2), load<f32>(md + (<usize>j << 2)) * invN);
    // pass 2: Σ (d − mean(d))²
    for (let r = 0; r < rows; r++) {
      const xr = at(inp, r * cols + c0);
      let j = 0;
      for (; j < cv; j += 4) {
        const o = <usize>j << 2;
        const e = f32x4.sub(f32x4.sub(v128.load(xr + o), v128.load(s + o)), v128.load(md + o));
        v128.store(vr + o, f32x4.add(v128.load(vr + o), f32x4.mul(e, e)));
      }
      for (; j < cw; j++) {
        const o = <usize>j << 2;
        const e = load<f32>(xr + o) - load<f32>(s + o) - load<f32>(md + o);
        store<f32>(vr + o, load<f32>(vr + o) + e * e);
      }
    }
    // per feature: σ², invstd, and the scale γ·invstd used by pass 3
    for (let j = 0; j < cw; j++) {
      const o = <usize>j << 2;
      const v = load<f32>(vr + o) * invN;
      const is = <f32>1 / Mathf.sqrt(v + eps);
      store<f32>(vr + o, v);
      store<f32>(at(invstd, c0) + o, is);
      store<f32>(scale + o, load<f32>(at(gamma, c0) + o) * is);
    }
    // pass 3: out = (d − mean(d))·γ·invstd + β
    const bt = at(beta, c0);
    for (let r = 0; r < rows; r++) {
      const xr = at(inp, r * cols + c0);
      const yr = at(out, r * cols + c0);
      let j = 0;
      for (; j < cv; j += 4) {
        const o = <usize>j << 2;
        const e = f32x4.sub(f32x4.sub(v128.load(xr + o), v128.load(s + o)), v128.load(md + o));
        v128.store(yr + o, f32x4.add(f32x4.mul(e, v128.load(scale + o)), v128.load(bt + o)));
      }
      for (; j < cw; j++) {
        const o = <usize>j << 2;
        const e = load<f32>(xr + o) - load<f32>(s + o) - load<f32>(md + o);
        store<f32>(yr + o, e * load<f32>(scale + o) + load<f32>(bt + o));
      }
    }
    // μ = x[0] + mean(d); running statistics
    for (let j = 0; j < cw; j++) {
      const o = <usize>j << 2;
      const mu = load<f32>(s + o) + load<f32>(md + o);
      store<f32>(md + o, mu);
      if (momentum > 0) {
        const rm = at(runMean, c0) + o;
        const rv = at(runVar, c0) + o;
        store<f32>(rm, (<f32>1 - momentum) * load<f32>(rm) + momentum * mu);
        store<f32>(rv, (<f32>1 - momentum) * load<f32>(rv) + momentum * load<f32>(vr + o) * unbias);
      }
    }
  }
}

/**
 * Inference-mode forward with the running statistics:
 *   out = γ·(x − runMean)/sqrt(runVar + ε) + β
 * out: [N×C]; inp: [N×C]; gamma, beta, runMean, runVar: [C]. May run in place.
 */
export function batchnormInference(
  out: usize, inp: usize, gamma: usize, beta: usize, runMean: usize, runVar: usize,
  rows: i32, cols: i32, eps: f32,
): void {
  const scale = temp(0);
  const shift = temp(1);
  for (let c0 = 0; c0 < cols; c0 += COL_CHUNK) {
    const cw = min(COL_CHUNK, cols - c0);
    const cv = cw & ~3;
    for (let j = 0; j < cw; j++) {
      const o = <usize>j << 2;
      const sc = load<f32>(at(gamma, c0) + o) / Mathf.sqrt(load<f32>(at(runVar, c0) + o) + eps);
      store<f32>(scale + o, sc);
      store<f32>(shift + o, load<f32>(at(beta, c0) + o) - load<f32>(at(runMean, c0) + o) * sc);
    }
    for (let r = 0; r < rows; r++) {
      const xr = at(inp, r * cols + c0);
      const yr = at(out, r * cols + c0);
      let j = 0;
      for (; j < cv; j += 4) {
        const o = <usize>j << 2;
        v128.store(yr + o, f32x4.add(f32x4.mul(v128.load(xr + o), v128.load(scale + o)), v128.load(shift + o)));
      }
      for (; j < cw; j++) {
        const o = <usize>j << 2;
        store<f32>(yr + o, load<f32>(xr + o) * load<f32>(scale + o) + load<f32>(shift + o));
      }
    }
  }
}

/**
 * Backward of the training-mode forward, fused, closed form. Differentiates
 *   out = γ·x̂ + β,  x̂ = (x − μ)·invstd
 * with sums over the N rows, per feature:
 *   dβ += Σ dy,   dγ += Σ dy·x̂     (accumulate, like every parameter gradient)
 *   dx  = (γ·invstd/N)·(N·dy − Σdy − x̂·Σ(dy·x̂))     (overwrites)
 * dinp: [N×C]; dgamma, dbeta: [C]; dout: [N×C]; inp: [N×C];
 * gamma, mean, invstd: [C]. dinp may alias dout.
 */
export function batchnormBackward(
  dinp: usize, dgamma: usize, dbeta: usize,
  dout: usize, inp: usize, gamma: usize, mean: usize, invstd: usize,
  rows: i32, cols: i32,
): void {
  const sdy = temp(0);
  const sdyx = temp(1);
  const ka = temp(2); // γ·invstd
  const kb = temp(3); // γ·invstd·Σdy/N, then the x̂ coefficient is kept in sdyx
  const invN: f32 = <f32>1 / <f32>rows;
  for (let c0 = 0; c0 < cols; c0 += COL_CHUNK) {
    const cw = min(COL_CHUNK, cols - c0);
    const cv = cw & ~3;
    const mu = at(mean, c0);
    const is = at(invstd, c0);
    memory.fill(sdy, 0, <usize>cw << 2);
    memory.fill(sdyx, 0, <usize>cw << 2);
    // pass 1: Σdy and Σdy·x̂
    for (let r = 0; r < rows; r++) {
      const xr = at(inp, r * cols + c0);
      const gr = at(dout, r * cols + c0);
      let j = 0;
      for (; j < cv; j += 4) {
        const o = <usize>j << 2;
        const g = v128.load(gr + o);
        const xh = f32x4.mul(f32x4.sub(v128.load(xr + o), v128.load(mu + o)), v128.load(is + o));
        v128.store(sdy + o, f32x4.add(v128.load(sdy + o), g));
        v128.store(sdyx + o, f32x4.add(v128.load(sdyx + o), f32x4.mul(g, xh)));
      }
      for (; j < cw; j++) {
        const o = <usize>j << 2;
        const g = load<f32>(gr + o);
        const xh = (load<f32>(xr + o) - load<f32>(mu + o)) * load<f32>(is + o);
        store<f32>(sdy + o, load<f32>(sdy + o) + g);
        store<f32>(sdyx + o, load<f32>(sdyx + o) + g * xh);
      }
    }
    for (let j = 0; j < cw; j++) {
      const o = <usize>j << 2;
      const sb = load<f32>(sdy + o);
      const sg = load<f32>(sdyx + o);
      store<f32>(at(dbeta, c0) + o, load<f32>(at(dbeta, c0) + o) + sb);
      store<f32>(at(dgamma, c0) + o, load<f32>(at(dgamma, c0) + o) + sg);
      const a = load<f32>(at(gamma, c0) + o) * load<f32>(is + o);
      store<f32>(ka + o, a);
      store<f32>(kb + o, a * sb * invN);
      store<f32>(sdyx + o, a * sg * invN);
    }
    // pass 2: dx = a·dy − a·Σdy/N − x̂·a·Σ(dy·x̂)/N
    for (let r = 0; r < rows; r++) {
      const xr = at(inp, r * cols + c0);
      const gr = at(dout, r * cols + c0);
      const dr = at(dinp, r * cols + c0);
      let j = 0;
      for (; j < cv; j += 4) {
        const o = <usize>j << 2;
        const xh = f32x4.mul(f32x4.sub(v128.load(xr + o), v128.load(mu + o)), v128.load(is + o));
        const t = f32x4.sub(f32x4.mul(v128.load(ka + o), v128.load(gr + o)), v128.load(kb + o));
        v128.store(dr + o, f32x4.sub(t, f32x4.mul(xh, v128.load(sdyx + o))));
      }
      for (; j < cw; j++) {
        const o = <usize>j << 2;
        const xh = (load<f32>(xr + o) - load<f32>(mu + o)) * load<f32>(is + o);
        store<f32>(dr + o, load<f32>(ka + o) * load<f32>(gr + o) - load<f32>(kb + o) - xh * load<f32>(sdyx + o));
      }
    }
  }
}
