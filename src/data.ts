/**
 * normcore/data: the Normalization layer and the per-feature statistics it
 * adapts from (browser-safe). Both stream (featureStatsStream, adapt on
 * batches) and merge exactly (MomentsAccumulator, chunkMoments). An entry of
 * its own so that a page that does not standardize its inputs does not load
 * them; model files with a Normalization layer load through `Sequential.load`
 * without importing this entry. The other data helpers (toMatrix,
 * trainTestSplit, encodeRows, …) are in 'normcore' and are re-exported here,
 * so this entry is the whole data toolbox.
 */
export { Normalization, type NormalizationOptions } from './model/normalization.js';
export { featureStats, featureStatsStream, MomentsAccumulator, chunkMoments, mergeMoments, momentsToStats } from './data/stats.js';
export type { FeatureStats, Moments, StatsChunk } from './data/stats.js';
export { toMatrix, toTargets, targetKindForLoss } from './data/convert.js';
export type { Matrix, MatrixInput, TargetInput, TargetKind, Targets, ClassTargets, RegressionTargets, ToTargetsOptions } from './data/convert.js';
export { trainTestSplit } from './data/split.js';
export type { Split, SplitOptions, SplitLabels } from './data/split.js';
export { DataError, MISSING_TOKENS, CLASSIFICATION_MAX_DISTINCT } from './data/table.js';
export { encodeRows, checkEncoding } from './data/apply.js';
export type { EncodedRows, ApplyOptions } from './data/apply.js';
export type { DataEncoding, ColumnEncoding, TargetInfo, EncodedTable, MissingPolicy, TaskKind, RawCell } from './data/table.js';
