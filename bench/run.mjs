// npm run bench: normcore (wasm and js backends) against TensorFlow.js (cpu
// and wasm backends), every comparison in the same run, interleaved, medians
// after warm-up. Prints one table (Markdown) and writes bench/results.json.
//
//   node bench/run.mjs [--rounds 3] [--time 100] [--no-epoch] [--no-profile] [--no-cnn]
//
// Imports normcore by its package name, i.e. dist/ (npm run bench builds it
// first), as a user would. See bench/lib/harness.mjs for how the rounds
// interleave the peers.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import v8 from 'node:v8';
import { fileURLToPath } from 'node:url';
import { batchnormCases } from './batchnorm.mjs';
import { cnnCases } from './cnn.mjs';
import { measure } from './lib/harness.mjs';
import { createPeers, tf } from './lib/peers.mjs';
import { lossOptimCases } from './loss-optim.mjs';
import { matmulCases } from './matmul.mjs';
import { fmaPeak, parallelCapacity } from './fma-peak.mjs';
import { predictCases } from './predict.mjs';
import { digits, profileStep, stepCases, threadSync } from './step.mjs';

const args = process.argv.slice(2);
// Relaxed SIMD (fused multiply-add in matmul) is on by default in browsers and
// Node ≥ 22; Node 20 has it behind a V8 flag, set here before any wasm is
// compiled. The 'wasm' column then runs the relaxed build where the engine
// validates it; the 'wasm baseline' column (matmul) shows the plain SIMD build.
// --no-relaxed measures the baseline SIMD build (NORMCORE_SIMD=baseline).
if (!args.includes('--no-relaxed')) v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
// createBackend turns the flag on by itself on Node 20–21; the baseline build needs the opt-out.
else process.env.NORMCORE_SIMD = 'baseline';
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const ROUNDS = opt('rounds', 3);
const TIME_MS = opt('time', 100);
const EPOCH = !args.includes('--no-epoch');
const PROFILE = !args.includes('--no-profile');
const PEERS = ['wasm', 'wasm-2t', 'wasm-auto', 'wasm-baseline', 'js', 'tfjs-cpu', 'tfjs-wasm'];
const JAX = !args.includes('--no-jax');
const log = (s) => process.stderr.write(`${s}\n`);

const started = performance.now();
const setup = await createPeers();
const data = digits();
const { step, stepDense, epoch } = await stepCases(setup, data);
const cases = [
  ...(await matmulCases(setup)),
  ...(await batchnormCases(setup)),
  ...(await lossOptimCases(setup)),
  step,
  stepDense,
  ...(await predictCases(setup, data)),
  ...(args.includes('--no-cnn') ? [] : await cnnCases(setup, data)),
];
// What two threads can get from this machine right now (×2: two free cores), before and after the timed part:
// the thread figures below are read against it.
log('parallel capacity (bench/fma-peak.mjs)…');
const capacityBefore = (await parallelCapacity()).capacity;
log(`normcore bench: ${cases.length} workloads × ${PEERS.length} peers, ${ROUNDS} interleaved rounds of ${TIME_MS} ms per task`);
const medians = await measure(setup.peers, cases, { rounds: ROUNDS, timeMs: TIME_MS, minIterations: 1, log });
if (EPOCH) {
  log('one epoch per peer…');
  for (const [c, r] of await measure(setup.peers, [epoch], { rounds: 1, timeMs: 1, minIterations: 1, log })) medians.set(c, r);
  cases.push(epoch);
}
const profile = PROFILE ? await profileStep(data) : undefined;
const sync = await threadSync(data, setup.wasm2, setup.wasm);
const capacityAfter = (await parallelCapacity()).capacity;
log('FMA ceiling (bench/fma-peak.mjs)…');
const fmaCeiling = await fmaPeak(12);
const tileCeiling = await fmaPeak(8);

