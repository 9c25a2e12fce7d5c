// The ceiling for matmul on this machine: how many f32 FLOP/s one thread gets
// from 128-bit wasm SIMD when nothing but multiply-adds run, on registers, in
// 12 independent chains (enough to cover the FMA latency on every core we
// know). matmul cannot beat it; bench/run.mjs prints it beside matmul's
// GFLOP/s, so "matmul at N GFLOP/s" reads as a fraction of what the core can do.
// 12 chains are also the relaxed build's 6×8 tile (12 accumulators); with 8
// chains (the baseline build's 4×8 tile) the figure is that tile's own
// ceiling. 16 chains spill (x64 has 16 xmm registers and V8 keeps one as
// scratch): the 6×8 tile's 12 accumulators + 2 B vectors + 1 splat of A
// are the 15 that V8 allocates.
//
// capacityProbe() asks the same of two cores: the multiply-add rate of two
// threads running that loop at once, over one thread's alone. On two real
// cores it is ×2; on a VM whose two vCPUs share one host core at the moment
// it is ×1, and no threaded kernel can do better than that. bench/run.mjs and
// bench/thread-profile.mjs print it beside their thread figures.
//
//   node bench/fma-peak.mjs      (Node 20 needs --experimental-wasm-relaxed-simd; set here)
import v8 from 'node:v8';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import asc from 'assemblyscript/asc';

v8.setFlagsFromString('--experimental-wasm-relaxed-simd');

const source = (chains) => {
  const acc = Array.from({ length: chains }, (_, i) => `a${i}`);
  const step = (a) => `${a} = f32x4.relaxed_madd(${a}, x, y);`;
  return `export function run(iters: i32): f32 {
  ${acc.map((a, i) => `let ${a} = f32x4.splat(<f32>${i + 1});`).join(' ')}
  const x = f32x4.splat(<f32>0.9999999), y = f32x4.splat(<f32>1e-7);
  for (let i = 0; i < iters; i++) { ${acc.map(step).join(' ')} }
  return f32x4.extract_lane(${acc.reduce((s, a) => `f32x4.add(${s}, ${a})`)}, 0);
}`;
};

async function binaryFor(chains) {
  const { error, binary, stderr } = await asc.compileString(source(chains), { optimizeLevel: 3, runtime: 'stub', enable: ['simd', 'relaxed-simd'] });
  if (error) throw new Error(`asc: ${error.message}\n${stderr}`);
  return binary;
}

async function compile(chains) {
  return (await WebAssembly.instantiate(await binaryFor(chains), {})).instance.exports.run;
}

/** Median GFLOP/s of `rounds` runs of `iters` iterations (each iteration: `chains` multiply-adds of 4 lanes, 2 FLOP each). */
function measure(run, chains, iters = 2_000_000, rounds = 9) {
  run(iters / 10); // tier up
  const rates = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    run(iters);
    rates.push((iters * chains * 8) / ((performance.now() - t0) * 1e6));
  }
  return rates.sort((a, b) => a - b)[rounds >> 1];
}

/** The FLOP/s ceiling of fused multiply-adds (relaxed_madd) on one thread in `chains` independent chains, in GFLOP/s. */
export async function fmaPeak(chains = 12) {
  return measure(await compile(chains), chains);
}

/** A worker that instantiates `binary` and answers each `iters` message with the milliseconds `run(iters)` took. */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
require('node:v8').setFlagsFromString('--experimental-wasm-relaxed-simd');
const run = new WebAssembly.Instance(new WebAssembly.Module(workerData)).exports.run;
run(100000);
parentPort.on('message', (iters) => { const t0 = performance.now(); run(iters); parentPort.postMessage(performance.now() - t0); });
`;

/**
 * How many cores' worth of multiply-adds two threads get at once: each round
 * times the 12-chain loop on one worker alone, then on two workers started
 * together, and takes (rate of both together) / (rate of one alone). ~×2 on
 * two free cores, ~×1 when the second vCPU gives nothing (it shares a host
 * core, or another process holds it). The probe keeps its two workers until
 * close(), so a bench can measure between its own rounds.
 * @returns {Promise<{ measure: (rounds?: number) => Promise<{ capacity: number, rounds: number[] }>, close: () => Promise<void> }>}
 */
export async function capacityProbe(iters = 2_000_000) {
  const binary = await binaryFor(12);
  const workers = [0, 1].map(() => new Worker(WORKER, { eval: true, workerData: binary }));
  const time = (w) => new Promise((resolve) => { w.once('message', resolve); w.postMessage(iters); });
  // two unrecorded rounds first: the workers' first runs are on the baseline compiler
  for (let r = 0; r < 2; r++) { await time(workers[0]); await Promise.all(workers.map(time)); }
  return {
    async measure(rounds = 7) {
      const ratios = [];
      for (let r = 0; r < rounds; r++) {
        const alone = await time(workers[0]);
        const [a, b] = await Promise.all(workers.map(time));
        ratios.push(alone / a + alone / b);
      }
      return { capacity: [...ratios].sort((x, y) => x - y)[rounds >> 1], rounds: ratios };
    },
    close: () => Promise.all(workers.map((w) => w.terminate())).then(() => undefined),
  };
}

/** capacityProbe's median of `rounds` rounds, workers started and stopped around it. */
export async function parallelCapacity(rounds = 7) {
  const probe = await capacityProbe();
  try {
    return await probe.measure(rounds);
  } finally {
    await probe.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { capacity, rounds } = await parallelCapacity();
  console.log(`two threads at once: ×${capacity.toFixed(2)} one thread's multiply-adds (rounds: ${rounds.map((r) => r.toFixed(2)).join(' ')})`);
  for (const chains of [8, 12, 16]) {
    console.log(`one thread, 128-bit wasm SIMD, relaxed_madd on registers only, ${chains} chains: ${(await fmaPeak(chains)).toFixed(1)} GFLOP/s`);
  }
}
