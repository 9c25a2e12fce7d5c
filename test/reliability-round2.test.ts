/**
 * Reliability, round two (issue 15): one block per numbered problem, each
 * reproducing it as reported and checking what normcore does now. The README's
 * Guarantees section names these tests.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli.js';
import { Heap } from '../src/backend/heap.js';
import { BatchNorm, Dense, DivergenceError, LeakyReLU, mlp, ModelFormatError, NormcoreError, ReLU, Sequential, StateError } from '../src/index.js';
import { createBackend, type KernelBackend as Backend } from '../src/kernels.js';
import { checkpointFile, loadModel, saveModel } from '../src/node/index.js';
import { blobs, bnNet } from './fixtures/data.js';
import { maxAbsDiff } from './helpers/compare.js';

const root = join(import.meta.dirname, '..');
let dir: string;
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'normcore-r2-')); });
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '', err = '';
  const code = await main(argv, { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}

/** Runs a module in a fresh Node process (no wasm compiled, no V8 flags) and returns what it printed. */
function fresh(code: string, env: Record<string, string> = {}): string {
  return execFileSync(process.execPath, ['--input-type=module', '-e', code], { cwd: root, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '', ...env } }).trim();
}

describe('1. the js backend past 2 GiB', () => {
  it('addresses memory above 2^31 correctly: kernels and models agree with the wasm backend', async () => {
    const js = await createBackend('js');
    const wasm = await createBackend('wasm');
    js.heap.alloc(2 ** 31 + 2 ** 20); // everything after this lives above 2 GiB
    expect(js.heap.memoryBytes).toBeGreaterThan(2 ** 31);
    const a = Float32Array.from({ length: 12 }, (_, i) => i - 5), b = Float32Array.from({ length: 20 }, (_, i) => Math.sin(i));
    expect(maxAbsDiff(js.matmul(a, b, { m: 3, k: 4, n: 5 }), wasm.matmul(a, b, { m: 3, k: 4, n: 5 }))).toBeLessThan(1e-5);
    const { x, y } = blobs(48, 6, 3, 2);
    const [mj, mw] = [bnNet(js), bnNet(wasm)].map((m) => m.compile({ optimizer: { type: 'adam', lr: 0.01 } }));
    await mj!.fit(x, y, { epochs: 3, batchSize: 16 });
    await mw!.fit(x, y, { epochs: 3, batchSize: 16 });
    const pj = mj!.predict(x);
    expect(pj.some((v) => v !== 0)).toBe(true);
    expect(maxAbsDiff(pj, mw!.predict(x))).toBeLessThan(1e-4);
  }, 60_000);
});

