/**
 * The serializable description of each layer: the model file's topology.
 * Pure types, so every layer file and the file codec can share them without
 * importing one another.
 */

/** How a Dense layer's weights are drawn. 'auto': He before ReLU, Glorot otherwise. */
export type WeightInit = 'auto' | 'he' | 'glorot' | { type: 'normal'; std: number };

/** The element-wise activations (one layer class, one kernel pair each). */
export type Activation = 'relu' | 'sigmoid' | 'tanh' | 'leakyrelu' | 'gelu';

export type DenseConfig = { type: 'dense'; inFeatures: number; outFeatures: number; bias: boolean; init: WeightInit };
export type BatchNormConfig = { type: 'batchnorm'; features: number; eps: number; momentum: number | null; affine: boolean; numBatchesTracked: number };
export type ActivationConfig =
  | { type: 'relu' | 'sigmoid' | 'tanh' | 'gelu'; features: number }
  | { type: 'leakyrelu'; features: number; alpha: number };

export type NormalizationConfig = { type: 'normalization'; features: number; eps: number };

export type LayerConfig = DenseConfig | BatchNormConfig | ActivationConfig | NormalizationConfig;
export type LayerType = LayerConfig['type'];

/** Layers the model file never holds: experiment instruments inserted by code (model/noise.ts). */
export type InternalLayerType = 'noise';
