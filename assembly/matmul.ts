// Matrix products, f32, row-major, SIMD (f32x4).
//
// Dimension letters: op(A) is m×k, op(B) is k×n, C is m×n.
// A is stored m×k, or k×m when transA; B is stored k×n, or n×k when transB.
//
// Method (GotoBLAS-style): blocks of op(A) and op(B) are packed into the
// scratch region as contiguous panels (4 or 6 rows of A, 8 columns of B,
// zero padded), so every layout, transposed or not, feeds the same register
// micro-kernel with unit-stride loads. Packing costs O(mk + kn) against the
// O(mkn) product, and it is what makes the transposed products as fast as
// the plain one; the packers move 4×4 blocks with SIMD transposes.
//
// B stored k×n (not transposed) is packed a panel at a time, during the
// first block of rows of A; where that block starts with a dense 6-row
// panel, its 6×8 tile reads the panel's 8 columns from B itself and writes
// them to the panel as it goes, so the packing costs two stores a step
// instead of a pass of its own. With m = 128 a pass over B (784×256, from
// L3) was ~5% of the product: X·W₁ went from 51–52 to 54 GFLOP/s.
//
// Speed limit: each depth step of the 4×8 micro-kernel is 6 loads, 8
// multiplies and 8 adds. The multiplies and adds are the bottleneck (on
// Intel Golden Cove-class cores 3 ports take them: ~12 flops/cycle, ~48
// GFLOP/s at 4 GHz measured in L1); packing and edges cost the rest (~5%).
// Unrolling the depth loop makes V8 hoist the loads and spill accumulators
// (16 xmm registers), so it is slower.
//
// With relaxed SIMD (see `madd`) a step is 8 fused multiply-adds, and the
// loop's other instructions (loads, address arithmetic, V8's stack check)
// become the limit: ~26 instructions per 8 FMAs keep the front end about as
// busy as the FMAs keep their two pipes (Zen 4: 51 GFLOP/s in L1 against a
// 58.5 FMA ceiling). So the relaxed build packs 6 rows of A where it can: a
// 6×8 tile, 12 accumulators + 2 B vectors + 1 splat of A = the 15 xmm
// registers V8 allocates, 12 FMAs per ~32 instructions (55.8 GFLOP/s in L1,
// the same loop; bench/tiles.mjs in gemm). The baseline build keeps 4 rows:
// its multiply and add need a 16th register, and the 6×8 tile spills there
// (29 GFLOP/s). Panels of 6 are taken while at least 9 rows or exactly 6
// are left, panels of 4 for the rest (7 or 8 rows are two panels of 4, not
// 6 + a mostly empty 4; 5 are 4 + 1), so the last panel pads at most 3 rows;
// and a panel of 6 whose first 4 rows would skip zero steps (below) becomes
// a panel of those 4, since the 6×8 tile has no skipping loop (V8 spilled
// it). The tile changes which rows share a pass, never the order of any
// element's sum: the bits are those of the 4×8 tile (`setWideTile`,
// test/matmul-tiles.test.ts).
//
// Zero steps: a depth step p whose 4 values in a panel of A are all +0 adds
// +0·b to each accumulator, which leaves it as it was: an accumulator starts
// at +0 and adding +0 changes no finite sum (a sum that underflowed to −0
// would stay −0 instead of becoming +0: the same value). So `skipZeroSteps`
// drops those steps from a panel when they are at least a fifth of it, and
// the micro-kernel runs over the rest, reading B at their offsets: the same
// bits as the dense loop whenever B is finite (0·∞ = NaN is what a skipped
// step would have added; normcore checks weights and the loss finite before
// they reach a product). Inputs with many zeros multiply that much less:
// MNIST digits are 81% zeros, and 61% of layer 1's forward steps and 72% of
// its weight gradient's are all-zero. A step of the skipping loop costs ~13%
// more than a plain one (it reads its B offset from a list), so panels with
// fewer than a fifth of zero steps keep the plain loop (bench/zero-steps.mjs).

import { at, scratchPtr, TILE_OFFSET, APACK_OFFSET, BPACK_OFFSET, ASTEPS_OFFSET, ANNZ_OFFSET, MC, KC, NC } from './memory';
import { madd, depthBlock } from './madd';
import { gemvPacked, matmulSmall, SMALL_M } from './gemv';

/**
 * Whether packed products take panels of 6 rows of A (the 6×8 tile) where
 * the rows allow: on in the relaxed build, off in the baseline build (see
 * above). A global rather than a constant so that both builds keep both
 * tiles (the relaxed build ships as a patch to the baseline one) and tests
 * can compare them bit for bit in one build.
 */
