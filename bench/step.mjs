// The whole training step and one epoch: 784-256-256-10, Dense → BatchNorm
// → ReLU twice, then Dense → softmax cross-entropy, Adam (lr 1e-3), batch 128,
// on the 10,000 digits of the `mnist` package.
//
// normcore: Sequential.fit, the public training loop (gather of the batch,
// forward, loss, backward, one Adam call, divergence snapshot); the step is
// a fit over several batches divided by their number. TensorFlow.js: the
// same network in tfjs-layers (Dense without bias before BatchNormalization,
// momentum 0.9 = PyTorch's 0.1, ε 1e-5), Adam, categorical cross-entropy on
// softmax outputs; one step is model.trainOnBatch, one epoch model.fit.
import { BatchNorm, Dense, ReLU, Sequential } from 'normcore';
import { createBackend } from 'normcore/kernels';
import { loadMnist } from 'normcore/node';
import * as tfl from '@tensorflow/tfjs-layers';
import { noZeros } from './lib/inputs.mjs';
import { onEachTfBackend, tf } from './lib/peers.mjs';

const BATCH = 128;
/** Batches per timed normcore fit: enough to amortize fit's setup, few enough for the js backend. */
const STEPS = { wasm: 10, 'wasm-2t': 10, 'wasm-auto': 10, js: 2 };

/** The 10,000 digits as one set: x [10000×784] in [0, 1], labels 0…9. */
export function digits() {
  const d = loadMnist({ train: 9000, test: 1000, seed: 1 });
  const x = new Float32Array(d.trainImages.length + d.testImages.length);
  x.set(d.trainImages);
  x.set(d.testImages, d.trainImages.length);
  const y = new Uint8Array(d.trainLabels.length + d.testLabels.length);
  y.set(d.trainLabels);
  y.set(d.testLabels, d.trainLabels.length);
  return { x, y, rows: y.length };
}

export function normcoreModel(backend) {
  const model = new Sequential([
    new Dense(784, 256), new BatchNorm(256), new ReLU(),
    new Dense(256, 256), new BatchNorm(256), new ReLU(),
    new Dense(256, 10),
  ], { backend, seed: 1 });
  return model.compile({ loss: 'softmaxCrossEntropy', optimizer: { type: 'adam', lr: 1e-3 } });
}

export function tfjsModel() {
  const bn = () => tfl.layers.batchNormalization({ epsilon: 1e-5, momentum: 0.9 });
  const model = tfl.sequential({
    layers: [
      tfl.layers.dense({ inputShape: [784], units: 256, useBias: false }), bn(), tfl.layers.activation({ activation: 'relu' }),
      tfl.layers.dense({ units: 256, useBias: false }), bn(), tfl.layers.activation({ activation: 'relu' }),
      tfl.layers.dense({ units: 10 }), tfl.layers.activation({ activation: 'softmax' }),
    ],
  });
  model.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy' });
  return model;
}

function oneHot(labels, classes) {
  const out = new Float32Array(labels.length * classes);
  labels.forEach((t, i) => { out[i * classes + t] = 1; });
  return out;
}

/**
 * @returns {Promise<{ step: import('./lib/harness.mjs').Case, stepDense: import('./lib/harness.mjs').Case, epoch: import('./lib/harness.mjs').Case }>}
 */
export async function stepCases({ wasm, wasm2, wasmAuto, js, tfjs }, data) {
  const step = { section: 'training', name: 'training step, batch 128', unit: 'ms', tasks: {}, perCall: {}, timeMs: 400, warmupIterations: 1 };
  const stepDense = { section: 'training', name: 'training step, batch 128, inputs with no zeros', unit: 'ms', tasks: {}, perCall: {}, timeMs: 400, warmupIterations: 1 };
  const epoch = { section: 'training', name: `one epoch, ${data.rows.toLocaleString('en-US')} digits, batch 128`, unit: 'ms', tasks: {}, timeMs: 1, warmupIterations: 0 };
  for (const [peer, be] of [['wasm', wasm], ['wasm-2t', wasm2], ['wasm-auto', wasmAuto], ['js', js]]) {
    if (!be) continue;
    const model = normcoreModel(be);
    const rows = STEPS[peer] * BATCH;
    const xs = data.x.subarray(0, rows * 784), ys = data.y.subarray(0, rows);
    step.tasks[peer] = async () => { await model.fit(xs, ys, { epochs: 1, batchSize: BATCH, shuffle: false, checkInputs: false }); };
    step.perCall[peer] = STEPS[peer];
    epoch.tasks[peer] = async () => { await model.fit(data.x, data.y, { epochs: 1, batchSize: BATCH, shuffle: true }); };
    if (peer === 'wasm' || peer === 'wasm-2t') {
      const dense = normcoreModel(be), xd = noZeros(xs);
      stepDense.tasks[peer] = async () => { await dense.fit(xd, ys, { epochs: 1, batchSize: BATCH, shuffle: false, checkInputs: false }); };
      stepDense.perCall[peer] = STEPS[peer];
    }
  }
  const yAll = oneHot(data.y, 10);
  const tfTasks = await onEachTfBackend(tfjs, () => {
    const model = tfjsModel();
    const xb = tf.tensor2d(data.x.subarray(0, BATCH * 784), [BATCH, 784]);
    const yb = tf.tensor2d(yAll.subarray(0, BATCH * 10), [BATCH, 10]);
    const tx = tf.tensor2d(data.x, [data.rows, 784]);
    const ty = tf.tensor2d(yAll, [data.rows, 10]);
    return {
      step: async () => { await model.trainOnBatch(xb, yb); },
      epoch: async () => { await model.fit(tx, ty, { epochs: 1, batchSize: BATCH, shuffle: true, verbose: 0 }); },
    };
  });
  for (const p of ['tfjs-cpu', 'tfjs-wasm']) {
    step.tasks[p] = tfTasks[p].step;
    step.perCall[p] = 1;
    epoch.tasks[p] = tfTasks[p].epoch;
  }
  return { step, stepDense, epoch };
}