// JAX/XLA on CPU, the native reference for the same step, when python3 can import jax (optional).
let jax;
if (!JAX) jax = { absent: '--no-jax' };
else {
  let importable = false;
  try {
    execFileSync('python3', ['-c', 'import jax'], { stdio: 'ignore' });
    importable = true;
  } catch (e) {
    jax = { absent: e.code === 'ENOENT' ? 'python3 not found' : 'jax is not installed (python3 cannot import jax)' };
  }
  if (importable) {
    log('JAX/XLA step (bench/jax_step.py)…');
    try {
      jax = JSON.parse(execFileSync('python3', [fileURLToPath(new URL('./jax_step.py', import.meta.url))], { encoding: 'utf8' }).trim().split('\n').pop());
    } catch (e) {
      jax = { absent: `bench/jax_step.py failed: ${String(e.message).split('\n')[0]}` };
    }
  }
}

// ------------------------------------------------------------------ results

const perCall = (c, p) => (typeof c.perCall === 'number' ? c.perCall : c.perCall?.[p]) ?? 1;
const results = cases.map((c) => {
  const peers = {};
  for (const p of PEERS) {
    const m = medians.get(c)?.[p];
    if (!m) continue;
    const ms = m.median / perCall(c, p);
    const entry = { ms, samples: m.samples };
    if (c.unit === 'GFLOP/s' || c.workUnit === 'FLOP') entry.gflops = c.work / ms / 1e6;
    else if (c.work) entry.gbps = c.work / ms / 1e6;
    peers[p] = entry;
  }
  const ratio = (other) => (peers.wasm && peers[other] ? peers[other].ms / peers.wasm.ms : undefined);
  return { section: c.section, workload: c.name, unit: c.unit, work: c.work, peers, speedup: { wasmVsJs: ratio('js'), wasmVsTfjsWasm: ratio('tfjs-wasm'), wasmVsTfjsCpu: ratio('tfjs-cpu') } };
});

const find = (section, prefix) => results.find((r) => r.section === section && r.workload.startsWith(prefix));
const targets = [];
const target = (what, ok, value) => targets.push({ target: what, met: ok, measured: value });
for (const r of results.filter((r) => r.section === 'matmul' && !r.workload.startsWith('512'))) {
  // the ceiling is the better of the two chain counts: on a noisy host either measurement may come out low
  target(`matmul ${r.workload} ≥ 50 GFLOP/s`, r.peers.wasm.gflops >= 50, `${r.peers.wasm.gflops.toFixed(1)} GFLOP/s (${(100 * r.peers.wasm.gflops / Math.max(fmaCeiling, tileCeiling)).toFixed(0)}% of the FMA ceiling)`);
}
const bn = find('batchnorm', 'forward + backward 1024');
if (bn) {
  target('batch norm forward + backward 1024×1024 ≤ 1.2 ms', bn.peers.wasm.ms <= 1.2, `${bn.peers.wasm.ms.toFixed(3)} ms`);
  target('batch norm forward + backward 1024×1024 ≥ 15× js', bn.speedup.wasmVsJs >= 15, `×${bn.speedup.wasmVsJs.toFixed(1)}`);
}
const st = find('training', 'training step');
if (st) {
  target('training step ≤ 5 ms', st.peers.wasm.ms <= 5, `${st.peers.wasm.ms.toFixed(2)} ms`);
  target('training step ≥ 14× tfjs-wasm', st.speedup.wasmVsTfjsWasm >= 14, `×${st.speedup.wasmVsTfjsWasm.toFixed(1)}`);
  target('training step ≥ 25× js', st.speedup.wasmVsJs >= 25, `×${st.speedup.wasmVsJs.toFixed(1)}`);
}
const ep = find('training', 'one epoch');
// issue 12: the CNN through the layers
const cnnStep = find('cnn', 'CNN training step');
if (cnnStep) target('CNN training step, batch 64 ≤ 50 ms', cnnStep.peers.wasm.ms <= 50, `${cnnStep.peers.wasm.ms.toFixed(1)} ms`);
const cnnInfer = find('cnn', 'CNN inference, 64');
if (cnnInfer) target('CNN inference of 64 images ≤ 15 ms', cnnInfer.peers.wasm.ms <= 15, `${cnnInfer.peers.wasm.ms.toFixed(1)} ms`);
if (ep) target('one epoch ≤ 0.5 s', ep.peers.wasm.ms <= 500, `${(ep.peers.wasm.ms / 1000).toFixed(2)} s`);
// issue 13: threads
if (st?.peers['wasm-2t']) {
  target('training step, 2 threads ≤ 2.0 ms', st.peers['wasm-2t'].ms <= 2, `${st.peers['wasm-2t'].ms.toFixed(2)} ms`);
  const x = st.peers.wasm.ms / st.peers['wasm-2t'].ms;
  target('training step, 2 threads ≥ 1.6× one thread', x >= 1.6, `×${x.toFixed(2)}`);
  if (jax?.stepMs) target('training step, 2 threads ≤ JAX/XLA-CPU', st.peers['wasm-2t'].ms <= jax.stepMs, `${st.peers['wasm-2t'].ms.toFixed(2)} vs ${jax.stepMs.toFixed(2)} ms`);
}
const p1 = find('inference', 'predict 784-256-256-10, 1 row'), p128 = find('inference', 'predict 784-256-256-10, 128 rows');
if (p1) target('predict of 1 row ≤ 25 µs', p1.peers.wasm.ms <= 0.025, `${(p1.peers.wasm.ms * 1000).toFixed(1)} µs`);
if (p128) target('predict of 128 rows, 1 thread ≤ 1.35 ms', p128.peers.wasm.ms <= 1.35, `${p128.peers.wasm.ms.toFixed(3)} ms`);
if (ep?.peers['wasm-2t']) target('one epoch, 2 threads ≤ 0.2 s', ep.peers['wasm-2t'].ms <= 200, `${(ep.peers['wasm-2t'].ms / 1000).toFixed(2)} s`);
const products = results.filter((r) => r.section === 'matmul' && !r.workload.startsWith('512')).map((r) => r.peers.wasm.gflops);
if (products.length) {
  const lo = Math.min(...products), hi = Math.max(...products);
  target(`matmul, 1 thread, the ${products.length} products of the step ≥ 54 GFLOP/s (${setup.wasm.build} build)`, lo >= 54, `${lo.toFixed(1)}–${hi.toFixed(1)} GFLOP/s`);
}