let wideTile: bool = ASC_FEATURE_RELAXED_SIMD;

/** Turns the 6-row panels on (1) or off (0); returns the previous setting. For tests and benchmarks. */
export function setWideTile(on: i32): i32 {
  const was = <i32>wideTile;
  wideTile = on != 0;
  return was;
}

/** Rows of the panel that starts with `rest` rows of the block left: 6 or 4 (see above). */
// @ts-ignore: decorator
@inline function panelRows(rest: i32): i32 {
  return wideTile && (rest >= 9 || rest == 6) ? 6 : 4;
}

/**
 * Stores the 4×4 transpose of rows r0..r3 (4 f32 each) at dst, dst+stride,
 * dst+2·stride, dst+3·stride: output row p holds (r0[p], r1[p], r2[p], r3[p]).
 * Returns how many of the 4 stored rows are not all-zero bits (packA counts
 * its zero steps with it; packB drops it, and the optimizer drops the count).
 */
// @ts-ignore: decorator
@inline function storeTransposed4(dst: usize, stride: usize, r0: v128, r1: v128, r2: v128, r3: v128): i32 {
  const t0 = i32x4.shuffle(r0, r1, 0, 4, 1, 5); // r0[0] r1[0] r0[1] r1[1]
  const t1 = i32x4.shuffle(r2, r3, 0, 4, 1, 5); // r2[0] r3[0] r2[1] r3[1]
  const t2 = i32x4.shuffle(r0, r1, 2, 6, 3, 7); // r0[2] r1[2] r0[3] r1[3]
  const t3 = i32x4.shuffle(r2, r3, 2, 6, 3, 7); // r2[2] r3[2] r2[3] r3[3]
  const o0 = i32x4.shuffle(t0, t1, 0, 1, 4, 5), o1 = i32x4.shuffle(t0, t1, 2, 3, 6, 7);
  const o2 = i32x4.shuffle(t2, t3, 0, 1, 4, 5), o3 = i32x4.shuffle(t2, t3, 2, 3, 6, 7);
  v128.store(dst, o0);
  v128.store(dst + stride, o1);
  v128.store(dst + 2 * stride, o2);
  v128.store(dst + 3 * stride, o3);
  return <i32>v128.any_true(o0) + <i32>v128.any_true(o1) + <i32>v128.any_true(o2) + <i32>v128.any_true(o3);
}

/**
 * Packs op(A)[ic:ic+mc, pc:pc+kc] into panels of 4 or 6 rows. A panel of pr
 * rows from row ir starts at float ir·kc and holds, for each p, the pr
 * values op(A)[ic+ir+0..pr−1, pc+p]. Rows past mc are zero (the region has
 * room for the last panel's ≤ 3 padded rows). Where `panelRows` allows 6
 * rows, they are packed, and kept (count −2 at ANNZ_OFFSET + q·4: gemm runs
 * the 6×8 tile) unless their first 4 rows would skip zero steps as a panel
 * of their own: then the panel is narrowed to them in place, and the 4×8
 * tile's skipping loop takes it, as in a build without the 6×8 tile.
 */
function packA(dst: usize, a: usize, transA: bool, m: i32, k: i32, ic: i32, pc: i32, mc: i32, kc: i32): void {
  let tryWide = true; // after a narrowed panel, the next rows are likely sparse too: packed as 4 rows until a panel comes out dense
  for (let ir = 0, q = 0; ir < mc; q++) {
    const panel = dst + (<usize>(ir * kc) << 2);
    let nnz: i32;
    if (tryWide && panelRows(mc - ir) == 6) {
      nnz = packPanelA6(panel, a, transA, m, k, ic + ir, pc, kc);
      if (nnz * 5 > kc * 4) {
        store<i32>(scratchPtr + ANNZ_OFFSET + (<usize>q << 2), -2);
        ir += 6;
        continue;
      }
      narrow(panel, kc);
      tryWide = false;
    } else {
      nnz = packPanelA(panel, a, transA, m, k, ic + ir, pc, min(4, mc - ir), kc);
      tryWide = nnz < 0 || nnz * 5 > kc * 4;
    }
    skipZeroSteps(panel, kc, q, nnz);
    ir += 4;
  }
}

/** Narrows a 6-row panel in place to its first 4 rows: the 4-row panel of the same rows. */
function narrow(panel: usize, kc: i32): void {
  for (let p = 0; p < kc; p++) v128.store(panel + (<usize>p << 4), v128.load(panel + <usize>(p * 24)));
}

