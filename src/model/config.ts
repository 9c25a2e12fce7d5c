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

/** Padding of a convolution: 'valid' (none), 'same' (TF/Keras: out = ceil(size/stride)) or p zeros on every side. */
export type Padding = 'valid' | 'same' | number;
export type Conv2dConfig = { type: 'conv2d'; inChannels: number; outChannels: number; kernelSize: number; stride: number; padding: Padding; bias: boolean; init: WeightInit };
export type BatchNorm2dConfig = { type: 'batchnorm2d'; channels: number; eps: number; momentum: number | null; affine: boolean; numBatchesTracked: number };
export type MaxPool2dConfig = { type: 'maxpool2d'; size: number; stride: number };
export type AvgPool2dConfig = { type: 'avgpool2d'; size: number; stride: number };
export type GlobalAvgPool2dConfig = { type: 'globalavgpool2d' };
export type FlattenConfig = { type: 'flatten' };
/** seed: the layer's dropout stream (drawn from the model's seed); step: training batches seen (both arena state). */
export type DropoutConfig = { type: 'dropout'; rate: number; seed: number; step: number };

export type NormalizationConfig = { type: 'normalization'; features: number; eps: number };

export type LayerConfig =
  | DenseConfig | BatchNormConfig | ActivationConfig | NormalizationConfig
  | Conv2dConfig | BatchNorm2dConfig | MaxPool2dConfig | AvgPool2dConfig | GlobalAvgPool2dConfig | FlattenConfig | DropoutConfig;
export type LayerType = LayerConfig['type'];

/** Layers the model file never holds: experiment instruments inserted by code (model/noise.ts). */
export type InternalLayerType = 'noise';