const machine = {
  cpu: os.cpus()[0]?.model ?? 'unknown',
  cpus: os.cpus().length,
  os: `${os.type()} ${os.release()} ${os.arch()}`,
  node: process.version,
  wasmBuild: setup.wasm.build,
  /** One thread's f32 multiply-adds on registers only (bench/fma-peak.mjs): what matmul cannot beat. */
  fmaPeakGflops: fmaCeiling,
  /** The same with 8 chains, the 4×8 tile's accumulators (the baseline build's; the relaxed build's 6×8 tile has 12). */
  fmaPeak8Gflops: tileCeiling,
  threads: { '2t': setup.wasm2.info, auto: setup.wasmAuto.info },
  /** Two threads' multiply-adds at once over one thread's (bench/fma-peak.mjs), before and after the timed part: 2 = two free cores. */
  parallelCapacity: { before: capacityBefore, after: capacityAfter },
  load: os.loadavg(),
  v8: process.versions.v8,
  tfjs: tf.version_core,
  date: new Date().toISOString(),
};
const seconds = (performance.now() - started) / 1000;
const out = {
  machine,
  settings: { rounds: ROUNDS, timeMsPerTaskPerRound: TIME_MS, statistic: 'median of all samples over all rounds, after a warm-up in round 1', seconds: Math.round(seconds) },
  results,
  targets,
  ...(profile ? { stepProfile: profile } : {}),
  threadSync: sync,
  jax,
};
writeFileSync(fileURLToPath(new URL('./results.json', import.meta.url)), `${JSON.stringify(out, null, 2)}\n`);

// ------------------------------------------------------------------ table

