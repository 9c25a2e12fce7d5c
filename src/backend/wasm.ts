/**
 * The WebAssembly backend: instantiates the AssemblyScript kernels with
 * @assemblyscript/loader (so an AssemblyScript `abort` arrives as a readable
 * Error), hands them their scratch region, and wraps them with argument checks.
 */
import { instantiate, instantiateSync } from '@assemblyscript/loader';
import { NormcoreError } from '../errors.js';
import { checkedKernels } from './checked.js';
import { Heap } from './heap.js';
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
export type WasmFlavor = 'release' | 'relaxed' | 'debug';

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
    : await importDebugBuild();
  return decodeBase64(mod.wasmBase64);
}

/**
 * The debug build is for this repository's tests. It is imported through a
 * variable, which bundlers leave alone, so no page carries its 48 KB; and the
 * published package leaves the file out (package.json `files`).
 */
const DEBUG_BUILD = '../wasm/debug.generated.js';

async function importDebugBuild(): Promise<{ wasmBase64: string }> {
  try {
    return (await import(/* @vite-ignore */ DEBUG_BUILD)) as { wasmBase64: string };
  } catch (cause) {
    throw new NormcoreError(
      "createBackend: options.debug needs the debug build of the kernels (AssemblyScript asserts on), which only a clone of the normcore repository has (`npm run build` writes it); the published package ships the release builds only",
      'UNAVAILABLE',
      { cause },
    );
  }
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

/** Compiles (once per flavor) and instantiates the kernels. */
export async function loadWasm(flavor: WasmFlavor = 'release'): Promise<WasmParts> {
  let mod = moduleCache.get(flavor);
  if (!mod) {
    mod = await WebAssembly.compile(await wasmBytes(flavor) as BufferSource);
    moduleCache.set(flavor, mod);
  }
  const { exports } = await instantiate<Record<string, unknown>>(mod, {});
  return assemble(exports as unknown as WasmExports);
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
