/**
 * createBackend('wasm' | 'js'): one interface, two implementations.
 */
import { describe, expectOptions } from '../errors.js';
import { checkedKernels } from './checked.js';
import { Heap } from './heap.js';
import { JsKernels, JsMemory } from './js-kernels.js';
import { typedApi } from './typed.js';
import type { BackendName, Kernels, TypedApi } from './types.js';
import { loadWasm, loadWasmSync, type WasmFlavor, type WasmParts } from './wasm.js';

export interface Backend extends TypedApi {
  /** 'wasm' or 'js'. */
  readonly name: BackendName;
  /** Pointer-level kernels (checked), over `heap`. */
  readonly kernels: Kernels;
  /** The linear memory the kernels run on, and its allocator. */
  readonly heap: Heap;
}

export interface BackendOptions {
  /** wasm only: use the debug build (AssemblyScript asserts on). Default false. */
  debug?: boolean;
}

function fromParts(name: BackendName, kernels: Kernels, heap: Heap): Backend {
  return { name, kernels, heap, ...typedApi(kernels, heap) };
}

function jsBackend(): Backend {
  const memory = new JsMemory();
  const heap = new Heap(memory, 16); // keep pointer 0 unused, as in wasm
  return fromParts('js', checkedKernels(new JsKernels(memory), () => memory.buffer.byteLength), heap);
}

function checkName(name: unknown): BackendName {
  if (name !== 'wasm' && name !== 'js') {
    throw new TypeError(`createBackend: name must be 'wasm' or 'js', got ${describe(name)}`);
  }
  return name;
}

function wasmBackend(parts: WasmParts): Backend {
  return fromParts('wasm', parts.kernels, parts.heap);
}

/**
 * Creates a backend with its own linear memory. The wasm module is compiled
 * once per process and instantiated anew for each backend.
 */
export async function createBackend(name: BackendName = 'wasm', options?: BackendOptions): Promise<Backend> {
  const n = checkName(name);
  const o = expectOptions('createBackend', 'options', options, ['debug']);
  if (n === 'js') return jsBackend();
  const flavor: WasmFlavor = o.debug ? 'debug' : 'release';
  return wasmBackend(await loadWasm(flavor));
}

/**
 * Synchronous variant: always works for 'js'; for 'wasm' it needs one earlier
 * `await createBackend('wasm')` in this process (a browser's main thread may
 * not compile WebAssembly synchronously).
 */
export function createBackendSync(name: BackendName = 'wasm', options?: BackendOptions): Backend {
  const n = checkName(name);
  const o = expectOptions('createBackendSync', 'options', options, ['debug']);
  if (n === 'js') return jsBackend();
  const parts = loadWasmSync(o.debug ? 'debug' : 'release');
  if (!parts) {
    throw new Error(`createBackendSync: the wasm module is not compiled yet; call "await createBackend('wasm')" once first`);
  }
  return wasmBackend(parts);
}

export type { BackendName, Kernels, Ptr, TypedApi } from './types.js';
