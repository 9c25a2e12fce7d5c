/**
 * Output sizes and padding of windowed kernels (convolution, pooling) along
 * one spatial axis, as the NHWC kernels take them (im2col / col2im:
 * padTop / padLeft and outH / outW; pools: valid windows). One place for the
 * formula, used by the argument checks and by the layers.
 *
 * Padding as in TF/Keras: 'valid' = none; 'same' = out = ceil(size/stride),
 * total = max((out − 1)·stride + k − size, 0), padBefore = floor(total/2)
 * (the odd pixel goes after); a number p = p on both sides.
 */
import { rangeError } from '../errors.js';

export type Padding = 'valid' | 'same' | number;

export interface WindowAxis {
  /** Output positions along the axis. */
  out: number;
  /** Zeros before the input (padTop / padLeft). */
  padBefore: number;
  /** Zeros after the input that the last window reaches (implied by out; the kernels do not take it). Negative: that many trailing pixels no window reaches. */
  padAfter: number;
}

/**
 * The output size and padding of a window of `k` moving by `stride` over `size` pixels.
 * Throws a RangeError naming `where` when the window does not fit.
 */
export function convAxis(size: number, k: number, stride: number, padding: Padding, where = 'convAxis'): WindowAxis {
  for (const [name, v] of [['size', size], ['k', k], ['stride', stride]] as const) {
    if (!Number.isInteger(v) || v < 1) throw rangeError(`${where}: ${name} must be an integer ≥ 1, got ${v}`);
  }
  if (padding === 'same') {
    const out = Math.ceil(size / stride);
    const total = Math.max((out - 1) * stride + k - size, 0);
    const padBefore = Math.floor(total / 2);
    return { out, padBefore, padAfter: total - padBefore };
  }
  const p = padding === 'valid' ? 0 : padding;
  if (!Number.isInteger(p) || p < 0 || p >= k) {
    throw rangeError(`${where}: padding must be 'valid', 'same' or an integer in [0, ${k - 1}] (less than the kernel size ${k}), got ${String(padding)}`);
  }
  if (size + 2 * p < k) throw rangeError(`${where}: the kernel size ${k} must fit in the padded input (${size} + 2·${p} = ${size + 2 * p})`);
  const out = Math.floor((size + 2 * p - k) / stride) + 1;
  return { out, padBefore: p, padAfter: (out - 1) * stride + k - size - p };
}

/** Output positions of a pooling window of `size` moving by `stride` (valid windows: floor((n − size)/stride) + 1). */
export function poolAxis(n: number, size: number, stride: number, where = 'poolAxis'): number {
  for (const [name, v] of [['n', n], ['size', size], ['stride', stride]] as const) {
    if (!Number.isInteger(v) || v < 1) throw rangeError(`${where}: ${name} must be an integer ≥ 1, got ${v}`);
  }
  if (size > n) throw rangeError(`${where}: the window size ${size} must be ≤ the input size ${n} (pooling windows are not padded)`);
  return Math.floor((n - size) / stride) + 1;
}
