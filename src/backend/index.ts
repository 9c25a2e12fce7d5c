/**
 * createBackend('wasm' | 'js'): one interface, two implementations.
 */
import { describe, expectOptions, NormcoreError, StateError, typeError } from '../errors.js';
import { checkedKernels } from './checked.js';
import { Heap } from './heap.js';
import { JsKernels, JsMemory } from './js-kernels.js';
import { typedApi } from './typed.js';
import type { BackendName, Kernels, TypedApi } from './types.js';
import { loadWasm, loadWasmSync, supportsRelaxedSimd, type WasmFlavor, type WasmParts } from './wasm.js';

export interface Backend extends TypedApi {
  /** 'wasm' or 'js'. */
  readonly name: BackendName;
  /** Pointer-level kernels over `heap`, each call's arguments checked (sizes, pointers in memory, labels, indices). */
  readonly kernels: Kernels;
  /**
   * The same kernels without the checks, for a caller that planned its own
   * pointers (the model's training loop, whose arena and data are validated
   * once). A bad argument here corrupts memory or traps instead of throwing.
   */
  readonly unchecked: Kernels;
  /** The linear memory the kernels run on, and its allocator. */
  readonly heap: Heap;
  /** Which kernels run: 'js', or the wasm build ('release', 'relaxed' or 'debug'). */
  readonly build: 'js' | WasmFlavor;
}

export interface BackendOptions {
  /** wasm only: use the debug build (AssemblyScript asserts on). Default false. */
  debug?: boolean;
  /**
   * wasm only: 'auto' (default) uses the relaxed-SIMD build (fused multiply-add
   * in matmul) when the engine supports it, else the baseline SIMD build;
   * 'baseline' always uses the baseline build; 'relaxed' requires relaxed SIMD.
   */
  simd?: 'auto' | 'baseline' | 'relaxed';
}

function fromParts(name: BackendName, build: Backend['build'], kernels: Kernels, unchecked: Kernels, heap: Heap): Backend {
  return { name, build, kernels, unchecked, heap, ...typedApi(kernels, heap) };
}

function jsBackend(): Backend {
  const memory = new JsMemory();
  const heap = new Heap(memory, 16); // keep pointer 0 unused, as in wasm
  const raw = new JsKernels(memory);
  return fromParts('js', 'js', checkedKernels(raw, memory), raw, heap);
}

function checkName(where: string, name: unknown): BackendName {
  if (name !== 'wasm' && name !== 'js') {
    throw typeError(`${where}: name must be 'wasm' or 'js', got ${describe(name)}`);
  }
  return name;
}

function wasmBackend(parts: WasmParts, flavor: WasmFlavor): Backend {
  return fromParts('wasm', flavor, parts.kernels, parts.unchecked, parts.heap);
}

function checkSimd(where: string, simd: unknown): 'auto' | 'baseline' | 'relaxed' {
  if (simd === undefined) return 'auto';
  if (simd !== 'auto' && simd !== 'baseline' && simd !== 'relaxed') {
    throw typeError(`${where}: options.simd must be 'auto', 'baseline' or 'relaxed', got ${describe(simd)}`);
  }
  return simd;
}

/** The flavor a sync call may use: whatever an earlier async call compiled for these options. */
let lastAutoFlavor: WasmFlavor = 'release';

/**
 * Creates a backend with its own linear memory. The wasm module is compiled
 * once per process and instantiated anew for each backend.
 */
export async function createBackend(name: BackendName = 'wasm', options?: BackendOptions): Promise<Backend> {
  const n = checkName('createBackend', name);
  const o = expectOptions('createBackend', 'options', options, ['debug', 'simd']);
  const simd = checkSimd('createBackend', o.simd);
  if (n === 'js') return jsBackend();
  let flavor: WasmFlavor;
  if (o.debug) flavor = 'debug';
  else if (simd === 'baseline') flavor = 'release';
  else if (await supportsRelaxedSimd()) flavor = 'relaxed';
  else if (simd === 'relaxed') throw new NormcoreError(`createBackend: options.simd is 'relaxed' but this engine does not support relaxed SIMD (Node 20 needs --experimental-wasm-relaxed-simd)`, 'UNSUPPORTED');
  else flavor = 'release';
  if (simd === 'auto' && !o.debug) lastAutoFlavor = flavor;
  return wasmBackend(await loadWasm(flavor), flavor);
}

/**
 * Synchronous variant: always works for 'js'; for 'wasm' it needs one earlier
 * `await createBackend('wasm')` in this process (a browser's main thread may
 * not compile WebAssembly synchronously).
 */
export function createBackendSync(name: BackendName = 'wasm', options?: BackendOptions): Backend {
  const n = checkName('createBackendSync', name);
  const o = expectOptions('createBackendSync', 'options', options, ['debug', 'simd']);
  const simd = checkSimd('createBackendSync', o.simd);
  if (n === 'js') return jsBackend();
  const flavor: WasmFlavor = o.debug ? 'debug' : simd === 'baseline' ? 'release' : simd === 'relaxed' ? 'relaxed' : lastAutoFlavor;
  const parts = loadWasmSync(flavor);
  if (!parts) {
    throw new StateError(`createBackendSync: the wasm module is not compiled yet; call "await createBackend('wasm')" once first`);
  }
  return wasmBackend(parts, flavor);
}

export type { BackendName, Kernels, Ptr, TypedApi } from './types.js';
