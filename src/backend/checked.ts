/**
 * Argument checks for the pointer-level kernels, from one table. Both
 * backends' kernels are wrapped with them, so a bad size or a pointer
 * outside memory is a RangeError naming the kernel, the argument, what was
 * expected and what was given, never a silent out-of-bounds write.
 */
import { typeError, rangeError } from '../errors.js';
import { packedWeightFloats } from './packed.js';
import type { KernelName, Kernels, MemoryLike } from './types.js';

type Sizes = Record<string, number>;

interface Spec {
  /** Argument names in call order. */
  args: readonly string[];
  /** Integer sizes that must be ≥ 1 (or ≥ the given minimum). */
  sizes: Readonly<Record<string, number>>;
  /** 0/1 flags. */
  flags?: readonly string[];
  /** f32/i32 buffers and their length in elements, from the sizes (0: not used on this call). */
  buffers: Readonly<Record<string, (s: Sizes) => number>>;
  /** Numbers that must be finite. */
  scalars?: readonly string[];
  /** Extra rule over the arguments (and i32 contents of memory), returning an error message or undefined. */
  rule?: (s: Sizes, words: (ptr: number, n: number) => Int32Array, bytes: number) => string | undefined;
}

const mn = (s: Sizes) => s.m! * s.n!;
const mk = (s: Sizes) => s.m! * s.k!;
const kn = (s: Sizes) => s.k! * s.n!;
const rc = (s: Sizes) => s.rows! * s.cols!;
const c = (s: Sizes) => s.cols!;
const r = (s: Sizes) => s.rows!;
const n = (s: Sizes) => s.n!;

const elementwise = (a: string, b: string, d: string): Spec => ({ args: [a, b, d, 'n'], sizes: { n: 1 }, buffers: { [a]: n, [b]: n, [d]: n } });
/** The fused losses over pred and target of rows × cols values; `extra` names trailing scalars. */
const pointwiseLoss = (d: string, p: string, t: string, extra: readonly string[] = []): Spec => ({
  args: [d, p, t, 'rows', 'cols', ...extra], sizes: { rows: 1, cols: 1 }, buffers: { [d]: rc, [p]: rc, [t]: rc }, scalars: extra,
});

/** The batch-norm kernels; the fused BN → ReLU ones take the same arguments (the backward adds `out`). */
const batchnormForwardSpec: Spec = {
  args: ['out', 'mean', 'variance', 'invstd', 'inp', 'gamma', 'beta', 'runMean', 'runVar', 'rows', 'cols', 'eps', 'momentum'],
  sizes: { rows: 2, cols: 1 },
  buffers: { out: rc, mean: c, variance: c, invstd: c, inp: rc, gamma: c, beta: c, runMean: c, runVar: c },
  scalars: ['eps', 'momentum'],
  rule: (s) => (s.out === s.inp ? 'out must not alias inp' : s.eps! <= 0 ? `eps must be > 0, got ${s.eps}` : s.momentum! < 0 || s.momentum! > 1 ? `momentum must be in [0, 1], got ${s.momentum}` : undefined),
};
const batchnormInferenceSpec: Spec = {
  args: ['out', 'inp', 'gamma', 'beta', 'runMean', 'runVar', 'rows', 'cols', 'eps'],
  sizes: { rows: 1, cols: 1 },
  buffers: { out: rc, inp: rc, gamma: c, beta: c, runMean: c, runVar: c },
  scalars: ['eps'],
};
const batchnormBackwardSpec: Spec = {
  args: ['dinp', 'dgamma', 'dbeta', 'dout', 'inp', 'gamma', 'mean', 'invstd', 'rows', 'cols'],
  sizes: { rows: 1, cols: 1 },
  buffers: { dinp: rc, dgamma: c, dbeta: c, dout: rc, inp: rc, gamma: c, mean: c, invstd: c },
};

