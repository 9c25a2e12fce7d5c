/**
 * The small batch-normalized CNN of issue 12 for 28×28×1 images (MNIST):
 * conv 3×3×32 → BN2d → ReLU → maxpool 2 → conv 3×3×64 → BN2d → ReLU →
 * maxpool 2 → flatten → dense 128 → BN → ReLU → dense `classes`. Without
 * batch norm the convolutions and the hidden dense layer get biases. Give the
 * model `inputShape: [28, 28, 1]`.
 */
import { BatchNorm } from './batchnorm.js';
import { BatchNorm2d } from './batchnorm2d.js';
import { Conv2d } from './conv2d.js';
import { Dense } from './dense.js';
import { Flatten } from './flatten.js';
import type { Layer } from './layer.js';
import { MaxPool2d } from './maxpool2d.js';
import { ReLU } from './activation.js';
import { expectInt, expectOptions, mustBe } from '../errors.js';

export interface MnistCnnOptions {
  /** BatchNorm2d / BatchNorm after the convolutions and the hidden dense layer (default true). */
  batchNorm?: boolean;
  /** Output classes (default 10). */
  classes?: number;
}

export function mnistCnn(options?: MnistCnnOptions): Layer[] {
  const o = expectOptions('mnistCnn', 'options', options, ['batchNorm', 'classes']);
  if (o.batchNorm !== undefined && typeof o.batchNorm !== 'boolean') throw mustBe('mnistCnn', 'options.batchNorm', 'a boolean', o.batchNorm);
  const bn = o.batchNorm ?? true;
  const classes = expectInt('mnistCnn', 'options.classes', o.classes ?? 10);
  const norm2d = (channels: number) => (bn ? [new BatchNorm2d(channels)] : []);
  return [
    new Conv2d(1, 32, 3, { padding: 'same' }), ...norm2d(32), new ReLU(), new MaxPool2d(2),
    new Conv2d(32, 64, 3, { padding: 'same' }), ...norm2d(64), new ReLU(), new MaxPool2d(2),
    new Flatten(), new Dense(7 * 7 * 64, 128), ...(bn ? [new BatchNorm(128)] : []), new ReLU(), new Dense(128, classes),
  ];
}
