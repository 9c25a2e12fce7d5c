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

// ---------------------------------------------------------------- NHWC convolution helpers, pooling, dropout

const image = (s: Sizes) => s.n! * s.h! * s.w! * s.c!;
const pooled = (s: Sizes) => s.n! * s.outH! * s.outW! * s.c!;

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

/** Buffer lengths by the name a spec string gives them (see `spec`). */
const LENGTHS: Readonly<Record<string, (s: Sizes) => number>> = {
  n: (s) => s.n!, mn, mk, kn, rc, c, r: (s) => s.rows!, image, pooled, cols: colsLen,
  nc: (s) => s.n! * s.c!,
  ncols: (s) => s.n! * s.cols!,
  packed: (s) => packedWeightFloats(s.k!, s.n!),
  /** matmulBackward's dinp: only when it is asked for. */
  needDinp: (s) => (s.needDinp ? mk(s) : 0),
  /** sgdUpdate's velocity: only with momentum. */
  momentum: (s) => (s.momentum! > 0 ? s.n! : 0),
};

/**
 * A spec from its arguments in call order, one word each: `name=len` a
 * buffer of LENGTHS[len] values, `name#` an integer size ≥ 1 (`name#0`,
 * `name#2`: ≥ that), `name?` a 0/1 flag, `name~` a finite number, and a bare
 * `name` an argument left unchecked. The checks run in that order of kinds,
 * each kind in argument order.
 */
