/**
 * createBackend('wasm' | 'js'): one interface, two implementations.
 */
import { describe, expectOptions, NormcoreError, rangeError, StateError, typeError } from '../errors.js';
import { Heap } from './heap.js';
import type { BackendName, Kernels, MemoryLike } from './types.js';
import type { Pool } from './threads.js';
import { loadWasm, loadWasmSync, loadWasmThreaded, supportsRelaxedSimd, type WasmFlavor, type WasmParts } from './wasm.js';

export interface Backend {
  /** 'wasm' or 'js'. */
  readonly name: BackendName;
  /**
   * The pointer-level kernels without argument checks, for a caller that
   * planned its own pointers (the model's training loop, whose arena and data
   * are validated once; a layer's forward and backward). A bad argument here
   * corrupts memory or traps instead of throwing. The checked kernels and the
   * typed-array API are normcore/kernels' (`withKernels(backend).kernels`).
   */
  readonly unchecked: Kernels;
  /** The linear memory the kernels run on, and its allocator. */
  readonly heap: Heap;
  /** Which kernels run: 'js', or the wasm build ('release', 'relaxed', 'debug', or the threaded 'release-mt', 'relaxed-mt'). */
  readonly build: 'js' | WasmFlavor;
  /** How the kernels run: threads used (the caller included), the build, and why (e.g. why 'auto' fell back to one thread). */
  readonly info: BackendInfo;
  /**
   * Releases what the backend holds outside its memory: a threaded backend
   * stops its workers (they also never keep a Node process alive). The
   * backend must not be used afterwards. A no-op for one thread.
   */
  dispose(): void;
  /** Kernel parts handed to worker threads so far, and how many of them the calling thread ran itself because their worker had not started them (busy machine). Zeros for one thread. */
  threadStats(): { posted: number; ranByCaller: number };
}

export interface BackendInfo {
  /** Threads that run each kernel call: 1, or the caller plus threads − 1 workers. */
  threads: number;
  /** The build, as `build`. */
  flavor: 'js' | WasmFlavor;
  /** Why this many threads, in words. */
  reason: string;
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
  /**
   * wasm only: threads that run each kernel (default 1). n > 1 starts n − 1
   * workers (Node worker_threads or Web Workers) on one shared memory; results
   * are bit-identical to one thread. 'auto' uses every hardware thread, or
   * falls back to one where shared memory is unavailable (a page without
   * COOP/COEP headers) and says so in `info.reason`; an explicit n > 1 there
   * is an error with code 'UNSUPPORTED'.
   */
  threads?: number | 'auto';
}

/** Each backend's linear memory, for normcore/kernels' checks (which ask its size on every call). */
const memories = new WeakMap<Backend, MemoryLike>();

/** The linear memory `backend` runs on, or undefined for an object that createBackend did not make. */
export function backendMemory(backend: Backend): MemoryLike | undefined {
  return memories.get(backend);
}

function fromParts(name: BackendName, build: Backend['build'], unchecked: Kernels, memory: MemoryLike, heap: Heap, info?: BackendInfo, pool?: Pool): Backend {
  const backend: Backend = {
    name, build, unchecked, heap,
    info: info ?? { threads: 1, flavor: build, reason: 'one thread (the default)' },
    dispose: () => pool?.close(),
    threadStats: () => ({ posted: pool?.posted ?? 0, ranByCaller: pool?.stolen ?? 0 }),
  };
  memories.set(backend, memory);
  return backend;
}

/** The JS twin, loaded by the first `createBackend('js')`: a page on the wasm kernels never fetches it. */
let jsTwin: typeof import('./js-kernels.js') | undefined;

function jsBackend({ JsKernels, JsMemory }: typeof import('./js-kernels.js')): Backend {
  const memory = new JsMemory();
  const heap = new Heap(memory, 16); // keep pointer 0 unused, as in wasm
  return fromParts('js', 'js', new JsKernels(memory), memory, heap);
}

function checkName(where: string, name: unknown): BackendName {
  if (name !== 'wasm' && name !== 'js') {
    throw typeError(`${where}: name must be 'wasm' or 'js', got ${describe(name)}`);
  }
  return name;
}

function wasmBackend(parts: WasmParts, flavor: WasmFlavor, info?: BackendInfo, pool?: Pool): Backend {
  return fromParts('wasm', flavor, parts.unchecked, parts.memory, parts.heap, info, pool);
}

function checkThreads(where: string, threads: unknown): number | 'auto' | undefined {
  if (threads === undefined || threads === 'auto') return threads;
  if (typeof threads !== 'number' || !Number.isInteger(threads)) {
    throw typeError(`${where}: options.threads must be a positive integer or 'auto', got ${describe(threads)}`, {
      argument: 'options.threads', expected: "a positive integer or 'auto'", received: describe(threads),
    });
  }
  if (threads < 1 || threads > 256) {
    throw rangeError(`${where}: options.threads must be an integer in [1, 256] or 'auto', got ${threads}`, {
      argument: 'options.threads', expected: "an integer in [1, 256] or 'auto'", received: String(threads),
    });
  }
  return threads;
}

/**
 * Node 20 and 21 validate relaxed SIMD only behind a V8 flag: set it before the
 * first compile, unless NORMCORE_SIMD=baseline. Node's v8 module is imported
 * only when running on Node, so the core stays browser-safe.
 */
