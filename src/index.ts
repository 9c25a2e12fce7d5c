/**
 * normcore: batch-normalized neural networks on WebAssembly, for Node and the browser.
 * This entry uses no Node built-ins; file helpers live in 'normcore/node'.
 */
export { createBackend, createBackendSync } from './backend/index.js';
export type { Backend, BackendInfo, BackendOptions, BackendName, Kernels, Ptr, TypedApi, ThreadedFlavor, WasmFlavor } from './backend/index.js';
export type {
  MatmulOptions, BatchNormForwardOptions, BatchNormForwardResult, BatchNormBackwardOptions, BatchNormBackwardResult,
} from './backend/types.js';
export { Heap } from './backend/heap.js';
export { Sequential, DivergenceError } from './model/sequential.js';
export type {
  SequentialOptions, CompileOptions, OptimizerConfig, OptimizerType, LossName, LrSchedule, FitOptions, EpochLogs, BatchLogs, History, Labels,
  CheckpointOptions, CheckpointInfo,
} from './model/sequential.js';
export { NormcoreError, StateError } from './errors.js';
export type { ErrorCode, ErrorDetails, TaggedError } from './errors.js';
export { Layer, Dense, BatchNorm, ReLU, Sigmoid, Tanh, mlp } from './model/layers.js';
export type { MlpOptions, DenseOptions, BatchNormOptions, WeightInit, LayerConfig, LayerType, NamedParameter, BufferSpec } from './model/layers.js';
export { ModelFormatError, encodeModelFile, decodeModelFile, crc32, FORMAT_VERSION } from './model/format.js';
export { Random } from './model/random.js';
