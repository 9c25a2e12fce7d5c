// Batch normalization over the rows of a [rows×cols] matrix, f32, SIMD.
//
// Dimension letters: rows = N (the mini-batch), cols = C (the features).
// Statistics are per feature (per column), over the N rows.
//
// Memory order: the kernels walk the matrix row by row (unit stride, what
// the hardware prefetcher follows), COL_CHUNK columns at a time, keeping one
// f32 accumulator per column in scratch (4 KiB, in L1). Four rows are
// handled per sweep so each accumulator is loaded and stored once per four
// rows. Passes over memory (x, y, dy, dx of N·C values each):
//   forward:  x is read twice (statistics, then output) and y written once;
//   backward: x and dy are read twice (the two sums, then dx), dx written once.
// That is the minimum for exact per-feature statistics of a matrix that does
// not fit in cache: the output needs sums over all rows first. The second
// pass runs bottom-up, so it starts on the rows the first pass left in cache.
// At 1024×1024 both kernels run at the single-core streaming bandwidth
// (~30 GB/s on the development machine); the arithmetic is hidden under it.

import { at, scratchPtr, COLS_OFFSET, COL_CHUNK, ROW_BLOCK_FLOATS } from './memory';

/** The output activation of the fused kernels: identity, or ReLU when `relu`. */
// @ts-ignore: decorator
@inline function act(y: v128, relu: bool): v128 {
  return relu ? f32x4.max(y, f32x4.splat(0)) : y;
}

// @ts-ignore: decorator
@inline function actf(y: f32, relu: bool): f32 {
  return relu ? max(y, <f32>0) : y;
}

/** dout at g, masked by the fused ReLU (out at y > 0) when `relu`. */
// @ts-ignore: decorator
@inline function grad(g: usize, y: usize, relu: bool): v128 {
  return relu ? v128.and(v128.load(g), f32x4.gt(v128.load(y), f32x4.splat(0))) : v128.load(g);
}

// @ts-ignore: decorator
@inline function gradf(g: usize, y: usize, relu: bool): f32 {
  return relu ? (load<f32>(y) > 0 ? load<f32>(g) : <f32>0) : load<f32>(g);
}

// @ts-ignore: decorator
@inline function temp(slot: i32): usize {
  return scratchPtr + COLS_OFFSET + (<usize>(slot * COL_CHUNK) << 2);
}

/**
 * acc[j] = Σ_r (x[r,j] − s[j]) over the nr rows starting at x (row stride
 * rowBytes), for the cw columns of a chunk.
 */
function sumShifted(acc: usize, x: usize, s: usize, nr: i32, cw: i32, rowBytes: usize): void {
  const cv = cw & ~3;
  memory.fill(acc, 0, <usize>cw << 2);
  let r = 0;
  for (; r + 4 <= nr; r += 4) {
    const x0 = x + <usize>r * rowBytes, x1 = x0 + rowBytes, x2 = x1 + rowBytes, x3 = x2 + rowBytes;
    let j = 0;
    for (; j < cv; j += 4) {
      const o = <usize>j << 2;
      const sv = v128.load(s + o);
      const t01 = f32x4.add(f32x4.sub(v128.load(x0 + o), sv), f32x4.sub(v128.load(x1 + o), sv));
      const t23 = f32x4.add(f32x4.sub(v128.load(x2 + o), sv), f32x4.sub(v128.load(x3 + o), sv));
      v128.store(acc + o, f32x4.add(v128.load(acc + o), f32x4.add(t01, t23)));
    }
    for (; j < cw; j++) {
      const o = <usize>j << 2;
      const sv = load<f32>(s + o);
      const t = ((load<f32>(x0 + o) - sv) + (load<f32>(x1 + o) - sv)) + ((load<f32>(x2 + o) - sv) + (load<f32>(x3 + o) - sv));
      store<f32>(acc + o, load<f32>(acc + o) + t);
    }
  }
  for (; r < nr; r++) {
    const x0 = x + <usize>r * rowBytes;
    let j = 0;
    for (; j < cv; j += 4) {
      const o = <usize>j << 2;
      v128.store(acc + o, f32x4.add(v128.load(acc + o), f32x4.sub(v128.load(x0 + o), v128.load(s + o))));
    }
    for (; j < cw; j++) {
      const o = <usize>j << 2;
      store<f32>(acc + o, load<f32>(acc + o) + (load<f32>(x0 + o) - load<f32>(s + o)));
    }
  }
}

