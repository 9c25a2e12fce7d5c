// Batch norm, training mode, forward and backward: [N×C] = 128×256 (a
// hidden layer of the training step) and 1024×1024.
//
// normcore: batchnormForward (statistics, output, running statistics) and the
// fused closed-form batchnormBackward, on pointers. TensorFlow.js: the ops a
// tfjs model runs, tf.moments + tf.batchNorm for the forward, and tf.grads of
// that function for forward + backward (its backward cannot run without the
// forward's tape, so it has no backward-only row).
// GB/s counts the compulsory traffic: forward reads x and writes y (8·N·C
// bytes), backward reads x, dy and writes dx (12·N·C bytes).
import { onEachTfBackend, randomArray, tf } from './lib/peers.mjs';

export const SIZES = [[128, 256], [1024, 1024]];
const EPS = 1e-5;

/** @returns {Promise<import('./lib/harness.mjs').Case[]>} */
export async function batchnormCases({ wasm, js, tfjs }) {
  const cases = [];
  for (const [R, C] of SIZES) {
    const x = randomArray(R * C, R + C, -2, 3);
    const dy = randomArray(R * C, R + C + 1);
    const gamma = randomArray(C, 7, 0.5, 1.5);
    const beta = randomArray(C, 8);
    const fwd = {}, bwd = {}, both = {};
    for (const be of [wasm, js]) {
      const h = be.heap, kern = be.kernels;
      const px = h.put(x), pdy = h.put(dy), pg = h.put(gamma), pb = h.put(beta);
      const py = h.allocF32(R * C), pdx = h.allocF32(R * C);
      const [mean, variance, invstd, rm, rv, dg, db] = Array.from({ length: 7 }, () => h.allocF32(C));
      kern.fill(rm, C, 0);
      kern.fill(rv, C, 1);
      kern.fill(dg, C, 0);
      kern.fill(db, C, 0);
      const f = () => kern.batchnormForward(py, mean, variance, invstd, px, pg, pb, rm, rv, R, C, EPS, 0.1);
      const b = () => kern.batchnormBackward(pdx, dg, db, pdy, px, pg, mean, invstd, R, C);
      f();
      fwd[be.name] = f;
      bwd[be.name] = b;
      both[be.name] = () => { f(); b(); };
    }
    const tfTasks = await onEachTfBackend(tfjs, () => {
      const tx = tf.tensor2d(x, [R, C]), tdy = tf.tensor2d(dy, [R, C]);
      const tg = tf.tensor1d(gamma), tb = tf.tensor1d(beta);
      const forward = (xx, g, b) => {
        const { mean, variance } = tf.moments(xx, 0);
        return tf.batchNorm(xx, mean, variance, b, g, EPS);
      };
      const grads = tf.grads(forward);
      return {
        f: () => tf.tidy(() => { forward(tx, tg, tb); }),
        both: () => tf.tidy(() => { grads([tx, tg, tb], tdy); }),
      };
    });
    for (const p of ['tfjs-cpu', 'tfjs-wasm']) {
      fwd[p] = tfTasks[p].f;
      both[p] = tfTasks[p].both;
    }
    const size = `${R}×${C}`;
    cases.push(
      { section: 'batchnorm', name: `forward ${size}`, unit: 'ms', work: 8 * R * C, tasks: fwd },
      { section: 'batchnorm', name: `backward ${size}`, unit: 'ms', work: 12 * R * C, tasks: bwd },
      { section: 'batchnorm', name: `forward + backward ${size}`, unit: 'ms', work: 20 * R * C, tasks: both },
    );
  }
  return cases;
}
