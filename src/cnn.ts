/**
 * normcore/cnn: convolutional networks with batch norm (browser-safe):
 * Conv2d, BatchNorm2d, the pooling layers, Flatten and the issue-12 MNIST CNN.
 * An entry of its own so that a page training a dense network does not load
 * them (see README, "In the browser"); `Sequential`, the training loop and
 * the backends come from 'normcore' as for any model, and model files with
 * these layers load through `Sequential.load` without importing this entry.
 */
export { Conv2d, type Conv2dOptions } from './model/conv2d.js';
export { BatchNorm2d } from './model/batchnorm2d.js';
export { MaxPool2d } from './model/maxpool2d.js';
export { AvgPool2d } from './model/avgpool2d.js';
export type { Pool2dOptions } from './model/pool2d.js';
export { GlobalAvgPool2d } from './model/globalavgpool2d.js';
export { Flatten } from './model/flatten.js';
export { mnistCnn, type MnistCnnOptions } from './model/cnn.js';
export type { Padding } from './model/config.js';
