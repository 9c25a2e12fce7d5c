/**
 * The benchmarks of `npm run bench:browser`, written once for every runtime:
 * the same module runs in headless Chromium (demo/bench.html) and in Node
 * (bench/browser.mjs loads it through Vite), so the two columns compare like
 * with like. Browser-safe: normcore's public API and performance.now only.
 *
 *   matmul        c[128×256] = a[128×784]·b[784×256]      GFLOP/s (2·m·k·n per call)
 *   batchnorm     forward + backward, 1024 rows × 1024 cols   ms per pair
 *   training step 784-256-256-10, Dense → BatchNorm → ReLU, softmax cross-entropy,
 *                 Adam, batch 128, inside fit (gather, forward, backward, update)   ms per step
 *
 * Each figure is the median of repeated samples after a 300 ms warm-up; a sample
 * repeats the call until it lasts ≥ 4 ms (timer resolution in browsers is coarse).
 */
import { BatchNorm, Dense, Random, ReLU, Sequential } from '../src/index.js';
import { createBackend, type KernelBackend as Backend } from '../src/kernels.js';

export type BackendName = 'wasm' | 'js';

export interface BenchResult {
  id: 'matmul' | 'batchnorm' | 'trainStep' | 'trainStep2t';
  name: string;
  unit: 'GFLOP/s' | 'ms' | 'ms/step';
  higherIsBetter: boolean;
  /** Median value per backend. */
  values: Record<BackendName, number>;
  /** Samples taken per backend. */
  samples: Record<BackendName, number>;
  /** The kernels that ran: 'js', or the wasm build ('relaxed' where the engine has relaxed SIMD, else 'release'). */
  builds: Record<BackendName, string>;
}

export interface BenchOptions {
  /** Backends to run (default both). */
  backends?: BackendName[];
  /** Sampling time per benchmark and backend after warm-up, in ms (default 1000). */
  budgetMs?: number;
  /** Called before each benchmark, for a progress line. */
  onProgress?: (text: string) => void;
}

const now = () => performance.now();
const pause = () => new Promise<void>((r) => setTimeout(r, 0));

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Median ms per call of a synchronous `fn`. */
async function timeSync(fn: () => void, budgetMs: number): Promise<{ ms: number; samples: number }> {
  // Warm-up for 300 ms (at least 3 calls): lets the engine tier hot code up (wasm Liftoff → TurboFan, JS → TurboFan),
  // which compiles in the background and may take a while on a busy machine.
  for (let i = 0, t0 = now(); i < 3 || now() - t0 < 300; i++) {
    fn();
    if (i % 8 === 7) await pause();
  }
  const t = now();
  fn();
  const reps = Math.max(1, Math.ceil(4 / Math.max(now() - t, 0.001)));
  const samples: number[] = [];
  const start = now();
  while ((samples.length < 5 || now() - start < budgetMs) && samples.length < 200) {
    const t0 = now();
    for (let r = 0; r < reps; r++) fn();
    samples.push((now() - t0) / reps);
    await pause();
  }
  return { ms: median(samples), samples: samples.length };
}

function random(rng: Random, n: number, lo = -1, hi = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * rng.next();
  return a;
}

async function matmul(be: Backend, budgetMs: number) {
  const m = 128, k = 784, n = 256, rng = new Random(1);
  const { heap, kernels } = be;
  const a = heap.put(random(rng, m * k)), b = heap.put(random(rng, k * n)), c = heap.allocF32(m * n);
  try {
    const r = await timeSync(() => kernels.matmul(c, a, b, m, k, n, 0, 0, 0), budgetMs);
    return { value: (2 * m * k * n) / (r.ms * 1e6), samples: r.samples };
  } finally {
    heap.free(c); heap.free(b); heap.free(a);
  }
}

async function batchnorm(be: Backend, budgetMs: number) {
  const rows = 1024, cols = 1024, rng = new Random(2);
  const { heap, kernels } = be;
  const x = heap.put(random(rng, rows * cols, -2, 3)), dy = heap.put(random(rng, rows * cols));
  const gamma = heap.put(random(rng, cols, 0.5, 1.5)), beta = heap.put(random(rng, cols));
  const y = heap.allocF32(rows * cols), dx = heap.allocF32(rows * cols);
  const mean = heap.allocF32(cols), variance = heap.allocF32(cols), invstd = heap.allocF32(cols);
  const runMean = heap.put(new Float32Array(cols)), runVar = heap.put(new Float32Array(cols).fill(1));
  const dgamma = heap.put(new Float32Array(cols)), dbeta = heap.put(new Float32Array(cols));
  try {
    const r = await timeSync(() => {
      kernels.batchnormForward(y, mean, variance, invstd, x, gamma, beta, runMean, runVar, rows, cols, 1e-5, 0.1);
      kernels.batchnormBackward(dx, dgamma, dbeta, dy, x, gamma, mean, invstd, rows, cols);
    }, budgetMs);
    return { value: r.ms, samples: r.samples };
  } finally {
    for (const p of [dbeta, dgamma, runVar, runMean, invstd, variance, mean, dx, y, beta, gamma, dy, x].reverse()) heap.free(p);
  }
}