/** Adam and AdamW take the same arguments (they differ in how weightDecay acts). */
const adamSpec: Spec = {
  args: ['params', 'grads', 'm', 'v', 'n', 'lr', 'beta1', 'beta2', 'eps', 'weightDecay', 't'],
  sizes: { n: 1, t: 1 },
  buffers: { params: n, grads: n, m: n, v: n },
  scalars: ['lr', 'beta1', 'beta2', 'eps', 'weightDecay'],
};
// ---------------------------------------------------------------- NHWC convolution helpers, pooling, dropout

const image = (s: Sizes) => s.n! * s.h! * s.w! * s.c!;
const pooled = (s: Sizes) => s.n! * s.outH! * s.outW! * s.c!;
const imageSizes = { n: 1, h: 1, w: 1, c: 1 } as const;

/** Byte ranges [a, a + 4·na) and [b, b + 4·nb) overlap. */
const overlap = (a: number, na: number, b: number, nb: number) => a < b + 4 * nb && b < a + 4 * na;

/**
 * outH of a window of `k` moving by `stride` over `size` pixels with `padBefore` zeros in front must be
 * floor((size + padBefore + padAfter − k)/stride) + 1 for padAfter = padBefore or padBefore + 1 (TF/Keras 'same'
 * puts the odd pixel after; 'valid' and a symmetric number fit the first).
 */
function windowRule(out: string, size: string, k: string, pad: string, s: Sizes): string | undefined {
  const n = s[size]!, kk = s[k]!, p = s[pad]!, st = s.stride!, o = s[out]!;
  if (p >= kk) return `${pad} must be < ${k} = ${kk} (a window entirely in the padding), got ${p}`;
  if (n + 2 * p + 1 < kk) return `${k} = ${kk} must fit in ${size} + 2·${pad} + 1 = ${n + 2 * p + 1}`;
  const lo = Math.floor((n + 2 * p - kk) / st) + 1, hi = Math.floor((n + 2 * p + 1 - kk) / st) + 1;
  if (o !== lo && o !== hi) {
    const allowed = lo === hi || lo < 1 ? `${Math.max(lo, hi)}` : `${lo} or ${hi}`;
    return `${out} must be floor((${size} + ${pad} + padAfter − ${k})/stride) + 1 with padAfter = ${pad} or ${pad} + 1, i.e. ${allowed} for ${size} = ${n}, ${k} = ${kk}, ${pad} = ${p}, stride = ${st}; got ${o}`;
  }
  return undefined;
}

const im2colArgs = ['n', 'h', 'w', 'c', 'kh', 'kw', 'stride', 'padTop', 'padLeft', 'outH', 'outW'] as const;
const im2colSizes = { ...imageSizes, kh: 1, kw: 1, stride: 1, padTop: 0, padLeft: 0, outH: 1, outW: 1 };
const colsLen = (s: Sizes) => s.n! * s.outH! * s.outW! * s.kh! * s.kw! * s.c!;
const im2colRule = (colsArg: string, imgArg: string) => (s: Sizes): string | undefined =>
  windowRule('outH', 'h', 'kh', 'padTop', s) ?? windowRule('outW', 'w', 'kw', 'padLeft', s)
  ?? (overlap(s[colsArg]!, colsLen(s), s[imgArg]!, image(s)) ? `${colsArg} must not overlap ${imgArg}` : undefined);

/** Pooling windows are valid (no padding): outH = floor((h − size)/stride) + 1. */
function poolRule(s: Sizes): string | undefined {
  for (const [o, d] of [['outH', 'h'], ['outW', 'w']] as const) {
    if (s.size! > s[d]!) return `size must be ≤ ${d} = ${s[d]} (pooling windows are not padded), got ${s.size}`;
    const want = Math.floor((s[d]! - s.size!) / s.stride!) + 1;
    if (s[o] !== want) return `${o} must be floor((${d} − size)/stride) + 1 = ${want} for ${d} = ${s[d]}, size = ${s.size}, stride = ${s.stride}; got ${s[o]}`;
  }
  return undefined;
}
const poolArgs = ['n', 'h', 'w', 'c', 'size', 'stride', 'outH', 'outW'] as const;
const poolSizes = { ...imageSizes, size: 1, stride: 1, outH: 1, outW: 1 };

