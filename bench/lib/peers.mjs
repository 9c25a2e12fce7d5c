// The four peers of every comparison: normcore's wasm and js backends, and
// TensorFlow.js 4.22 on its cpu (plain JS) and wasm (XNNPACK, SIMD, one
// thread) backends. TensorFlow.js has one global backend: a tfjs peer's
// `activate` switches to it, and each tfjs tensor is created and used only
// while its own backend is active (so no tensor ever migrates).
import { Random } from 'normcore';
import { createBackend } from 'normcore/kernels';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm'; // loads its .wasm from node_modules, no network

export { tf };

/** @typedef {import('./harness.mjs').Peer} Peer */

/**
 * @returns {Promise<{ peers: Peer[], wasm: import('normcore/kernels').KernelBackend, wasm2: import('normcore/kernels').KernelBackend, wasmAuto: import('normcore/kernels').KernelBackend, js: import('normcore/kernels').KernelBackend, tfjs: { cpu: Peer, wasm: Peer } }>}
 */
export async function createPeers() {
  const wasm = await createBackend('wasm');
  // The baseline SIMD build (no fused multiply-add): what Node 20 runs without the relaxed-SIMD flag.
  const wasmBaseline = await createBackend('wasm', { simd: 'baseline' });
  const js = await createBackend('js');
  // The threaded backend (training step and epoch only): 2 threads, and 'auto' (every hardware thread).
  const wasm2 = await createBackend('wasm', { threads: 2 });
  const wasmAuto = await createBackend('wasm', { threads: 'auto' });
  const tfPeer = (backend) => ({
    name: /** @type {const} */ (`tfjs-${backend}`),
    async activate() {
      if (tf.getBackend() !== backend) await tf.setBackend(backend);
    },
  });
  const tfCpu = tfPeer('cpu');
  const tfWasm = tfPeer('wasm');
  // The cpu backend greets Node users with a banner (recommending tfjs-node,
  // native code, not a peer here) on its first tensor; keep the output clean.
  const { log, warn } = console;
  console.log = console.warn = () => {};
  try {
    for (const p of [tfCpu, tfWasm]) {
      await p.activate();
      await tf.ready();
      tf.tensor1d([0]).dispose();
    }
  } finally {
    Object.assign(console, { log, warn });
  }
  if (!tf.env().getBool('WASM_HAS_SIMD_SUPPORT')) throw new Error('TensorFlow.js wasm: SIMD is not available');
  const none = async () => {};
  return {
    peers: [{ name: 'wasm', activate: none }, { name: 'wasm-2t', activate: none }, { name: 'wasm-auto', activate: none }, { name: 'wasm-baseline', activate: none }, { name: 'js', activate: none }, tfCpu, tfWasm],
    wasm,
    wasm2,
    wasmAuto,
    wasmBaseline,
    js,
    tfjs: { cpu: tfCpu, wasm: tfWasm },
  };
}

/** A seeded generator of uniform numbers in [0, 1): normcore's own (mulberry32). */
export function rng(seed) {
  const r = new Random(seed);
  return () => r.next();
}

/** n values uniform in [lo, hi), seeded. */
export function randomArray(n, seed, lo = -1, hi = 1) {
  const r = rng(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * r();
  return a;
}

/**
 * For each tfjs backend, runs `make` with that backend active and returns
 * the tasks it built, keyed by peer name.
 * @template T
 * @param {{ cpu: Peer, wasm: Peer }} tfjs
 * @param {() => T} make
 * @returns {Promise<{ 'tfjs-cpu': T, 'tfjs-wasm': T }>}
 */
export async function onEachTfBackend(tfjs, make) {
  await tfjs.cpu.activate();
  const cpu = make();
  await tfjs.wasm.activate();
  const wasm = make();
  return { 'tfjs-cpu': cpu, 'tfjs-wasm': wasm };
}
