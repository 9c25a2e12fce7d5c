/**
 * The WebAssembly backend: instantiates the AssemblyScript kernels with
 * @assemblyscript/loader (so an AssemblyScript `abort` arrives as a readable
 * Error), hands them their scratch region, and wraps them with argument checks.
 */
import { instantiate, instantiateSync } from '@assemblyscript/loader';
import { checkedKernels } from './checked.js';
import { Heap } from './heap.js';
import { Pool, threadedKernels, type PartExports } from './threads.js';
import type { Kernels } from './types.js';

interface WasmExports extends Kernels {
  memory: WebAssembly.Memory;
  setScratch(ptr: number, bytes: number): void;
  heapBase(): number;
  scratchBytesNeeded(): number;
}

export interface WasmParts {
  kernels: Kernels;
  /** The module's exports themselves: no argument checks. */
  unchecked: Kernels;
  heap: Heap;
  memory: WebAssembly.Memory;
}

/**
 * Which build of the kernels: 'release' (-O3, SIMD), 'relaxed' (the same with
 * relaxed SIMD, whose fused multiply-add speeds up matmul where the engine has
 * it: browsers, Node ≥ 22 or Node 20 with --experimental-wasm-relaxed-simd),
 * or 'debug' (AssemblyScript asserts on).
 */
export type WasmFlavor = 'release' | 'relaxed' | 'debug' | ThreadedFlavor;

/** The same builds for the threaded backend: shared imported memory (max 2 GiB), atomics. */
export type ThreadedFlavor = 'release-mt' | 'relaxed-mt';

const moduleCache = new Map<WasmFlavor, WebAssembly.Module>();

function decodeBase64(b64: string): Uint8Array {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes;
}

async function wasmBytes(flavor: WasmFlavor): Promise<Uint8Array> {
  const mod =
    flavor === 'release' ? await import('../wasm/release.generated.js')
    : flavor === 'relaxed' ? await import('../wasm/relaxed.generated.js')
    : flavor === 'release-mt' ? await import('../wasm/release-mt.generated.js')
    : flavor === 'relaxed-mt' ? await import('../wasm/relaxed-mt.generated.js')
    : await import('../wasm/debug.generated.js');
  return decodeBase64(mod.wasmBase64);
}

let relaxedSupport: boolean | undefined;

/** True when this engine validates the relaxed-SIMD build (checked once). */
export async function supportsRelaxedSimd(): Promise<boolean> {
  if (relaxedSupport === undefined) {
    try {
      relaxedSupport = WebAssembly.validate((await wasmBytes('relaxed')) as BufferSource);
    } catch {
      relaxedSupport = false;
    }
  }
  return relaxedSupport;
}

async function compiled(flavor: WasmFlavor): Promise<WebAssembly.Module> {
  let mod = moduleCache.get(flavor);
  if (!mod) {
    mod = await WebAssembly.compile(await wasmBytes(flavor) as BufferSource);
    moduleCache.set(flavor, mod);
  }
  return mod;
}

/** Compiles (once per flavor) and instantiates the kernels. */
export async function loadWasm(flavor: WasmFlavor = 'release'): Promise<WasmParts> {
  const mod = await compiled(flavor);
  const { exports } = await instantiate<Record<string, unknown>>(mod, {});
  return assemble(exports as unknown as WasmExports);
}

/** Pages the threaded builds may grow their shared memory to (2 GiB), as they declare it. */
const SHARED_MAX_PAGES = 32768;

/**
 * The threaded backend's parts: `threads` threads (the caller and a pool of
 * threads − 1 workers) on one shared memory. See src/backend/threads.ts.
 */
export async function loadWasmThreaded(flavor: ThreadedFlavor, threads: number): Promise<WasmParts & { pool: Pool }> {
  const mod = await compiled(flavor);
  const memory = new WebAssembly.Memory({ initial: 1, maximum: SHARED_MAX_PAGES, shared: true });
  const { exports } = await instantiate<Record<string, unknown>>(mod, { env: { memory } });
  const ex = exports as unknown as WasmExports & PartExports;
  const heap = new Heap(memory, ex.heapBase());
  const scratchBytes = ex.scratchBytesNeeded();
  ex.setScratch(heap.alloc(scratchBytes), scratchBytes);
  const pool = await Pool.start(threads, mod, memory, heap, scratchBytes, ex);
  const unchecked = threadedKernels(ex, pool);
  return { kernels: checkedKernels(unchecked, memory), unchecked, heap, memory, pool };
}

/**
 * Instantiates synchronously from an already compiled module (after one
 * `loadWasm` of the same flavor), e.g. for `new Sequential(…, { backend: 'wasm' })`.
 */
export function loadWasmSync(flavor: WasmFlavor = 'release'): WasmParts | undefined {
  const mod = moduleCache.get(flavor);
  if (!mod) return undefined;
  const { exports } = instantiateSync<Record<string, unknown>>(mod, {});
  return assemble(exports as unknown as WasmExports);
}

function assemble(ex: WasmExports): WasmParts {
  const memory = ex.memory;
  const heap = new Heap(memory, ex.heapBase());
  const scratchBytes = ex.scratchBytesNeeded();
  ex.setScratch(heap.alloc(scratchBytes), scratchBytes);
  const kernels = checkedKernels(ex, memory);
  return { kernels, unchecked: ex, heap, memory };
}
