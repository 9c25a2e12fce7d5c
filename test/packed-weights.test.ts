// Pre-packed weights for inference (issue 13): `packWeights` lays a weight
// [k×n] out in matmul's panels once, and `matmulForwardPacked` multiplies by
// it without repacking. A model keeps one packed copy per Dense weight
// (src/model/packed-weights.ts), rewritten after every write of its params.
//  - kernels: the packed product gives the bytes of `matmulForward` on every
//    kind of shape (tails of the 4×8 tile, several depth and column blocks,
//    m < 4), on the wasm builds and the js twin;
//  - models: predict and evaluate give the bytes of a twin model whose
//    inference reads the params themselves, after training steps, setWeights,
//    load and the divergence restore, on one and two threads and on js; and
//    the packed copies are really used (and not rewritten when nothing changed).
import { afterAll, describe, expect, it } from 'vitest';
import { Dense, BatchNorm, DivergenceError, ReLU, Sequential, type Kernels, type Ptr } from '../src/index.js';
import { createBackend, type KernelBackend as Backend } from '../src/kernels.js';
import { blobs } from './fixtures/data.js';

function rand(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 4294967296 - 0.5) * scale;
  }
  return out;
}

const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

const backends: Backend[] = [];
afterAll(() => { for (const be of backends) be.dispose(); });
async function make(name: string): Promise<Backend> {
  const be = name === 'js' ? await createBackend('js')
    : name === 'wasm-2t' ? await createBackend('wasm', { threads: 2 })
      : await createBackend('wasm', { simd: name === 'wasm-baseline' ? 'baseline' : 'auto' });
  backends.push(be);
  return be;
}

describe.each(['wasm', 'wasm-baseline', 'wasm-2t', 'js'])('packWeights + matmulForwardPacked on %s', (name) => {
  it('give the bytes of matmulForward', async () => {
    const be = await make(name);
    const h = be.heap, k = be.kernels;
    const shapes = [
      [1, 784, 256], [2, 256, 10], [3, 33, 37], [1, 5, 300], // m < 4: the GEMV over the panels
      [4, 1, 1], [7, 5, 3], [128, 784, 256], [128, 256, 10], [133, 211, 259], [65, 300, 520], [9, 517, 8], [64, 256, 256], [5, 1030, 17],
    ] as const;
    for (const [m, kk, n] of shapes) {
      const inp = h.put(rand(m * kk, m + kk)), w = h.put(rand(kk * n, kk * 3 + n));
      const want = h.allocF32(m * n), got = h.put(rand(m * n, 9)), packed = h.put(rand(Math.ceil(n / 8) * 8 * kk, 5)); // stale contents: packWeights overwrites all
      k.matmulForward(want, inp, w, m, kk, n);
      k.packWeights(packed, w, kk, n);
      k.matmulForwardPacked(got, inp, packed, m, kk, n);
      expect(bytes(h.readF32(got, m * n)).equals(bytes(h.readF32(want, m * n))), `${m}×${kk}×${n}`).toBe(true);
      for (const p of [inp, w, want, got, packed]) h.free(p);
    }
  });

  it('are checked: a packed buffer too small for k×n is a RangeError naming it', async () => {
    const be = await make(name);
    const h = be.heap;
    const w = h.allocF32(10 * 9);
    const end = h.f32(0, 0).buffer.byteLength; // 100 floats before the end of memory: packed [10×9] needs 10·16
    expect(() => be.kernels.packWeights(end - 4 * 100, w, 10, 9)).toThrow(RangeError);
    expect(() => be.kernels.packWeights(end - 4 * 100, w, 10, 9)).toThrow(/packed/);
    expect(() => be.kernels.matmulForwardPacked(w, w, end - 4 * 100, 1, 10, 9)).toThrow(/packed/);
    h.free(w);
  });
});

/**
 * A backend whose models read their params at inference: `packWeights` only
 * records which weight a packed block stands for, and `matmulForwardPacked`
 * multiplies by that weight with `matmulForward`. A model on it is the
 * unpacked reference, and it counts the packings a real backend would do.
 */
function unpackedTwin(be: Backend): { backend: Backend; packs: () => number } {
  const source = new Map<Ptr, Ptr>();
  let packs = 0;
  const unchecked = new Proxy(be.unchecked, {
    get(t, p) {
      if (p === 'packWeights') return (packed: Ptr, weight: Ptr) => { packs++; source.set(packed, weight); };
      if (p === 'matmulForwardPacked') {
        return (out: Ptr, inp: Ptr, packed: Ptr, m: number, k: number, n: number) => t.matmulForward(out, inp, source.get(packed)!, m, k, n);
      }
      const v = t[p as keyof Kernels];
      return typeof v === 'function' ? (v as (...a: number[]) => unknown).bind(t) : v;
    },
  });
  return { backend: { ...be, unchecked }, packs: () => packs };
}