/** A message for the first argmax that is not an input index inside its own output's window, or undefined. */
function argmaxOutside(s: Sizes, arg: Int32Array): string | undefined {
  const { h, w, c, size, stride, outH, outW } = s as Required<Sizes>;
  for (let j = 0; j < arg.length; j++) {
    const a = arg[j]!, ci = j % c!, pix = (j - ci) / c!, ox = pix % outW!, oy = ((pix - ox) / outW!) % outH!, b = Math.floor(pix / (outW! * outH!));
    const y0 = oy * stride!, x0 = ox * stride!;
    const iy = Math.floor(a / (w! * c!)) - b * h!, ix = Math.floor(a / c!) % w!;
    if (!(Number.isInteger(a) && a >= 0 && a % c! === ci && iy >= y0 && iy < y0 + size! && ix >= x0 && ix < x0 + size!)) {
      return `argmax[${j}] must be the flat index of an input pixel in output ${j}'s window (image ${b}, rows ${y0}…${y0 + size! - 1}, columns ${x0}…${x0 + size! - 1}, channel ${ci}), as maxPoolForward writes it; got ${a}`;
    }
  }
  return undefined;
}

const U32_MAX = 4294967295;

export const kernelSpecs: Record<KernelName, Spec> = {
  matmul: {
    args: ['c', 'a', 'b', 'm', 'k', 'n', 'transA', 'transB', 'accumulate'],
    sizes: { m: 1, k: 1, n: 1 },
    flags: ['transA', 'transB', 'accumulate'],
    buffers: { c: mn, a: mk, b: kn },
  },
  matmulForward: { args: ['out', 'inp', 'weight', 'm', 'k', 'n'], sizes: { m: 1, k: 1, n: 1 }, buffers: { out: mn, inp: mk, weight: kn } },
  packWeights: { args: ['packed', 'weight', 'k', 'n'], sizes: { k: 1, n: 1 }, buffers: { packed: (s) => packedWeightFloats(s.k!, s.n!), weight: kn } },
  matmulForwardPacked: { args: ['out', 'inp', 'packed', 'm', 'k', 'n'], sizes: { m: 1, k: 1, n: 1 }, buffers: { out: mn, inp: mk, packed: (s) => packedWeightFloats(s.k!, s.n!) } },
  matmulBackward: {
    args: ['dinp', 'dweight', 'dout', 'inp', 'weight', 'm', 'k', 'n', 'needDinp'],
    sizes: { m: 1, k: 1, n: 1 },
    flags: ['needDinp'],
    buffers: { dinp: (s) => (s.needDinp ? mk(s) : 0), dweight: kn, dout: mn, inp: mk, weight: kn },
  },
  batchnormForward: batchnormForwardSpec,
  batchnormInference: batchnormInferenceSpec,
  batchnormBackward: batchnormBackwardSpec,
  batchnormReluForward: batchnormForwardSpec,
  batchnormReluInference: batchnormInferenceSpec,
  batchnormReluBackward: {
    ...batchnormBackwardSpec,
    args: ['dinp', 'dgamma', 'dbeta', 'dout', 'out', 'inp', 'gamma', 'mean', 'invstd', 'rows', 'cols'],
    buffers: { ...batchnormBackwardSpec.buffers, out: rc },
  },
  reluForward: { args: ['out', 'inp', 'n'], sizes: { n: 1 }, buffers: { out: n, inp: n } },
  reluBackward: elementwise('dinp', 'dout', 'out'),
  sigmoidForward: { args: ['out', 'inp', 'n'], sizes: { n: 1 }, buffers: { out: n, inp: n } },
  sigmoidBackward: elementwise('dinp', 'dout', 'out'),
  tanhForward: { args: ['out', 'inp', 'n'], sizes: { n: 1 }, buffers: { out: n, inp: n } },
  tanhBackward: elementwise('dinp', 'dout', 'out'),
  leakyReluForward: { args: ['out', 'inp', 'n', 'alpha'], sizes: { n: 1 }, buffers: { out: n, inp: n }, scalars: ['alpha'] },
  leakyReluBackward: { ...elementwise('dinp', 'dout', 'inp'), args: ['dinp', 'dout', 'inp', 'n', 'alpha'], scalars: ['alpha'] },
  geluForward: { args: ['out', 'inp', 'n'], sizes: { n: 1 }, buffers: { out: n, inp: n } },
  geluBackward: elementwise('dinp', 'dout', 'inp'),
  biasForward: { args: ['out', 'bias', 'rows', 'cols'], sizes: { rows: 1, cols: 1 }, buffers: { out: rc, bias: c } },
  biasBackward: { args: ['dbias', 'dout', 'rows', 'cols'], sizes: { rows: 1, cols: 1 }, buffers: { dbias: c, dout: rc } },
  scaleRows: { args: ['out', 'inp', 'weights', 'rows', 'cols', 'scale'], sizes: { rows: 1, cols: 1 }, buffers: { out: rc, inp: rc, weights: r }, scalars: ['scale'] },
  noiseForward: { args: ['out', 'inp', 'scale', 'shift', 'n'], sizes: { n: 1 }, buffers: { out: n, inp: n, scale: n, shift: n } },
  noiseBackward: elementwise('dinp', 'dout', 'scale'),
  fill: { args: ['ptr', 'n', 'value'], sizes: { n: 1 }, buffers: { ptr: n }, scalars: [] },
  copy: { args: ['dst', 'src', 'n'], sizes: { n: 1 }, buffers: { dst: n, src: n } },
  gatherRows: {
    args: ['out', 'src', 'indices', 'n', 'cols'], sizes: { n: 1, cols: 1 }, buffers: { out: (s) => s.n! * s.cols!, src: c, indices: n },
    rule: (s, words, bytes) => {
      const rowsInMemory = Math.floor((bytes - s.src!) / (4 * s.cols!));
      return firstOutside(words(s.indices!, s.n!), rowsInMemory, 'indices', `a row of src inside memory (0 … ${rowsInMemory - 1})`);
    },
  },
  countNonFinite: { args: ['ptr', 'n'], sizes: { n: 1 }, buffers: { ptr: n } },
  softmaxCrossEntropy: {
    args: ['dlogits', 'logits', 'labels', 'rows', 'cols'], sizes: { rows: 1, cols: 1 }, buffers: { dlogits: rc, logits: rc, labels: r },
    rule: (s, words) => firstOutside(words(s.labels!, s.rows!), s.cols!, 'labels', `a class index in [0, ${s.cols! - 1}]`),
  },
  softmaxForward: { args: ['probs', 'logits', 'rows', 'cols'], sizes: { rows: 1, cols: 1 }, buffers: { probs: rc, logits: rc } },
  mseLoss: pointwiseLoss('dpred', 'pred', 'target'),
  binaryCrossEntropy: {
    ...pointwiseLoss('dlogits', 'logits', 'targets'),
    rule: (s, words) => firstNotProbability(words(s.targets!, s.rows! * s.cols!), 'targets'),
  },
  maeLoss: pointwiseLoss('dpred', 'pred', 'target'),
  huberLoss: { ...pointwiseLoss('dpred', 'pred', 'target', ['delta']), rule: (s) => (s.delta! > 0 ? undefined : `delta must be > 0, got ${s.delta}`) },
  countCorrect: {
    args: ['scores', 'labels', 'rows', 'cols'], sizes: { rows: 1, cols: 1 }, buffers: { scores: rc, labels: r },
    rule: (s, words) => firstOutside(words(s.labels!, s.rows!), s.cols!, 'labels', `a class index in [0, ${s.cols! - 1}]`),
  },
  sgdUpdate: {
    args: ['params', 'grads', 'velocity', 'n', 'lr', 'momentum', 'weightDecay'],
    sizes: { n: 1 },
    buffers: { params: n, grads: n, velocity: (s) => (s.momentum! > 0 ? s.n! : 0) },
    scalars: ['lr', 'momentum', 'weightDecay'],
  },
  rmspropUpdate: {
    args: ['params', 'grads', 'sq', 'n', 'lr', 'rho', 'eps', 'weightDecay'],
    sizes: { n: 1 },
    buffers: { params: n, grads: n, sq: n },
    scalars: ['lr', 'rho', 'eps', 'weightDecay'],
  },
  adamUpdate: adamSpec,
  adamwUpdate: adamSpec,
  im2col: {
    args: ['cols', 'inp', ...im2colArgs], sizes: im2colSizes, buffers: { cols: colsLen, inp: image }, rule: im2colRule('cols', 'inp'),
  },
  col2im: {
    args: ['dinp', 'dcols', ...im2colArgs], sizes: im2colSizes, buffers: { dinp: image, dcols: colsLen }, rule: im2colRule('dcols', 'dinp'),
  },
  maxPoolForward: {
    args: ['out', 'argmax', 'inp', ...poolArgs], sizes: poolSizes, buffers: { out: pooled, argmax: pooled, inp: image },
    rule: (s) => poolRule(s) ?? (overlap(s.out!, pooled(s), s.inp!, image(s)) ? 'out must not overlap inp' : undefined),
  },
  maxPoolBackward: {
    args: ['dinp', 'dout', 'argmax', ...poolArgs], sizes: poolSizes, buffers: { dinp: image, dout: pooled, argmax: pooled },
    rule: (s, words) => poolRule(s) ?? (overlap(s.dinp!, image(s), s.dout!, pooled(s)) ? 'dinp must not overlap dout' : argmaxOutside(s, words(s.argmax!, pooled(s)))),
  },
  avgPoolForward: {
    args: ['out', 'inp', ...poolArgs], sizes: poolSizes, buffers: { out: pooled, inp: image },
    rule: (s) => poolRule(s) ?? (overlap(s.out!, pooled(s), s.inp!, image(s)) ? 'out must not overlap inp' : undefined),
  },
  avgPoolBackward: {
    args: ['dinp', 'dout', ...poolArgs], sizes: poolSizes, buffers: { dinp: image, dout: pooled },
    rule: (s) => poolRule(s) ?? (overlap(s.dinp!, image(s), s.dout!, pooled(s)) ? 'dinp must not overlap dout' : undefined),
  },
  globalAvgPoolForward: {
    args: ['out', 'inp', 'n', 'h', 'w', 'c'], sizes: imageSizes, buffers: { out: (s) => s.n! * s.c!, inp: image },
    rule: (s) => (overlap(s.out!, s.n! * s.c!, s.inp!, image(s)) ? 'out must not overlap inp' : undefined),
  },
  globalAvgPoolBackward: {
    args: ['dinp', 'dout', 'n', 'h', 'w', 'c'], sizes: imageSizes, buffers: { dinp: image, dout: (s) => s.n! * s.c! },
    rule: (s) => (overlap(s.dinp!, image(s), s.dout!, s.n! * s.c!) ? 'dinp must not overlap dout' : undefined),
  },
  dropoutForward: {
    args: ['out', 'mask', 'inp', 'n', 'rate', 'seed', 'offset'], sizes: { n: 1, seed: 0, offset: 0 },
    buffers: { out: n, mask: n, inp: n }, scalars: ['rate'],
    rule: (s) => (!(s.rate! >= 0 && s.rate! < 1) ? `rate must be in [0, 1), got ${s.rate}`
      : s.seed! > U32_MAX ? `seed must be an integer in [0, 2³² − 1], got ${s.seed}`
      : s.offset! > U32_MAX ? `offset must be an integer in [0, 2³² − 1] (take it modulo 2³²), got ${s.offset}`
      : s.mask === s.inp || s.mask === s.out ? 'mask must not alias inp or out' : undefined),
  },
  dropoutBackward: elementwise('dinp', 'dout', 'mask'),
};

