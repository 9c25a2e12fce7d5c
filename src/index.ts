/**
 * normcore: batch-normalized neural networks on WebAssembly, for Node and the browser.
 * This entry uses no Node built-ins; file helpers live in 'normcore/node'.
 */
export { createBackend, createBackendSync } from './backend/index.js';
export type { Backend, BackendOptions, BackendName, Kernels, Ptr, TypedApi } from './backend/index.js';
export type {
  MatmulOptions, BatchNormForwardOptions, BatchNormForwardResult, BatchNormBackwardOptions, BatchNormBackwardResult,
} from './backend/types.js';
export { Heap } from './backend/heap.js';