/** The real backend, counting packWeights and matmulForwardPacked calls. */
function counted(be: Backend): { backend: Backend; calls: { pack: number; packed: number } } {
  const calls = { pack: 0, packed: 0 };
  const unchecked = new Proxy(be.unchecked, {
    get(t, p) {
      const v = t[p as keyof Kernels];
      if (typeof v !== 'function') return v;
      const f = (v as (...a: number[]) => unknown).bind(t);
      if (p === 'packWeights') return (...a: number[]) => { calls.pack++; return f(...a); };
      if (p === 'matmulForwardPacked') return (...a: number[]) => { calls.packed++; return f(...a); };
      return f;
    },
  });
  return { backend: { ...be, unchecked }, calls };
}

describe.each(['wasm', 'wasm-2t', 'js'])('a model with packed weights on %s', (name) => {
  const { x, y } = blobs(96, 20, 4, 3);
  const net = () => [new Dense(20, 37), new BatchNorm(37), new ReLU(), new Dense(37, 300), new ReLU(), new Dense(300, 4)];

  it('predicts the bytes of the unpacked reference after training steps, setWeights and load, and repacks only after a change', async () => {
    const be = await make(name);
    const real = counted(be), twin = unpackedTwin(be);
    const a = new Sequential(net(), { backend: real.backend, seed: 7 }).compile({ optimizer: { type: 'adam', lr: 0.01 } });
    const r = new Sequential(net(), { backend: twin.backend, seed: 7 }).compile({ optimizer: { type: 'adam', lr: 0.01 } });
    const same = (what: string) => {
      for (const rows of [96, 5, 1]) {
        const xs = x.subarray(0, rows * 20);
        expect(bytes(a.predict(xs)).equals(bytes(r.predict(xs))), `${what}, ${rows} rows`).toBe(true);
      }
    };
    same('initial weights');
    expect(real.calls.pack).toBe(3);
    expect(real.calls.packed).toBe(6); // 3 layers × (96 and 5 rows); 1 row takes the unpacked small-m path
    a.predict(x);
    expect(real.calls.pack, 'no change, no repacking').toBe(3);
    // training steps, with predictions in between (so the copies exist and must be refreshed)
    for (let e = 0; e < 3; e++) {
      await a.fit(x, y, { epochs: 1, batchSize: 32, shuffle: false });
      await r.fit(x, y, { epochs: 1, batchSize: 32, shuffle: false });
      same(`after epoch ${e + 1}`);
    }
    expect(real.calls.pack).toBe(3 * 4);
    const ea = a.evaluate(x, y), er = r.evaluate(x, y);
    expect(ea).toEqual(er);
    // setWeights
    const w = a.getWeights().map((v, i) => v * (i % 3 === 0 ? 0.5 : 1.25)); // positive factors: running variances stay valid
    a.setWeights(w);
    r.setWeights(w);
    same('after setWeights');
    // load: a new model, and a loaded file into a model that has predicted before
    const file = a.save();
    const loaded = await Sequential.load(file, { backend: real.backend });
    expect(bytes(loaded.predict(x)).equals(bytes(r.predict(x))), 'loaded model').toBe(true);
    loaded.dispose();
    a.dispose();
    r.dispose();
  });

  it('predicts from the restored weights after a diverging fit', async () => {
    const be = await make(name);
    const real = counted(be), twin = unpackedTwin(be);
    const plain = () => [new Dense(20, 16), new ReLU(), new Dense(16, 4)];
    const a = new Sequential(plain(), { backend: real.backend, seed: 3 }).compile({ optimizer: { type: 'momentum', lr: 1000 } });
    const r = new Sequential(plain(), { backend: twin.backend, seed: 3 }).compile({ optimizer: { type: 'momentum', lr: 1000 } });
    const fit = (m: Sequential) => m.fit(x, y, {
      epochs: 50, batchSize: 16, shuffle: false,
      onBatchEnd: () => { m.predict(x.subarray(0, 8 * 20)); }, // keeps the copies in use between steps
    }).then(() => undefined, (e: unknown) => e);
    const ea = await fit(a), er = await fit(r);
    expect(ea).toBeInstanceOf(DivergenceError);
    expect(er).toBeInstanceOf(DivergenceError);
    expect(real.calls.packed).toBeGreaterThan(0);
    // 8 rows fit the arena the fit planned: no re-plan (which would drop the copies) comes in between
    const x8 = x.subarray(0, 8 * 20);
    expect(bytes(a.predict(x8)).equals(bytes(r.predict(x8)))).toBe(true);
    expect(a.predict(x8).every(Number.isFinite)).toBe(true);
    a.dispose();
    r.dispose();
  });
});
