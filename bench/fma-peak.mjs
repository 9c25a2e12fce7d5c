// The ceiling for matmul on this machine: how many f32 FLOP/s one thread gets
// from 128-bit wasm SIMD when nothing but multiply-adds run, on registers, in
// 12 independent chains (enough to cover the FMA latency on every core we
// know). matmul cannot beat it; bench/run.mjs prints it beside matmul's
// GFLOP/s, so "matmul at N GFLOP/s" reads as a fraction of what the core can do.
// With 8 chains (the 4×8 micro-kernel's 8 accumulators) the figure is that
// tile's own ceiling; 16 chains spill (x64 has 16 xmm registers and V8 keeps
// one as scratch), which is why matmul's tile stops at 8 accumulators.
//
//   node bench/fma-peak.mjs      (Node 20 needs --experimental-wasm-relaxed-simd; set here)
import v8 from 'node:v8';
import { fileURLToPath } from 'node:url';
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

async function compile(chains) {
  const { error, binary, stderr } = await asc.compileString(source(chains), { optimizeLevel: 3, runtime: 'stub', enable: ['simd', 'relaxed-simd'] });
  if (error) throw new Error(`asc: ${error.message}\n${stderr}`);
  return (await WebAssembly.instantiate(binary, {})).instance.exports.run;
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

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const chains of [8, 12, 16]) {
    console.log(`one thread, 128-bit wasm SIMD, relaxed_madd on registers only, ${chains} chains: ${(await fmaPeak(chains)).toFixed(1)} GFLOP/s`);
  }
}
