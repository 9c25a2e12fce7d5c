/**
 * The WebAssembly backend: instantiates the AssemblyScript kernels and hands
 * them their scratch region (normcore/kernels wraps them with argument checks).
 */
import { NormcoreError } from '../errors.js';
import { Heap } from './heap.js';
import type { Pool, PartExports } from './threads.js';
import type { Kernels, MemoryLike } from './types.js';

interface WasmExports extends Kernels {
  memory: WebAssembly.Memory;
  setScratch(ptr: number, bytes: number): void;
  heapBase(): number;
  scratchBytesNeeded(): number;
}

export interface WasmParts {
  /** The module's exports themselves: no argument checks (normcore/kernels adds them). */
  unchecked: Kernels;
  heap: Heap;
  /** The module's WebAssembly.Memory, typed by its contract so that declarations need no DOM lib (a Node-only TypeScript project has none). */
  memory: MemoryLike;
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

/**
 * The embedded modules are deflated and base64'd (scripts/embed-wasm.mjs):
 * inflated here with the platform's DecompressionStream, which every engine
 * with wasm SIMD has (Node ≥ 18, Chrome 103, Firefox 113, Safari 16.4).
 */
export async function inflateEmbedded(base64: string): Promise<Uint8Array> {
  const packed = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  if (typeof DecompressionStream !== 'function') {
    throw new NormcoreError('createBackend: this engine has no DecompressionStream, which unpacks the embedded kernels (Node ≥ 18 and current browsers have it)', 'UNSUPPORTED');
  }
  const stream = new Blob([packed]).stream().pipeThrough(new DecompressionStream('deflate-raw'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function wasmBytes(flavor: WasmFlavor): Promise<Uint8Array> {
  if (flavor === 'release-mt' || flavor === 'relaxed-mt') {
    // only a threaded backend rewrites the module for shared memory: a one-thread page never fetches the rewriter
    const { withSharedMemory } = await import('./shared-module.js');
    return withSharedMemory(await wasmBytes(flavor === 'release-mt' ? 'release' : 'relaxed'), SHARED_MAX_PAGES);
  }
  if (flavor === 'debug') {
    debugSupport ??= await import('./wasm-debug.js');
    return inflateEmbedded((await debugSupport.importDebugBuild()).wasmDeflated);
  }
  // one module holds the relaxed build; the release build is a patch to it in a module of its own (scripts/embed-wasm.mjs)
  const [{ wasmDeflated }, release] = await Promise.all([
    import('../wasm/kernels.generated.js'),
    flavor === 'release' ? import('./release-build.js') : undefined,
  ]);
  const relaxed = await inflateEmbedded(wasmDeflated);
  return release ? release.releaseFromRelaxed(relaxed) : relaxed;
}

/** The debug build's loader and its `abort` import, loaded by the first debug backend (tests only). */
let debugSupport: typeof import('./wasm-debug.js') | undefined;

/**
 * What the kernels import: the host's Math.pow (Adam's bias corrections, the
 * same function the JS twin calls), for the threaded builds the shared
 * memory, and for the debug build its `abort` (wasm-debug.ts).
 */
function kernelImports(flavor: WasmFlavor, memory?: WebAssembly.Memory): { imports: WebAssembly.Imports; bind(memory: WebAssembly.Memory): void } {
  const env = { pow: Math.pow, ...(memory ? { memory } : {}) };
  // a debug module was compiled by an earlier async call, which loaded debugSupport
  return flavor === 'debug' ? debugSupport!.debugImports(env) : { imports: { env }, bind: () => {} };
}

let relaxedSupport: boolean | undefined;

/**
 * The smallest module that needs relaxed SIMD (the probe of GoogleChromeLabs'
 * wasm-feature-detect): one function () → v128 computing
 * i8x16.relaxed_swizzle(i8x16.splat(1), i8x16.splat(2)). Validating it answers
 * whether the relaxed build can run without fetching that build, so a page
 * whose engine lacks the feature downloads only the release build.
 * test/relaxed-simd.test.ts checks it agrees with validating the build itself.
 */
export const RELAXED_SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // type section: () → v128
  0x03, 0x02, 0x01, 0x00, // function section: one function of type 0
  0x0a, 0x0f, 0x01, 0x0d, 0x00, // code section: one body of 13 bytes, no locals
  0x41, 0x01, 0xfd, 0x0f, // i32.const 1, i8x16.splat
  0x41, 0x02, 0xfd, 0x0f, // i32.const 2, i8x16.splat
  0xfd, 0x80, 0x02, // i8x16.relaxed_swizzle (0xfd 256)
  0x0b, // end
]);

/** True when this engine validates relaxed-SIMD code (checked once, with RELAXED_SIMD_PROBE). */
export async function supportsRelaxedSimd(): Promise<boolean> {
  if (relaxedSupport === undefined) {
    try {
      relaxedSupport = WebAssembly.validate(RELAXED_SIMD_PROBE as BufferSource);
    } catch {
      relaxedSupport = false;
    }
  }
  return relaxedSupport;
}

/** Validates a build's bytes, for the tests: whether this engine accepts `flavor`. */
export async function validatesBuild(flavor: WasmFlavor): Promise<boolean> {
  return WebAssembly.validate((await wasmBytes(flavor)) as BufferSource);
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
  const { imports, bind } = kernelImports(flavor);
  const instance = await WebAssembly.instantiate(mod, imports);
  const ex = { ...instance.exports } as unknown as WasmExports; // a plain object (an instance's exports are frozen), as the loader gave
  bind(ex.memory);
  return assemble(ex);
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
  const instance = await WebAssembly.instantiate(mod, kernelImports(flavor, memory).imports);
  const ex = instance.exports as unknown as WasmExports & PartExports;
  const heap = new Heap(memory, ex.heapBase());
  const scratchBytes = ex.scratchBytesNeeded();
  ex.setScratch(heap.alloc(scratchBytes), scratchBytes);
  // the pool's code is loaded only by a page that asks for threads: a bundler makes it a chunk of its own
  const { Pool, threadedKernels } = await import('./threads.js');
  const pool = await Pool.start(threads, mod, memory, heap, scratchBytes, ex);
  const unchecked = threadedKernels(ex, pool);
  return { unchecked, heap, memory, pool };
}

/**
 * Instantiates synchronously from an already compiled module (after one
 * `loadWasm` of the same flavor), e.g. for `new Sequential(…, { backend: 'wasm' })`.
 */
export function loadWasmSync(flavor: WasmFlavor = 'release'): WasmParts | undefined {
  const mod = moduleCache.get(flavor);
  if (!mod) return undefined;
  const { imports, bind } = kernelImports(flavor);
  const ex = { ...new WebAssembly.Instance(mod, imports).exports } as unknown as WasmExports;
  bind(ex.memory);
  return assemble(ex);
}

function assemble(ex: WasmExports): WasmParts {
  const memory = ex.memory;
  const heap = new Heap(memory, ex.heapBase());
  const scratchBytes = ex.scratchBytesNeeded();
  ex.setScratch(heap.alloc(scratchBytes), scratchBytes);
  return { unchecked: ex, heap, memory };
}