/** acc[j] = Σ_r (x[r,j] − s[j] − m[j])² over nr rows, as `sumShifted`. */
function sumSquares(acc: usize, x: usize, s: usize, m: usize, nr: i32, cw: i32, rowBytes: usize): void {
  const cv = cw & ~3;
  memory.fill(acc, 0, <usize>cw << 2);
  let r = 0;
  for (; r + 4 <= nr; r += 4) {
    const x0 = x + <usize>r * rowBytes, x1 = x0 + rowBytes, x2 = x1 + rowBytes, x3 = x2 + rowBytes;
    let j = 0;
    for (; j < cv; j += 4) {
      const o = <usize>j << 2;
      const sv = v128.load(s + o);
      const mv = v128.load(m + o);
      const e0 = f32x4.sub(f32x4.sub(v128.load(x0 + o), sv), mv);
      const e1 = f32x4.sub(f32x4.sub(v128.load(x1 + o), sv), mv);
      const e2 = f32x4.sub(f32x4.sub(v128.load(x2 + o), sv), mv);
      const e3 = f32x4.sub(f32x4.sub(v128.load(x3 + o), sv), mv);
      const t = f32x4.add(f32x4.add(f32x4.mul(e0, e0), f32x4.mul(e1, e1)), f32x4.add(f32x4.mul(e2, e2), f32x4.mul(e3, e3)));
      v128.store(acc + o, f32x4.add(v128.load(acc + o), t));
    }
    for (; j < cw; j++) {
      const o = <usize>j << 2;
      const sv = load<f32>(s + o), mv = load<f32>(m + o);
      const e0 = load<f32>(x0 + o) - sv - mv, e1 = load<f32>(x1 + o) - sv - mv;
      const e2 = load<f32>(x2 + o) - sv - mv, e3 = load<f32>(x3 + o) - sv - mv;
      store<f32>(acc + o, load<f32>(acc + o) + ((e0 * e0 + e1 * e1) + (e2 * e2 + e3 * e3)));
    }
  }
  for (; r < nr; r++) {
    const x0 = x + <usize>r * rowBytes;
    let j = 0;
    for (; j < cv; j += 4) {
      const o = <usize>j << 2;
      const e = f32x4.sub(f32x4.sub(v128.load(x0 + o), v128.load(s + o)), v128.load(m + o));
      v128.store(acc + o, f32x4.add(v128.load(acc + o), f32x4.mul(e, e)));
    }
    for (; j < cw; j++) {
      const o = <usize>j << 2;
      const e = load<f32>(x0 + o) - load<f32>(s + o) - load<f32>(m + o);
      store<f32>(acc + o, load<f32>(acc + o) + e * e);
    }
  }
}

/**
 * The first two moments about the running mean, in one sweep: with
 * e = x − s − m, s1[j] = Σ e and s2[j] = Σ e² over the nr rows starting at x.
 */
function sumMoments(s1: usize, s2: usize, x: usize, s: usize, m: usize, nr: i32, cw: i32, rowBytes: usize): void {
  const cv = cw & ~3;
  memory.fill(s1, 0, <usize>cw << 2);
  memory.fill(s2, 0, <usize>cw << 2);
  let r = 0;
  for (; r + 4 <= nr; r += 4) {
    const x0 = x + <usize>r * rowBytes, x1 = x0 + rowBytes, x2 = x1 + rowBytes, x3 = x2 + rowBytes;
    let j = 0;
    for (; j < cv; j += 4) {
      const o = <usize>j << 2;
      const sv = v128.load(s + o);
      const mv = v128.load(m + o);
      const e0 = f32x4.sub(f32x4.sub(v128.load(x0 + o), sv), mv);
      const e1 = f32x4.sub(f32x4.sub(v128.load(x1 + o), sv), mv);
      const e2 = f32x4.sub(f32x4.sub(v128.load(x2 + o), sv), mv);
      const e3 = f32x4.sub(f32x4.sub(v128.load(x3 + o), sv), mv);
      v128.store(s1 + o, f32x4.add(v128.load(s1 + o), f32x4.add(f32x4.add(e0, e1), f32x4.add(e2, e3))));
      const t = f32x4.add(f32x4.add(f32x4.mul(e0, e0), f32x4.mul(e1, e1)), f32x4.add(f32x4.mul(e2, e2), f32x4.mul(e3, e3)));
      v128.store(s2 + o, f32x4.add(v128.load(s2 + o), t));
    }
    for (; j < cw; j++) {
      const o = <usize>j << 2;
      const sv = load<f32>(s + o), mv = load<f32>(m + o);
      const e0 = load<f32>(x0 + o) - sv - mv, e1 = load<f32>(x1 + o) - sv - mv;
      const e2 = load<f32>(x2 + o) - sv - mv, e3 = load<f32>(x3 + o) - sv - mv;
      store<f32>(s1 + o, load<f32>(s1 + o) + ((e0 + e1) + (e2 + e3)));
      store<f32>(s2 + o, load<f32>(s2 + o) + ((e0 * e0 + e1 * e1) + (e2 * e2 + e3 * e3)));
    }
  }
  for (; r < nr; r++) {
    const x0 = x + <usize>r * rowBytes;
    let j = 0;
    for (; j < cv; j += 4) {
      const o = <usize>j << 2;
      const e = f32x4.sub(f32x4.sub(v128.load(x0 + o), v128.load(s + o)), v128.load(m + o));
      v128.store(s1 + o, f32x4.add(v128.load(s1 + o), e));
      v128.store(s2 + o, f32x4.add(v128.load(s2 + o), f32x4.mul(e, e)));
    }
    for (; j < cw; j++) {
      const o = <usize>j << 2;
      const e = load<f32>(x0 + o) - load<f32>(s + o) - load<f32>(m + o);
      store<f32>(s1 + o, load<f32>(s1 + o) + e);
      store<f32>(s2 + o, load<f32>(s2 + o) + e * e);
    }
  }
}

