/**
 * Kernel parity, in the page: the same random inputs through the wasm kernels
 * and their pure-JS twins, compared with the agreement measure of the kernel
 * tests (test/helpers/compare.ts): ‖wasm − js‖∞ / max(1, ‖js‖∞).
 */
import { BatchNorm, Dense, Random, ReLU, Sequential, type Kernels, type Ptr } from 'normcore';
import { createBackend, type KernelBackend as Backend } from 'normcore/kernels';

export interface ParityRow {
  name: string;
  shape: string;
  /** Worst agreement measure over the kernel's outputs. */
  relErr: number;
  tolerance: number;
  pass: boolean;
}

export const PARITY_TOLERANCE = 1e-4;

function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let d = 0, m = 0;
  for (let i = 0; i < a.length; i++) {
    const e = Math.abs(a[i]! - b[i]!);
    if (Number.isNaN(e)) return NaN;
    if (e > d) d = e;
    if (Math.abs(b[i]!) > m) m = Math.abs(b[i]!);
  }
  return d / Math.max(1, m);
}

type Input = Float32Array | Int32Array | number;

/**
 * Runs `kernel` on a backend: each input array is copied into fresh blocks
 * (a number allocates that many zeroed floats), then the outputs listed by
 * index are read back, plus the kernel's scalar result.
 */
function run(be: Backend, inputs: Input[], outputs: number[], kernel: (k: Kernels, p: Ptr[]) => number | void): Float32Array[] {
  const ptrs = inputs.map((x) => {
    if (typeof x === 'number') {
      const p = be.heap.allocF32(x);
      be.kernels.fill(p, x, 0);
      return p;
    }
    return be.heap.put(x);
  });
  try {
    const r = kernel(be.kernels, ptrs);
    const out = outputs.map((i) => be.heap.readF32(ptrs[i]!, typeof inputs[i] === 'number' ? (inputs[i] as number) : (inputs[i] as Float32Array).length));
    if (typeof r === 'number') out.push(Float32Array.of(r));
    return out;
  } finally {
    for (const p of ptrs.reverse()) be.heap.free(p);
  }
}

