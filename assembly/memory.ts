// Addressing helpers shared by every kernel.
//
// All kernels take byte pointers into linear memory (usize) and element
// counts. `at(ptr, i)` is the only place an element index becomes a byte
// address, so element indices and byte offsets are never mixed.

/** Byte address of f32/i32 element `i` of the array at `ptr`. */
// @ts-ignore: decorator
@inline export function at(ptr: usize, i: i32): usize {
  return ptr + (<usize>i << 2);
}

/** Scratch region handed over by the host at start-up (see `setScratch`). */
export let scratchPtr: usize = 0;
export let scratchBytes: usize = 0;

/**
 * Tells the kernels where their scratch region lives. Called once by the
 * wasm backend right after instantiation; the kernels themselves never
 * allocate. The region holds matmul packing panels and per-column temporaries.
 */
export function setScratch(ptr: usize, bytes: usize): void {
  scratchPtr = ptr;
  scratchBytes = bytes;
}

/** First free byte after static data: where the host's heap may start. */
export function heapBase(): usize {
  return __heap_base;
}

// Layout of the scratch region (byte offsets from scratchPtr).
export const TILE_OFFSET: usize = 0; //        6×8 f32 edge tile of matmul
export const COLS_OFFSET: usize = 192; //      per-column temporaries of batch norm (4 × COL_CHUNK f32)
export const COL_CHUNK: i32 = 1024; //         batch norm works on column chunks this wide (4 KiB per row)
export const ROW_BLOCK_FLOATS: i32 = 65536; // batch norm: rows per block = this / chunk width (256 KiB, stays in L2)
export const MC: i32 = 64; //                  matmul: rows of A packed at once
export const KC: i32 = 256; //                 matmul: depth packed at once
export const NC: i32 = 256; //                 matmul: columns of B packed at once
export const APACK_OFFSET: usize = COLS_OFFSET + <usize>(4 * COL_CHUNK * 4);
// (packed A has room for MC + 4 rows: the last panel of a block pads up to 3 rows, see `panelRows` in matmul.ts)
export const BPACK_OFFSET: usize = APACK_OFFSET + <usize>((MC + 4) * KC * 4);
// matmul: per panel of packed A (at most MC/4 of them: every panel but the last has 4 or 6 rows), the B-panel byte offsets of its
// depth steps that are not all zero (KC i32 each), and how many there are (-1: a panel of 4 rows kept dense; -2: a panel of 6 rows,
// always dense). See `skipZeroSteps` and `packA` in matmul.ts.
export const ASTEPS_OFFSET: usize = BPACK_OFFSET + <usize>(KC * NC * 4);
export const ANNZ_OFFSET: usize = ASTEPS_OFFSET + <usize>((MC / 4) * KC * 4);
export const SCRATCH_BYTES: usize = ANNZ_OFFSET + <usize>((MC / 4) * 4);

/** Bytes of scratch the host must provide to `setScratch`. */
export function scratchBytesNeeded(): usize {
  return SCRATCH_BYTES;
}
