// The CNN of issue 12, one training step at batch 64, as the kernel sequence
// a Conv2d / BatchNorm2d / MaxPool2d model will run, called directly on one
// planned block of memory (no layers yet):
//
//   x [64×28×28×1] → conv 3×3×32 'same' (im2col + matmul, no bias) → BN2d + ReLU (fused; rows = N·H·W, cols = C)
//   → maxpool 2 → conv 3×3×64 'same' → BN2d + ReLU → maxpool 2 → flatten 3136 → dense 128 (no bias)
//   → BN + ReLU → dense 10 (+ bias) → softmax cross-entropy; backward; one Adam call over all parameters.
//
// 1.63 GFLOP per step (3 × the forward's 2·m·k·n, as the issue counts it).
// Also: inference of 64 images (the same forward with running statistics).
//
// Two ways to run a convolution, measured side by side: im2col of the whole
// batch (its columns, 14 MB for conv2, saved for the backward), or im2col of a
// few images at a time feeding the same matmul (conv2: one image's 196×288
// columns, 225 KB, stay in L2), recomputed in the backward; col2im per image
// group is exact because no window crosses two images. Same results, less
// memory traffic and ~30 MB less arena.
//
//   node bench/conv.mjs [--rounds 3] [--time 300] [--no-js] [--no-profile]
//
// Imports normcore by its package name, i.e. dist/ (npm run build first).
// Exports `convCases` and `profileConvStep` for bench/run.mjs.
import v8 from 'node:v8';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { Random } from 'normcore';
import { createBackend } from 'normcore/kernels';
import { loadMnist } from 'normcore/node';
import { measure } from './lib/harness.mjs';

export const BATCH = 64;
/** Images per im2col block for [conv1, conv2]: the whole batch, or small groups whose columns stay in cache. */
export const WHOLE = [64, 64];
export const BLOCKED = [8, 1];
const EPS = 1e-5, MOMENTUM = 0.1;

/** The matmuls of the forward: [label, m, k, n]. */
const FORWARD_MATMULS = [
  ['conv1', BATCH * 28 * 28, 9, 32],
  ['conv2', BATCH * 14 * 14, 288, 64],
  ['dense1', BATCH, 3136, 128],
  ['dense2', BATCH, 128, 10],
];
const FORWARD_FLOP = FORWARD_MATMULS.reduce((s, [, m, k, n]) => s + 2 * m * k * n, 0);
/** Forward, dW and dinp products: 3 × the forward (the 1.63 GFLOP; conv1 skips its dinp, so slightly less is done). */
export const STEP_FLOP = 3 * FORWARD_FLOP;

/**
 * Carves one heap block into named f32 / i32 buffers (sizes in elements, each
 * rounded up to 4 so every buffer is 16-byte aligned). Parameters, gradients
 * and both Adam moments are each one contiguous range in the same layout.
 */
function planMemory(be, groups) {
  const N = BATCH, [g1, g2] = groups;
  const params = [['W1', 9 * 32], ['g1', 32], ['b1', 32], ['W2', 288 * 64], ['g2', 64], ['b2', 64], ['W3', 3136 * 128], ['g3', 128], ['b3', 128], ['W4', 128 * 10], ['bias4', 10]];
  const P = params.reduce((s, [, n]) => s + ((n + 3) & ~3), 0);
  const table = [
    ['x', N * 784], ['labels', N],
    ['cols1', g1 * 784 * 9], ['z1', N * 784 * 32], ['a1', N * 784 * 32], ['p1', N * 196 * 32], ['arg1', N * 196 * 32],
    ['cols2', g2 * 196 * 288], ['z2', N * 196 * 64], ['a2', N * 196 * 64], ['p2', N * 49 * 64], ['arg2', N * 49 * 64],
    ['z3', N * 128], ['a3', N * 128], ['logits', N * 10],
    ['dlogits', N * 10], ['da3', N * 128], ['dz3', N * 128], ['dp2', N * 3136], ['da2', N * 196 * 64], ['dz2', N * 196 * 64],
    ['dcols2', g2 * 196 * 288], ['dp1', N * 196 * 32], ['da1', N * 784 * 32], ['dz1', N * 784 * 32],
    ...[1, 2, 3].flatMap((i) => ['mean', 'var', 'inv', 'rm', 'rv'].map((s) => [`${s}${i}`, [32, 64, 128][i - 1]])),
    ['params', P], ['grads', P], ['m', P], ['v', P],
  ];
  const total = table.reduce((s, [, n]) => s + ((n + 3) & ~3), 0);
  const base = be.heap.allocF32(total);
  const at = {};
  let off = base;
  for (const [name, n] of table) {
    at[name] = off;
    off += ((n + 3) & ~3) * 4;
  }
  // parameters and their gradients inside params / grads, same layout
  let po = 0;
  for (const [name, n] of params) {
    at[name] = at.params + po * 4;
    at[`d${name}`] = at.grads + po * 4;
    po += (n + 3) & ~3;
  }
  return { at, P, bytes: total * 4 };
}