const cell = (r, p) => {
  const e = r.peers[p];
  if (!e) return '—';
  if (r.unit === 'GFLOP/s') return `${e.gflops.toFixed(e.gflops < 10 ? 2 : 1)} GFLOP/s`;
  const ms = e.ms >= 1000 ? `${(e.ms / 1000).toFixed(2)} s` : e.ms >= 10 ? `${e.ms.toFixed(1)} ms` : `${e.ms.toFixed(e.ms < 0.1 ? 4 : 3)} ms`;
  if (e.gflops) return `${ms} (${e.gflops >= 1 ? e.gflops.toFixed(1) : e.gflops.toPrecision(2)} GFLOP/s)`;
  return e.gbps ? `${ms} (${e.gbps >= 1 ? e.gbps.toFixed(1) : e.gbps.toPrecision(2)} GB/s)` : ms;
};
const times = (x) => (x === undefined ? '—' : `×${x >= 100 ? x.toFixed(0) : x.toFixed(1)}`);
const rows = [['workload', 'normcore wasm', 'wasm 2 threads', `wasm auto (${setup.wasmAuto.info.threads})`, 'wasm baseline', 'normcore js', 'tfjs cpu', 'tfjs wasm', 'wasm vs js', 'wasm vs tfjs-wasm']];
for (const r of results) rows.push([`${r.section}: ${r.workload}`, ...PEERS.map((p) => cell(r, p)), times(r.speedup.wasmVsJs), times(r.speedup.wasmVsTfjsWasm)]);
const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
const line = (row) => `| ${row.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join(' | ')} |`;
const table = [line(rows[0]), `|${widths.map((w, i) => (i === 0 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`, ...rows.slice(1).map(line)].join('\n');

console.log(`\n${machine.cpu} (${machine.cpus} vCPU), ${machine.os}, Node ${machine.node}, TensorFlow.js ${machine.tfjs}, ${machine.date.slice(0, 10)}`);
console.log(`normcore wasm build: ${setup.wasm.build}${setup.wasm.build === 'relaxed' ? ' (relaxed SIMD; "wasm baseline" = plain SIMD build)' : ''}`);
console.log(`medians of ${ROUNDS} interleaved rounds; "wasm vs X" = X's time / wasm's time; load average at the end ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}\n`);
console.log(table);
console.log(jax?.stepMs
  ? `\nJAX/XLA CPU (${jax.jax}, same network and step, jitted): step ${jax.stepMs.toFixed(2)} ms, epoch of 10,000 rows ${(jax.epochMs / 1000).toFixed(2)} s`
  : `\nJAX/XLA CPU: not measured (${jax?.absent})`);
console.log(`FMA ceiling, one thread (relaxed_madd on registers, bench/fma-peak.mjs): ${fmaCeiling.toFixed(1)} GFLOP/s with 12 chains (the 6×8 tile's), ${tileCeiling.toFixed(1)} GFLOP/s with 8 (the 4×8 tile's)`);
console.log('The digits are 81% zeros, and normcore\'s matmul leaves out the depth steps that are zero in all 4 rows of a panel (assembly/matmul.ts):\n'
  + 'GFLOP/s of the predict and CNN rows count the full product, so normcore\'s can pass the FMA ceiling; "inputs with no zeros" is the step on the plain loop.');
console.log(`parallel capacity (two threads' multiply-adds at once over one's, bench/fma-peak.mjs): ×${capacityBefore.toFixed(2)} before the timed part, ×${capacityAfter.toFixed(2)} after; ×2 = two free cores, and no 2-thread figure can beat it`);
console.log(`threads: sync per split kernel ${sync.syncUsPerKernel.toFixed(1)} µs (2 threads); ${sync.partsPerStep.toFixed(0)} parts handed to workers per step, ${(sync.ranByCallerShare * 100).toFixed(0)}% run by the caller because the worker had not started (busy machine)`);
console.log('\ntargets (issues 4, 12, 13):');
for (const t of targets) console.log(`  ${t.met ? 'met    ' : 'NOT met'}  ${t.target}: ${t.measured}`);
if (profile) {
  console.log(`\nwhere a normcore wasm training step goes (${profile.stepMs.toFixed(2)} ms per step, every kernel call timed):`);
  for (const k of profile.kernels) console.log(`  ${(k.share * 100).toFixed(1).padStart(5)}%  ${k.msPerStep.toFixed(3).padStart(7)} ms  ${k.kernel}${k.calls ? ` (${+k.calls.toFixed(1)} call${k.calls === 1 ? '' : 's'})` : ''}`);
}
console.log(`\nwrote bench/results.json (${seconds.toFixed(0)} s)`);
setup.wasm2.dispose();
setup.wasmAuto.dispose();
