// Issue 12's CNN through the public API (Sequential with Conv2d, BatchNorm2d,
// MaxPool2d, Flatten; the model plans its arena and runs the layers): one
// training step at batch 64, inference of 64 images and of 1 image, on
// normcore wasm and js. bench/conv.mjs times the same step as raw kernel
// calls; the difference is what the layers cost.
//
// TensorFlow.js (through npm run bench, which sets up its backends): the same
// network in tfjs-layers, inference only. Its wasm backend lacks
// Conv2DBackpropFilter, so it cannot train this network; its cpu backend takes
// about a minute per training step (issue 12), so it is timed on 1 image only.
//
//   node bench/cnn.mjs [--rounds 3] [--time 300]   (normcore only; npm run bench adds the tfjs peers)
import { fileURLToPath } from 'node:url';
import { createBackend, Sequential } from 'normcore';
import { mnistCnn } from 'normcore/cnn';
import * as tfl from '@tensorflow/tfjs-layers';
import { measure } from './lib/harness.mjs';
import { onEachTfBackend, tf } from './lib/peers.mjs';

const BATCH = 64;
/** Batches per timed fit: enough to amortize fit's setup, few for the js backend. */
const STEPS = { wasm: 8, js: 1 };
/** 2·m·k·n of the forward's matmuls; a training step is 3× (the 1.63 GFLOP). */
const FORWARD_FLOP = 2 * (BATCH * 784 * 9 * 32 + BATCH * 196 * 288 * 64 + BATCH * 3136 * 128 + BATCH * 128 * 10);

export function cnnModel(backend) {
  return new Sequential(mnistCnn(), { backend, seed: 1, inputShape: [28, 28, 1] })
    .compile({ loss: 'softmaxCrossEntropy', optimizer: { type: 'adam', lr: 1e-3 } });
}

/**
 * @param {{ wasm: import('normcore').Backend, js: import('normcore').Backend }} backends
 * @param {{ x: Float32Array, y: Uint8Array }} data digits (rows × 784)
 * @returns {import('./lib/harness.mjs').Case[]}
 */
export async function cnnCases({ wasm, js, tfjs }, data) {
  const step = { section: 'cnn', name: `CNN training step, batch ${BATCH}`, unit: 'ms', work: 3 * FORWARD_FLOP, workUnit: 'FLOP', tasks: {}, perCall: {}, timeMs: 400, warmupIterations: 1 };
  const infer64 = { section: 'cnn', name: 'CNN inference, 64 images', unit: 'ms', work: FORWARD_FLOP, workUnit: 'FLOP', tasks: {}, timeMs: 200, warmupIterations: 2 };
  const infer1 = { section: 'cnn', name: 'CNN inference, 1 image', unit: 'ms', work: FORWARD_FLOP / BATCH, workUnit: 'FLOP', tasks: {}, timeMs: 100, warmupIterations: 5 };
  for (const [peer, be] of [['wasm', wasm], ['js', js]]) {
    const model = cnnModel(be);
    const rows = STEPS[peer] * BATCH;
    const xs = data.x.subarray(0, rows * 784), ys = data.y.subarray(0, rows);
    step.tasks[peer] = async () => { await model.fit(xs, ys, { epochs: 1, batchSize: BATCH, shuffle: false, checkInputs: false }); };
    step.perCall[peer] = STEPS[peer];
    const x64 = data.x.subarray(0, 64 * 784), x1 = data.x.subarray(0, 784);
    infer64.tasks[peer] = () => model.predict(x64, { checkInputs: false });
    infer1.tasks[peer] = () => model.predict(x1, { checkInputs: false });
  }
  if (tfjs) {
    const tfTasks = await onEachTfBackend(tfjs, () => {
      const model = tfjsCnn();
      const x64 = tf.tensor4d(data.x.subarray(0, 64 * 784), [64, 28, 28, 1]);
      const x1 = tf.tensor4d(data.x.subarray(0, 784), [1, 28, 28, 1]);
      const run = (x) => () => tf.tidy(() => model.predict(x).dataSync());
      return { infer64: run(x64), infer1: run(x1) };
    });
    infer64.tasks['tfjs-wasm'] = tfTasks['tfjs-wasm'].infer64;
    infer1.tasks['tfjs-wasm'] = tfTasks['tfjs-wasm'].infer1;
    infer1.tasks['tfjs-cpu'] = tfTasks['tfjs-cpu'].infer1;
  }
  return [step, infer64, infer1];
}

/** The same network in tfjs-layers (NHWC, 'same' padding, no bias before batch norm), for inference. */
function tfjsCnn() {
  return tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [28, 28, 1], filters: 32, kernelSize: 3, padding: 'same', useBias: false }),
      tfl.layers.batchNormalization({ epsilon: 1e-5 }), tfl.layers.activation({ activation: 'relu' }), tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.conv2d({ filters: 64, kernelSize: 3, padding: 'same', useBias: false }),
      tfl.layers.batchNormalization({ epsilon: 1e-5 }), tfl.layers.activation({ activation: 'relu' }), tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.flatten(), tfl.layers.dense({ units: 128, useBias: false }),
      tfl.layers.batchNormalization({ epsilon: 1e-5 }), tfl.layers.activation({ activation: 'relu' }),
      tfl.layers.dense({ units: 10 }), tfl.layers.activation({ activation: 'softmax' }),
    ],
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { loadMnist } = await import('normcore/node');
  const args = process.argv.slice(2);
  const opt = (name, dflt) => (args.includes(`--${name}`) ? Number(args[args.indexOf(`--${name}`) + 1]) : dflt);
  const d = loadMnist({ train: 1000, test: 1, seed: 1 });
  const backends = { wasm: await createBackend('wasm'), js: await createBackend('js') };
  const cases = await cnnCases(backends, { x: d.trainImages, y: d.trainLabels });
  const none = async () => {};
  const medians = await measure([{ name: 'wasm', activate: none }, { name: 'js', activate: none }], cases, { rounds: opt('rounds', 3), timeMs: opt('time', 300), minIterations: 1, log: (s) => process.stderr.write(`${s}\n`) });
  for (const c of cases) {
    const m = medians.get(c) ?? {};
    const row = Object.entries(m).map(([p, r]) => `${p} ${(r.median / ((c.perCall ?? {})[p] ?? 1)).toFixed(2)} ms`).join(', ');
    console.log(`${c.name}: ${row}`);
  }
}