async function trainStep(be: Backend, budgetMs: number) {
  const batch = 128, rng = new Random(3);
  const model = new Sequential([
    new Dense(784, 256), new BatchNorm(256), new ReLU(),
    new Dense(256, 256), new BatchNorm(256), new ReLU(),
    new Dense(256, 10),
  ], { backend: be, seed: 1 });
  model.compile({ loss: 'softmaxCrossEntropy', optimizer: { type: 'adam', lr: 1e-3 } });
  const steps = be.name === 'wasm' ? 24 : 6;
  const xs = random(rng, batch * steps * 784, 0, 1);
  const y = Uint8Array.from({ length: batch * steps }, () => Math.floor(rng.next() * 10));
  const times: number[] = [];
  const fitOnce = async (rows: number, record: boolean) => {
    let prev: number | undefined;
    await model.fit(xs.subarray(0, rows * 784), y.subarray(0, rows), {
      epochs: 1, batchSize: batch, checkInputs: false,
      onBatchEnd: () => {
        const t = now();
        if (record && prev !== undefined) times.push(t - prev);
        prev = t;
      },
    });
  };
  try {
    // Warm-up (≥ 300 ms): plans the arena and lets the hot paths tier up.
    for (const t0 = now(); now() - t0 < 300;) await fitOnce(batch * 2, false);
    const start = now();
    while (times.length < 5 || now() - start < budgetMs) await fitOnce(batch * steps, true);
    return { value: median(times), samples: times.length };
  } finally {
    model.dispose();
  }
}

const BENCHMARKS = [
  { id: 'matmul', name: 'matmul [128×784]·[784×256]', unit: 'GFLOP/s', higherIsBetter: true, run: matmul },
  { id: 'batchnorm', name: 'batch norm forward + backward, 1024×1024', unit: 'ms', higherIsBetter: false, run: batchnorm },
  { id: 'trainStep', name: 'training step 784-256-256-10 BN, batch 128, Adam', unit: 'ms/step', higherIsBetter: false, run: trainStep },
  // The threaded wasm backend (the js column stays empty). Needs shared memory: a cross-origin-isolated page
  // (the demo server sends COOP/COEP) or Node; elsewhere the row is empty and says why in `builds`.
  { id: 'trainStep2t', name: 'training step, wasm with 2 threads', unit: 'ms/step', higherIsBetter: false, run: trainStep, threads: 2 },
] as const;

/** Runs every benchmark on each backend (one fresh backend per benchmark). */
export async function runBrowserBenchmarks(options: BenchOptions = {}): Promise<BenchResult[]> {
  const backends = options.backends ?? ['wasm', 'js'];
  const budgetMs = options.budgetMs ?? 1000;
  const out: BenchResult[] = [];
  for (const b of BENCHMARKS) {
    const values = { wasm: NaN, js: NaN }, samples = { wasm: 0, js: 0 }, builds = { wasm: '', js: '' };
    for (const name of backends) {
      const threads = 'threads' in b ? b.threads : undefined;
      if (threads !== undefined && name !== 'wasm') continue;
      options.onProgress?.(`${b.name} on ${name}…`);
      await pause();
      let backend: Backend;
      try {
        backend = await createBackend(name, threads === undefined ? {} : { threads });
      } catch (e) {
        builds[name] = `unavailable: ${(e as Error).message}`;
        continue;
      }
      builds[name] = backend.build;
      try {
        const r = await b.run(backend, budgetMs);
        values[name] = r.value;
        samples[name] = r.samples;
      } finally {
        backend.dispose();
      }
    }
    out.push({ id: b.id, name: b.name, unit: b.unit, higherIsBetter: b.higherIsBetter, values, samples, builds });
  }
  return out;
}

/** "12.3×": how many times faster wasm is than js on this row. */
export function speedup(r: BenchResult): string {
  const s = r.higherIsBetter ? r.values.wasm / r.values.js : r.values.js / r.values.wasm;
  return Number.isFinite(s) ? `${s.toFixed(1)}×` : '–';
}

/** A value with three significant digits. */
export function fmt(v: number): string {
  if (!Number.isFinite(v)) return '–';
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toPrecision(3);
}
