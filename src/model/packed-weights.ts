/**
 * A model's packed copies of params for inference (Layer.packSpecs: a Dense
 * layer's weight in matmul's panel layout, so an inference forward does not
 * repack it on every call). One heap block of their own, allocated on the
 * first inference forward of 4 rows or more and freed before a re-plan (so
 * the arena can still grow in place) and on dispose. The copies hold the
 * params as of `packedVersion`; `version` counts writes of the params block,
 * each announced by a call of `changed` (Network.packs). A layer reads its copies
 * only in an inference forward, which `ensure` precedes, so a stale copy is
 * never read.
 */
import type { Heap } from '../backend/heap.js';
import type { Kernels, Ptr } from '../backend/types.js';
import { planArena } from './arena.js';
import type { Binding, Layer } from './layer.js';

export class PackedWeights {
  /** The block; null: no layer packs, or memory ran out (the layers then read the params, as without copies). */
  private block: Ptr | null | undefined;
  private version = 0;
  private packedVersion = -1;

  constructor(private readonly heap: Heap, private readonly k: Kernels) {}

  /** The params block was written. */
  changed(): void {
    this.version++;
  }

  /** Makes the copies current, allocating and binding them the first time. */
  ensure(layers: readonly Layer[], bindings: readonly Binding[]): void {
    if (this.packedVersion === this.version || this.block === null) return;
    if (this.block === undefined) {
      const table = layers.flatMap((l, i) => l.packSpecs().map((s): [string, number] => [`${i}.${s.name}`, s.size]));
      const plan = planArena(table);
      if (plan.bytes === 0) { this.block = null; return; }
      try {
        this.block = this.heap.alloc(plan.bytes);
      } catch {
        this.block = null;
        return;
      }
      const block = this.block;
      layers.forEach((l, i) => {
        for (const s of l.packSpecs()) bindings[i]!.packed[s.name] = block + plan.offsets.get(`${i}.${s.name}`)!;
      });
    }
    for (const l of layers) l.pack(this.k);
    this.packedVersion = this.version;
  }

  /** Returns the block to the heap and unbinds the copies; the next `ensure` allocates them anew. */
  free(bindings: readonly Binding[]): void {
    if (typeof this.block === 'number') this.heap.free(this.block);
    this.block = undefined;
    this.packedVersion = -1;
    for (const b of bindings) b.packed = {};
  }
}
