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
export { Sequential } from './model/sequential.js';
export type { SequentialOptions } from './model/sequential.js';
export { DivergenceError } from './train/trainer.js';
export type { CompileOptions } from './train/trainer.js';
export { OPTIMIZER_TYPES } from './train/optimizers.js';
export type { OptimizerConfig, OptimizerType } from './train/optimizers.js';
export { LOSS_NAMES } from './train/losses.js';
export type { LossName, LossConfig } from './train/losses.js';
export type { LrSchedule } from './train/schedules.js';
export type { Labels } from './train/data.js';
export type { FitOptions, EpochLogs, BatchLogs, History, CheckpointOptions, CheckpointInfo } from './train/fit.js';
export { NormcoreError, StateError } from './errors.js';
export type { ErrorCode, ErrorDetails, TaggedError } from './errors.js';
export { Layer, Dense, BatchNorm, Activation, ReLU, Sigmoid, Tanh, LeakyReLU, GELU, mlp, ACTIVATION_TYPES } from './model/layers.js';
export type {
  MlpOptions, DenseOptions, BatchNormOptions, LeakyReLUOptions, WeightInit, LayerConfig, LayerType, ActivationType, NamedParameter, BufferSpec, StateSpec, SavedSpec,
} from './model/layers.js';
export { ModelFormatError, encodeModelFile, decodeModelFile, crc32, FORMAT_VERSION } from './io/format.js';
export { Random } from './model/random.js';