/**
 * Folds a block's moments about the running mean (s1, s2 over its rows) into
 * the running mean md and Σsq q, n being the row count including the block:
 *   md += s1/n,  q += s2 − s1²/n
 * (Chan et al.'s pairwise update with the running mean as the block's shift;
 * s1²/n ≤ s2 by Cauchy–Schwarz, so q only grows.)
 */
function foldMoments(md: usize, q: usize, s1: usize, s2: usize, n: i32, cw: i32): void {
  const cv = cw & ~3;
  const k: f32 = <f32>1 / <f32>n;
  const kv = f32x4.splat(k);
  let j = 0;
  for (; j < cv; j += 4) {
    const o = <usize>j << 2;
    const a = v128.load(s1 + o);
    v128.store(md + o, f32x4.add(v128.load(md + o), f32x4.mul(a, kv)));
    v128.store(q + o, f32x4.add(v128.load(q + o), f32x4.sub(v128.load(s2 + o), f32x4.mul(f32x4.mul(a, a), kv))));
  }
  for (; j < cw; j++) {
    const o = <usize>j << 2;
    const a = load<f32>(s1 + o);
    store<f32>(md + o, load<f32>(md + o) + a * k);
    store<f32>(q + o, load<f32>(q + o) + (load<f32>(s2 + o) - a * a * k));
  }
}

/** acc[j] *= k for the cw columns of a chunk. */
function scaleCols(acc: usize, k: f32, cw: i32): void {
  const cv = cw & ~3;
  let j = 0;
  for (; j < cv; j += 4) v128.store(acc + (<usize>j << 2), f32x4.mul(v128.load(acc + (<usize>j << 2)), f32x4.splat(k)));
  for (; j < cw; j++) store<f32>(acc + (<usize>j << 2), load<f32>(acc + (<usize>j << 2)) * k);
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
 * for values near each other); E[x²]−E[x]² is never formed. The first block
 * of rows (ROW_BLOCK_FLOATS values, up to the whole batch) is two-pass:
 * mean(d), then Σ(d − mean(d))², the second pass reading the block from
 * cache. Each later block is one sweep of moments about the running mean m,
 * e = d − m: s1 = Σe, s2 = Σe², folded in with Chan et al.'s update
 *   m += s1/n,  M2 += s2 − s1²/n      (n: rows so far, this block included)
 * Its rounding error is a few ε·s2, and s2 = M2_block + n_b·δ² ≤ (n/n_a)·M2
 * ≤ 2·M2 (δ: the block's mean minus m; the rows before it are at least one
 * block, n_a ≥ n_b): no cancellation however large the mean, so a feature
 * with mean 1e4 and std 0.1 keeps its digits.
 *
 * out: [N×C]; mean, variance, invstd: [C]; inp: [N×C]; gamma, beta: [C];
 * runMean, runVar: [C]. `out` must not alias `inp`.
 */
