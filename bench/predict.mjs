// Inference latency of the bench network (784-256-256-10, BatchNorm, trained
// a few steps), through Sequential.predict: 1 row (matmul's unpacked small-m
// path) and 128 rows (the packed product, from the weights the model packed
// once after its last update: src/model/packed-weights.ts). The row
// "128 rows, weights repacked per call" is the same model on a backend whose
// packed product reads the weights themselves (matmulForward packs them on
// every call, as before the packed copies): the A/B of the copies, interleaved
// with the rest in one run.
//
//   node bench/predict.mjs [--rounds 5] [--time 300]   (normcore wasm only; npm run bench adds the other peers)
import { fileURLToPath } from 'node:url';
import { measure } from './lib/harness.mjs';
import { onEachTfBackend, tf } from './lib/peers.mjs';
import { normcoreModel, tfjsModel } from './step.mjs';

/** 2·m·k·n of the forward's products per row. */
const FLOP_PER_ROW = 2 * (784 * 256 + 256 * 256 + 256 * 10);

/**
 * `be` with matmulForwardPacked reading the weight a packed block was made
 * from (matmulForward, which packs it per call); packWeights only records it.
 */
export function repackingBackend(be) {
  const source = new Map();
  const k = be.unchecked;
  const unchecked = {
    ...k,
    packWeights: (packed, weight) => { source.set(packed, weight); },
    matmulForwardPacked: (out, inp, packed, m, kk, n) => k.matmulForward(out, inp, source.get(packed), m, kk, n),
  };
  return { ...be, unchecked };
}

async function trained(be, data) {
  const model = normcoreModel(be);
  await model.fit(data.x.subarray(0, 1280 * 784), data.y.subarray(0, 1280), { epochs: 1, batchSize: 128, shuffle: false, checkInputs: false });
  return model;
}

/**
 * @returns {Promise<import('./lib/harness.mjs').Case[]>}
 */
export async function predictCases({ wasm, wasm2, js, tfjs }, data) {
  const one = { section: 'inference', name: 'predict 784-256-256-10, 1 row', unit: 'ms', work: FLOP_PER_ROW, workUnit: 'FLOP', tasks: {}, timeMs: 100, warmupIterations: 20 };
  const many = { section: 'inference', name: 'predict 784-256-256-10, 128 rows', unit: 'ms', work: 128 * FLOP_PER_ROW, workUnit: 'FLOP', tasks: {}, timeMs: 200, warmupIterations: 3 };
  const repack = { section: 'inference', name: 'predict 128 rows, weights repacked per call', unit: 'ms', work: 128 * FLOP_PER_ROW, workUnit: 'FLOP', tasks: {}, timeMs: 200, warmupIterations: 3 };
  const x1 = data.x.slice(0, 784), x128 = data.x.slice(0, 128 * 784);
  for (const [peer, be] of [['wasm', wasm], ['wasm-2t', wasm2], ['js', js]]) {
    if (!be) continue;
    const model = await trained(be, data);
    one.tasks[peer] = () => model.predict(x1, { checkInputs: false });
    many.tasks[peer] = () => model.predict(x128, { checkInputs: false });
  }
  const plain = await trained(repackingBackend(wasm), data);
  repack.tasks.wasm = () => plain.predict(x128, { checkInputs: false });
  if (tfjs) {
    const tfTasks = await onEachTfBackend(tfjs, () => {
      const model = tfjsModel();
      const t1 = tf.tensor2d(x1, [1, 784]), t128 = tf.tensor2d(x128, [128, 784]);
      const run = (x) => () => tf.tidy(() => model.predict(x).dataSync());
      return { one: run(t1), many: run(t128) };
    });
    for (const p of ['tfjs-cpu', 'tfjs-wasm']) {
      one.tasks[p] = tfTasks[p].one;
      many.tasks[p] = tfTasks[p].many;
    }
  }
  return [one, many, repack];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const v8 = await import('node:v8');
  v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
  const { createBackend } = await import('normcore');
  const { digits } = await import('./step.mjs');
  const args = process.argv.slice(2);
  const opt = (name, dflt) => (args.includes(`--${name}`) ? Number(args[args.indexOf(`--${name}`) + 1]) : dflt);
  const wasm = await createBackend('wasm');
  const cases = await predictCases({ wasm }, digits());
  const none = async () => {};
  const medians = await measure([{ name: 'wasm', activate: none }], cases, { rounds: opt('rounds', 5), timeMs: opt('time', 300), minIterations: 1, log: () => {} });
  for (const c of cases) {
    const m = medians.get(c).wasm;
    console.log(`${c.name.padEnd(48)} ${m.median < 0.1 ? `${(m.median * 1000).toFixed(1)} µs` : `${m.median.toFixed(3)} ms`}  (${(c.work / m.median / 1e6).toFixed(1)} GFLOP/s, ${m.samples} samples)`);
  }
}
