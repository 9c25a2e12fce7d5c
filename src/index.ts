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
export { Layer, Dense, BatchNorm, Normalization, Activation, ReLU, Sigmoid, Tanh, LeakyReLU, GELU, mlp, ACTIVATION_TYPES } from './model/layers.js';
export type { Training } from './model/layer.js';
export { Conv2d, BatchNorm2d, MaxPool2d, AvgPool2d, GlobalAvgPool2d, Flatten, Dropout, mnistCnn } from './model/layers.js';
export type { Conv2dOptions, Pool2dOptions, Padding, MnistCnnOptions } from './model/layers.js';
export type {
  MlpOptions, DenseOptions, BatchNormOptions, NormalizationOptions, LeakyReLUOptions, WeightInit, LayerConfig, LayerType, ActivationType, NamedParameter, BufferSpec, StateSpec, SavedSpec,
} from './model/layers.js';
export { ModelFormatError, encodeModelFile, decodeModelFile, crc32, FORMAT_VERSION } from './io/format.js';
export { Random } from './model/random.js';
// Your own data (issue 11): input conversion, splits, feature stats, metrics, raw-row encoding.
export { toMatrix, toTargets, targetKindForLoss } from './data/convert.js';
export type { Matrix, MatrixInput, TargetInput, TargetKind, Targets, ClassTargets, RegressionTargets, ToTargetsOptions } from './data/convert.js';
export { trainTestSplit } from './data/split.js';
export type { Split, SplitOptions, SplitLabels } from './data/split.js';
export { featureStats, featureStatsStream, MomentsAccumulator, chunkMoments, mergeMoments, momentsToStats } from './data/stats.js';
export type { FeatureStats, Moments, StatsChunk } from './data/stats.js';
export { METRICS, METRIC_NAMES, AUC_BINS, AUC_EXACT_VALUES, confusionMatrix, predictedClasses, resolveMetrics, taskFor, defaultMetrics } from './train/metrics.js';
export type { Metric, MetricName, Task } from './train/metrics.js';
export { DataError, MISSING_TOKENS, CLASSIFICATION_MAX_DISTINCT } from './data/table.js';
export { encodeRows, checkEncoding } from './data/apply.js';
export type { EncodedRows, ApplyOptions } from './data/apply.js';
export type { DataEncoding, ColumnEncoding, TargetInfo, EncodedTable, MissingPolicy, TaskKind, RawCell } from './data/table.js';
// ONNX in and out: the separate entry 'normcore/onnx' (src/onnx.ts).
export { NORMCORE_VERSION } from './version.js';
