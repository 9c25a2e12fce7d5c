// Matrix products with fewer than 4 rows of C (predict of one row), row by
// row without packing A: `matmulSmall` (B as stored) and `gemvPacked` (B as
// `packWeights` laid it out). Each element of C is summed over the depth in
// order from +0, one `madd` per step, so the two agree bit for bit.
// `matmulSmall` (the model's path for one row) runs over the row's inputs that
// are not +0 only, which leaves those sums' bits as they are (see the zero
// steps in matmul.ts). Called by `matmul` and `matmulForwardPacked` in
// matmul.ts for m < SMALL_M.

import { at, scratchPtr, TILE_OFFSET, APACK_OFFSET, ASTEPS_OFFSET, MC, KC, NC } from './memory';
import { madd, depthBlock } from './madd';

/**
 * out = inp·weight for a few rows from pre-packed panels: 32 columns (4
 * panels) at a time in 8 f32x4 accumulators, each summed over p in order
 * from 0 (one `madd` per step), across the depth blocks: so each element
 * rounds as in `matmulSmall`.
 */
export function gemvPacked(out: usize, inp: usize, packed: usize, m: i32, k: i32, n: i32): void {
  const kb = depthBlock(k);
  const t = scratchPtr + TILE_OFFSET;
  for (let i = 0; i < m; i++) {
    const ai = at(inp, i * k);
    const ci = at(out, i * n);
    for (let jb = 0; jb < n; jb += NC) {
      const nc = min(NC, n - jb);
      const ncp = (nc + 7) & ~7;
      for (let jr = 0; jr < ncp; jr += 32) {
        const four = jr + 32 <= ncp;
        let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
        let s4 = f32x4.splat(0), s5 = f32x4.splat(0), s6 = f32x4.splat(0), s7 = f32x4.splat(0);
        for (let pc = 0; pc < k; pc += kb) {
          const kc = min(kb, k - pc);
          let bp = packed + (<usize>(jb * k + pc * ncp + jr * kc) << 2);
          let ap = ai + (<usize>pc << 2);
          const ps = <usize>kc << 5; // bytes per panel
          if (four) {
            for (let p = 0; p < kc; p++) {
              const av = v128.load32_splat(ap);
              s0 = madd(av, v128.load(bp), s0); s1 = madd(av, v128.load(bp, 16), s1);
              s2 = madd(av, v128.load(bp + ps), s2); s3 = madd(av, v128.load(bp + ps, 16), s3);
              s4 = madd(av, v128.load(bp + 2 * ps), s4); s5 = madd(av, v128.load(bp + 2 * ps, 16), s5);
              s6 = madd(av, v128.load(bp + 3 * ps), s6); s7 = madd(av, v128.load(bp + 3 * ps, 16), s7);
              ap += 4;
              bp += 32;
            }
          } else {
            // the last 8…24 columns of the block: one panel at a time
            const np = (ncp - jr) >> 3;
            for (let p = 0; p < kc; p++) {
              const av = v128.load32_splat(ap);
              s0 = madd(av, v128.load(bp), s0); s1 = madd(av, v128.load(bp, 16), s1);
              if (np > 1) { s2 = madd(av, v128.load(bp + ps), s2); s3 = madd(av, v128.load(bp + ps, 16), s3); }
              if (np > 2) { s4 = madd(av, v128.load(bp + 2 * ps), s4); s5 = madd(av, v128.load(bp + 2 * ps, 16), s5); }
              ap += 4;
              bp += 32;
            }
          }
        }
        const cols = min(32, nc - jr);
        const d = ci + (<usize>(jb + jr) << 2);
        if (cols == 32) {
          v128.store(d, s0); v128.store(d, s1, 16); v128.store(d, s2, 32); v128.store(d, s3, 48);
          v128.store(d, s4, 64); v128.store(d, s5, 80); v128.store(d, s6, 96); v128.store(d, s7, 112);
        } else {
          v128.store(t, s0); v128.store(t, s1, 16); v128.store(t, s2, 32); v128.store(t, s3, 48);
          v128.store(t, s4, 64); v128.store(t, s5, 80); v128.store(t, s6, 96); v128.store(t, s7, 112);
          memory.copy(d, t, <usize>cols << 2);
        }
      }
    }
  }
}

