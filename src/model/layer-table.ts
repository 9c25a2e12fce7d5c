/**
 * The table that rebuilds each layer from its config (model files, ONNX
 * import). It references every layer class, so only the readers import it:
 * a page that builds and trains a model without reading one never fetches
 * the layers it does not use.
 */
import { describe, typeError } from '../errors.js';
import { Activation } from './activation.js';
import { BatchNorm } from './batchnorm.js';
import type { LayerConfig, LayerType } from './config.js';
import { Dense } from './dense.js';
import { Conv2d } from './conv2d.js';
import { BatchNorm2d } from './batchnorm2d.js';
import { MaxPool2d } from './maxpool2d.js';
import { AvgPool2d } from './avgpool2d.js';
import { GlobalAvgPool2d } from './globalavgpool2d.js';
import { Flatten } from './flatten.js';
import { Dropout } from './dropout.js';
import { Normalization } from './normalization.js';
import type { Layer } from './layer.js';

type FromConfig = { [T in LayerType]: (c: Extract<LayerConfig, { type: T }>, where: string) => Layer };

const FROM_CONFIG: FromConfig = {
  dense: Dense.fromConfig,
  batchnorm: BatchNorm.fromConfig,
  relu: Activation.fromConfig,
  sigmoid: Activation.fromConfig,
  tanh: Activation.fromConfig,
  leakyrelu: Activation.fromConfig,
  gelu: Activation.fromConfig,
  conv2d: Conv2d.fromConfig,
  batchnorm2d: BatchNorm2d.fromConfig2d,
  maxpool2d: MaxPool2d.fromConfig,
  avgpool2d: AvgPool2d.fromConfig,
  globalavgpool2d: GlobalAvgPool2d.fromConfig,
  flatten: Flatten.fromConfig,
  dropout: Dropout.fromConfig,
  normalization: Normalization.fromConfig,
};

/** Rebuilds a layer from its config (model files); `where` names it in errors, e.g. "layers[2]". */
export function layerFromConfig(c: LayerConfig, where = 'layer'): Layer {
  const type = (c as { type?: unknown } | null)?.type;
  if (typeof type !== 'string' || !Object.hasOwn(FROM_CONFIG, type)) throw typeError(`load: unknown layer type ${describe(type)}`);
  return (FROM_CONFIG[type as LayerType] as (c: LayerConfig, where: string) => Layer)(c, where);
}
