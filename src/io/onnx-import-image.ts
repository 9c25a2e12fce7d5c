/**
 * ONNX in, for images: Conv, MaxPool, AveragePool, GlobalAveragePool and the
 * Transpose / Reshape / Flatten around them, onto normcore's Conv2d,
 * MaxPool2d, AvgPool2d, GlobalAvgPool2d and Flatten.
 *
 * ONNX images are NCHW; normcore's rows are NHWC (channel fastest). What
 * normcore's own export writes (flat rows → Reshape [-1, H, W, C] →
 * Transpose to NCHW … Transpose back → Flatten) is read back as the layers it
 * came from. A graph whose input is already NCHW (PyTorch's) is read when it
 * has one channel (then both orders are the same); its Flatten of C > 1
 * channels (order c, h, w) becomes normcore's Flatten (h, w, c) with the
 * next Dense's weight rows reordered to match.
 */
import { convAxis, poolAxis } from '../backend/conv-geometry.js';
import { ACTIVATION_TYPES, type Padding } from '../model/layers.js';
import { floatValues, type NodeProto } from './onnx-pb.js';
import { finite, intAttr, intsAttr, onlyAttributes, stringAttr, unsupported, type ImportContext } from './onnx-import-util.js';

type Image = NonNullable<ImportContext['image']>;

/** The chain's image, in the NCHW order ONNX's image ops read. */
export function needImage(n: NodeProto, x: ImportContext): Image {
  if (!x.image) unsupported(n, `its input has rank ${x.rank}; ${n.opType} reads an image [N, C, H, W]`);
  if (x.image.layout !== 'nchw') unsupported(n, 'its input is in NHWC order; ONNX image ops read NCHW (a Transpose with perm [0, 3, 1, 2] comes first)');
  return x.image;
}

function setImage(x: ImportContext, image: Image): void {
  x.image = image;
  x.rank = 4;
  x.features = image.c * image.h * image.w;
}

/** kernel_shape, strides, pads and the defaults that must hold (square windows, equal strides, no dilation). */
function windowAttrs(n: NodeProto, image: Image, kernel: number | undefined): { k: number; s: number; pads: [number, number, number, number] } {
  const shape = intsAttr(n, 'kernel_shape', kernel === undefined ? [] : [kernel, kernel]);
  if (shape.length !== 2 || shape[0] !== shape[1] || !(shape[0]! >= 1)) unsupported(n, `kernel_shape [${shape.join(', ')}]; a square 2-D window [k, k] was expected`);
  const k = shape[0]!;
  if (kernel !== undefined && k !== kernel) unsupported(n, `kernel_shape [${shape.join(', ')}] disagrees with its weight's ${kernel}×${kernel}`);
  const strides = intsAttr(n, 'strides', [1, 1]);
  if (strides.length !== 2 || strides[0] !== strides[1] || !(strides[0]! >= 1)) unsupported(n, `strides [${strides.join(', ')}]; equal strides [s, s] were expected`);
  const dilations = intsAttr(n, 'dilations', [1, 1]);
  if (dilations.some((d) => d !== 1)) unsupported(n, `dilations [${dilations.join(', ')}]; normcore's windows are not dilated`);
  const s = strides[0]!;
  const autoPad = stringAttr(n, 'auto_pad', 'NOTSET');
  let pads = intsAttr(n, 'pads', [0, 0, 0, 0]);
  if (autoPad === 'VALID') pads = [0, 0, 0, 0];
  else if (autoPad === 'SAME_UPPER') {
    const hh = convAxis(image.h, k, s, 'same', 'fromOnnx'), ww = convAxis(image.w, k, s, 'same', 'fromOnnx');
    pads = [hh.padBefore, ww.padBefore, hh.padAfter, ww.padAfter];
  } else if (autoPad !== 'NOTSET') unsupported(n, `auto_pad ${autoPad}; NOTSET, VALID or SAME_UPPER was expected`);
  if (pads.length !== 4 || pads.some((p) => !(p >= 0))) unsupported(n, `pads [${pads.join(', ')}]; four pads ≥ 0 [top, left, bottom, right] were expected`);
  return { k, s, pads: pads as [number, number, number, number] };
}