/**
 * If at least a fifth of panel q's depth steps are all zero (+0 bits in
 * all 4 rows), moves the others to the front of the panel, in order, records
 * their B-panel byte offsets (p·32) at ASTEPS_OFFSET + q·KC·4 and their
 * number at ANNZ_OFFSET + q·4; else records −1 there and leaves the panel.
 * `nnz`: how many steps are not all-zero, as the packing counted them, or −1
 * if it did not (the edge panels): then they are counted here.
 */
function skipZeroSteps(panel: usize, kc: i32, q: i32, nnz: i32): void {
  if (nnz < 0) {
    nnz = 0;
    for (let p = 0; p < kc; p++) nnz += <i32>v128.any_true(v128.load(panel + (<usize>p << 4)));
  }
  const count = scratchPtr + ANNZ_OFFSET + (<usize>q << 2);
  if (nnz * 5 > kc * 4) {
    store<i32>(count, -1);
    return;
  }
  const steps = scratchPtr + ASTEPS_OFFSET + (<usize>(q * KC) << 2);
  let t = 0;
  for (let p = 0; p < kc; p++) {
    const v = v128.load(panel + (<usize>p << 4));
    if (v128.any_true(v)) {
      v128.store(panel + (<usize>t << 4), v);
      store<i32>(steps + (<usize>t << 2), p << 5);
      t++;
    }
  }
  store<i32>(count, nnz);
}

/**
 * packA's panel of the (mr ≤ 4) rows of op(A) from row i, depth pc…pc+kc.
 * Returns how many of its depth steps are not all-zero bits when it counted
 * them on the way (full panels), else −1.
 */
// @ts-ignore: decorator
@inline function packPanelA(panel: usize, a: usize, transA: bool, m: i32, k: i32, i: i32, pc: i32, mr: i32, kc: i32): i32 {
  if (transA) {
    // A stored k×m: the 4 rows of op(A) at depth p are contiguous in A's row p.
    if (mr == 4) {
      let nnz = 0;
      for (let p = 0; p < kc; p++) {
        const v = v128.load(at(a, (pc + p) * m + i));
        v128.store(panel + (<usize>p << 4), v);
        nnz += <i32>v128.any_true(v);
      }
      return nnz;
    }
  } else if (mr == 4) {
    // A stored m×k: 4×4 blocks of 4 rows are transposed into the panel.
    const s0 = at(a, i * k + pc);
    const lda = <usize>k << 2;
    const kv = kc & ~3;
    let p = 0, nnz = 0;
    for (; p < kv; p += 4) {
      const src = s0 + (<usize>p << 2);
      nnz += storeTransposed4(panel + (<usize>p << 4), 16,
        v128.load(src), v128.load(src + lda), v128.load(src + 2 * lda), v128.load(src + 3 * lda));
    }
    for (; p < kc; p++) {
      const src = s0 + (<usize>p << 2);
      const d = panel + (<usize>p << 4);
      store<f32>(d, load<f32>(src));
      store<f32>(d, load<f32>(src + lda), 4);
      store<f32>(d, load<f32>(src + 2 * lda), 8);
      store<f32>(d, load<f32>(src + 3 * lda), 12);
      nnz += <i32>v128.any_true(v128.load(d));
    }
    return nnz;
  }
  packPanelEdge(panel, a, transA, m, k, i, pc, mr, kc);
  return -1;
}

/** An edge panel: of its 4 rows, the first mr < 4 are rows of op(A) from row i (the rest zero), element by element. */
function packPanelEdge(panel: usize, a: usize, transA: bool, m: i32, k: i32, i: i32, pc: i32, mr: i32, kc: i32): void {
  const rowStride: usize = transA ? 4 : <usize>k << 2, depthStride: usize = transA ? <usize>m << 2 : 4;
  const s0 = transA ? at(a, pc * m + i) : at(a, i * k + pc);
  for (let p = 0; p < kc; p++) {
    const d = panel + (<usize>p << 4);
    for (let ii = 0; ii < 4; ii++) {
      store<f32>(d + (<usize>ii << 2), ii < mr ? load<f32>(s0 + <usize>p * depthStride + <usize>ii * rowStride) : <f32>0);
    }
  }
}

/**
 * packA's panel of the 6 rows of op(A) from row i, depth
 * pc…pc+kc, 24 bytes per depth step. Returns how many of its depth steps
 * hold a bit that is not zero in their first 4 rows.
 */