describe.each(['wasm', 'js'] as const)('2–3, 5, 7–8 on the %s backend', (name) => {
  let be: Backend;
  beforeAll(async () => { be = await createBackend(name); });
  const { x, y } = blobs(64, 6, 3, 4);

  it('2. features near 1e19 (running variance overflows f32): a DivergenceError naming the running statistics, and every checkpoint written loads', async () => {
    const big = x.map((v) => v * 1e19);
    const m = new Sequential([new BatchNorm(6), new Dense(6, 3)], { backend: be, seed: 1 }).compile();
    const saved: Uint8Array[] = [];
    const e = await m.fit(big, y, { epochs: 3, batchSize: 16, checkpoint: { save: (b) => void saved.push(b) } }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(DivergenceError);
    expect((e as DivergenceError).what).toBe('running statistics');
    expect((e as Error).message).toMatch(/^fit: the running statistics became NaN or infinite after the update at epoch 1, batch 1 of 4/);
    for (const b of saved) await expect(Sequential.load(b, { backend: be })).resolves.toBeDefined();
    await expect(Sequential.load(m.save(), { backend: be })).resolves.toBeDefined();
  });

  it('2. momentum 1 at a huge rate: fit stops before an unloadable checkpoint, and the last good one stays on disk', async () => {
    const path = join(dir, `momentum-${name}.ckpt`);
    const m = bnNet(be).compile({ optimizer: { type: 'momentum', lr: 1000, momentum: 1 } });
    const e = await m.fit(x, y, { epochs: 12, batchSize: 16, checkpoint: checkpointFile(path) }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(DivergenceError);
    const onDisk = new Uint8Array(await readFile(path));
    const back = await Sequential.load(onDisk, { backend: be });
    expect(back.predict(x).every(Number.isFinite)).toBe(true);
    expect((await Sequential.checkpointInfo(onDisk)).epochsDone).toBeLessThan(12);
  });

  it.each([
    ['adam lr 1e30, one batch per epoch', { type: 'adam', lr: 1e30 }],
    ['sgd weightDecay 1e30', { type: 'sgd', lr: 0.1, weightDecay: 1e30 }],
    ['rmsprop rho 1', { type: 'rmsprop', lr: 0.1, rho: 1 }],
  ] as const)('2. %s: a DivergenceError, never a fit that resolves with infinite weights', async (_n, optimizer) => {
    const m = bnNet(be).compile({ optimizer });
    const e = await m.fit(x, y, { epochs: 5, batchSize: 64 }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(DivergenceError);
    expect(m.parameters().every((p) => p.value.every(Number.isFinite))).toBe(true);
    await expect(Sequential.load(m.save(), { backend: be })).resolves.toBeDefined();
  });

  it('2. inputs near 1e30: the variance overflows f32, and fit says so', async () => {
    const m = bnNet(be).compile();
    const e = await m.fit(x.map((v) => v * 1e30), y, { epochs: 1, batchSize: 16 }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(DivergenceError);
    expect(() => m.save()).not.toThrow();
  });

  it('2. save() refuses what load would refuse (a NaN weight put there by hand) with NOT_FINITE, writing nothing', async () => {
    const m = new Sequential([new Dense(2, 2)], { backend: be });
    const w = m.parameters()[0]!;
    be.heap.f32(be.heap.alloc(4), 1); // memory may move; write through the model's own file instead:
    const bytes = m.save();
    const bad = await Sequential.load(bytes, { backend: be });
    // a weight set to NaN through the kernels (as a user's checkInputs: false fit could)
    const p = (bad as unknown as { net: { block(n: string): number } }).net.block('params');
    be.heap.f32(p, 1)[0] = NaN;
    const path = join(dir, `nan-${name}.nc`);
    await expect(saveModel(bad, path)).rejects.toMatchObject({ code: 'NOT_FINITE', message: expect.stringMatching(/^save: refusing to write a model that load would refuse \(weight 0 is NaN\); nothing was written$/) });
    expect((await readdir(dir)).filter((f) => f.includes(`nan-${name}`))).toEqual([]);
    expect(w.value.length).toBe(4);
  });

  it('5. layers reused after dispose start afresh: Dense resolves its bias anew, BatchNorm counts from 0; a refused constructor changes no layer', async () => {
    const dense = new Dense(6, 4), bn = new BatchNorm(4, { momentum: null }), relu = new ReLU();
    const a = new Sequential([dense, bn, relu, new Dense(4, 3)], { backend: be }).compile();
    await a.fit(x, y, { epochs: 2, batchSize: 16 });
    expect(dense.bias).toBe(false);
    expect(bn.numBatchesTracked).toBe(8);
    a.dispose();
    expect(dense.bias).toBeUndefined();
    const b = new Sequential([dense, new ReLU(), new Dense(4, 3)], { backend: be });
    expect(dense.bias).toBe(true); // no BatchNorm after it in this model
    b.dispose();
    const c = new Sequential([new Dense(6, 4), bn, new Dense(4, 3)], { backend: be }).compile();
    expect(bn.numBatchesTracked).toBe(0);
    const first = c.layerOutputs(x.subarray(0, 16 * 6), [0])[0]!; // what the BatchNorm receives in the first batch
    await c.fit(x.subarray(0, 16 * 6), y.subarray(0, 16), { epochs: 1, batchSize: 16, shuffle: false });
    // momentum null after one batch: the running mean is that batch's mean, not 1/9 of it
    const mean0 = Array.from({ length: 16 }, (_, r) => first[r * 4]!).reduce((s, v) => s + v, 0) / 16;
    expect(bn.stateValues().runningMean![0]).toBeCloseTo(mean0, 4);
    c.dispose();
    const huge = new Dense(6, 4);
    expect(() => new Sequential([huge, new Dense(4, 2 ** 29), new BatchNorm(2 ** 29)], { backend: be })).toThrow(/more than the 4294967296 bytes/);
    expect(huge.bias).toBeUndefined();
    expect(huge.attached).toBe(false);
  });

  it('7. error codes: mlp, summary after dispose, loadModel of a bad file and of a missing one', async () => {
    expect(() => mlp(undefined as never)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/^mlp: options must be an object/) }));
    expect(() => mlp({ inputs: 4, hidden: [3], outputs: 2, batchnorm: false } as never)).toThrow(expect.objectContaining({ code: 'UNKNOWN_OPTION' }));
    const m = new Sequential([new Dense(2, 2)], { backend: be });
    m.dispose();
    expect(() => m.summary()).toThrow(StateError);
    const bad = join(dir, `bad-${name}.nc`);
    await writeFile(bad, 'not a model');
    const e = await loadModel(bad, { backend: be }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(ModelFormatError);
    expect((e as NormcoreError).code).toBe('MODEL_FORMAT');
    expect((e as Error).message).toMatch(/^loadModel: .*bad-\w+\.nc: load: /);
    const missing = await loadModel(join(dir, 'nope.nc'), { backend: be }).catch((err: unknown) => err);
    expect(missing).toMatchObject({ code: 'IO', message: expect.stringMatching(/there is no file at/) });
  });

  it('8. options outside the f32 range are refused: eps 1e39 and 1e-50, lr 1e39, LeakyReLU alpha 1e40', () => {
    for (const f of [() => new BatchNorm(3, { eps: 1e39 }), () => new BatchNorm(3, { eps: 1e-50 }), () => new LeakyReLU({ alpha: 1e40 })]) {
      expect(f).toThrow(expect.objectContaining({ code: 'OUT_OF_RANGE', message: expect.stringMatching(/must be representable as a 32-bit float/) }));
    }
    const m = bnNet(be);
    expect(() => m.compile({ optimizer: { type: 'adam', lr: 1e39 } })).toThrow(/options\.optimizer\.lr must be representable as a 32-bit float/);
  });
});

describe('4, 7. backends before the wasm module is compiled (a fresh process)', () => {
  it('the synchronous ways to a backend say what to await first (INVALID_STATE); Sequential.load, asynchronous, creates the backend it is given by name', () => {
    const out = fresh(`
      import { Sequential, Dense, createBackend, createBackendSync } from './dist/index.js';
      const r = [];
      for (const f of [() => createBackendSync('wasm'), () => new Sequential([new Dense(2, 2)]), () => createBackendSync('js'), () => new Sequential([new Dense(2, 2)], { backend: 'js' })]) {
        try { f(); r.push('no error'); } catch (e) { r.push(e.name + ' ' + e.code + ' ' + e.message); }
      }
      const bytes = new Sequential([new Dense(2, 2)], { backend: await createBackend('js') }).save();
      const loaded = await Sequential.load(bytes);
      console.log(JSON.stringify({ r, build: loaded.backend.name, out: Array.from(loaded.predict(new Float32Array([1, 2]))).length }));`);
    const { r, build, out: n } = JSON.parse(out) as { r: string[]; build: string; out: number };
    expect(r.slice(0, 2)).toEqual([0, 1].map(() => expect.stringMatching(/^StateError INVALID_STATE createBackendSync: the wasm module is not compiled yet; call "await createBackend\('wasm'\)" once first$/)));
    expect(r.slice(2)).toEqual([0, 1].map(() => expect.stringMatching(/^StateError INVALID_STATE createBackendSync: the js backend is not loaded yet; call "await createBackend\('js'\)" once first$/)));
    expect(build).toBe('wasm');
    expect(n).toBe(2);
  });

  it("createBackend('wasm', { simd: 'relaxed' }) where the engine lacks relaxed SIMD (Node 20 kept at baseline) is UNSUPPORTED", () => {
    const major = Number(process.versions.node.split('.')[0]);
    // NORMCORE_SIMD=baseline keeps normcore from turning on Node 20's relaxed-SIMD flag, so the engine lacks it
    const out = fresh(`
      import { createBackend } from './dist/index.js';
      try { await createBackend('wasm', { simd: 'relaxed' }); console.log('ok'); } catch (e) { console.log(e.code + ' ' + e.message); }`, { NORMCORE_SIMD: 'baseline' });
    if (major < 22) expect(out).toMatch(/^UNSUPPORTED createBackend: options\.simd is 'relaxed' but this engine does not support relaxed SIMD/);
    else expect(out).toBe('ok');
  });
});

describe('6–8. the CLI', () => {
  it.each([
    ['--out is a file', async () => { const f = join(dir, 'a-file'); await writeFile(f, ''); return ['--out', f]; }, /--out .*a-file is a file, not a folder/],
    ['--out under a file', async () => { const f = join(dir, 'b-file'); await writeFile(f, ''); return ['--out', join(f, 'sub')]; }, /--out .*b-file\/sub cannot be made: .*b-file is a file, not a folder/],
    ['--out /proc/x (used to hang)', async () => ['--out', '/proc/x/y'], /--out \/proc\/x\/y cannot be made/],
    ['--batch-size 1 with batch norm', async () => ['--batch-size', '1'], /--batch-size must be ≥ 2 with batch norm/],
    ['--batch-size 700 --train 600', async () => ['--batch-size', '700', '--train', '600'], /--batch-size must be ≤ --train \(600 digits\), got 700/],
    ['--train 1', async () => ['--train', '1'], /--batch-size must be ≤ --train \(1 digits\), got 64/],
  ])('%s: exit 2 with one line, before any training', async (_n, flags, re) => {
    const t0 = performance.now();
    const r = await cli('train', '--epochs', '1', ...(await flags()));
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err.trimEnd().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(re);
    expect(performance.now() - t0).toBeLessThan(5000); // nothing was trained
  });

  it('eval of a model whose input width is not 784 says so (exit 2)', async () => {
    const path = join(dir, 'iris-like.nc');
    await saveModel(new Sequential([new Dense(4, 3)], { backend: await createBackend('js') }).compile(), path);
    const r = await cli('eval', path);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/maps 4 inputs to 3 outputs; evaluating on the MNIST digits needs 784 → 10/);
  });
});

describe('8. files', () => {
  it('a valid 243-character file name saves (the temporary name is cut to fit 255 bytes)', async () => {
    const path = join(dir, `${'m'.repeat(240)}.nc`);
    const m = new Sequential([new Dense(2, 2)], { backend: await createBackend('js') });
    await saveModel(m, path);
    expect((await loadModel(path, { backend: 'js' })).predict(new Float32Array([1, 2]))).toEqual(m.predict(new Float32Array([1, 2])));
  });

  it('saveModel sweeps the temporaries a killed saveModel left behind', async () => {
    const path = join(dir, 'swept.nc');
    const stale = join(dir, '.swept.nc.999999.0badc0de.tmp'); // pid 999999 does not run
    await writeFile(stale, new Uint8Array(1024));
    await saveModel(new Sequential([new Dense(2, 2)], { backend: await createBackend('js') }), path);
    expect((await readdir(dir)).filter((f) => f.startsWith('.swept'))).toEqual([]);
  });
});

describe('8. the event loop at the start of fit', () => {
  it('64,000 rows with a checkpoint: the longest gap between event-loop turns stays short (scan, fingerprint and copy are sliced)', async () => {
    const be = await createBackend('wasm');
    const rows = 64_000, F = 784;
    const x = new Float32Array(rows * F).map((_, i) => (i % 97) / 97);
    const y = new Uint8Array(rows).map((_, i) => i % 10);
    const m = new Sequential([new Dense(F, 10)], { backend: be }).compile({ optimizer: { type: 'sgd', lr: 0.01 } });
    let last = performance.now(), worst = 0, ticks = 0;
    const timer = setInterval(() => { const now = performance.now(); worst = Math.max(worst, now - last); last = now; ticks++; }, 1);
    last = performance.now();
    // abort after the first batch: what is measured is the start of the fit
    const abort = new AbortController();
    await m.fit(x, y, { epochs: 1, batchSize: 64, signal: abort.signal, checkpoint: { save: () => undefined }, onBatchEnd: () => abort.abort() });
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(5);
    // ~8 ms slices; a generous bound for a shared machine (before: 1.23 s here)
    expect(worst).toBeLessThan(150);
    m.dispose();
  }, 60_000);
});

describe('8. the heap', () => {
  it('a block at the top that memory cannot grow for slides down over a disposed block below it', () => {
    const PAGE = 65536, MAX = 16;
    const memory = { buffer: new ArrayBuffer(0), grow(pages: number) {
      const old = this.buffer;
      if ((old.byteLength >> 16) + pages > MAX) throw new RangeError('WebAssembly.Memory.grow(): Maximum memory size exceeded');
      const next = new ArrayBuffer(old.byteLength + pages * PAGE);
      new Uint8Array(next).set(new Uint8Array(old));
      this.buffer = next;
      return old.byteLength >> 16;
    } };
    const heap = new Heap(memory, 0);
    const lower = heap.alloc(6 * PAGE);
    const upper = heap.alloc(6 * PAGE);
    heap.f32(upper, 4).set([1, 2, 3, 4]);
    heap.free(lower);
    const moved = heap.realloc(upper, 12 * PAGE, 16);
    expect(moved).toBe(lower);
    expect(Array.from(heap.f32(moved, 4))).toEqual([1, 2, 3, 4]);
    expect(heap.memoryBytes).toBeLessThanOrEqual(MAX * PAGE);
  });
});

describe('9. batch norm at large means', () => {
  it.each([[1e4, 1e-3], [1e6, 5e-3]])('mean %s, std 0.1: dx within the stated relative error (%s) of an f64 reference', async (mean, bound) => {
    for (const name of ['wasm', 'js'] as const) {
      const be = await createBackend(name);
      const N = 64, C = 3;
      const x = Float32Array.from({ length: N * C }, (_, i) => mean + 0.1 * Math.sin(i * 1.7 + 0.3));
      const gamma = new Float32Array(C).fill(1.5), beta = new Float32Array(C).fill(0.2);
      const dy = Float32Array.from({ length: N * C }, (_, i) => Math.cos(i * 0.9));
      const f = be.batchNormForward(x, gamma, beta, { rows: N, cols: C });
      const { dx } = be.batchNormBackward(dy, x, gamma, f.mean, f.invStd, { rows: N, cols: C });
      // f64 reference on the same f32 inputs
      for (let c = 0; c < C; c++) {
        let mu = 0; for (let r = 0; r < N; r++) mu += x[r * C + c]!; mu /= N;
        let v = 0; for (let r = 0; r < N; r++) v += (x[r * C + c]! - mu) ** 2; v /= N;
        const inv = 1 / Math.sqrt(v + 1e-5);
        let sdy = 0, sdyx = 0;
        for (let r = 0; r < N; r++) { const xh = (x[r * C + c]! - mu) * inv; sdy += dy[r * C + c]!; sdyx += dy[r * C + c]! * xh; }
        let maxRef = 0, maxErr = 0;
        for (let r = 0; r < N; r++) {
          const xh = (x[r * C + c]! - mu) * inv;
          const ref = (1.5 * inv / N) * (N * dy[r * C + c]! - sdy - xh * sdyx);
          maxRef = Math.max(maxRef, Math.abs(ref));
          maxErr = Math.max(maxErr, Math.abs(dx[r * C + c]! - ref));
        }
        expect(maxErr / maxRef, `${name}, column ${c}`).toBeLessThan(bound);
      }
    }
  });
});