/** normcore's padding that gives the same windows as ONNX's pads on an axis of `size`: the same first offset and output size. */
function paddingFor(size: number, k: number, s: number, before: number, after: number): { padding: Padding; out: number } | undefined {
  if (size + before + after < k) return undefined;
  const out = Math.floor((size + before + after - k) / s) + 1;
  // symmetric pads read as p, the asymmetric ones of 'same' (an even kernel) as 'same'
  for (const padding of ['valid', ...Array.from({ length: k - 1 }, (_, i) => i + 1), 'same'] as Padding[]) {
    if (padding !== 'same' && size + 2 * (padding === 'valid' ? 0 : padding) < k) continue;
    const a = convAxis(size, k, s, padding, 'fromOnnx');
    if (a.padBefore === before && a.out === out) return { padding, out };
  }
  return undefined;
}

function pool(type: 'maxpool2d' | 'avgpool2d') {
  return (n: NodeProto, x: ImportContext): void => {
    onlyAttributes(n, ['kernel_shape', 'strides', 'pads', 'dilations', 'ceil_mode', 'auto_pad', 'storage_order', 'count_include_pad']);
    const image = needImage(n, x);
    const { k, s, pads } = windowAttrs(n, image, undefined);
    if (pads.some((p) => p !== 0)) unsupported(n, `pads [${pads.join(', ')}]; normcore's pooling windows are not padded`);
    if (intAttr(n, 'ceil_mode', 0) !== 0) unsupported(n, 'ceil_mode 1; normcore pools the windows that fit (floor)');
    if (intAttr(n, 'storage_order', 0) !== 0) unsupported(n, 'storage_order 1 (column-major indices); only the default 0 is read');
    if (k > image.h || k > image.w) unsupported(n, `its ${k}×${k} window is larger than its ${image.h}×${image.w} input`);
    x.layers.push({ config: { type, size: k, stride: s }, buffers: {}, node: n, output: n.output[0]! });
    setImage(x, { ...image, h: poolAxis(image.h, k, s, 'fromOnnx'), w: poolAxis(image.w, k, s, 'fromOnnx') });
  };
}

/** ONNX image ops and the layout changes around them. */
export const IMAGE_IMPORTS: Record<string, (n: NodeProto, x: ImportContext) => void> = {
  Conv: (n, x) => {
    onlyAttributes(n, ['kernel_shape', 'strides', 'pads', 'dilations', 'group', 'auto_pad']);
    const image = needImage(n, x);
    if (n.input[0] !== x.input) unsupported(n, 'the chain must be its first input (X)');
    const group = intAttr(n, 'group', 1);
    if (group !== 1) unsupported(n, `group ${group}; normcore's Conv2d is a full (group 1) convolution`);
    const { dims, values } = floatValues(x.constant(n, 1, 'W'), `${n.opType} input W`);
    if (dims.length !== 4 || dims[2] !== dims[3]) unsupported(n, `W has shape [${dims.join(', ')}]; [out, in, k, k] was expected`);
    const [co, ci, k] = dims as [number, number, number, number];
    if (ci !== image.c) unsupported(n, `W takes ${ci} channels but its input has ${image.c}`);
    finite(n, values, 'W');
    const { s, pads } = windowAttrs(n, image, k);
    const [top, left, bottom, right] = pads;
    const hh = paddingFor(image.h, k, s, top, bottom), ww = paddingFor(image.w, k, s, left, right);
    if (!hh || !ww || hh.padding !== ww.padding) {
      unsupported(n, `pads [${pads.join(', ')}] on a ${image.h}×${image.w} input; normcore pads 'valid', 'same' or p on every side (p < ${k})`);
    }
    // ONNX: W[o][c][ky][kx]; normcore: W[(ky·k + kx)·ci + c][o] (im2col's column order)
    const weight = new Float32Array(co * ci * k * k);
    for (let o = 0; o < co; o++) for (let c = 0; c < ci; c++) for (let ky = 0; ky < k; ky++) for (let kx = 0; kx < k; kx++) {
      weight[((ky * k + kx) * ci + c) * co + o] = values[((o * ci + c) * k + ky) * k + kx]!;
    }
    const buffers: Record<string, Float32Array> = { weight };
    const bias = n.input.length > 2 && n.input[2] !== '';
    if (bias) {
      const b = floatValues(x.constant(n, 2, 'B'), `${n.opType} input B`);
      if (b.dims.length !== 1 || b.dims[0] !== co) unsupported(n, `B has shape [${b.dims.join(', ')}]; [${co}] was expected`);
      buffers.bias = finite(n, b.values, 'B');
    }
    x.layers.push({ config: { type: 'conv2d', inChannels: ci, outChannels: co, kernelSize: k, stride: s, padding: hh.padding, bias, init: 'auto' }, buffers, node: n, output: n.output[0]! });
    setImage(x, { c: co, h: hh.out, w: ww.out, layout: 'nchw' });
  },
  MaxPool: pool('maxpool2d'),
  AveragePool: pool('avgpool2d'),
  GlobalAveragePool: (n, x) => {
    onlyAttributes(n, []);
    const image = needImage(n, x);
    x.layers.push({ config: { type: 'globalavgpool2d' }, buffers: {}, node: n, output: n.output[0]! });
    setImage(x, { c: image.c, h: 1, w: 1, layout: 'nchw' });
  },
  Transpose: (n, x) => {
    onlyAttributes(n, ['perm']);
    const perm = intsAttr(n, 'perm', []).join(',');
    if (x.image?.layout === 'nhwc' && perm === '0,3,1,2') x.image = { ...x.image, layout: 'nchw' };
    else if (x.image?.layout === 'nchw' && perm === '0,2,3,1') x.image = { ...x.image, layout: 'nhwc' };
    else unsupported(n, `perm [${perm}] on ${x.image ? `an ${x.image.layout.toUpperCase()} image` : `a rank-${x.rank} tensor`}; only NHWC ↔ NCHW ([0, 3, 1, 2] and back, [0, 2, 3, 1]) maps onto normcore`);
  },
};