// @ts-ignore: decorator
@inline function forwardImpl(
  out: usize, mean: usize, variance: usize, invstd: usize,
  inp: usize, gamma: usize, beta: usize, runMean: usize, runVar: usize,
  rows: i32, cols: i32, eps: f32, momentum: f32, relu: bool, cb: i32, ce: i32,
): void {
  const invN: f32 = <f32>1 / <f32>rows;
  const unbias: f32 = rows > 1 ? <f32>rows / <f32>(rows - 1) : <f32>1;
  const rowBytes = <usize>cols << 2;
  const s1 = temp(0); //    a block's Σe, e = d − mean(d) of the rows before it
  const s2 = temp(1); //    a block's Σe²
  const scale = temp(2); // γ·invstd
  for (let g = 0; g < cols; g += COL_CHUNK) {
    // the columns of chunk g..g+gw inside cb..ce (all of them on a whole-matrix call)
    const gw = min(COL_CHUNK, cols - g);
    const c0 = max(g, cb);
    const cw = min(g + gw, ce) - c0;
    if (cw <= 0) continue;
    const cv = cw & ~3;
    const rb = max(4, (ROW_BLOCK_FLOATS / gw) & ~3); // from the full chunk: a column range rounds as the whole call
    const s = at(inp, c0); //       row 0: the shift
    const md = at(mean, c0); //     mean(d) over the rows so far (μ at the chunk's end)
    const q = at(variance, c0); //  Σ(d − md)² over the rows so far (σ² at the chunk's end)
    // statistics: the first block two-pass (it is still in cache for its
    // second pass), the later ones one sweep each about the running mean
    const nb0 = min(rb, rows);
    sumShifted(md, s, s, nb0, cw, rowBytes);
    scaleCols(md, <f32>1 / <f32>nb0, cw);
    sumSquares(q, s, s, md, nb0, cw, rowBytes);
    for (let r0 = nb0; r0 < rows; r0 += rb) {
      const nb = min(rb, rows - r0);
      sumMoments(s1, s2, at(inp, r0 * cols + c0), s, md, nb, cw, rowBytes);
      foldMoments(md, q, s1, s2, r0 + nb, cw);
    }
    // per feature: σ², invstd, and the scale γ·invstd used by the output pass
    const isd = at(invstd, c0), gm = at(gamma, c0);
    let j = 0;
    for (; j < cv; j += 4) {
      const o = <usize>j << 2;
      const v = f32x4.mul(v128.load(q + o), f32x4.splat(invN));
      const is = f32x4.div(f32x4.splat(1), f32x4.sqrt(f32x4.add(v, f32x4.splat(eps))));
      v128.store(q + o, v);
      v128.store(isd + o, is);
      v128.store(scale + o, f32x4.mul(v128.load(gm + o), is));
    }
    for (; j < cw; j++) {
      const o = <usize>j << 2;
      const v = load<f32>(q + o) * invN;
      const is = <f32>1 / Mathf.sqrt(v + eps);
      store<f32>(q + o, v);
      store<f32>(isd + o, is);
      store<f32>(scale + o, load<f32>(gm + o) * is);
    }
    // output: out = (d − mean(d))·γ·invstd + β, four rows per sweep, bottom-up
    const bt = at(beta, c0);
    const head = rows & 3;
    for (let r = rows - 4; r >= head; r -= 4) {
      const x0 = at(inp, r * cols + c0), x1 = x0 + rowBytes, x2 = x1 + rowBytes, x3 = x2 + rowBytes;
      const y0 = at(out, r * cols + c0), y1 = y0 + rowBytes, y2 = y1 + rowBytes, y3 = y2 + rowBytes;
      let j = 0;
      for (; j < cv; j += 4) {
        const o = <usize>j << 2;
        const sv = v128.load(s + o), mv = v128.load(md + o), kv = v128.load(scale + o), bv = v128.load(bt + o);
        v128.store(y0 + o, act(f32x4.add(f32x4.mul(f32x4.sub(f32x4.sub(v128.load(x0 + o), sv), mv), kv), bv), relu));
        v128.store(y1 + o, act(f32x4.add(f32x4.mul(f32x4.sub(f32x4.sub(v128.load(x1 + o), sv), mv), kv), bv), relu));
        v128.store(y2 + o, act(f32x4.add(f32x4.mul(f32x4.sub(f32x4.sub(v128.load(x2 + o), sv), mv), kv), bv), relu));
        v128.store(y3 + o, act(f32x4.add(f32x4.mul(f32x4.sub(f32x4.sub(v128.load(x3 + o), sv), mv), kv), bv), relu));
      }
      for (; j < cw; j++) {
        const o = <usize>j << 2;
        const sv = load<f32>(s + o), mv = load<f32>(md + o), kv = load<f32>(scale + o), bv = load<f32>(bt + o);
        store<f32>(y0 + o, actf((load<f32>(x0 + o) - sv - mv) * kv + bv, relu));
        store<f32>(y1 + o, actf((load<f32>(x1 + o) - sv - mv) * kv + bv, relu));
        store<f32>(y2 + o, actf((load<f32>(x2 + o) - sv - mv) * kv + bv, relu));
        store<f32>(y3 + o, actf((load<f32>(x3 + o) - sv - mv) * kv + bv, relu));
      }
    }
    for (let r = 0; r < head; r++) {
      const x0 = at(inp, r * cols + c0);
      const y0 = at(out, r * cols + c0);
      let j = 0;
      for (; j < cv; j += 4) {
        const o = <usize>j << 2;
        const e = f32x4.sub(f32x4.sub(v128.load(x0 + o), v128.load(s + o)), v128.load(md + o));
        v128.store(y0 + o, act(f32x4.add(f32x4.mul(e, v128.load(scale + o)), v128.load(bt + o)), relu));
      }
      for (; j < cw; j++) {
        const o = <usize>j << 2;
        store<f32>(y0 + o, actf((load<f32>(x0 + o) - load<f32>(s + o) - load<f32>(md + o)) * load<f32>(scale + o) + load<f32>(bt + o), relu));
      }
    }
    // μ = x[0] + mean(d); running statistics
    const rm = at(runMean, c0), rv = at(runVar, c0);
    const keep = f32x4.splat(<f32>1 - momentum), mom = f32x4.splat(momentum), ub = f32x4.splat(unbias);
    for (j = 0; j < cv; j += 4) {
      const o = <usize>j << 2;
      const mu = f32x4.add(v128.load(s + o), v128.load(md + o));
      v128.store(md + o, mu);
      if (momentum > 0) {
        v128.store(rm + o, f32x4.add(f32x4.mul(keep, v128.load(rm + o)), f32x4.mul(mom, mu)));
        v128.store(rv + o, f32x4.add(f32x4.mul(keep, v128.load(rv + o)), f32x4.mul(f32x4.mul(mom, v128.load(q + o)), ub)));
      }
    }
    for (; j < cw; j++) {
      const o = <usize>j << 2;
      const mu = load<f32>(s + o) + load<f32>(md + o);
      store<f32>(md + o, mu);
      if (momentum > 0) {
        store<f32>(rm + o, (<f32>1 - momentum) * load<f32>(rm + o) + momentum * mu);
        store<f32>(rv + o, (<f32>1 - momentum) * load<f32>(rv + o) + momentum * load<f32>(q + o) * unbias);
      }
    }
  }
}

