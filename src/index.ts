/**
 * normcore: batch-normalized neural networks on WebAssembly, for Node and the browser.
 * This entry uses no Node built-ins; file helpers live in 'normcore/node'.
 */
export { createBackend, createBackendSync } from './backend/index.js';
export type { Backend, BackendInfo, BackendOptions, BackendName, Kernels, Ptr, ThreadedFlavor, WasmFlavor } from './backend/index.js';
// The checked pointer-level kernels and the typed-array API: 'normcore/kernels' (src/kernels.ts).
export type {
  TypedApi, MatmulOptions, BatchNormForwardOptions, BatchNormForwardResult, BatchNormBackwardOptions, BatchNormBackwardResult,
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
export type { Labels, Features } from './train/data.js';
export type { FitOptions, EpochLogs, BatchLogs, History, CheckpointOptions, CheckpointInfo, Batch, ValidationData, Evaluation } from './train/fit.js';
export { earlyStopping, reduceLrOnPlateau } from './train/callbacks.js';
export type { Callback, TrainingModel, EarlyStopping, EarlyStoppingOptions, ReduceLrOnPlateauOptions, Monitor } from './train/callbacks.js';
export { NormcoreError, StateError } from './errors.js';
export type { ErrorCode, ErrorDetails, TaggedError } from './errors.js';
// Each layer from its own file, not through model/layers.ts: esbuild gives a page every file the
// entry's imports reach that any chunk uses, and the model-file reader's table uses every layer class.
// The convolution layers are 'normcore/cnn' (src/cnn.ts), Normalization and the feature statistics
// 'normcore/data' (src/data.ts): a page that trains a dense network loads neither.
export { Layer } from './model/layer.js';
export type { Training, NamedParameter, BufferSpec, StateSpec, SavedSpec } from './model/layer.js';
export { Dense, type DenseOptions } from './model/dense.js';
export { BatchNorm, type BatchNormOptions } from './model/batchnorm.js';
export { Activation, ReLU, Sigmoid, Tanh, LeakyReLU, GELU, type LeakyReLUOptions } from './model/activation.js';
export { Dropout } from './model/dropout.js';
export { mlp, ACTIVATION_TYPES, type MlpOptions } from './model/mlp.js';
export type { Activation as ActivationType, LayerConfig, LayerType, Padding, WeightInit } from './model/config.js';
export { ModelFormatError, encodeModelFile, decodeModelFile, crc32, FORMAT_VERSION } from './io/format.js';
export { Random } from './model/random.js';
// Your own data (issue 11): input conversion, splits, metrics, raw-row encoding (the feature
// statistics and the Normalization layer: 'normcore/data').
export { toMatrix, toTargets, targetKindForLoss } from './data/convert.js';
export type { Matrix, MatrixInput, TargetInput, TargetKind, Targets, ClassTargets, RegressionTargets, ToTargetsOptions } from './data/convert.js';
export { trainTestSplit } from './data/split.js';
export type { Split, SplitOptions, SplitLabels } from './data/split.js';
export { METRICS, METRIC_NAMES, AUC_BINS, AUC_EXACT_VALUES, confusionMatrix, predictedClasses, resolveMetrics, taskFor, defaultMetrics } from './train/metrics.js';
export type { Metric, MetricName, Task } from './train/metrics.js';
export { DataError, MISSING_TOKENS, CLASSIFICATION_MAX_DISTINCT } from './data/table.js';
export { encodeRows, checkEncoding } from './data/apply.js';
export type { EncodedRows, ApplyOptions } from './data/apply.js';
export type { DataEncoding, ColumnEncoding, TargetInfo, EncodedTable, MissingPolicy, TaskKind, RawCell } from './data/table.js';
// ONNX in and out: the separate entry 'normcore/onnx' (src/onnx.ts); convolutions: 'normcore/cnn';
// Normalization and the feature statistics: 'normcore/data'.
export { NORMCORE_VERSION } from './version.js';
