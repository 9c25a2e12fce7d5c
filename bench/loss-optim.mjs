// The two ends of a training step: softmax cross-entropy with its gradient
// over the logits (batch 128, 10 classes), and one Adam update of the whole
// parameter block of the 784-256-256-10 batch-norm network.
//
// normcore: softmaxCrossEntropy returns the mean loss and writes dlogits in
// one call; adamUpdate runs over one flat block of 269,834 parameters.
// TensorFlow.js: tf.valueAndGrad of tf.losses.softmaxCrossEntropy, and
// tf.train.adam().applyGradients over the network's 8 variables (the same
// shapes, the same total).
// Adam's GB/s counts 4 reads (p, g, m, v) and 3 writes (p, m, v) per parameter.
import { onEachTfBackend, randomArray, rng, tf } from './lib/peers.mjs';

const ROWS = 128, CLASSES = 10;
/** Parameter shapes of 784-256-256-10 with Dense (no bias) → BatchNorm (γ, β) → ReLU, and a last Dense with bias. */
export const PARAM_SHAPES = [[784, 256], [256], [256], [256, 256], [256], [256], [256, 10], [10]];
export const PARAM_COUNT = PARAM_SHAPES.reduce((s, sh) => s + sh.reduce((a, b) => a * b, 1), 0);

/** @returns {Promise<import('./lib/harness.mjs').Case[]>} */
export async function lossOptimCases({ wasm, js, tfjs }) {
  const logits = randomArray(ROWS * CLASSES, 31, -3, 3);
  const r = rng(32);
  const labels = Int32Array.from({ length: ROWS }, () => Math.floor(r() * CLASSES));
  const onehot = new Float32Array(ROWS * CLASSES);
  labels.forEach((t, i) => { onehot[i * CLASSES + t] = 1; });
  const n = PARAM_COUNT;
  const params = randomArray(n, 33, -0.1, 0.1);
  const grads = randomArray(n, 34, -0.01, 0.01);

  const sce = {}, adam = {};
  for (const be of [wasm, js]) {
    const h = be.heap, kern = be.kernels;
    const pl = h.put(logits), pt = h.put(labels), pd = h.allocF32(ROWS * CLASSES);
    sce[be.name] = () => kern.softmaxCrossEntropy(pd, pl, pt, ROWS, CLASSES);
    const pp = h.put(params), pg = h.put(grads), pm = h.allocF32(n), pv = h.allocF32(n);
    kern.fill(pm, n, 0);
    kern.fill(pv, n, 0);
    let t = 0;
    adam[be.name] = () => kern.adamUpdate(pp, pg, pm, pv, n, 1e-3, 0.9, 0.999, 1e-8, 0, ++t);
  }
  let id = 0;
  const tfTasks = await onEachTfBackend(tfjs, () => {
    const tl = tf.tensor2d(logits, [ROWS, CLASSES]);
    const ty = tf.tensor2d(onehot, [ROWS, CLASSES]);
    const lossAndGrad = tf.valueAndGrad((l) => tf.losses.softmaxCrossEntropy(ty, l));
    const named = {};
    let offset = 0;
    for (const shape of PARAM_SHAPES) {
      const size = shape.reduce((a, b) => a * b, 1);
      const v = tf.variable(tf.tensor(params.subarray(offset, offset + size), shape), true, `bench_param_${id++}`);
      named[v.name] = tf.tensor(grads.subarray(offset, offset + size), shape);
      offset += size;
    }
    const opt = tf.train.adam(1e-3, 0.9, 0.999, 1e-8);
    return {
      sce: () => tf.tidy(() => { lossAndGrad(tl); }),
      adam: () => opt.applyGradients(named),
    };
  });
  for (const p of ['tfjs-cpu', 'tfjs-wasm']) {
    sce[p] = tfTasks[p].sce;
    adam[p] = tfTasks[p].adam;
  }
  return [
    { section: 'loss', name: `softmax cross-entropy + gradient ${ROWS}×${CLASSES}`, unit: 'ms', tasks: sce },
    { section: 'optimizer', name: `Adam update, ${n.toLocaleString('en-US')} parameters`, unit: 'ms', work: 28 * n, tasks: adam },
  ];
}