async function enableRelaxedSimdOnNode(): Promise<void> {
  const proc = (globalThis as { process?: { versions?: { node?: string }; env?: Record<string, string | undefined> } }).process;
  const node = proc?.versions?.node;
  if (!node || Number(node.split('.')[0]) >= 22 || proc.env?.NORMCORE_SIMD === 'baseline') return;
  try {
    const spec = 'node:v8';
    const v8 = await import(/* @vite-ignore */ spec) as { setFlagsFromString(flags: string): void };
    v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
  } catch {
    // a bundle for another runtime that only claims to be Node: keep the baseline build
  }
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
  const o = expectOptions('createBackend', 'options', options, ['debug', 'simd', 'threads']);
  const simd = checkSimd('createBackend', o.simd);
  const threads = checkThreads('createBackend', o.threads);
  if (n === 'js') {
    if (threads !== undefined && threads !== 1) {
      throw rangeError(`createBackend: options.threads is for the wasm backend; the js backend runs on one thread, got ${describe(threads)}`, {
        argument: 'options.threads', expected: "1 or no threads option with 'js'", received: describe(threads),
      });
    }
    jsTwin ??= await import('./js-kernels.js');
    return jsBackend(jsTwin);
  }
  if (simd !== 'baseline' && !o.debug) await enableRelaxedSimdOnNode();
  let flavor: WasmFlavor;
  if (o.debug) flavor = 'debug';
  else if (simd === 'baseline') flavor = 'release';
  else if (await supportsRelaxedSimd()) flavor = 'relaxed';
  else if (simd === 'relaxed') throw new NormcoreError(`createBackend: options.simd is 'relaxed' but this engine does not support relaxed SIMD (Node 20 needs --experimental-wasm-relaxed-simd)`, 'UNSUPPORTED');
  else flavor = 'release';
  if (simd === 'auto' && !o.debug) lastAutoFlavor = flavor;
  if (threads === undefined || threads === 1) {
    return wasmBackend(await loadWasm(flavor), flavor, { threads: 1, flavor, reason: threads === 1 ? 'one thread (options.threads: 1)' : 'one thread (the default)' });
  }
  // what a threaded backend needs of its environment: asked only when threads are (a one-thread page never fetches it)
  const { hardwareThreads, threadsUnavailable } = await import('./threads-env.js');
  const unavailable = threadsUnavailable();
  if (threads === 'auto') {
    const hw = await hardwareThreads();
    if (unavailable || hw <= 1 || o.debug) {
      const reason = unavailable ? `one thread: ${unavailable}` : o.debug ? 'one thread: the debug build is single-threaded' : 'one thread: the machine has one hardware thread';
      return wasmBackend(await loadWasm(flavor), flavor, { threads: 1, flavor, reason });
    }
    return threadedBackend(flavor, Math.min(hw, 16), `threads: 'auto', ${hw} hardware threads`);
  }
  if (unavailable) {
    throw new NormcoreError(`createBackend: options.threads is ${threads}, but ${unavailable}; use threads: 'auto' to fall back to one thread`, 'UNSUPPORTED');
  }
  if (o.debug) {
    throw new NormcoreError(`createBackend: options.threads is ${threads}, but the debug build is single-threaded; drop debug or threads`, 'UNSUPPORTED');
  }
  return threadedBackend(flavor, threads, `threads: ${threads}`);
}

async function threadedBackend(flavor: WasmFlavor, threads: number, why: string): Promise<Backend> {
  const mt = flavor === 'relaxed' ? 'relaxed-mt' : 'release-mt';
  const parts = await loadWasmThreaded(mt, threads);
  return wasmBackend(parts, mt, { threads, flavor: mt, reason: `${why}: the caller and ${threads - 1} worker${threads === 2 ? '' : 's'} on one shared memory` }, parts.pool);
}

/**
 * Synchronous variant: it needs one earlier `await createBackend(name)` in
 * this process, which loads the kernels ('wasm': compiled, as a browser's
 * main thread may not compile WebAssembly synchronously; 'js': the JS twin,
 * loaded on demand so that pages on the wasm kernels do not carry it).
 */
export function createBackendSync(name: BackendName = 'wasm', options?: BackendOptions): Backend {
  const n = checkName('createBackendSync', name);
  const o = expectOptions('createBackendSync', 'options', options, ['debug', 'simd', 'threads']);
  const simd = checkSimd('createBackendSync', o.simd);
  const threads = checkThreads('createBackendSync', o.threads);
  if (threads !== undefined && threads !== 1) {
    throw new NormcoreError(`createBackendSync: options.threads must be 1 here (workers start asynchronously), got ${describe(threads)}; use "await createBackend('wasm', { threads })"`, 'UNSUPPORTED');
  }
  if (n === 'js') {
    if (!jsTwin) throw new StateError(`createBackendSync: the js backend is not loaded yet; call "await createBackend('js')" once first`);
    return jsBackend(jsTwin);
  }
  const flavor: WasmFlavor = o.debug ? 'debug' : simd === 'baseline' ? 'release' : simd === 'relaxed' ? 'relaxed' : lastAutoFlavor;
  const parts = loadWasmSync(flavor);
  if (!parts) {
    throw new StateError(`createBackendSync: the wasm module is not compiled yet; call "await createBackend('wasm')" once first`);
  }
  return wasmBackend(parts, flavor);
}

export type { BackendName, Kernels, Ptr } from './types.js';
export type { ThreadedFlavor, WasmFlavor } from './wasm.js';