/** Runs every check; `onRow` sees each result as it arrives (the page fills its table). */
export async function runParity(onRow?: (row: ParityRow) => void, seed = 7): Promise<{ rows: ParityRow[]; wasmBuild: string }> {
  const wasm = await createBackend('wasm');
  const js = await createBackend('js');
  const rng = new Random(seed);
  const uniform = (n: number, lo = -1, hi = 1) => Float32Array.from({ length: n }, () => lo + (hi - lo) * rng.next());
  const labels = (n: number, classes: number) => Int32Array.from({ length: n }, () => Math.floor(rng.next() * classes));
  const rows: ParityRow[] = [];
  const check = (name: string, shape: string, inputs: Input[], outputs: number[], kernel: (k: Kernels, p: Ptr[]) => number | void) => {
    const a = run(wasm, inputs, outputs, kernel);
    const b = run(js, inputs, outputs, kernel);
    const err = Math.max(...a.map((x, i) => relErr(x, b[i]!)));
    const row = { name, shape, relErr: err, tolerance: PARITY_TOLERANCE, pass: err <= PARITY_TOLERANCE };
    rows.push(row);
    onRow?.(row);
  };
  const tick = () => new Promise((r) => setTimeout(r, 0));

  // matmul: c [m×n] = op(a)·op(b), the shapes of the default network's first layer, then odd ones.
  for (const [m, k, n, ta, tb] of [[128, 784, 256, 0, 0], [37, 53, 29, 0, 0], [64, 33, 17, 1, 0], [19, 40, 65, 0, 1], [8, 8, 8, 1, 1]] as const) {
    const a = uniform(m * k), b = uniform(k * n);
    check('matmul', `[${m}×${k}]·[${k}×${n}]${ta ? ' Aᵀ' : ''}${tb ? ' Bᵀ' : ''}`, [m * n, a, b], [0], (kk, p) => kk.matmul(p[0]!, p[1]!, p[2]!, m, k, n, ta, tb, 0));
    await tick();
  }
  {
    const m = 128, k = 256, n = 10;
    check('matmulBackward', `[${m}×${k}]·[${k}×${n}]`, [m * k, k * n, uniform(m * n), uniform(m * k), uniform(k * n)], [0, 1],
      (kk, p) => kk.matmulBackward(p[0]!, p[1]!, p[2]!, p[3]!, p[4]!, m, k, n, 1));
  }
  for (const [r, c] of [[128, 256], [7, 33]] as const) {
    const x = uniform(r * c, -3, 5), gamma = uniform(c, 0.5, 1.5), beta = uniform(c);
    check('batchnormForward', `${r}×${c}`, [r * c, c, c, c, x, gamma, beta, c, c], [0, 1, 2, 3],
      (kk, p) => kk.batchnormForward(p[0]!, p[1]!, p[2]!, p[3]!, p[4]!, p[5]!, p[6]!, p[7]!, p[8]!, r, c, 1e-5, 0.1));
    // backward from the forward's saved mean and invstd (computed by the js twin, the same for both)
    const fwd = js.batchNormForward(x, gamma, beta, { rows: r, cols: c });
    check('batchnormBackward', `${r}×${c}`, [r * c, c, c, uniform(r * c), x, gamma, fwd.mean, fwd.invStd], [0, 1, 2],
      (kk, p) => kk.batchnormBackward(p[0]!, p[1]!, p[2]!, p[3]!, p[4]!, p[5]!, p[6]!, p[7]!, r, c));
    await tick();
  }
  {
    const n = 4099, x = uniform(n, -4, 4), d = uniform(n);
    for (const act of ['relu', 'sigmoid', 'tanh'] as const) {
      const fwd = `${act}Forward` as const, bwd = `${act}Backward` as const;
      check(fwd, `${n}`, [n, x], [0], (kk, p) => kk[fwd](p[0]!, p[1]!, n));
      check(bwd, `${n}`, [n, d, uniform(n, 0, 1)], [0], (kk, p) => kk[bwd](p[0]!, p[1]!, p[2]!, n));
    }
    // leaky ReLU and GELU backwards take the forward's input
    check('leakyReluForward', `${n}`, [n, x], [0], (kk, p) => kk.leakyReluForward(p[0]!, p[1]!, n, 0.01));
    check('leakyReluBackward', `${n}`, [n, d, x], [0], (kk, p) => kk.leakyReluBackward(p[0]!, p[1]!, p[2]!, n, 0.01));
    check('geluForward', `${n}`, [n, x], [0], (kk, p) => kk.geluForward(p[0]!, p[1]!, n));
    check('geluBackward', `${n}`, [n, d, x], [0], (kk, p) => kk.geluBackward(p[0]!, p[1]!, p[2]!, n));
  }
  {
    const r = 128, c = 10;
    check('softmaxCrossEntropy', `${r}×${c}`, [r * c, uniform(r * c, -6, 6), labels(r, c)], [0], (kk, p) => kk.softmaxCrossEntropy(p[0]!, p[1]!, p[2]!, r, c));
    check('softmaxForward', `${r}×${c}`, [r * c, uniform(r * c, -6, 6)], [0], (kk, p) => kk.softmaxForward(p[0]!, p[1]!, r, c));
    check('biasBackward', `${r}×${c}`, [c, uniform(r * c)], [0], (kk, p) => kk.biasBackward(p[0]!, p[1]!, r, c));
    check('binaryCrossEntropy', `${r}×${c}`, [r * c, uniform(r * c, -6, 6), uniform(r * c, 0, 1)], [0], (kk, p) => kk.binaryCrossEntropy(p[0]!, p[1]!, p[2]!, r, c));
    check('maeLoss', `${r}×${c}`, [r * c, uniform(r * c, -2, 2), uniform(r * c)], [0], (kk, p) => kk.maeLoss(p[0]!, p[1]!, p[2]!, r, c));
    check('huberLoss', `${r}×${c}`, [r * c, uniform(r * c, -2, 2), uniform(r * c)], [0], (kk, p) => kk.huberLoss(p[0]!, p[1]!, p[2]!, r, c, 1));
  }
  {
    const n = 1031;
    check('adamUpdate', `${n}`, [uniform(n), uniform(n), uniform(n, -0.1, 0.1), uniform(n, 0, 0.01)], [0, 2, 3],
      (kk, p) => kk.adamUpdate(p[0]!, p[1]!, p[2]!, p[3]!, n, 1e-3, 0.9, 0.999, 1e-8, 1e-4, 3));
    check('adamwUpdate', `${n}`, [uniform(n), uniform(n), uniform(n, -0.1, 0.1), uniform(n, 0, 0.01)], [0, 2, 3],
      (kk, p) => kk.adamwUpdate(p[0]!, p[1]!, p[2]!, p[3]!, n, 1e-3, 0.9, 0.999, 1e-8, 1e-2, 3));
    check('sgdUpdate', `${n}`, [uniform(n), uniform(n), uniform(n, -0.1, 0.1)], [0, 2], (kk, p) => kk.sgdUpdate(p[0]!, p[1]!, p[2]!, n, 0.01, 0.9, 1e-4));
    check('rmspropUpdate', `${n}`, [uniform(n), uniform(n), uniform(n, 0, 0.01)], [0, 2], (kk, p) => kk.rmspropUpdate(p[0]!, p[1]!, p[2]!, n, 1e-3, 0.9, 1e-7, 0));
  }
  await tick();

  // The kernels together: ten training steps of 784-64-BN-ReLU-10 with Adam on both backends, same seed.
  {
    const N = 256, x = uniform(N * 784, 0, 1), y = Uint8Array.from(labels(N, 10));
    const trajectory = async (be: Backend) => {
      const m = new Sequential([new Dense(784, 64), new BatchNorm(64), new ReLU(), new Dense(64, 10)], { backend: be, seed: 3 });
      m.compile({ loss: 'softmaxCrossEntropy', optimizer: { type: 'adam', lr: 1e-3 } });
      const losses: number[] = [];
      await m.fit(x, y, { epochs: 1, batchSize: 32, shuffle: false, onBatchEnd: (_b, l) => void losses.push(l.loss) });
      await m.fit(x, y, { epochs: 1, batchSize: 128, shuffle: false, onBatchEnd: (_b, l) => void losses.push(l.loss) });
      const p = m.predict(x.subarray(0, 32 * 784));
      m.dispose();
      return [Float32Array.from(losses), p];
    };
    const [la, pa] = await trajectory(wasm);
    const [lb, pb] = await trajectory(js);
    const err = Math.max(relErr(la!, lb!), relErr(pa!, pb!));
    const row = { name: 'training steps', shape: '784-64-BN-10, 10 Adam steps', relErr: err, tolerance: PARITY_TOLERANCE, pass: err <= PARITY_TOLERANCE };
    rows.push(row);
    onRow?.(row);
  }
  return { rows, wasmBuild: wasm.build };
}