function packPanelA6(panel: usize, a: usize, transA: bool, m: i32, k: i32, i: i32, pc: i32, kc: i32): i32 {
  let nnz = 0;
  if (transA) {
    // A stored k×m: the 6 rows of op(A) at depth p are contiguous in A's row p.
    for (let p = 0; p < kc; p++) {
      const src = at(a, (pc + p) * m + i), d = panel + <usize>(p * 24);
      const v = v128.load(src);
      v128.store(d, v);
      store<u64>(d, load<u64>(src, 16), 16);
      nnz += <i32>v128.any_true(v);
    }
  } else {
    // A stored m×k: rows 0–3 as 4×4 transposes, rows 4–5 interleaved in pairs.
    const s0 = at(a, i * k + pc);
    const lda = <usize>k << 2;
    const kv = kc & ~3;
    let p = 0;
    for (; p < kv; p += 4) {
      const src = s0 + (<usize>p << 2), d = panel + <usize>(p * 24);
      nnz += storeTransposed4(d, 24, v128.load(src), v128.load(src + lda), v128.load(src + 2 * lda), v128.load(src + 3 * lda));
      const r4 = v128.load(src + 4 * lda), r5 = v128.load(src + 5 * lda);
      const lo = i32x4.shuffle(r4, r5, 0, 4, 1, 5), hi = i32x4.shuffle(r4, r5, 2, 6, 3, 7);
      v128.store64_lane(d, lo, 0, 16);
      v128.store64_lane(d, lo, 1, 40);
      v128.store64_lane(d, hi, 0, 64);
      v128.store64_lane(d, hi, 1, 88);
    }
    for (; p < kc; p++) {
      const src = s0 + (<usize>p << 2), d = panel + <usize>(p * 24);
      for (let ii = 0; ii < 6; ii++) store<f32>(d + (<usize>ii << 2), load<f32>(src + <usize>ii * lda));
      nnz += <i32>v128.any_true(v128.load(d));
    }
  }
  return nnz;
}

/**
 * Packs op(B)[pc:pc+kc, jc:jc+nc] into panels of 8 columns. Panel q starts
 * at float q·8·kc and holds, for each p, the 8 values op(B)[pc+p, jc+8q+0..7].
 * Columns past nc are zero.
 */
function packB(dst: usize, b: usize, transB: bool, k: i32, n: i32, pc: i32, jc: i32, kc: i32, nc: i32): void {
  for (let jr = 0; jr < nc; jr += 8) packPanelB(dst + (<usize>(jr * kc) << 2), b, transB, k, n, pc, jc + jr, kc, min(8, nc - jr));
}

/** packB's panel of the (nr ≤ 8) columns of op(B) from column j, depth pc…pc+kc. */
function packPanelB(panel: usize, b: usize, transB: bool, k: i32, n: i32, pc: i32, j: i32, kc: i32, nr: i32): void {
  if (transB && nr == 8) {
    // B stored n×k: 4×4 blocks of 4 rows of B (columns of op(B)) are transposed into the panel.
    const s0 = at(b, j * k + pc);
    const ldb = <usize>k << 2;
    const s4 = s0 + 4 * ldb;
    const kv = kc & ~3;
    let p = 0;
    for (; p < kv; p += 4) {
      const o = <usize>p << 2;
      const d = panel + (<usize>p << 5);
      storeTransposed4(d, 32, v128.load(s0 + o), v128.load(s0 + ldb + o), v128.load(s0 + 2 * ldb + o), v128.load(s0 + 3 * ldb + o));
      storeTransposed4(d + 16, 32, v128.load(s4 + o), v128.load(s4 + ldb + o), v128.load(s4 + 2 * ldb + o), v128.load(s4 + 3 * ldb + o));
    }
    for (; p < kc; p++) {
      const o = <usize>p << 2;
      const d = panel + (<usize>p << 5);
      for (let jj = 0; jj < 8; jj++) store<f32>(d + (<usize>jj << 2), load<f32>(s0 + <usize>jj * ldb + o));
    }
  } else if (transB) {
    // B stored n×k, fewer than 8 columns left: each column of op(B) is a contiguous row of B.
    for (let jj = 0; jj < 8; jj++) {
      const d = panel + (<usize>jj << 2);
      if (jj < nr) {
        const src = at(b, (j + jj) * k + pc);
        for (let p = 0; p < kc; p++) store<f32>(d + (<usize>p << 5), load<f32>(src + (<usize>p << 2)));
      } else {
        for (let p = 0; p < kc; p++) store<f32>(d + (<usize>p << 5), 0);
      }
    }
  } else if (nr == 8) {
    for (let p = 0; p < kc; p++) {
      const src = at(b, (pc + p) * n + j);
      const d = panel + (<usize>p << 5);
      v128.store(d, v128.load(src));
      v128.store(d, v128.load(src, 16), 16);
    }
  } else {
    for (let p = 0; p < kc; p++) {
      const src = at(b, (pc + p) * n + j);
      const d = panel + (<usize>p << 5);
      for (let jj = 0; jj < 8; jj++) {
        store<f32>(d + (<usize>jj << 2), jj < nr ? load<f32>(src + (<usize>jj << 2)) : <f32>0);
      }
    }
  }
}