/** Below this many rows of C, `matmul` skips packing (`matmulSmall`). */
export const SMALL_M: i32 = 4;

/** Widest row of C that `matmulSmall` sums in scratch (the A-panel region, unused on that path). */
const SMALL_ROW_MAX: i32 = MC * KC;

/** How many depth steps `matmulSmall` lists at a time (the ASTEPS region: (MC/4)·KC i32). */
const LIST_STEPS: i32 = (MC / 4) * KC;

/**
 * Lists at `steps` (i32), in order, the depth steps p in [p0, p1) whose input
 * at a + p·stride is not +0 (bits), and returns how many. A sum over p in order
 * from +0 that leaves the others out gets the same bits (see `skipZeroSteps`).
 */
function listNonZero(steps: usize, a: usize, stride: usize, p0: i32, p1: i32): i32 {
  let nnz = 0;
  let p = p0;
  if (stride == 4) {
    // contiguous inputs: 4 at a time, a group of four +0 skipped whole (a digit's background)
    for (; p + 4 <= p1; p += 4) {
      const bits = i32x4.bitmask(i32x4.ne(v128.load(a + (<usize>p << 2)), i32x4.splat(0)));
      if (bits == 0) continue;
      store<i32>(steps + (<usize>nnz << 2), p);
      nnz += bits & 1;
      store<i32>(steps + (<usize>nnz << 2), p + 1);
      nnz += (bits >> 1) & 1;
      store<i32>(steps + (<usize>nnz << 2), p + 2);
      nnz += (bits >> 2) & 1;
      store<i32>(steps + (<usize>nnz << 2), p + 3);
      nnz += bits >> 3;
    }
  }
  for (; p < p1; p++) {
    store<i32>(steps + (<usize>nnz << 2), p);
    nnz += <i32>(load<u32>(a + <usize>p * stride) != 0);
  }
  return nnz;
}

/** acc[0:n] += x0·b0[0:n], then x1·b1, x2·b2, x3·b3, element by element in that order (one pass over the row). */
// @ts-ignore: decorator
@inline function rowPass4(acc: usize, n: i32, x0: f32, x1: f32, x2: f32, x3: f32, b0: usize, b1: usize, b2: usize, b3: usize): void {
  const a0 = f32x4.splat(x0), a1 = f32x4.splat(x1), a2 = f32x4.splat(x2), a3 = f32x4.splat(x3);
  const nv = n & ~3;
  let j = 0;
  for (; j < nv; j += 4) {
    const o = <usize>j << 2;
    let v = v128.load(acc + o);
    v = madd(a0, v128.load(b0 + o), v);
    v = madd(a1, v128.load(b1 + o), v);
    v = madd(a2, v128.load(b2 + o), v);
    v = madd(a3, v128.load(b3 + o), v);
    v128.store(acc + o, v);
  }
  for (; j < n; j++) {
    const o = <usize>j << 2;
    let t = load<f32>(acc + o);
    t = fmadd(x0, load<f32>(b0 + o), t);
    t = fmadd(x1, load<f32>(b1 + o), t);
    t = fmadd(x2, load<f32>(b2 + o), t);
    t = fmadd(x3, load<f32>(b3 + o), t);
    store<f32>(acc + o, t);
  }
}

/** acc[0:n] += x0·b0[0:n]. */
// @ts-ignore: decorator
@inline function rowPass1(acc: usize, n: i32, x0: f32, b0: usize): void {
  const a0 = f32x4.splat(x0);
  const nv = n & ~3;
  let j = 0;
  for (; j < nv; j += 4) {
    const o = <usize>j << 2;
    v128.store(acc + o, madd(a0, v128.load(b0 + o), v128.load(acc + o)));
  }
  for (; j < n; j++) {
    const o = <usize>j << 2;
    store<f32>(acc + o, fmadd(x0, load<f32>(b0 + o), load<f32>(acc + o)));
  }
}