export function batchnormForward(
  out: usize, mean: usize, variance: usize, invstd: usize,
  inp: usize, gamma: usize, beta: usize, runMean: usize, runVar: usize,
  rows: i32, cols: i32, eps: f32, momentum: f32,
): void {
  batchnormForwardPart(out, mean, variance, invstd, inp, gamma, beta, runMean, runVar, rows, cols, eps, momentum, 0, 0, cols);
}

/**
 * batchnormForward followed by ReLU, fused: out = max(0, γ·x̂ + β), written
 * in the output pass, so the normalized values never go through memory.
 * Same arguments; the backward is batchnormReluBackward.
 */
export function batchnormReluForward(
  out: usize, mean: usize, variance: usize, invstd: usize,
  inp: usize, gamma: usize, beta: usize, runMean: usize, runVar: usize,
  rows: i32, cols: i32, eps: f32, momentum: f32,
): void {
  batchnormForwardPart(out, mean, variance, invstd, inp, gamma, beta, runMean, runVar, rows, cols, eps, momentum, 1, 0, cols);
}

/**
 * Inference-mode forward with the running statistics:
 *   out = γ·(x − runMean)/sqrt(runVar + ε) + β
 * computed as (x − runMean)·scale + β, not x·scale + shift: with a mean of
 * 1e4 and a std of 0.1, x·scale would be ~1e5 and lose the output's digits.
 * out: [N×C]; inp: [N×C]; gamma, beta, runMean, runVar: [C]. May run in place.
 */
// @ts-ignore: decorator
@inline function inferenceImpl(
  out: usize, inp: usize, gamma: usize, beta: usize, runMean: usize, runVar: usize,
  rows: i32, cols: i32, eps: f32, relu: bool, cb: i32, ce: i32,
): void {
  const scale = temp(0);
  for (let g = 0; g < cols; g += COL_CHUNK) {
    // the columns of chunk g..g+gw inside cb..ce (all of them on a whole-matrix call)
    const gw = min(COL_CHUNK, cols - g);
    const c0 = max(g, cb);
    const cw = min(g + gw, ce) - c0;
    if (cw <= 0) continue;
    const cv = cw & ~3;
    for (let j = 0; j < cw; j++) {
      const o = <usize>j << 2;
      store<f32>(scale + o, load<f32>(at(gamma, c0) + o) / Mathf.sqrt(load<f32>(at(runVar, c0) + o) + eps));
    }
    const rm = at(runMean, c0), bt = at(beta, c0);
    for (let r = 0; r < rows; r++) {
      const xr = at(inp, r * cols + c0);
      const yr = at(out, r * cols + c0);
      let j = 0;
      for (; j < cv; j += 4) {
        const o = <usize>j << 2;
        v128.store(yr + o, act(f32x4.add(f32x4.mul(f32x4.sub(v128.load(xr + o), v128.load(rm + o)), v128.load(scale + o)), v128.load(bt + o)), relu));
      }
      for (; j < cw; j++) {
        const o = <usize>j << 2;
        store<f32>(yr + o, actf((load<f32>(xr + o) - load<f32>(rm + o)) * load<f32>(scale + o) + load<f32>(bt + o), relu));
      }
    }
  }
}

export function batchnormInference(
  out: usize, inp: usize, gamma: usize, beta: usize, runMean: usize, runVar: usize,
  rows: i32, cols: i32, eps: f32,
): void {
  batchnormInferencePart(out, inp, gamma, beta, runMean, runVar, rows, cols, eps, 0, 0, cols);
}

