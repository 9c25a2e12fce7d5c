// Where the threaded training step goes: the bench network's step
// (784-256-256-10 BN, batch 128, Adam, through Sequential.fit) on 1 and on 2
// threads, every kernel call timed (performance.now around it), the two
// backends' fits interleaved round by round. Prints per kernel: ms per step
// on each, the ratio, calls per step, and how many parts it handed to the
// worker (0: it ran whole on the calling thread); then the step, the time
// outside kernels, and the serial fraction (the 2-thread time of kernels that
// did not split, plus the time outside kernels, over the 1-thread step).
//
//   node bench/thread-profile.mjs [--rounds 7] [--steps 20]
import os from 'node:os';
import v8 from 'node:v8';
import { createBackend } from 'normcore/kernels';
import { capacityProbe } from './fma-peak.mjs';
import { digits, normcoreModel } from './step.mjs';

v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(`--${name}`) ? Number(args[args.indexOf(`--${name}`) + 1]) : dflt);
const ROUNDS = opt('rounds', 7), STEPS = opt('steps', 20), BATCH = 128;

/** `be` with every unchecked kernel timed into `totals` (ms and calls per name) and the parts it posted counted. */
function timed(be) {
  const totals = new Map();
  const unchecked = {};
  const k = be.unchecked;
  for (const name of Object.keys(be.kernels)) {
    const f = k[name].bind(k);
    unchecked[name] = (...a) => {
      const p0 = be.threadStats().posted;
      const t0 = performance.now();
      const r = f(...a);
      const dt = performance.now() - t0;
      const t = totals.get(name) ?? { ms: [], calls: 0, parts: 0 };
      t.cur = (t.cur ?? 0) + dt;
      t.calls++;
      t.parts += be.threadStats().posted - p0;
      totals.set(name, t);
      return r;
    };
  }
  return { backend: { ...be, unchecked }, totals };
}

const data = digits();
const xs = data.x.subarray(0, STEPS * BATCH * 784), ys = data.y.subarray(0, STEPS * BATCH);
const runs = [];
for (const threads of [1, 2]) {
  const be = await createBackend('wasm', threads === 1 ? {} : { threads });
  const t = timed(be);
  const model = normcoreModel(t.backend);
  const fit = () => model.fit(xs, ys, { epochs: 1, batchSize: BATCH, shuffle: false, checkInputs: false });
  await fit();
  runs.push({ threads, be, t, fit, steps: [] });
}
// the machine's parallel capacity, one probe round between the fits of each round (×2: two free cores)
const probe = await capacityProbe();
const capacity = [];
for (let r = 0; r < ROUNDS; r++) {
  capacity.push((await probe.measure(1)).capacity);
  for (const run of runs) {
    for (const v of run.t.totals.values()) { v.cur = 0; v.calls = 0; v.parts = 0; }
    const s0 = run.be.threadStats();
    const t0 = performance.now();
    await run.fit();
    run.steps.push((performance.now() - t0) / STEPS);
    for (const v of run.t.totals.values()) v.ms.push(v.cur / STEPS);
    const s1 = run.be.threadStats();
    run.stolen = (s1.ranByCaller - s0.ranByCaller) / Math.max(1, s1.posted - s0.posted);
  }
}
await probe.close();
const med = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const [one, two] = runs;
const names = [...one.t.totals.keys()].sort((a, b) => med(one.t.totals.get(b).ms) - med(one.t.totals.get(a).ms));
const rows = [];
let in1 = 0, in2 = 0, serial2 = 0;
for (const n of names) {
  const a = med(one.t.totals.get(n).ms), b = med(two.t.totals.get(n)?.ms ?? [0]);
  const t2 = two.t.totals.get(n);
  const parts = t2 ? t2.parts / STEPS : 0;
  in1 += a;
  in2 += b;
  if (parts === 0) serial2 += b;
  rows.push(`| ${n.padEnd(22)} | ${(a * 1000).toFixed(1).padStart(7)} | ${(b * 1000).toFixed(1).padStart(7)} | ${(a / b).toFixed(2).padStart(5)} | ${(one.t.totals.get(n).calls / STEPS).toFixed(1).padStart(5)} | ${parts.toFixed(1).padStart(5)} |`);
}
const s1 = med(one.steps), s2 = med(two.steps);
console.log(`threaded step profile: ${ROUNDS} interleaved rounds of ${STEPS} steps, medians; load average ${os.loadavg().map((x) => x.toFixed(2)).join(', ')}`);
console.log('| kernel                 | 1 thread µs/step | 2 threads µs/step | ×    | calls/step | parts to worker/step |');
console.log('|:--|--:|--:|--:|--:|--:|');
for (const r of rows) console.log(r);
console.log(`| (outside kernels: fit loop, JS↔wasm) | ${((s1 - in1) * 1000).toFixed(1)} | ${((s2 - in2) * 1000).toFixed(1)} | | | |`);
console.log(`| **step** | ${(s1 * 1000).toFixed(1)} | ${(s2 * 1000).toFixed(1)} | ${(s1 / s2).toFixed(2)} | | |`);
const serial = serial2 + (s2 - in2);
console.log(`serial on 2 threads (kernels that did not split + outside kernels): ${(serial * 1000).toFixed(1)} µs = ${(100 * serial / s1).toFixed(1)}% of the 1-thread step; parts run by the caller: ${(100 * two.stolen).toFixed(0)}%`);
const posted = names.reduce((n, k) => n + (two.t.totals.get(k)?.parts ?? 0), 0) / STEPS;
console.log(`parallel capacity between rounds (two threads' multiply-adds at once over one's; ×2 = two free cores): median ×${med(capacity).toFixed(2)}, rounds ${capacity.map((c) => c.toFixed(2)).join(' ')}`);
console.log(`parts handed to the worker per step: ${posted.toFixed(1)} (16 when every split kernel splits)`);
if (posted < 12 || two.stolen > 0.25) {
  console.log('WARNING: the pool backed off or its worker was descheduled (the other core is busy): the 2-thread column is not a measure of the threads');
}
for (const r of runs) r.be.dispose();