/** How a micro-kernel step reads B (see `microKernel`). */
const B_PANEL = 0, B_PACKING = 1, B_LISTED = 2;

/**
 * C[0:mr, 0:nr] (+)= Apanel · Bpanel over depth kc, with a 4×8 tile (a
 * 6×8 one when `six`) of f32x4 accumulators held in registers. Full tiles
 * are stored directly; edge tiles go through the scratch tile and only their
 * valid part is written. `six` and `read` are constants at every call, so
 * each call is a loop of its own (the 4-row one has no trace of rows 4–5).
 * How the step reads B (`read`):
 *   B_PANEL    the panel at bp, 32 bytes a step;
 *   B_PACKING  B's rows as stored from src (`stride` bytes apart), written
 *              to the panel at bp on the way (see gemm);
 *   B_LISTED   the panel at bp + the byte offsets listed at src, one i32 a
 *              step: the steps `skipZeroSteps` kept (kc of them).
 */
// @ts-ignore: decorator
@inline function microKernel(six: bool, kc: i32, ap: usize, bp: usize, c: usize, ldc: i32, accumulate: bool, mr: i32, nr: i32,
  read: i32 = B_PANEL, src: usize = 0, stride: usize = 0): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  let c40 = f32x4.splat(0), c41 = f32x4.splat(0);
  let c50 = f32x4.splat(0), c51 = f32x4.splat(0);
  for (let p = 0; p < kc; p++) {
    let b0: v128, b1: v128;
    if (read == B_PACKING) {
      b0 = v128.load(src);
      b1 = v128.load(src, 16);
      v128.store(bp, b0);
      v128.store(bp, b1, 16);
      src += stride;
    } else if (read == B_LISTED) {
      const bq = bp + <usize>load<i32>(src);
      b0 = v128.load(bq);
      b1 = v128.load(bq, 16);
      src += 4;
    } else {
      b0 = v128.load(bp);
      b1 = v128.load(bp, 16);
    }
    let a = v128.load32_splat(ap);
    c00 = madd(a, b0, c00);
    c01 = madd(a, b1, c01);
    a = v128.load32_splat(ap, 4);
    c10 = madd(a, b0, c10);
    c11 = madd(a, b1, c11);
    a = v128.load32_splat(ap, 8);
    c20 = madd(a, b0, c20);
    c21 = madd(a, b1, c21);
    a = v128.load32_splat(ap, 12);
    c30 = madd(a, b0, c30);
    c31 = madd(a, b1, c31);
    if (six) {
      a = v128.load32_splat(ap, 16);
      c40 = madd(a, b0, c40);
      c41 = madd(a, b1, c41);
      a = v128.load32_splat(ap, 20);
      c50 = madd(a, b0, c50);
      c51 = madd(a, b1, c51);
    }
    ap += six ? 24 : 16;
    if (read != B_LISTED) bp += 32;
  }
  storeTile(six, c, ldc, accumulate, mr, nr, c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51);
}

/**
 * The 6×8 tile's loop, out of line: inlined into gemm's nest of loops, where
 * V8 unrolls it, its 12 chains spill (half the speed). gemm calls it from
 * two places: Binaryen inlines any function with one caller, whatever its
 * size (scripts/optimize-wasm.mjs keeps Binaryen's defaults, which inline
 * other kernels' helpers to their gain: asc's limits cost the step 4%).
 * Running a run of panels in one call (gemm's row loop moved in here, to
 * save a call per panel) also halved the speed: V8 unrolled and spilled the
 * loop once it sat inside another.
 * With `bsrc` (B's row pc, column j, for a full panel), it reads B there,
 * `ldb` bytes a step, and writes it to the panel at bp as it goes.
 */
function microKernel6(kc: i32, ap: usize, bp: usize, c: usize, ldc: i32, accumulate: bool, mr: i32, nr: i32, bsrc: usize, ldb: usize): void {
  if (bsrc) microKernel(true, kc, ap, bp, c, ldc, accumulate, mr, 8, B_PACKING, bsrc, ldb);
  else microKernel(true, kc, ap, bp, c, ldc, accumulate, mr, nr);
}

