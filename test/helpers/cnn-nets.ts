/** Image networks the ONNX tests send out and back: the MNIST CNN and two odd-shaped nets covering every image layer and padding. */
import { BatchNorm, Dense, Dropout, ReLU, type Layer } from '../../src/index.js';
import { AvgPool2d, BatchNorm2d, Conv2d, Flatten, GlobalAvgPool2d, MaxPool2d, mnistCnn } from '../../src/cnn.js';

/** [description, inputShape [H, W, C], layers]. */
export const CNN_NETS: Array<[string, number[], () => Layer[]]> = [
  ['the MNIST CNN of normcore train --model cnn (mnistCnn)', [28, 28, 1], () => mnistCnn()],
  ['conv same → BN2d → ReLU → maxpool → conv valid stride 2 +bias → avgpool → flatten → dense → BN → ReLU → dropout → dense', [12, 11, 3], () => [
    new Conv2d(3, 6, 3, { padding: 'same' }), new BatchNorm2d(6), new ReLU(), new MaxPool2d(2),
    new Conv2d(6, 5, 3, { stride: 2, bias: true }), new AvgPool2d(1), new Flatten(), new Dense(2 * 2 * 5, 8), new BatchNorm(8), new ReLU(), new Dropout(0.3), new Dense(8, 4),
  ]],
  ['1×1 conv, a 3×3 conv with padding 1, then global average pooling', [7, 6, 2], () => [
    new Conv2d(2, 4, 1), new BatchNorm2d(4, { affine: false }), new ReLU(), new Conv2d(4, 3, 3, { padding: 1 }), new GlobalAvgPool2d(), new Dense(3, 2),
  ]],
];
