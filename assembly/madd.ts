// What the packed product (matmul.ts) and the row-at-a-time products
// (gemv.ts) share: the lane-wise multiply-add, and how a depth k is cut into
// depth blocks. Both must agree for their results to have the same bits.

import { KC } from './memory';

/**
 * c + a·b, lane-wise. A build with relaxed SIMD enabled (ASC_FEATURE_RELAXED_SIMD)
 * uses one fused multiply-add where the CPU has FMA; the default build a
 * multiply and an add.
 */
// @ts-ignore: decorator
@inline export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(c, f32x4.mul(a, b));
}

/** Depth of matmul's depth blocks for depth k: equal blocks (a multiple of 4 when k allows), at most KC. */
// @ts-ignore: decorator
@inline export function depthBlock(k: i32): i32 {
  const nkb = (k + KC - 1) / KC;
  return min(KC, (((k + nkb - 1) / nkb) + 3) & ~3);
}
