/**
 * normcore/kernels: the kernels themselves, for code that calls them rather
 * than training a model (a custom layer's tests, a benchmark, a port of
 * another library's op). Browser-safe.
 *
 *   const be = await createBackend('wasm');            // this entry's: a Backend with the two below
 *   be.kernels.matmulForward(out, inp, weight, m, k, n); // pointers into be.heap, every argument checked
 *   be.matmul(a, b, { m, k, n });                       // typed arrays in, a new Float32Array out
 *
 * `withKernels(backend)` adds the same to a backend made by 'normcore''s
 * createBackend (in place: a model on that backend sees the same object).
 * An entry of its own so that a page that only trains models does not load
 * the argument checks of some sixty kernels (~3 KB gzip; models call the
 * kernels unchecked, on pointers they planned themselves).
 */
import { backendMemory, createBackend as createCore, createBackendSync as createCoreSync, type Backend, type BackendName, type BackendOptions } from './backend/index.js';
import { checkedKernels } from './backend/checked.js';
import { typedApi } from './backend/typed.js';
import type { Kernels, TypedApi } from './backend/types.js';
import { describe, typeError } from './errors.js';

/** A backend with the pointer-level kernels checked, and the typed-array API. */
export interface KernelBackend extends Backend, TypedApi {
  /**
   * The pointer-level kernels over `heap`, each call's arguments checked
   * (sizes, pointers inside memory, aliasing, labels, indices): a bad one is a
   * RangeError or TypeError naming the kernel and the argument, never a
   * silent out-of-bounds write. The same names and argument order as
   * assembly/index.ts; `unchecked` has them without the checks.
   */
  readonly kernels: Kernels;
}

/**
 * Adds `kernels` (checked) and the typed-array API (`matmul`, `batchNormForward`,
 * `batchNormBackward`) to a backend from createBackend, in place, and returns
 * it. Calling it again returns the same object unchanged.
 */
export function withKernels<B extends Backend>(backend: B): B & KernelBackend {
  const memory = backend !== null && typeof backend === 'object' ? backendMemory(backend) : undefined;
  if (!memory) {
    throw typeError(`withKernels: backend must be a Backend from createBackend, got ${describe(backend)}`, {
      argument: 'backend', expected: 'a Backend from createBackend', received: describe(backend),
    });
  }
  if ('kernels' in backend) return backend as B & KernelBackend;
  const kernels = checkedKernels(backend.unchecked, memory);
  return Object.assign(backend, { kernels }, typedApi(kernels, backend.heap));
}

/** 'normcore''s createBackend, whose backend also has `kernels` (checked) and the typed-array API. */
export async function createBackend(name?: BackendName, options?: BackendOptions): Promise<KernelBackend> {
  return withKernels(await createCore(name, options));
}

/** 'normcore''s createBackendSync, whose backend also has `kernels` (checked) and the typed-array API. */
export function createBackendSync(name?: BackendName, options?: BackendOptions): KernelBackend {
  return withKernels(createCoreSync(name, options));
}

export { Heap } from './backend/heap.js';
export type { Backend, BackendName, BackendOptions, Kernels, Ptr } from './backend/index.js';
export type {
  TypedApi, MatmulOptions, BatchNormForwardOptions, BatchNormForwardResult, BatchNormBackwardOptions, BatchNormBackwardResult, KernelName,
} from './backend/types.js';