/** Fills the planned block: 64 real digits, He-initialised weights, γ = 1, β = 0, running variance 1, Adam state 0. */
function initialise(be, at, P) {
  const d = loadMnist({ train: BATCH, test: 1, seed: 1 });
  be.heap.f32(at.x, BATCH * 784).set(d.trainImages.subarray(0, BATCH * 784));
  be.heap.i32(at.labels, BATCH).set(Int32Array.from(d.trainLabels.subarray(0, BATCH)));
  const r = new Random(7);
  const he = (ptr, fanIn, n) => {
    const a = be.heap.f32(ptr, n), s = Math.sqrt(6 / fanIn);
    for (let i = 0; i < n; i++) a[i] = (2 * r.next() - 1) * s;
  };
  const k = be.kernels;
  k.fill(at.params, P, 0);
  he(at.W1, 9, 9 * 32);
  he(at.W2, 288, 288 * 64);
  he(at.W3, 3136, 3136 * 128);
  he(at.W4, 128, 128 * 10);
  for (const [g, n] of [['g1', 32], ['g2', 64], ['g3', 128]]) k.fill(at[g], n, 1);
  for (const [i, n] of [[1, 32], [2, 64], [3, 128]]) {
    k.fill(at[`rm${i}`], n, 0);
    k.fill(at[`rv${i}`], n, 1);
  }
  k.fill(at.m, P, 0);
  k.fill(at.v, P, 0);
}

/** The two convolutions: NHWC input h×w×c, 3×3 kernel, 'same' padding (1 on each side), stride 1. */
const CONV1 = { label: 'conv1', h: 28, w: 28, c: 1, outC: 32, cols: 'cols1', dcols: undefined, inp: 'x', out: 'z1', W: 'W1', dW: 'dW1', dinp: undefined };
const CONV2 = { label: 'conv2', h: 14, w: 14, c: 32, outC: 64, cols: 'cols2', dcols: 'dcols2', inp: 'p1', out: 'z2', W: 'W2', dW: 'dW2', dinp: 'dp1' };

/**
 * Conv forward, `group` images per im2col block. group = BATCH: one im2col of
 * the whole batch, whose columns the backward reuses. group < BATCH: the
 * columns of `group` images at a time (conv2, one image: 196×288 floats,
 * 225 KB, stay in L2 between im2col and the matmul), recomputed in the backward.
 */
function convForward(run, at, cv, group) {
  const K = 9 * cv.c, pix = cv.h * cv.w;
  for (let b = 0; b < BATCH; b += group) {
    run(`${cv.label} im2col`, 'im2col', at[cv.cols], at[cv.inp] + b * pix * cv.c * 4, group, cv.h, cv.w, cv.c, 3, 3, 1, 1, 1, cv.h, cv.w);
    run(`${cv.label} matmul`, 'matmulForward', at[cv.out] + b * pix * cv.outC * 4, at[cv.cols], at[cv.W], group * pix, K, cv.outC);
  }
}