/** batchnormInference followed by ReLU, fused: out = max(0, …). May run in place. */
export function batchnormReluInference(
  out: usize, inp: usize, gamma: usize, beta: usize, runMean: usize, runVar: usize,
  rows: i32, cols: i32, eps: f32,
): void {
  batchnormInferencePart(out, inp, gamma, beta, runMean, runVar, rows, cols, eps, 1, 0, cols);
}

/**
 * Backward of the training-mode forward, fused, closed form. Differentiates
 *   out = γ·x̂ + β,  x̂ = (x − μ)·invstd
 * with sums over the N rows, per feature:
 *   dβ += Σ dy,   dγ += Σ dy·x̂     (accumulate, like every parameter gradient)
 *   dx  = (γ·invstd/N)·(N·dy − Σdy − x̂·Σ(dy·x̂))     (overwrites)
 * Computed as Σ(dy·x̂) = invstd·Σ dy·(x − μ) and
 *   dx = a·dy − a·Σdy/N − (x − μ)·a·invstd·Σ(dy·x̂)/N,   a = γ·invstd.
 * dinp: [N×C]; dgamma, dbeta: [C]; dout: [N×C]; inp: [N×C];
 * gamma, mean, invstd: [C]. dinp may alias dout.
 */
// @ts-ignore: decorator
@inline function backwardImpl(
  dinp: usize, dgamma: usize, dbeta: usize,
  dout: usize, out: usize, inp: usize, gamma: usize, mean: usize, invstd: usize,
  rows: i32, cols: i32, relu: bool, cb: i32, ce: i32,
): void {
  const sdy = temp(0); //  Σdy, then a·Σdy/N
  const sdx = temp(1); //  Σdy·(x − μ), then the (x − μ) coefficient
  const ka = temp(2); //   a = γ·invstd
  const invN: f32 = <f32>1 / <f32>rows;
  const rowBytes = <usize>cols << 2;
  for (let g = 0; g < cols; g += COL_CHUNK) {
    // the columns of chunk g..g+gw inside cb..ce (all of them on a whole-matrix call)
    const gw = min(COL_CHUNK, cols - g);
    const c0 = max(g, cb);
    const cw = min(g + gw, ce) - c0;
    if (cw <= 0) continue;
    const cv = cw & ~3;
    const mu = at(mean, c0);
    memory.fill(sdy, 0, <usize>cw << 2);
    memory.fill(sdx, 0, <usize>cw << 2);
    // pass 1: Σdy and Σdy·(x − μ), four rows per sweep
    let r = 0;
    for (; r + 4 <= rows; r += 4) {
      const x0 = at(inp, r * cols + c0), x1 = x0 + rowBytes, x2 = x1 + rowBytes, x3 = x2 + rowBytes;
      const g0 = at(dout, r * cols + c0), g1 = g0 + rowBytes, g2 = g1 + rowBytes, g3 = g2 + rowBytes;
      const y0 = at(out, r * cols + c0), y1 = y0 + rowBytes, y2 = y1 + rowBytes, y3 = y2 + rowBytes;
      let j = 0;
      for (; j < cv; j += 4) {
        const o = <usize>j << 2;
        const mv = v128.load(mu + o);
        const d0 = grad(g0 + o, y0 + o, relu), d1 = grad(g1 + o, y1 + o, relu), d2 = grad(g2 + o, y2 + o, relu), d3 = grad(g3 + o, y3 + o, relu);
        const t01 = f32x4.add(f32x4.mul(d0, f32x4.sub(v128.load(x0 + o), mv)), f32x4.mul(d1, f32x4.sub(v128.load(x1 + o), mv)));
        const t23 = f32x4.add(f32x4.mul(d2, f32x4.sub(v128.load(x2 + o), mv)), f32x4.mul(d3, f32x4.sub(v128.load(x3 + o), mv)));
        v128.store(sdy + o, f32x4.add(v128.load(sdy + o), f32x4.add(f32x4.add(d0, d1), f32x4.add(d2, d3))));
        v128.store(sdx + o, f32x4.add(v128.load(sdx + o), f32x4.add(t01, t23)));
      }
      for (; j < cw; j++) {
        const o = <usize>j << 2;
        const mv = load<f32>(mu + o);
        const d0 = gradf(g0 + o, y0 + o, relu), d1 = gradf(g1 + o, y1 + o, relu), d2 = gradf(g2 + o, y2 + o, relu), d3 = gradf(g3 + o, y3 + o, relu);
        const t = (d0 * (load<f32>(x0 + o) - mv) + d1 * (load<f32>(x1 + o) - mv)) + (d2 * (load<f32>(x2 + o) - mv) + d3 * (load<f32>(x3 + o) - mv));
        store<f32>(sdy + o, load<f32>(sdy + o) + ((d0 + d1) + (d2 + d3)));
        store<f32>(sdx + o, load<f32>(sdx + o) + t);
      }
    }
    for (; r < rows; r++) {
      const x0 = at(inp, r * cols + c0);
      const g0 = at(dout, r * cols + c0);
      const y0 = at(out, r * cols + c0);
      let j = 0;
      for (; j < cv; j += 4) {
        const o = <usize>j << 2;
        const d0 = grad(g0 + o, y0 + o, relu);
        v128.store(sdy + o, f32x4.add(v128.load(sdy + o), d0));
        v128.store(sdx + o, f32x4.add(v128.load(sdx + o), f32x4.mul(d0, f32x4.sub(v128.load(x0 + o), v128.load(mu + o)))));
      }
      for (; j < cw; j++) {
        const o = <usize>j << 2;
        const d0 = gradf(g0 + o, y0 + o, relu);
        store<f32>(sdy + o, load<f32>(sdy + o) + d0);
        store<f32>(sdx + o, load<f32>(sdx + o) + d0 * (load<f32>(x0 + o) - load<f32>(mu + o)));
      }
    }
    // per feature: the parameter gradients and the coefficients of dx
    const isd = at(invstd, c0), gm = at(gamma, c0), db = at(dbeta, c0), dg = at(dgamma, c0);
    let j = 0;
    for (; j < cv; j += 4) {
      const o = <usize>j << 2;
      const is = v128.load(isd + o);
      const sb = v128.load(sdy + o);
      const sg = f32x4.mul(v128.load(sdx + o), is); // Σ dy·x̂
      v128.store(db + o, f32x4.add(v128.load(db + o), sb));
      v128.store(dg + o, f32x4.add(v128.load(dg + o), sg));
      const a = f32x4.mul(v128.load(gm + o), is);
      v128.store(ka + o, a);
      v128.store(sdy + o, f32x4.mul(f32x4.mul(a, sb), f32x4.splat(invN)));
      v128.store(sdx + o, f32x4.mul(f32x4.mul(f32x4.mul(a, sg), f32x4.splat(invN)), is));
    }
    for (; j < cw; j++) {
      const o = <usize>j << 2;
      const is = load<f32>(isd + o);
      const sb = load<f32>(sdy + o);
      const sg = load<f32>(sdx + o) * is; // Σ dy·x̂
      store<f32>(db + o, load<f32>(db + o) + sb);
      store<f32>(dg + o, load<f32>(dg + o) + sg);
      const a = load<f32>(gm + o) * is;
      store<f32>(ka + o, a);
      store<f32>(sdy + o, a * sb * invN);
      store<f32>(sdx + o, a * sg * invN * is);
    }
    // pass 2: dx = a·dy − a·Σdy/N − (x − μ)·a·invstd·Σ(dy·x̂)/N, four rows per sweep, bottom-up
    const head = rows & 3;
    for (r = rows - 4; r >= head; r -= 4) {
      const x0 = at(inp, r * cols + c0), x1 = x0 + rowBytes, x2 = x1 + rowBytes, x3 = x2 + rowBytes;
      const g0 = at(dout, r * cols + c0), g1 = g0 + rowBytes, g2 = g1 + rowBytes, g3 = g2 + rowBytes;
      const y0 = at(out, r * cols + c0), y1 = y0 + rowBytes, y2 = y1 + rowBytes, y3 = y2 + rowBytes;
      const e0 = at(dinp, r * cols + c0), e1 = e0 + rowBytes, e2 = e1 + rowBytes, e3 = e2 + rowBytes;
      let j = 0;
      for (; j < cv; j += 4) {
        const o = <usize>j << 2;
        const mv = v128.load(mu + o), av = v128.load(ka + o), bv = v128.load(sdy + o), kv = v128.load(sdx + o);
        v128.store(e0 + o, f32x4.sub(f32x4.sub(f32x4.mul(av, grad(g0 + o, y0 + o, relu)), bv), f32x4.mul(f32x4.sub(v128.load(x0 + o), mv), kv)));
        v128.store(e1 + o, f32x4.sub(f32x4.sub(f32x4.mul(av, grad(g1 + o, y1 + o, relu)), bv), f32x4.mul(f32x4.sub(v128.load(x1 + o), mv), kv)));
        v128.store(e2 + o, f32x4.sub(f32x4.sub(f32x4.mul(av, grad(g2 + o, y2 + o, relu)), bv), f32x4.mul(f32x4.sub(v128.load(x2 + o), mv), kv)));
        v128.store(e3 + o, f32x4.sub(f32x4.sub(f32x4.mul(av, grad(g3 + o, y3 + o, relu)), bv), f32x4.mul(f32x4.sub(v128.load(x3 + o), mv), kv)));
      }
      for (; j < cw; j++) {
        const o = <usize>j << 2;
        const mv = load<f32>(mu + o), av = load<f32>(ka + o), bv = load<f32>(sdy + o), kv = load<f32>(sdx + o);
        store<f32>(e0 + o, av * gradf(g0 + o, y0 + o, relu) - bv - (load<f32>(x0 + o) - mv) * kv);
        store<f32>(e1 + o, av * gradf(g1 + o, y1 + o, relu) - bv - (load<f32>(x1 + o) - mv) * kv);
        store<f32>(e2 + o, av * gradf(g2 + o, y2 + o, relu) - bv - (load<f32>(x2 + o) - mv) * kv);
        store<f32>(e3 + o, av * gradf(g3 + o, y3 + o, relu) - bv - (load<f32>(x3 + o) - mv) * kv);
      }
    }
    for (r = 0; r < head; r++) {
      const x0 = at(inp, r * cols + c0);
      const g0 = at(dout, r * cols + c0);
      const y0 = at(out, r * cols + c0);
      const e0 = at(dinp, r * cols + c0);
      let j = 0;
      for (; j < cv; j += 4) {
        const o = <usize>j << 2;
        const t = f32x4.sub(f32x4.mul(v128.load(ka + o), grad(g0 + o, y0 + o, relu)), v128.load(sdy + o));
        v128.store(e0 + o, f32x4.sub(t, f32x4.mul(f32x4.sub(v128.load(x0 + o), v128.load(mu + o)), v128.load(sdx + o))));
      }
      for (; j < cw; j++) {
        const o = <usize>j << 2;
        store<f32>(e0 + o, load<f32>(ka + o) * gradf(g0 + o, y0 + o, relu) - load<f32>(sdy + o) - (load<f32>(x0 + o) - load<f32>(mu + o)) * load<f32>(sdx + o));
      }
    }
  }
}