/**
 * Where the time of a normcore wasm training step goes: every kernel call is
 * timed (performance.now around it) over `steps` steps of a warmed-up model.
 * @returns {Promise<{ stepMs: number, kernels: Array<{ kernel: string, msPerStep: number, share: number, calls: number }> }>}
 */
export async function profileStep(data, steps = 30) {
  const raw = await createBackend('wasm');
  const totals = new Map();
  // The model calls the backend's unchecked kernels (its pointers are planned); time each of them.
  const unchecked = {};
  for (const name of Object.keys(raw.kernels)) {
    const f = raw.unchecked[name];
    unchecked[name] = (...args) => {
      const t0 = performance.now();
      const r = f(...args);
      const t = totals.get(name) ?? { ms: 0, calls: 0 };
      t.ms += performance.now() - t0;
      t.calls++;
      totals.set(name, t);
      return r;
    };
  }
  const be = { ...raw, unchecked };
  const model = normcoreModel(be);
  const rows = steps * BATCH;
  const xs = data.x.subarray(0, rows * 784), ys = data.y.subarray(0, rows);
  const fit = () => model.fit(xs, ys, { epochs: 1, batchSize: BATCH, shuffle: false, checkInputs: false });
  await fit();
  await fit();
  totals.clear();
  const t0 = performance.now();
  await fit();
  const stepMs = (performance.now() - t0) / steps;
  const kernels = [...totals].map(([kernel, t]) => ({ kernel, msPerStep: t.ms / steps, share: t.ms / steps / stepMs, calls: t.calls / steps }));
  const inKernels = kernels.reduce((s, k) => s + k.msPerStep, 0);
  kernels.push({ kernel: '(outside kernels: fit loop, JS↔wasm calls)', msPerStep: stepMs - inKernels, share: (stepMs - inKernels) / stepMs, calls: 0 });
  kernels.sort((a, b) => b.msPerStep - a.msPerStep);
  return { stepMs, kernels };
}

/**
 * The threaded backend's synchronization cost: a kernel split over 2 threads
 * (fill of 2·n values, n per thread, ~1–2 µs of work each) against the same
 * work of one part on one thread; the difference is one hand-off and join.
 * Also the parts handed out per training step, and how many of them the
 * calling thread ran itself (their worker had not started: a busy machine).
 * @returns {Promise<{ syncUsPerKernel: number, partsPerStep: number, ranByCallerShare: number }>}
 */
export async function threadSync(data, threaded, single, steps = 20) {
  const n = 1 << 14;
  const p2 = threaded.heap.allocF32(2 * n), p1 = single.heap.allocF32(n);
  const med = (f) => {
    const ts = [];
    for (let r = 0; r < 15; r++) {
      const t0 = performance.now();
      for (let i = 0; i < 2000; i++) f();
      ts.push((performance.now() - t0) / 2000);
    }
    return ts.sort((a, b) => a - b)[7];
  };
  const split = med(() => threaded.unchecked.fill(p2, 2 * n, 1));
  const whole = med(() => single.unchecked.fill(p1, n, 1));
  threaded.heap.free(p2);
  single.heap.free(p1);
  const model = normcoreModel(threaded);
  const rows = steps * BATCH;
  const xs = data.x.subarray(0, rows * 784), ys = data.y.subarray(0, rows);
  await model.fit(xs, ys, { epochs: 1, batchSize: BATCH, shuffle: false, checkInputs: false });
  const s0 = threaded.threadStats();
  await model.fit(xs, ys, { epochs: 1, batchSize: BATCH, shuffle: false, checkInputs: false });
  const s1 = threaded.threadStats();
  model.dispose();
  const posted = s1.posted - s0.posted;
  return { syncUsPerKernel: (split - whole) * 1000, partsPerStep: posted / steps, ranByCallerShare: posted ? (s1.ranByCaller - s0.ranByCaller) / posted : 0 };
}