/**
 * The 4×8 tile over a panel whose all-zero steps `skipZeroSteps` left out:
 * its `nnz` remaining steps, the B panel read at their offsets from `steps`.
 * A function of its own in the source (Binaryen may inline it into gemm, its
 * one caller).
 */
function microKernelSkipping(nnz: i32, steps: usize, ap: usize, bp: usize, c: usize, ldc: i32, accumulate: bool, mr: i32, nr: i32): void {
  microKernel(false, nnz, ap, bp, c, ldc, accumulate, mr, nr, B_LISTED, steps);
}

/** Writes the micro-kernel's 4×8 (when six, 6×8) accumulators to C[0:mr, 0:nr] (leading dimension ldc), added to C when accumulate. */
// @ts-ignore: decorator
@inline function storeTile(six: bool, c: usize, ldc: i32, accumulate: bool, mr: i32, nr: i32,
  c00: v128, c01: v128, c10: v128, c11: v128, c20: v128, c21: v128, c30: v128, c31: v128,
  c40: v128, c41: v128, c50: v128, c51: v128): void {
  const ldb = <usize>ldc << 2;
  if (mr == (six ? 6 : 4) && nr == 8) {
    const r0 = c, r1 = c + ldb, r2 = r1 + ldb, r3 = r2 + ldb;
    if (accumulate) {
      c00 = f32x4.add(c00, v128.load(r0)); c01 = f32x4.add(c01, v128.load(r0, 16));
      c10 = f32x4.add(c10, v128.load(r1)); c11 = f32x4.add(c11, v128.load(r1, 16));
      c20 = f32x4.add(c20, v128.load(r2)); c21 = f32x4.add(c21, v128.load(r2, 16));
      c30 = f32x4.add(c30, v128.load(r3)); c31 = f32x4.add(c31, v128.load(r3, 16));
    }
    v128.store(r0, c00); v128.store(r0, c01, 16);
    v128.store(r1, c10); v128.store(r1, c11, 16);
    v128.store(r2, c20); v128.store(r2, c21, 16);
    v128.store(r3, c30); v128.store(r3, c31, 16);
    if (six) {
      const r4 = r3 + ldb, r5 = r4 + ldb;
      if (accumulate) {
        c40 = f32x4.add(c40, v128.load(r4)); c41 = f32x4.add(c41, v128.load(r4, 16));
        c50 = f32x4.add(c50, v128.load(r5)); c51 = f32x4.add(c51, v128.load(r5, 16));
      }
      v128.store(r4, c40); v128.store(r4, c41, 16);
      v128.store(r5, c50); v128.store(r5, c51, 16);
    }
  } else {
    const t = scratchPtr + TILE_OFFSET;
    v128.store(t, c00); v128.store(t, c01, 16);
    v128.store(t, c10, 32); v128.store(t, c11, 48);
    v128.store(t, c20, 64); v128.store(t, c21, 80);
    v128.store(t, c30, 96); v128.store(t, c31, 112);
    if (six) {
      v128.store(t, c40, 128); v128.store(t, c41, 144);
      v128.store(t, c50, 160); v128.store(t, c51, 176);
    }
    storeEdgeTile(c, ldb, accumulate, mr, nr);
  }
}

/** Writes (or adds) the valid mr×nr part of the tile in scratch (rows of 8 f32) to C (row stride ldb bytes): an edge tile. */
function storeEdgeTile(c: usize, ldb: usize, accumulate: bool, mr: i32, nr: i32): void {
  const t = scratchPtr + TILE_OFFSET;
  for (let i = 0; i < mr; i++) {
    const row = c + <usize>i * ldb;
    for (let j = 0; j < nr; j++) {
      const dst = row + (<usize>j << 2);
      const v = load<f32>(t + (<usize>(i * 8 + j) << 2));
      store<f32>(dst, accumulate ? load<f32>(dst) + v : v);
    }
  }
}

/**
 * C = op(A)·op(B), or C += op(A)·op(B) when accumulate != 0.
 * c: [m×n]; a: [m×k] (or [k×m] if transA); b: [k×n] (or [n×k] if transB).
 * Fewer than 4 rows (m < SMALL_M, e.g. predict of one row) take the unpacked
 * `matmulSmall` path; otherwise the packed path over the whole of C.
 * Called by: the typed-array `matmul`, `matmulForward`, `matmulBackward`.
 */