/** Conv backward: dW += colsᵀ·dout; dcols = dout·Wᵀ and col2im (which overwrites each image's dinp) unless cv.dinp is unset. */
function convBackward(run, at, cv, dout, group) {
  const K = 9 * cv.c, pix = cv.h * cv.w;
  for (let b = 0; b < BATCH; b += group) {
    if (group < BATCH) run(`${cv.label} im2col`, 'im2col', at[cv.cols], at[cv.inp] + b * pix * cv.c * 4, group, cv.h, cv.w, cv.c, 3, 3, 1, 1, 1, cv.h, cv.w);
    const d = at[dout] + b * pix * cv.outC * 4;
    run(`${cv.label} matmul`, 'matmulBackward', cv.dinp ? at[cv.dcols] : 0, at[cv.dW], d, at[cv.cols], at[cv.W], group * pix, K, cv.outC, cv.dinp ? 1 : 0);
    if (cv.dinp) run(`${cv.label} col2im`, 'col2im', at[cv.dinp] + b * pix * cv.c * 4, at[cv.dcols], group, cv.h, cv.w, cv.c, 3, 3, 1, 1, 1, cv.h, cv.w);
  }
}

/**
 * One training step. `run(label, kernel, ...args)` calls the kernel (and may
 * time it under `label`); `groups` = images per im2col block of conv1 and conv2.
 * Returns the mean loss.
 */
function trainStep(run, at, P, t, groups) {
  const N = BATCH;
  // forward
  convForward(run, at, CONV1, groups[0]);
  run('bn1+relu', 'batchnormReluForward', at.a1, at.mean1, at.var1, at.inv1, at.z1, at.g1, at.b1, at.rm1, at.rv1, N * 784, 32, EPS, MOMENTUM);
  run('maxpool1', 'maxPoolForward', at.p1, at.arg1, at.a1, N, 28, 28, 32, 2, 2, 14, 14);
  convForward(run, at, CONV2, groups[1]);
  run('bn2+relu', 'batchnormReluForward', at.a2, at.mean2, at.var2, at.inv2, at.z2, at.g2, at.b2, at.rm2, at.rv2, N * 196, 64, EPS, MOMENTUM);
  run('maxpool2', 'maxPoolForward', at.p2, at.arg2, at.a2, N, 14, 14, 64, 2, 2, 7, 7);
  run('dense1 matmul', 'matmulForward', at.z3, at.p2, at.W3, N, 3136, 128);
  run('bn3+relu', 'batchnormReluForward', at.a3, at.mean3, at.var3, at.inv3, at.z3, at.g3, at.b3, at.rm3, at.rv3, N, 128, EPS, MOMENTUM);
  run('dense2 matmul', 'matmulForward', at.logits, at.a3, at.W4, N, 128, 10);
  run('dense2 bias', 'biasForward', at.logits, at.bias4, N, 10);
  const loss = run('softmax CE', 'softmaxCrossEntropy', at.dlogits, at.logits, at.labels, N, 10);
  // backward
  run('zero grads', 'fill', at.grads, P, 0);
  run('dense2 bias', 'biasBackward', at.dbias4, at.dlogits, N, 10);
  run('dense2 matmul', 'matmulBackward', at.da3, at.dW4, at.dlogits, at.a3, at.W4, N, 128, 10, 1);
  run('bn3+relu', 'batchnormReluBackward', at.dz3, at.dg3, at.db3, at.da3, at.a3, at.z3, at.g3, at.mean3, at.inv3, N, 128);
  run('dense1 matmul', 'matmulBackward', at.dp2, at.dW3, at.dz3, at.p2, at.W3, N, 3136, 128, 1);
  run('maxpool2', 'maxPoolBackward', at.da2, at.dp2, at.arg2, N, 14, 14, 64, 2, 2, 7, 7);
  run('bn2+relu', 'batchnormReluBackward', at.dz2, at.dg2, at.db2, at.da2, at.a2, at.z2, at.g2, at.mean2, at.inv2, N * 196, 64);
  convBackward(run, at, CONV2, 'dz2', groups[1]);
  run('maxpool1', 'maxPoolBackward', at.da1, at.dp1, at.arg1, N, 28, 28, 32, 2, 2, 14, 14);
  run('bn1+relu', 'batchnormReluBackward', at.dz1, at.dg1, at.db1, at.da1, at.a1, at.z1, at.g1, at.mean1, at.inv1, N * 784, 32);
  convBackward(run, at, CONV1, 'dz1', groups[0]);
  run('adam', 'adamUpdate', at.params, at.grads, at.m, at.v, P, 1e-3, 0.9, 0.999, 1e-7, 0, t);
  return loss;
}

