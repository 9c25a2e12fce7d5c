/**
 * The layers, in one place for the entries to re-export. The table that
 * rebuilds each from its config (model files) is layer-table.ts. A new layer
 * is its own file, one export here and one entry in layer-table.ts.
 */

export { Layer } from './layer.js';
export type { Binding, BufferSpec, InitHint, NamedParameter, SavedSpec, StateSpec } from './layer.js';
export { Dense, type DenseOptions } from './dense.js';
export { BatchNorm, type BatchNormOptions } from './batchnorm.js';
export { Normalization, type NormalizationOptions } from './normalization.js';
export { Activation, ReLU, Sigmoid, Tanh, LeakyReLU, GELU, type LeakyReLUOptions } from './activation.js';
export { Conv2d, type Conv2dOptions } from './conv2d.js';
export { BatchNorm2d } from './batchnorm2d.js';
export { MaxPool2d } from './maxpool2d.js';
export { AvgPool2d } from './avgpool2d.js';
export type { Pool2dOptions } from './pool2d.js';
export { GlobalAvgPool2d } from './globalavgpool2d.js';
export { Flatten } from './flatten.js';
export { Dropout } from './dropout.js';
export { mnistCnn, type MnistCnnOptions } from './cnn.js';
export { mlp, ACTIVATION_TYPES, type MlpOptions } from './mlp.js';
export type { Activation as ActivationType, LayerConfig, LayerType, Padding, WeightInit } from './config.js';