export function batchnormBackward(
  dinp: usize, dgamma: usize, dbeta: usize,
  dout: usize, inp: usize, gamma: usize, mean: usize, invstd: usize,
  rows: i32, cols: i32,
): void {
  batchnormBackwardPart(dinp, dgamma, dbeta, dout, dout, inp, gamma, mean, invstd, rows, cols, 0, 0, cols);
}

/**
 * Backward of batchnormReluForward: the ReLU's mask (out > 0, out being the
 * fused forward's output) is applied to dout as it is read, then the
 * batch-norm backward above. dinp may alias dout.
 * dinp: [N×C]; dgamma, dbeta: [C]; dout, out, inp: [N×C]; gamma, mean, invstd: [C].
 */
export function batchnormReluBackward(
  dinp: usize, dgamma: usize, dbeta: usize,
  dout: usize, out: usize, inp: usize, gamma: usize, mean: usize, invstd: usize,
  rows: i32, cols: i32,
): void {
  batchnormBackwardPart(dinp, dgamma, dbeta, dout, out, inp, gamma, mean, invstd, rows, cols, 1, 0, cols);
}

// Column ranges, for the threaded backend (src/backend/threads.ts): the same
// arguments as the kernel above plus columns cb..ce (multiples of 4, or ce =
// cols). Each feature's statistics and outputs are computed exactly as in the
// whole-matrix call (per-feature sums only, row blocking from the full
// chunk), so columns split over threads give bit-identical results.

