/**
 * What the image layers (Conv2d, BatchNorm2d, the pools) share: an NHWC
 * input shape [H, W, C] resolved by the model, and its checks.
 */
import { rangeError } from '../errors.js';
import { Layer } from './layer.js';

/** [H, W, C] of an image input, or a SHAPE_MISMATCH error naming layers[index]. `channels`: the C the layer expects (undefined: any). */
export function imageShape(layer: Layer, shape: readonly number[], index: number, channels?: number): [number, number, number] {
  if (shape.length !== 3) {
    throw rangeError(`Sequential: layers[${index}] (${layer.type}) takes images [H, W, C], but ${index === 0 ? 'the input' : 'the previous layer'} has the shape [${shape.join(', ')}]${index === 0 ? ' (give the model options.inputShape, e.g. [28, 28, 1])' : ''}`, {
      code: 'SHAPE_MISMATCH', argument: `layers[${index}]`, expected: 'an input of shape [H, W, C]', received: `[${shape.join(', ')}]`,
    });
  }
  const [h, w, c] = shape as [number, number, number];
  if (channels !== undefined && c !== channels) {
    throw rangeError(`Sequential: layers[${index}] (${layer.type}) expects ${channels} input channels, but its input has the shape [${h}, ${w}, ${c}] (${c} channels)`, {
      code: 'SHAPE_MISMATCH', argument: `layers[${index}]`, expected: `${channels} channels`, received: `${c}`,
    });
  }
  return [h, w, c];
}

/** A window that does not fit the image, as a SHAPE_MISMATCH error naming layers[index]. */
export function windowError(layer: Layer, index: number, e: unknown): never {
  const why = (e as Error).message.replace(/^[^:]*: /, '');
  throw rangeError(`Sequential: layers[${index}] (${layer.type}): ${why}`, { code: 'SHAPE_MISMATCH', argument: `layers[${index}]` });
}

/** The message for a layer that needs the model's input shape to know its width. */
export function needsShape(layer: Layer, index: number): never {
  throw rangeError(`Sequential: layers[${index}] (${layer.type}) takes images [H, W, C]; give the model options.inputShape`, {
    code: 'SHAPE_MISMATCH', argument: `layers[${index}]`, expected: 'an input of shape [H, W, C]',
  });
}

/**
 * A layer that takes images [H, W, C] (Conv2d, the pools): its widths follow
 * from the input shape the model resolves (`outputShape`), none from a width
 * alone, so a model without options.inputShape is refused naming it.
 * (BatchNorm2d, a BatchNorm, says the same in its own file.)
 */
export abstract class ImageLayer extends Layer {
  override get widthFromPrevious(): boolean {
    return true;
  }

  outputWidth(_width: number, index: number): number {
    return needsShape(this, index);
  }
}
