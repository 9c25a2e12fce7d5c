/** The size of a packed weight (the `packWeights` kernel; assembly/matmul.ts has the layout). */

/** f32 values of a packed weight [k×n]: n rounded up to a multiple of 8, times k. */
export function packedWeightFloats(k: number, n: number): number {
  return Math.ceil(n / 8) * 8 * k;
}