export function batchnormForwardPart(
  out: usize, mean: usize, variance: usize, invstd: usize,
  inp: usize, gamma: usize, beta: usize, runMean: usize, runVar: usize,
  rows: i32, cols: i32, eps: f32, momentum: f32, relu: i32, cb: i32, ce: i32,
): void {
  if (relu != 0) forwardImpl(out, mean, variance, invstd, inp, gamma, beta, runMean, runVar, rows, cols, eps, momentum, true, cb, ce);
  else forwardImpl(out, mean, variance, invstd, inp, gamma, beta, runMean, runVar, rows, cols, eps, momentum, false, cb, ce);
}

export function batchnormInferencePart(
  out: usize, inp: usize, gamma: usize, beta: usize, runMean: usize, runVar: usize,
  rows: i32, cols: i32, eps: f32, relu: i32, cb: i32, ce: i32,
): void {
  if (relu != 0) inferenceImpl(out, inp, gamma, beta, runMean, runVar, rows, cols, eps, true, cb, ce);
  else inferenceImpl(out, inp, gamma, beta, runMean, runVar, rows, cols, eps, false, cb, ce);
}

/** `out` is read only when relu != 0 (pass dout otherwise). */
export function batchnormBackwardPart(
  dinp: usize, dgamma: usize, dbeta: usize,
  dout: usize, out: usize, inp: usize, gamma: usize, mean: usize, invstd: usize,
  rows: i32, cols: i32, relu: i32, cb: i32, ce: i32,
): void {
  if (relu != 0) backwardImpl(dinp, dgamma, dbeta, dout, out, inp, gamma, mean, invstd, rows, cols, true, cb, ce);
  else backwardImpl(dinp, dgamma, dbeta, dout, dout, inp, gamma, mean, invstd, rows, cols, false, cb, ce);
}
