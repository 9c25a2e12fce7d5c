/**
 * Rebuilds a kernel build from another and a patch (scripts/embed-wasm.mjs
 * writes the release build as a patch to the relaxed-SIMD build: they differ
 * only where a multiply-add is fused).
 */
import { normcoreError } from '../error-brand.js';

export interface WasmPatch {
  /** Bytes of the rebuilt module. */
  size: number;
  /** Triples [bytes of the base skipped, bytes copied from there, bytes taken next from `inserts`], read from the base's start. */
  ops: readonly number[];
  /** The inserted bytes, one per character. */
  inserts: string;
}

export function applyPatch(base: Uint8Array, patch: WasmPatch): Uint8Array {
  const out = new Uint8Array(patch.size);
  let o = 0;
  let k = 0;
  const { ops, inserts } = patch;
  let from = 0;
  for (let i = 0; i + 2 < ops.length; i += 3) {
    const copy = ops[i + 1]!, take = ops[i + 2]!;
    from += ops[i]!;
    if (from + copy > base.length || o + copy + take > out.length || k + take > inserts.length) break;
    out.set(base.subarray(from, from + copy), o);
    from += copy;
    o += copy;
    for (let n = 0; n < take; n++) out[o++] = inserts.charCodeAt(k++);
  }
  if (o !== out.length || k !== inserts.length) {
    throw normcoreError(`applyPatch: the patch does not fit its base build (rebuilt ${o} of ${out.length} bytes): the package's kernel files are from different builds`, 'INTERNAL');
  }
  return out;
}