export function matmul(c: usize, a: usize, b: usize, m: i32, k: i32, n: i32, transA: i32, transB: i32, accumulate: i32): void {
  if (m < SMALL_M) matmulSmall(c, a, b, m, k, n, transA != 0, transB != 0, accumulate != 0);
  else matmulPart(c, a, b, m, k, n, transA, transB, accumulate, 0, m, 0, n);
}

/**
 * The packed product restricted to rows i0..i1 and columns j0..j1 of C
 * (same c, a, b, sizes and flags as `matmul`; C's leading dimension is n).
 * Every element of C is computed exactly as the full call computes it: the
 * depth blocking depends on k alone, each element's sum runs over p in the
 * same order, and the 4×8 tile's lanes are independent (an edge tile rounds
 * like a full one). So a product split into row or column blocks over
 * threads is bit-identical to one call. Only for m ≥ SMALL_M (a smaller m
 * takes `matmulSmall` in `matmul`).
 * Called by: `matmul`, and the threaded backend (src/backend/threads.ts) per worker.
 */
export function matmulPart(c: usize, a: usize, b: usize, m: i32, k: i32, n: i32, transA: i32, transB: i32, accumulate: i32, i0: i32, i1: i32, j0: i32, j1: i32): void {
  gemm(c, a, b, 0, m, k, n, transA != 0, transB != 0, accumulate != 0, i0, i1, j0, j1);
}


/**
 * The packed product over rows i0..i1 and columns j0..j1 of C. op(B)'s
 * panels come from `packed` (laid out by `packWeights`, j0 a multiple of 8)
 * when it is not 0, else they are packed here from b into scratch: a block
 * at a time when transB, else a panel at a time during the first row block
 * (by the first 6×8 tile that reads it, when there is one; see the top of
 * this file). Either way the micro-kernel sees the same panels over the same
 * depth blocks, so C gets the same bits.
 */
function gemm(c: usize, a: usize, b: usize, packed: usize, m: i32, k: i32, n: i32, transA: bool, transB: bool, accumulate: bool, i0: i32, i1: i32, j0: i32, j1: i32): void {
  const apack = scratchPtr + APACK_OFFSET;
  const bpack = scratchPtr + BPACK_OFFSET;
  const kb = depthBlock(k);
  for (let jc = j0; jc < j1;) {
    // column blocks of NC from j0; with pre-packed panels, the NC-aligned blocks they were packed in
    const jend = packed ? min(j1, (jc / NC + 1) * NC) : min(j1, jc + NC);
    const nc = jend - jc;
    for (let pc = 0; pc < k; pc += kb) {
      const kc = min(kb, k - pc);
      let bpanels = bpack;
      if (packed) bpanels = packedPanels(packed, k, n, pc, kc, jc);
      else if (transB) packB(bpack, b, transB, k, n, pc, jc, kc, nc);
      // B stored k×n: each panel is packed during the first row block, by the first 6×8 tile that reads it
      const packLate = !packed && !transB;
      const acc = accumulate || pc > 0;
      for (let ic = i0; ic < i1; ic += MC) {
        const mc = min(MC, i1 - ic);
        packA(apack, a, transA, m, k, ic, pc, mc, kc);
        for (let jr = 0; jr < nc; jr += 8) {
          const nr = min(8, nc - jr);
          const bpanel = bpanels + (<usize>(jr * kc) << 2);
          let bsrc: usize = 0;
          if (packLate && ic == i0) {
            if (nr == 8 && load<i32>(scratchPtr + ANNZ_OFFSET) == -2) bsrc = at(b, pc * n + jc + jr);
            else packPanelB(bpanel, b, false, k, n, pc, jc + jr, kc, nr);
          }
          // the panels as packA laid them out: the q-th from row ir, of 6 rows where its count is −2, else of 4
          for (let ir = 0, q = 0; ir < mc; q++) {
            const ap = apack + (<usize>(ir * kc) << 2), cp = at(c, (ic + ir) * n + jc + jr);
            const nnz = load<i32>(scratchPtr + ANNZ_OFFSET + (<usize>q << 2));
            if (nnz == -2) {
              // two calls (full tiles, edges), so that the optimizer does not inline it as a function with one caller
              if (nr == 8) microKernel6(kc, ap, bpanel, cp, n, acc, min(6, mc - ir), 8, bsrc, <usize>n << 2);
              else microKernel6(kc, ap, bpanel, cp, n, acc, min(6, mc - ir), nr, 0, 0);
              bsrc = 0;
              ir += 6;
              continue;
            }
            if (nnz < 0) microKernel(false, kc, ap, bpanel, cp, n, acc, min(4, mc - ir), nr);
            else microKernelSkipping(nnz, scratchPtr + ASTEPS_OFFSET + (<usize>(q * KC) << 2), ap, bpanel, cp, n, acc, min(4, mc - ir), nr);
            ir += 4;
          }
        }
      }
    }
    jc = jend;
  }
}

