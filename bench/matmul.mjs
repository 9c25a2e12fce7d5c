// Matrix products of a 784-256-256-10 training step at batch 128, and 512³.
//
// op(A) is m×k, op(B) is k×n. normcore gets pointers to data already in its
// linear memory (be.kernels.matmul, accumulate = 0); TensorFlow.js gets
// tensors created beforehand (tf.matMul with its transpose flags), and its
// result is disposed. Work: 2·m·k·n flops per call.
import { onEachTfBackend, randomArray, tf } from './lib/peers.mjs';

export const SHAPES = [
  { name: 'X·W₁ [128×784]·[784×256]', m: 128, k: 784, n: 256, transA: 0, transB: 0 },
  { name: 'H·W₂ [128×256]·[256×256]', m: 128, k: 256, n: 256, transA: 0, transB: 0 },
  { name: 'Xᵀ·dZ₁ → dW₁ [784×256] (transA)', m: 784, k: 128, n: 256, transA: 1, transB: 0 },
  { name: 'dZ₂·W₂ᵀ → dH [128×256] (transB)', m: 128, k: 256, n: 256, transA: 0, transB: 1 },
  { name: '512³', m: 512, k: 512, n: 512, transA: 0, transB: 0 },
];

/** @returns {Promise<import('./lib/harness.mjs').Case[]>} */
export async function matmulCases({ wasm, wasmBaseline, js, tfjs }) {
  const cases = [];
  for (const [i, s] of SHAPES.entries()) {
    const { m, k, n, transA, transB } = s;
    const a = randomArray(m * k, 100 + i);
    const b = randomArray(k * n, 200 + i);
    const tasks = {};
    for (const [peer, be] of [['wasm', wasm], ['wasm-baseline', wasmBaseline], ['js', js]]) {
      const pa = be.heap.put(a), pb = be.heap.put(b), pc = be.heap.allocF32(m * n);
      const kern = be.kernels;
      tasks[peer] = () => kern.matmul(pc, pa, pb, m, k, n, transA, transB, 0);
    }
    // stored shapes: A is [k×m] when transA, B is [n×k] when transB
    const tfTasks = await onEachTfBackend(tfjs, () => {
      const ta = tf.tensor2d(a, transA ? [k, m] : [m, k]);
      const tb = tf.tensor2d(b, transB ? [n, k] : [k, n]);
      return () => tf.matMul(ta, tb, transA === 1, transB === 1).dispose();
    });
    Object.assign(tasks, tfTasks);
    cases.push({ section: 'matmul', name: s.name, unit: 'GFLOP/s', work: 2 * m * k * n, tasks });
  }
  return cases;
}
