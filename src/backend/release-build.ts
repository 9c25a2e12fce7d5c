/**
 * The release build (SIMD without relaxed SIMD), for engines that lack
 * relaxed SIMD (Safari): rebuilt from the relaxed build and the patch that
 * scripts/embed-wasm.mjs wrote. A module of its own, loaded only by those
 * engines and by an explicit 'release' backend, so a page on an engine with
 * relaxed SIMD fetches one kernel build and nothing else.
 */
import { releasePatch } from '../wasm/release-patch.generated.js';
import { applyPatch } from './wasm-patch.js';

/** build/release.wasm, byte for byte, from build/relaxed.wasm's bytes. */
export function releaseFromRelaxed(relaxed: Uint8Array): Uint8Array {
  return applyPatch(relaxed, releasePatch);
}