/** A message for the first value of the f32 words `w` outside [0, 1] (NaN included), or undefined. */
function firstNotProbability(w: Int32Array, name: string): string | undefined {
  const v = new Float32Array(w.buffer, w.byteOffset, w.length);
  for (let i = 0; i < v.length; i++) {
    const x = v[i]!;
    if (!(x >= 0 && x <= 1)) return `${name}[${i}] must be a probability in [0, 1], got ${x}`;
  }
  return undefined;
}

/** A message for the first value of `v` outside [0, limit), or undefined. */
function firstOutside(v: Int32Array, limit: number, name: string, expected: string): string | undefined {
  for (let i = 0; i < v.length; i++) {
    const x = v[i]!;
    if (x < 0 || x >= limit) return `${name}[${i}] must be ${expected}, got ${x}`;
  }
  return undefined;
}

/**
 * Wraps raw kernels with the checks of `kernelSpecs`. `memoryBytes` gives the
 * current size of linear memory (it grows, so it is asked on every call).
 */
export function checkedKernels(raw: Kernels, memory: MemoryLike): Kernels {
  const memoryBytes = () => memory.buffer.byteLength;
  const words = (ptr: number, n: number) => new Int32Array(memory.buffer, ptr, n);
  const out: Partial<Record<KernelName, (...a: number[]) => unknown>> = {};
  for (const name of Object.keys(kernelSpecs) as KernelName[]) {
    const spec = kernelSpecs[name];
    const fn = (raw[name] as (...a: number[]) => unknown).bind(raw);
    out[name] = (...argv: number[]) => {
      check(name, spec, argv, memoryBytes(), words);
      return fn(...argv);
    };
  }
  return out as Kernels;
}