/** Inference of the batch: the same forward with running statistics (no argmax needed but the kernel writes it). */
function inferStep(run, at, groups) {
  const N = BATCH;
  convForward(run, at, CONV1, groups[0]);
  run('bn1+relu', 'batchnormReluInference', at.a1, at.z1, at.g1, at.b1, at.rm1, at.rv1, N * 784, 32, EPS);
  run('maxpool1', 'maxPoolForward', at.p1, at.arg1, at.a1, N, 28, 28, 32, 2, 2, 14, 14);
  convForward(run, at, CONV2, groups[1]);
  run('bn2+relu', 'batchnormReluInference', at.a2, at.z2, at.g2, at.b2, at.rm2, at.rv2, N * 196, 64, EPS);
  run('maxpool2', 'maxPoolForward', at.p2, at.arg2, at.a2, N, 14, 14, 64, 2, 2, 7, 7);
  run('dense1 matmul', 'matmulForward', at.z3, at.p2, at.W3, N, 3136, 128);
  run('bn3+relu', 'batchnormReluInference', at.a3, at.z3, at.g3, at.b3, at.rm3, at.rv3, N, 128, EPS);
  run('dense2 matmul', 'matmulForward', at.logits, at.a3, at.W4, N, 128, 10);
  run('dense2 bias', 'biasForward', at.logits, at.bias4, N, 10);
}

/**
 * A backend's CNN: memory planned and initialised, one step checked through
 * the checked kernels (so the plan obeys every kernel's argument rules), then
 * the timed tasks on the unchecked kernels, as a model calls them.
 */
export function convNet(be, groups = WHOLE) {
  const { at, P, bytes } = planMemory(be, groups);
  initialise(be, at, P);
  let t = 0;
  const checked = (_l, name, ...a) => be.kernels[name](...a);
  const first = trainStep(checked, at, P, ++t, groups);
  inferStep(checked, at, groups);
  const raw = (_l, name, ...a) => be.unchecked[name](...a);
  return {
    bytes,
    firstLoss: first,
    step: () => trainStep(raw, at, P, ++t, groups),
    infer: () => inferStep(raw, at, groups),
    /** Runs `steps` more steps with every kernel call timed; ms per step by call site. */
    profile(steps) {
      const totals = new Map();
      const timed = (label, name, ...a) => {
        const t0 = performance.now();
        const r = be.unchecked[name](...a);
        const key = `${label} (${name})`;
        totals.set(key, (totals.get(key) ?? 0) + performance.now() - t0);
        return r;
      };
      const t0 = performance.now();
      for (let i = 0; i < steps; i++) trainStep(timed, at, P, ++t, groups);
      const stepMs = (performance.now() - t0) / steps;
      const rows = [...totals].map(([kernel, ms]) => ({ kernel, msPerStep: ms / steps, share: ms / steps / stepMs }));
      const inKernels = rows.reduce((s, r) => s + r.msPerStep, 0);
      rows.push({ kernel: '(outside kernels: JS↔wasm calls, timing)', msPerStep: stepMs - inKernels, share: (stepMs - inKernels) / stepMs });
      rows.sort((a, b) => b.msPerStep - a.msPerStep);
      return { stepMs, kernels: rows };
    },
  };
}

/**
 * The CNN training step and inference of 64, with im2col over the whole batch
 * (wasm and js) and in cache-sized image groups (wasm; the js twin gains
 * nothing from it).
 * @returns {import('./lib/harness.mjs').Case[]}
 */