/**
 * C (+)= op(A)·op(B) for a few rows of C, without packing: packing the whole
 * of B costs as much as the product when m is 1–3 (a GEMV). Each element's
 * sum runs over p in order, in f32 (one rounding per step, fused on the
 * relaxed build), so it differs from the packed path only by where the
 * depth blocks' partial sums are added: agreement is to rounding, not bits.
 *   B stored k×n: C's row summed in scratch, 4 depths per pass over it (4
 *     rows of B read with unit stride); a row wider than the scratch: 32
 *     columns of C at a time in 8 f32x4 registers;
 *   B stored n×k: 4 columns of C at a time as 4 dot products along k, then
 *     one horizontal sum each.
 */
export function matmulSmall(c: usize, a: usize, b: usize, m: i32, k: i32, n: i32, transA: bool, transB: bool, accumulate: bool): void {
  // op(A)[i, p] is at a + 4·(i·k + p), or a + 4·(p·m + i) when transA
  const aRow: usize = transA ? 4 : <usize>k << 2; // stride between rows i (bytes)
  const aDepth: usize = transA ? <usize>m << 2 : 4; // stride between depths p (bytes)
  const ldb = <usize>n << 2;
  for (let i = 0; i < m; i++) {
    const ai = a + <usize>i * aRow;
    const ci = at(c, i * n);
    if (!transB && n <= SMALL_ROW_MAX) {
      // B stored k×n, C's row summed in scratch: for each 4 depths, one pass over the row,
      // reading 4 rows of B with unit stride (measured ~1.4× the strip-wise order below).
      const acc = scratchPtr + APACK_OFFSET;
      memory.fill(acc, 0, <usize>n << 2);
      // over the row's depth steps whose input is not +0 only (a digit: 19% of them; after ReLU: about
      // half), listed LIST_STEPS at a time, in order: the same bits (see `skipZeroSteps`)
      const steps = scratchPtr + ASTEPS_OFFSET;
      for (let p0 = 0; p0 < k; p0 += LIST_STEPS) {
        const nnz = listNonZero(steps, ai, aDepth, p0, min(k, p0 + LIST_STEPS));
        let t = 0;
        for (; t + 4 <= nnz; t += 4) {
          const q = steps + (<usize>t << 2);
          const d0 = load<i32>(q), d1 = load<i32>(q, 4), d2 = load<i32>(q, 8), d3 = load<i32>(q, 12); // depths
          rowPass4(acc, n, load<f32>(ai + <usize>d0 * aDepth), load<f32>(ai + <usize>d1 * aDepth), load<f32>(ai + <usize>d2 * aDepth), load<f32>(ai + <usize>d3 * aDepth),
            at(b, d0 * n), at(b, d1 * n), at(b, d2 * n), at(b, d3 * n));
        }
        for (; t < nnz; t++) {
          const p = load<i32>(steps + (<usize>t << 2));
          rowPass1(acc, n, load<f32>(ai + <usize>p * aDepth), at(b, p * n));
        }
      }
      const nv = n & ~3;
      if (accumulate) {
        let j = 0;
        for (; j < nv; j += 4) {
          const o = <usize>j << 2;
          v128.store(ci + o, f32x4.add(v128.load(acc + o), v128.load(ci + o)));
        }
        for (; j < n; j++) {
          const o = <usize>j << 2;
          store<f32>(ci + o, load<f32>(acc + o) + load<f32>(ci + o));
        }
      } else {
        memory.copy(ci, acc, <usize>n << 2);
      }
    } else if (!transB) {
      // a row wider than the scratch: 32 columns of C at a time in registers, B's rows streamed
      let j = 0;
      for (; j + 32 <= n; j += 32) {
        let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
        let s4 = f32x4.splat(0), s5 = f32x4.splat(0), s6 = f32x4.splat(0), s7 = f32x4.splat(0);
        let bp = at(b, j);
        let ap = ai;
        for (let p = 0; p < k; p++) {
          const av = v128.load32_splat(ap);
          s0 = madd(av, v128.load(bp), s0); s1 = madd(av, v128.load(bp, 16), s1);
          s2 = madd(av, v128.load(bp, 32), s2); s3 = madd(av, v128.load(bp, 48), s3);
          s4 = madd(av, v128.load(bp, 64), s4); s5 = madd(av, v128.load(bp, 80), s5);
          s6 = madd(av, v128.load(bp, 96), s6); s7 = madd(av, v128.load(bp, 112), s7);
          bp += ldb;
          ap += aDepth;
        }
        const d = ci + (<usize>j << 2);
        if (accumulate) {
          s0 = f32x4.add(s0, v128.load(d)); s1 = f32x4.add(s1, v128.load(d, 16));
          s2 = f32x4.add(s2, v128.load(d, 32)); s3 = f32x4.add(s3, v128.load(d, 48));
          s4 = f32x4.add(s4, v128.load(d, 64)); s5 = f32x4.add(s5, v128.load(d, 80));
          s6 = f32x4.add(s6, v128.load(d, 96)); s7 = f32x4.add(s7, v128.load(d, 112));
        }
        v128.store(d, s0); v128.store(d, s1, 16); v128.store(d, s2, 32); v128.store(d, s3, 48);
        v128.store(d, s4, 64); v128.store(d, s5, 80); v128.store(d, s6, 96); v128.store(d, s7, 112);
      }
      for (; j + 4 <= n; j += 4) {
        let s0 = f32x4.splat(0);
        let bp = at(b, j);
        let ap = ai;
        for (let p = 0; p < k; p++) {
          s0 = madd(v128.load32_splat(ap), v128.load(bp), s0);
          bp += ldb;
          ap += aDepth;
        }
        const d = ci + (<usize>j << 2);
        v128.store(d, accumulate ? f32x4.add(s0, v128.load(d)) : s0);
      }
      for (; j < n; j++) {
        let s: f32 = 0;
        let bp = at(b, j);
        let ap = ai;
        for (let p = 0; p < k; p++) {
          s = fmadd(load<f32>(ap), load<f32>(bp), s);
          bp += ldb;
          ap += aDepth;
        }
        const d = ci + (<usize>j << 2);
        store<f32>(d, accumulate ? s + load<f32>(d) : s);
      }
    } else {
      // B stored n×k: column j of op(B) is row j of B, contiguous over p.
      const kv = transA ? 0 : k & ~3; // op(A)'s row is contiguous only without transA
      const ldbk = <usize>k << 2;
      for (let j = 0; j < n; j += 4) {
        const nr = min(4, n - j);
        const b0 = at(b, j * k);
        const b1 = nr > 1 ? b0 + ldbk : b0, b2 = nr > 2 ? b1 + ldbk : b0, b3 = nr > 3 ? b2 + ldbk : b0;
        let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
        let p = 0;
        for (; p < kv; p += 4) {
          const o = <usize>p << 2;
          const av = v128.load(ai + o);
          s0 = madd(av, v128.load(b0 + o), s0); s1 = madd(av, v128.load(b1 + o), s1);
          s2 = madd(av, v128.load(b2 + o), s2); s3 = madd(av, v128.load(b3 + o), s3);
        }
        // horizontal sums, then the depth tail in scalar
        let t0 = hsum(s0), t1 = hsum(s1), t2 = hsum(s2), t3 = hsum(s3);
        for (; p < k; p++) {
          const av = load<f32>(ai + <usize>p * aDepth);
          const o = <usize>p << 2;
          t0 = fmadd(av, load<f32>(b0 + o), t0); t1 = fmadd(av, load<f32>(b1 + o), t1);
          t2 = fmadd(av, load<f32>(b2 + o), t2); t3 = fmadd(av, load<f32>(b3 + o), t3);
        }
        const d = ci + (<usize>j << 2);
        store<f32>(d, accumulate ? t0 + load<f32>(d) : t0);
        if (nr > 1) store<f32>(d, accumulate ? t1 + load<f32>(d, 4) : t1, 4);
        if (nr > 2) store<f32>(d, accumulate ? t2 + load<f32>(d, 8) : t2, 8);
        if (nr > 3) store<f32>(d, accumulate ? t3 + load<f32>(d, 12) : t3, 12);
      }
    }
  }
}

/** (v0 + v1) + (v2 + v3) of an f32x4. */
// @ts-ignore: decorator
@inline function hsum(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/** s + a·b in f32 (the scalar tail of `matmulSmall`: lane 0 of `madd`, so it rounds as the vector lanes do). */
// @ts-ignore: decorator
@inline function fmadd(a: f32, b: f32, s: f32): f32 {
  return f32x4.extract_lane(madd(f32x4.splat(a), f32x4.splat(b), f32x4.splat(s)), 0);
}