function check(name: string, spec: Spec, argv: number[], bytes: number, words: (ptr: number, n: number) => Int32Array): void {
  if (argv.length !== spec.args.length) {
    throw typeError(`${name}: expected ${spec.args.length} arguments (${spec.args.join(', ')}), got ${argv.length}`);
  }
  const s: Sizes = {};
  spec.args.forEach((a, i) => { s[a] = argv[i]!; });
  for (const [a, min] of Object.entries(spec.sizes)) {
    const v = s[a]!;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
      throw rangeError(`${name}: ${a} must be an integer ≥ ${min}, got ${describe(v)}`);
    }
  }
  for (const a of spec.flags ?? []) {
    if (s[a] !== 0 && s[a] !== 1) throw rangeError(`${name}: ${a} must be 0 or 1, got ${describe(s[a])}`);
  }
  for (const a of spec.scalars ?? []) {
    if (typeof s[a] !== 'number' || !Number.isFinite(s[a])) throw rangeError(`${name}: ${a} must be a finite number, got ${describe(s[a])}`);
  }
  for (const [a, len] of Object.entries(spec.buffers)) {
    const need = len(s);
    if (need === 0) continue;
    const p = s[a]!;
    if (typeof p !== 'number' || !Number.isInteger(p) || p < 0 || p % 4 !== 0) {
      throw rangeError(`${name}: ${a} must be a 4-byte aligned pointer, got ${describe(p)}`);
    }
    if (p + need * 4 > bytes) {
      throw rangeError(`${name}: ${a} must point to ${need} values inside memory (${bytes} bytes), got pointer ${p} whose end is ${p + need * 4}`);
    }
  }
  const msg = spec.rule?.(s, words, bytes);
  if (msg) throw rangeError(`${name}: ${msg}`);
}

function describe(v: unknown): string {
  return typeof v === 'number' ? String(v) : `${typeof v} ${String(v)}`;
}