// ---------------------------------------------------------------- pre-packed weights
//
// A layer's weights W [k×n] change only when the model is trained or loaded,
// but `matmulForward` packs them into panels on every call. `packWeights`
// packs the whole of W once, in the order the packed product reads it:
//   column block jb (multiples of NC; width nc = min(NC, n − jb), padded to
//   ncp = nc rounded up to 8) starts at float jb·k; in it, depth block pc
//   (depth kc, as `depthBlock(k)` cuts k) starts at pc·ncp; in that, panel q
//   (columns jb + 8q…+7, zero past n) holds for each depth p the 8 values
//   W[pc + p, jb + 8q + 0…7]: exactly what `packB` writes for that block.
// Size: ncp summed over the column blocks times k = (n rounded up to 8)·k floats.

/** Address of the pre-packed panels of depth block pc (depth kc) from column j (a multiple of 8) to the end of j's column block. */
// @ts-ignore: decorator
@inline function packedPanels(packed: usize, k: i32, n: i32, pc: i32, kc: i32, j: i32): usize {
  const jb = j / NC * NC;
  const ncp = (min(NC, n - jb) + 7) & ~7;
  return packed + (<usize>(jb * k + pc * ncp + (j - jb) * kc) << 2);
}

/**
 * packed = weight [k×n] in panels (layout above; (n rounded up to 8)·k floats),
 * for `matmulForwardPacked`.
 */
export function packWeights(packed: usize, weight: usize, k: i32, n: i32): void {
  const kb = depthBlock(k);
  for (let jc = 0; jc < n; jc += NC) {
    const nc = min(NC, n - jc);
    for (let pc = 0; pc < k; pc += kb) {
      const kc = min(kb, k - pc);
      packB(packedPanels(packed, k, n, pc, kc, jc), weight, false, k, n, pc, jc, kc, nc);
    }
  }
}

/**
 * out = inp·weight, from weight's panels as `packWeights` wrote them: the
 * same bits as `matmulForward(out, inp, weight, m, k, n)`, without packing
 * the weights. m ≥ SMALL_M: the packed product; fewer rows: a GEMV over the
 * panels that sums each element over p in order, as `matmulSmall` does.
 * out: [m×n]; inp: [m×k]; packed: (n rounded up to 8)·k floats.
 */
export function matmulForwardPacked(out: usize, inp: usize, packed: usize, m: i32, k: i32, n: i32): void {
  if (m < SMALL_M) gemvPacked(out, inp, packed, m, k, n);
  else gemm(out, inp, 0, packed, m, k, n, false, false, false, 0, m, 0, n);
}

/**
 * `matmulForwardPacked` restricted to rows i0..i1 and columns j0..j1 of out
 * (j0 a multiple of 8; m ≥ SMALL_M), for the threaded backend.
 */
export function matmulForwardPackedPart(out: usize, inp: usize, packed: usize, m: i32, k: i32, n: i32, i0: i32, i1: i32, j0: i32, j1: i32): void {
  gemm(out, inp, 0, packed, m, k, n, false, false, false, i0, i1, j0, j1);
}


/**
 * out = inp·weight.
 * out: [m×n]; inp: [m×k]; weight: [k×n].
 */
export function matmulForward(out: usize, inp: usize, weight: usize, m: i32, k: i32, n: i32): void {
  matmul(out, inp, weight, m, k, n, 0, 0, 0);
}

/**
 * Differentiates `out = inp·weight`:
 *   dweight += inpᵀ·dout       (accumulates, like every parameter gradient)
 *   dinp     = dout·weightᵀ    (overwrites; skipped when needDinp == 0)
 * dinp: [m×k]; dweight: [k×n]; dout: [m×n]; inp: [m×k]; weight: [k×n].
 */
export function matmulBackward(dinp: usize, dweight: usize, dout: usize, inp: usize, weight: usize, m: i32, k: i32, n: i32, needDinp: i32): void {
  matmul(dweight, inp, dout, k, m, n, 1, 0, 1);
  if (needDinp != 0) matmul(dinp, dout, weight, m, n, k, 0, 1, 0);
}