export function convCases(backends) {
  const cases = [];
  for (const [groups, what] of [[WHOLE, 'im2col per batch'], [BLOCKED, `im2col per ${BLOCKED[0]} / ${BLOCKED[1]} images`]]) {
    const step = { section: 'cnn', name: `CNN training step, batch 64 (${what})`, unit: 'ms', work: STEP_FLOP, tasks: {}, timeMs: 400, warmupIterations: 2 };
    const infer = { section: 'cnn', name: `CNN inference, 64 images (${what})`, unit: 'ms', work: FORWARD_FLOP, tasks: {}, timeMs: 200, warmupIterations: 2 };
    for (const be of backends) {
      if (be.name === 'js' && groups !== WHOLE) continue;
      const net = convNet(be, groups);
      step.tasks[be.name] = net.step;
      infer.tasks[be.name] = net.infer;
    }
    cases.push(step, infer);
  }
  return cases;
}

/** Where the time of a wasm CNN step goes, by call site (forward and backward of a site are summed). */
export async function profileConvStep(groups = WHOLE, steps = 20) {
  const net = convNet(await createBackend('wasm'), groups);
  for (let i = 0; i < 3; i++) net.step();
  return net.profile(steps);
}

// ------------------------------------------------------------------ run directly

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  if (!args.includes('--no-relaxed')) v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
  const opt = (name, dflt) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? Number(args[i + 1]) : dflt;
  };
  const log = (s) => process.stderr.write(`${s}\n`);
  const wasm = await createBackend('wasm');
  const backends = [wasm, ...(args.includes('--no-js') ? [] : [await createBackend('js')])];
  const cases = convCases(backends);
  // the js backend needs seconds per step: one call per round is its sample
  const none = async () => {};
  const peers = backends.map((b) => ({ name: b.name, activate: none }));
  const medians = await measure(peers, cases, { rounds: opt('rounds', 3), timeMs: opt('time', 300), minIterations: 1, log });
  const net = convNet(wasm);
  const losses = [net.firstLoss];
  for (let i = 0; i < 30; i++) losses.push(net.step());
  const blocked = convNet(wasm, BLOCKED);
  const lossesBlocked = [blocked.firstLoss];
  for (let i = 0; i < 30; i++) lossesBlocked.push(blocked.step());
  console.log(`\n${os.cpus()[0]?.model ?? 'unknown cpu'} (${os.cpus().length} vCPU), Node ${process.version}, wasm build ${wasm.build}, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  console.log(`CNN of issue 12 at batch ${BATCH}: ${(STEP_FLOP / 1e9).toFixed(3)} GFLOP per training step, ${(FORWARD_FLOP / 1e9).toFixed(3)} per inference; ${(net.bytes / 2 ** 20).toFixed(1)} MiB planned (${(blocked.bytes / 2 ** 20).toFixed(1)} MiB with im2col per image group)`);
  console.log(`sanity: loss on the fixed batch ${losses[0].toFixed(3)} → ${losses.at(-1).toFixed(4)} after 30 Adam steps (im2col per image group: ${lossesBlocked[0].toFixed(3)} → ${lossesBlocked.at(-1).toFixed(4)})\n`);
  for (const c of cases) {
    for (const be of backends) {
      const m = medians.get(c)?.[be.name];
      if (!m) continue;
      console.log(`  ${c.name.padEnd(58)} ${be.name.padEnd(5)} median ${m.median.toFixed(2).padStart(9)} ms  ${(c.work / m.median / 1e6).toFixed(2).padStart(6)} GFLOP/s  (${m.samples} samples)`);
    }
  }
  if (!args.includes('--no-profile')) {
    for (const groups of [WHOLE, BLOCKED]) {
      const p = await profileConvStep(groups);
      console.log(`\nwhere a wasm training step goes, im2col per ${groups.join(' / ')} images (${p.stepMs.toFixed(2)} ms per step, every kernel call timed, by call site):`);
      for (const k of p.kernels) console.log(`  ${(k.share * 100).toFixed(1).padStart(5)}%  ${k.msPerStep.toFixed(3).padStart(7)} ms  ${k.kernel}`);
    }
  }
}