function spec(text: string, rule?: Spec['rule']): Spec {
  const out = { args: [] as string[], sizes: {} as Sizes, flags: [] as string[], buffers: {} as Record<string, (s: Sizes) => number>, scalars: [] as string[], rule };
  for (const word of text.split(' ')) {
    const [, name, kind, v] = /^(\w+)([=#?~]?)(\w*)$/.exec(word)!;
    out.args.push(name!);
    if (kind === '=') out.buffers[name!] = LENGTHS[v!]!;
    else if (kind === '#') out.sizes[name!] = v ? Number(v) : 1;
    else if (kind === '?') out.flags.push(name!);
    else if (kind === '~') out.scalars.push(name!);
  }
  return out;
}

const batchnormForwardSpec = spec('out=rc mean=c variance=c invstd=c inp=rc gamma=c beta=c runMean=c runVar=c rows#2 cols# eps~ momentum~',
  (s) => (s.out === s.inp ? 'out must not alias inp' : s.eps! <= 0 ? `eps must be > 0, got ${s.eps}` : s.momentum! < 0 || s.momentum! > 1 ? `momentum must be in [0, 1], got ${s.momentum}` : undefined));
const batchnormInferenceSpec = spec('out=rc inp=rc gamma=c beta=c runMean=c runVar=c rows# cols# eps~');
const batchnormBackwardSpec = spec('dinp=rc dgamma=c dbeta=c dout=rc inp=rc gamma=c mean=c invstd=c rows# cols#');
/** Adam and AdamW take the same arguments (they differ in how weightDecay acts). */
const adamSpec = spec('params=n grads=n m=n v=n n# lr~ beta1~ beta2~ eps~ weightDecay~ t#');
const im2colArgs = 'n# h# w# c# kh# kw# stride# padTop#0 padLeft#0 outH# outW#';
const poolArgs = 'n# h# w# c# size# stride# outH# outW#';
/** The class labels of rows × cols scores, in [0, cols). */
const labelRule = (s: Sizes, words: (ptr: number, n: number) => Int32Array) => firstOutside(words(s.labels!, s.rows!), s.cols!, 'labels', `a class index in [0, ${s.cols! - 1}]`);

export const kernelSpecs: Record<KernelName, Spec> = {
  matmul: spec('c=mn a=mk b=kn m# k# n# transA? transB? accumulate?'),
  matmulForward: spec('out=mn inp=mk weight=kn m# k# n#'),
  packWeights: spec('packed=packed weight=kn k# n#'),
  matmulForwardPacked: spec('out=mn inp=mk packed=packed m# k# n#'),
  matmulBackward: spec('dinp=needDinp dweight=kn dout=mn inp=mk weight=kn m# k# n# needDinp?'),
  batchnormForward: batchnormForwardSpec,
  batchnormInference: batchnormInferenceSpec,
  batchnormBackward: batchnormBackwardSpec,
  batchnormReluForward: batchnormForwardSpec,
  batchnormReluInference: batchnormInferenceSpec,
  // batchnormBackward's arguments with `out` after dout, checked after the others
  batchnormReluBackward: {
    ...batchnormBackwardSpec,
    args: ['dinp', 'dgamma', 'dbeta', 'dout', 'out', 'inp', 'gamma', 'mean', 'invstd', 'rows', 'cols'],
    buffers: { ...batchnormBackwardSpec.buffers, out: rc },
  },
  reluForward: spec('out=n inp=n n#'),
  reluBackward: spec('dinp=n dout=n out=n n#'),
  sigmoidForward: spec('out=n inp=n n#'),
  sigmoidBackward: spec('dinp=n dout=n out=n n#'),
  tanhForward: spec('out=n inp=n n#'),
  tanhBackward: spec('dinp=n dout=n out=n n#'),
  leakyReluForward: spec('out=n inp=n n# alpha~'),
  leakyReluBackward: spec('dinp=n dout=n inp=n n# alpha~'),
  geluForward: spec('out=n inp=n n#'),
  geluBackward: spec('dinp=n dout=n inp=n n#'),
  biasForward: spec('out=rc bias=c rows# cols#'),
  biasBackward: spec('dbias=c dout=rc rows# cols#'),
  scaleRows: spec('out=rc inp=rc weights=r rows# cols# scale~'),
  noiseForward: spec('out=n inp=n scale=n shift=n n#'),
  noiseBackward: spec('dinp=n dout=n scale=n n#'),
  fill: spec('ptr=n n# value'),
  copy: spec('dst=n src=n n#'),
  gatherRows: spec('out=ncols src=c indices=n n# cols#', (s, words, bytes) => {
    const rowsInMemory = Math.floor((bytes - s.src!) / (4 * s.cols!));
    return firstOutside(words(s.indices!, s.n!), rowsInMemory, 'indices', `a row of src inside memory (0 … ${rowsInMemory - 1})`);
  }),
  countNonFinite: spec('ptr=n n#'),
  softmaxCrossEntropy: spec('dlogits=rc logits=rc labels=r rows# cols#', labelRule),
  softmaxForward: spec('probs=rc logits=rc rows# cols#'),
  mseLoss: spec('dpred=rc pred=rc target=rc rows# cols#'),
  binaryCrossEntropy: spec('dlogits=rc logits=rc targets=rc rows# cols#', (s, words) => firstNotProbability(words(s.targets!, s.rows! * s.cols!), 'targets')),
  maeLoss: spec('dpred=rc pred=rc target=rc rows# cols#'),
  huberLoss: spec('dpred=rc pred=rc target=rc rows# cols# delta~', (s) => (s.delta! > 0 ? undefined : `delta must be > 0, got ${s.delta}`)),
  countCorrect: spec('scores=rc labels=r rows# cols#', labelRule),
  sgdUpdate: spec('params=n grads=n velocity=momentum n# lr~ momentum~ weightDecay~'),
  rmspropUpdate: spec('params=n grads=n sq=n n# lr~ rho~ eps~ weightDecay~'),
  adamUpdate: adamSpec,
  adamwUpdate: adamSpec,
  im2col: spec(`cols=cols inp=image ${im2colArgs}`, im2colRule('cols', 'inp')),
  col2im: spec(`dinp=image dcols=cols ${im2colArgs}`, im2colRule('dcols', 'dinp')),
  maxPoolForward: spec(`out=pooled argmax=pooled inp=image ${poolArgs}`,
    (s) => poolRule(s) ?? (overlap(s.out!, pooled(s), s.inp!, image(s)) ? 'out must not overlap inp' : undefined)),
  maxPoolBackward: spec(`dinp=image dout=pooled argmax=pooled ${poolArgs}`,
    (s, words) => poolRule(s) ?? (overlap(s.dinp!, image(s), s.dout!, pooled(s)) ? 'dinp must not overlap dout' : argmaxOutside(s, words(s.argmax!, pooled(s))))),
  avgPoolForward: spec(`out=pooled inp=image ${poolArgs}`,
    (s) => poolRule(s) ?? (overlap(s.out!, pooled(s), s.inp!, image(s)) ? 'out must not overlap inp' : undefined)),
  avgPoolBackward: spec(`dinp=image dout=pooled ${poolArgs}`,
    (s) => poolRule(s) ?? (overlap(s.dinp!, image(s), s.dout!, pooled(s)) ? 'dinp must not overlap dout' : undefined)),
  globalAvgPoolForward: spec('out=nc inp=image n# h# w# c#', (s) => (overlap(s.out!, s.n! * s.c!, s.inp!, image(s)) ? 'out must not overlap inp' : undefined)),
  globalAvgPoolBackward: spec('dinp=image dout=nc n# h# w# c#', (s) => (overlap(s.dinp!, image(s), s.dout!, s.n! * s.c!) ? 'dinp must not overlap dout' : undefined)),
  dropoutForward: spec('out=n mask=n inp=n n# rate~ seed#0 offset#0',
    (s) => (!(s.rate! >= 0 && s.rate! < 1) ? `rate must be in [0, 1), got ${s.rate}`
      : s.seed! > U32_MAX ? `seed must be an integer in [0, 2³² − 1], got ${s.seed}`
      : s.offset! > U32_MAX ? `offset must be an integer in [0, 2³² − 1] (take it modulo 2³²), got ${s.offset}`
      : s.mask === s.inp || s.mask === s.out ? 'mask must not alias inp or out' : undefined)),
  dropoutBackward: spec('dinp=n dout=n mask=n n#'),
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
