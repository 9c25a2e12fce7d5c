/** Lays out named f32 blocks one after another, 16-byte aligned: one arena per model. */

export interface Plan {
  offsets: Map<string, number>;
  bytes: number;
}

/** A 32-bit WebAssembly memory holds at most 4 GiB; an arena beyond that can never be allocated. */
export const MAX_ARENA_BYTES = 2 ** 32;

export function planArena(table: ReadonlyArray<readonly [string, number]>): Plan {
  const offsets = new Map<string, number>();
  let bytes = 0;
  for (const [name, floats] of table) {
    offsets.set(name, bytes);
    bytes += Math.ceil((floats * 4) / 16) * 16;
  }
  return { offsets, bytes };
}