/** A Reshape of flat rows into NHWC images [-1, H, W, C]: where normcore's export starts its image layers. */
export function reshapeToImage(n: NodeProto, x: ImportContext, shape: number[]): void {
  const [, h, w, c] = shape as [number, number, number, number];
  if (!(h >= 1 && w >= 1 && c >= 1)) unsupported(n, `shape [${shape.join(', ')}]; [-1, H, W, C] with H, W, C ≥ 1 was expected`);
  if (x.rank !== 2 || x.features !== h * w * c) unsupported(n, `reshapes ${x.features ?? 'an unknown number of'} features into [${h}, ${w}, ${c}]`);
  const elementwise: string[] = ['normalization', 'dropout', ...ACTIVATION_TYPES];
  if (x.inputShape || !x.layers.every((l) => elementwise.includes(l.config.type))) {
    unsupported(n, 'an image is read only at the start of the model (after element-wise layers at most): normcore gives the model one inputShape');
  }
  x.inputShape = [h, w, c];
  setImage(x, { c, h, w, layout: 'nhwc' });
}

/** Flatten of an image: normcore's Flatten (h, w, c order); an NCHW source with C > 1 channels leaves the next Dense a reordering. */
export function flattenImage(n: NodeProto, x: ImportContext): void {
  const image = x.image!;
  if (x.layers.length === 0) {
    // the input image flattened before any layer (a one-channel NCHW input, so the orders agree): an MLP on flat rows
    x.inputShape = undefined;
    x.image = undefined;
    x.rank = 2;
    x.features = image.c * image.h * image.w;
    return;
  }
  const prev = x.layers[x.layers.length - 1];
  const afterGlobalPool = image.h === 1 && image.w === 1 && prev?.config.type === 'globalavgpool2d' && prev.output === x.input;
  // normcore's GlobalAvgPool2d already gives flat [C] rows: the Flatten ONNX needs after GlobalAveragePool is no layer
  if (!afterGlobalPool) x.layers.push({ config: { type: 'flatten' }, buffers: {}, node: n, output: n.output[0]! });
  if (image.layout === 'nchw' && image.c > 1 && image.h * image.w > 1) x.nchwFlatten = { c: image.c, h: image.h, w: image.w };
  x.image = undefined;
  x.rank = 2;
  x.features = image.c * image.h * image.w;
}

/** Rows of a Dense weight [in × out] read after a Flatten of NCHW channels, put in normcore's h, w, c order. */
export function reorderNchwRows(weight: Float32Array, outF: number, from: { c: number; h: number; w: number }): Float32Array {
  const { c: C, h: H, w: W } = from;
  const out = new Float32Array(weight.length);
  for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) for (let c = 0; c < C; c++) {
    const dst = ((h * W + w) * C + c) * outF, src = ((c * H + h) * W + w) * outF;
    out.set(weight.subarray(src, src + outF), dst);
  }
  return out;
}
