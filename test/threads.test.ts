// The threaded wasm backend: every kernel gives the same bytes with 1, 2 and
// 3 threads (odd shapes, each large enough to be split: the split thresholds
// are in src/backend/threads.ts), and a model trains to byte-identical saved
// weights. One-thread results come from the ordinary (unshared) build.
import { afterAll, describe, expect, it } from 'vitest';
import { BatchNorm, createBackend, Dense, ReLU, Sequential, Sigmoid, Tanh, type Backend, type Kernels, type Ptr } from '../src/index.js';
import { NormcoreError } from '../src/errors.js';
import { busyWhenTakenBack } from '../src/backend/threads-pool.js';
import { loadMnist } from '../src/node/index.js';

function rand(n: number, seed: number, scale = 1, offset = 0): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 4294967296 - 0.5) * scale + offset;
  }
  return out;
}

const backends: Backend[] = [];
async function backend(threads: number): Promise<Backend> {
  const be = await createBackend('wasm', threads === 1 ? {} : { threads });
  backends.push(be);
  return be;
}
afterAll(() => { for (const be of backends) be.dispose(); });

/** One kernel call's inputs and outputs, as arrays; run on a backend, it returns every buffer's bytes afterwards. */
interface Call {
  name: string;
  /** Buffers in the order the kernel takes them (f32 or i32), each copied into the backend's heap. */
  buffers: Array<Float32Array | Int32Array>;
  run(k: Kernels, p: Ptr[]): number | void;
}

function runCall(be: Backend, call: Call): { bytes: Uint8Array[]; result: number | void } {
  const ptrs = call.buffers.map((b) => be.heap.put(b));
  const result = call.run(be.unchecked, ptrs);
  const bytes = ptrs.map((p, i) => new Uint8Array(be.heap.f32(p, call.buffers[i]!.length).slice().buffer));
  for (const p of ptrs) be.heap.free(p);
  return { bytes, result };
}

/** The calls: every kernel, on shapes that are not multiples of the tile or the split alignment. */
function calls(): Call[] {
  const out: Call[] = [];
  for (const [m, k, n] of [[131, 77, 263], [301, 129, 67], [3, 517, 301], [128, 784, 256], [67, 255, 129]] as const) {
    for (const tA of [0, 1]) {
      for (const tB of [0, 1]) {
        for (const acc of [0, 1]) {
          out.push({
            name: `matmul ${m}×${k}×${n} transA ${tA} transB ${tB} accumulate ${acc}`,
            buffers: [rand(m * n, 1), rand(m * k, 2), rand(k * n, 3)],
            run: (kk, [c, a, b]) => kk.matmul(c!, a!, b!, m, k, n, tA, tB, acc),
          });
        }
      }
    }
  }
  // A with all-zero depth steps (every third depth, and half of the rest zero), which matmul leaves out
  for (const [m, k, n] of [[131, 77, 263], [128, 784, 256]] as const) {
    for (const tA of [0, 1]) {
      const a = rand(m * k, 4).map((v, i) => ((tA ? Math.floor(i / m) : i % k) % 3 === 0 || v < 0 ? 0 : v));
      out.push({
        name: `matmul ${m}×${k}×${n} transA ${tA}, sparse A`,
        buffers: [rand(m * n, 1), a, rand(k * n, 3)],
        run: (kk, [c, aa, b]) => kk.matmul(c!, aa!, b!, m, k, n, tA, 0, 0),
      });
    }
  }
  const [m, k, n] = [133, 211, 259];
  out.push({ name: 'matmulForward', buffers: [new Float32Array(m * n), rand(m * k, 4), rand(k * n, 5)], run: (kk, [o, i, w]) => kk.matmulForward(o!, i!, w!, m, k, n) });
  for (const [pm, pk, pn] of [[m, k, n], [128, 784, 256], [301, 129, 67], [3, 517, 301], [36, 300, 520]] as const) {
    out.push({
      name: `packWeights + matmulForwardPacked ${pm}×${pk}×${pn}`,
      buffers: [new Float32Array(pm * pn), rand(pm * pk, 4), rand(pk * pn, 5), new Float32Array(Math.ceil(pn / 8) * 8 * pk)],
      run: (kk, [o, i, w, packed]) => { kk.packWeights(packed!, w!, pk, pn); kk.matmulForwardPacked(o!, i!, packed!, pm, pk, pn); },
    });
  }
  for (const need of [0, 1]) {
    out.push({
      name: `matmulBackward needDinp ${need}`,
      buffers: [new Float32Array(m * k), rand(k * n, 6), rand(m * n, 7), rand(m * k, 8), rand(k * n, 9)],
      run: (kk, [di, dw, dout, inp, w]) => kk.matmulBackward(di!, dw!, dout!, inp!, w!, m, k, n, need),
    });
  }
  for (const [rows, cols] of [[129, 259], [37, 1031], [300, 67], [2, 4099]] as const) {
    const x = rand(rows * cols, rows + cols, 3, 2);
    const stats = () => [new Float32Array(cols), new Float32Array(cols), new Float32Array(cols)];
    const gb = () => [rand(cols, 11, 1, 1), rand(cols, 12)];
    const run = () => [rand(cols, 13), rand(cols, 14, 0.5, 1)];
    for (const relu of [false, true]) {
      out.push({
        name: `batchnorm${relu ? 'Relu' : ''}Forward ${rows}×${cols}`,
        buffers: [new Float32Array(rows * cols), ...stats(), x, ...gb(), ...run()],
        run: (kk, p) => (relu ? kk.batchnormReluForward : kk.batchnormForward)(p[0]!, p[1]!, p[2]!, p[3]!, p[4]!, p[5]!, p[6]!, p[7]!, p[8]!, rows, cols, 1e-5, 0.1),
      });
      out.push({
        name: `batchnorm${relu ? 'Relu' : ''}Inference ${rows}×${cols}`,
        buffers: [new Float32Array(rows * cols), x, ...gb(), ...run()],
        run: (kk, p) => (relu ? kk.batchnormReluInference : kk.batchnormInference)(p[0]!, p[1]!, p[2]!, p[3]!, p[4]!, p[5]!, rows, cols, 1e-5),
      });
    }
    const mean = rand(cols, 15, 1, 2), invstd = rand(cols, 16, 0.2, 1);
    out.push({
      name: `batchnormBackward ${rows}×${cols}`,
      buffers: [new Float32Array(rows * cols), rand(cols, 17), rand(cols, 18), rand(rows * cols, 19), x, rand(cols, 20, 1, 1), mean, invstd],
      run: (kk, p) => kk.batchnormBackward(p[0]!, p[1]!, p[2]!, p[3]!, p[4]!, p[5]!, p[6]!, p[7]!, rows, cols),
    });
    out.push({
      name: `batchnormReluBackward ${rows}×${cols}`,
      buffers: [new Float32Array(rows * cols), rand(cols, 17), rand(cols, 18), rand(rows * cols, 19), rand(rows * cols, 21), x, rand(cols, 20, 1, 1), mean, invstd],
      run: (kk, p) => kk.batchnormReluBackward(p[0]!, p[1]!, p[2]!, p[3]!, p[4]!, p[5]!, p[6]!, p[7]!, p[8]!, rows, cols),
    });
  }
  const N = 140001; // split into parts of multiples of 4 with a tail (elementwise splits from 2^17 values)
  for (const f of ['relu', 'sigmoid', 'tanh'] as const) {
    out.push({ name: `${f}Forward`, buffers: [new Float32Array(N), rand(N, 22, 8)], run: (kk, [o, i]) => kk[`${f}Forward`](o!, i!, N) });
    out.push({ name: `${f}Backward`, buffers: [new Float32Array(N), rand(N, 23), rand(N, 24, 1, 0.5)], run: (kk, [d, g, o]) => kk[`${f}Backward`](d!, g!, o!, N) });
  }
  out.push({ name: 'fill', buffers: [new Float32Array(N)], run: (kk, [p]) => kk.fill(p!, N, 0.3) });
  out.push({ name: 'copy', buffers: [new Float32Array(N), rand(N, 25)], run: (kk, [d, s]) => kk.copy(d!, s!, N) });
  out.push({ name: 'noiseForward', buffers: [new Float32Array(N), rand(N, 46), rand(N, 47, 0.2, 1), rand(N, 48)], run: (kk, [o, i, sc, sh]) => kk.noiseForward(o!, i!, sc!, sh!, N) });
  out.push({ name: 'noiseBackward', buffers: [new Float32Array(N), rand(N, 49), rand(N, 50, 0.2, 1)], run: (kk, [d, g, sc]) => kk.noiseBackward(d!, g!, sc!, N) });
  const [R, C] = [1031, 129];
  out.push({ name: 'biasForward', buffers: [rand(R * C, 26), rand(C, 27)], run: (kk, [o, b]) => kk.biasForward(o!, b!, R, C) });
  out.push({ name: 'biasBackward', buffers: [rand(C, 28), rand(R * C, 29)], run: (kk, [d, g]) => kk.biasBackward(d!, g!, R, C) });
  const idx = Int32Array.from({ length: R }, (_, i) => (i * 7919) % 600);
  out.push({ name: 'gatherRows', buffers: [new Float32Array(R * C), rand(600 * C, 30), idx], run: (kk, [o, s, i]) => kk.gatherRows(o!, s!, i!, R, C) });
  const special = rand(N, 52);
  for (let i = 0; i < N; i += 997) special[i] = [NaN, Infinity, -Infinity][i % 3]!; // 141 non-finite values, in every part
  out.push({ name: 'countNonFinite', buffers: [special], run: (kk, [p]) => kk.countNonFinite(p!, N) });
  const labels = Int32Array.from({ length: R }, (_, i) => (i * 31) % 10);
  out.push({ name: 'softmaxCrossEntropy', buffers: [new Float32Array(R * 10), rand(R * 10, 31, 6), labels], run: (kk, [d, l, y]) => kk.softmaxCrossEntropy(d!, l!, y!, R, 10) });
  out.push({ name: 'softmaxForward', buffers: [new Float32Array(R * 10), rand(R * 10, 32, 6)], run: (kk, [p, l]) => kk.softmaxForward(p!, l!, R, 10) });
  out.push({ name: 'mseLoss', buffers: [new Float32Array(R * 10), rand(R * 10, 33), rand(R * 10, 34)], run: (kk, [d, p, t]) => kk.mseLoss(d!, p!, t!, R, 10) });
  out.push({ name: 'countCorrect', buffers: [rand(R * 10, 35), labels], run: (kk, [s, y]) => kk.countCorrect(s!, y!, R, 10) });
  // images, split by images (from 2^16 values of work a part): odd sizes, padding, overlapping and disjoint windows
  for (const [n, h, w, c, kh, stride, pad] of [[150, 13, 11, 5, 3, 2, 1], [97, 10, 12, 8, 2, 1, 0]] as const) {
    const outH = Math.floor((h + 2 * pad - kh) / stride) + 1, outW = Math.floor((w + 2 * pad - kh) / stride) + 1, K = kh * kh * c;
    out.push({ name: `im2col ${n}×${h}×${w}×${c} k${kh} s${stride} p${pad}`, buffers: [new Float32Array(n * outH * outW * K), rand(n * h * w * c, 51)],
      run: (kk, [cols, inp]) => kk.im2col(cols!, inp!, n, h, w, c, kh, kh, stride, pad, pad, outH, outW) });
    out.push({ name: `col2im ${n}×${h}×${w}×${c} k${kh} s${stride} p${pad}`, buffers: [rand(n * h * w * c, 52), rand(n * outH * outW * K, 53)],
      run: (kk, [dinp, dcols]) => kk.col2im(dinp!, dcols!, n, h, w, c, kh, kh, stride, pad, pad, outH, outW) });
  }
  for (const [n, h, w, c, size, stride] of [[301, 12, 9, 8, 2, 2], [301, 12, 9, 5, 3, 2], [160, 11, 13, 4, 3, 1]] as const) {
    const outH = Math.floor((h - size) / stride) + 1, outW = Math.floor((w - size) / stride) + 1, O = n * outH * outW * c, I = n * h * w * c;
    out.push({ name: `maxPool forward + backward ${n}×${h}×${w}×${c} size ${size} stride ${stride}`,
      buffers: [new Float32Array(O), new Int32Array(O), rand(I, 54), rand(I, 55), rand(O, 56)],
      run: (kk, [o, arg, inp, dinp, dout]) => { kk.maxPoolForward(o!, arg!, inp!, n, h, w, c, size, stride, outH, outW); kk.maxPoolBackward(dinp!, dout!, arg!, n, h, w, c, size, stride, outH, outW); } });
    out.push({ name: `avgPool forward ${n}×${h}×${w}×${c} size ${size} stride ${stride}`, buffers: [new Float32Array(O), rand(I, 57)],
      run: (kk, [o, inp]) => kk.avgPoolForward(o!, inp!, n, h, w, c, size, stride, outH, outW) });
    out.push({ name: `avgPool backward ${n}×${h}×${w}×${c} size ${size} stride ${stride}`, buffers: [rand(I, 58), rand(O, 59)],
      run: (kk, [dinp, dout]) => kk.avgPoolBackward(dinp!, dout!, n, h, w, c, size, stride, outH, outW) });
  }
  {
    const [n, h, w, c] = [301, 7, 9, 8];
    out.push({ name: 'globalAvgPoolForward', buffers: [new Float32Array(n * c), rand(n * h * w * c, 60)], run: (kk, [o, i]) => kk.globalAvgPoolForward(o!, i!, n, h, w, c) });
    out.push({ name: 'globalAvgPoolBackward', buffers: [rand(n * h * w * c, 61), rand(n * c, 62)], run: (kk, [d, g]) => kk.globalAvgPoolBackward(d!, g!, n, h, w, c) });
  }
  out.push({ name: 'dropoutForward', buffers: [new Float32Array(N), new Float32Array(N), rand(N, 63)], run: (kk, [o, m, i]) => kk.dropoutForward(o!, m!, i!, N, 0.3, 12345, 777) });
  out.push({ name: 'dropoutBackward', buffers: [new Float32Array(N), rand(N, 64), rand(N, 65)], run: (kk, [d, g, m]) => kk.dropoutBackward(d!, g!, m!, N) });
  const P = 180003;
  out.push({ name: 'sgdUpdate', buffers: [rand(P, 36), rand(P, 37), rand(P, 38)], run: (kk, [p, g, v]) => kk.sgdUpdate(p!, g!, v!, P, 0.01, 0.9, 1e-4) });
  out.push({ name: 'rmspropUpdate', buffers: [rand(P, 39), rand(P, 40), rand(P, 41, 0.1, 0.1)], run: (kk, [p, g, s]) => kk.rmspropUpdate(p!, g!, s!, P, 0.01, 0.9, 1e-7, 1e-4) });
  out.push({ name: 'adamUpdate', buffers: [rand(P, 42), rand(P, 43), rand(P, 44), rand(P, 45, 0.1, 0.1)], run: (kk, [p, g, m1, v]) => kk.adamUpdate(p!, g!, m1!, v!, P, 1e-3, 0.9, 0.999, 1e-8, 1e-4, 7) });
  return out;
}

describe('threaded wasm backend', () => {
  it('every kernel gives the same bytes with 1, 2 and 3 threads', async () => {
    const bes = [await backend(1), await backend(2), await backend(3)];
    expect(bes.map((b) => b.info.threads)).toEqual([1, 2, 3]);
    const cs = calls();
    let compared = 0;
    for (const call of cs) {
      const ref = runCall(bes[0]!, call);
      for (const be of bes.slice(1)) {
        const got = runCall(be, call);
        expect(got.result, `${call.name}, ${be.info.threads} threads: result`).toBe(ref.result);
        got.bytes.forEach((b, i) => {
          const same = b.length === ref.bytes[i]!.length && b.every((v, j) => v === ref.bytes[i]![j]);
          expect(same, `${call.name}, ${be.info.threads} threads: buffer ${i}`).toBe(true);
        });
        compared++;
      }
    }
    expect(compared).toBe(cs.length * 2);
    // the workers, not only the calling thread (which runs a part its worker has not started), ran parts
    for (const be of bes.slice(1)) {
      const st = be.threadStats();
      expect(st.posted, `${be.info.threads} threads`).toBeGreaterThan(st.ranByCaller);
    }
  });

  it('trains a model with every layer type to byte-identical weights with 1, 2 and 3 threads', async () => {
    const F = 96, K = 10, N = 512;
    const x = rand(N * F, 50, 2);
    const y = Uint8Array.from({ length: N }, (_, i) => Math.abs(Math.floor(x[i * F]! * 5 + x[i * F + 1]! * 3)) % K);
    const train = async (be: Backend, optimizer: 'adam' | 'momentum' | 'rmsprop') => {
      const model = new Sequential([
        new Dense(F, 300), new BatchNorm(300), new ReLU(),
        new Dense(300, 260), new Tanh(),
        new Dense(260, 132), new BatchNorm(132), new Sigmoid(),
        new Dense(132, K),
      ], { backend: be, seed: 3 });
      model.compile({ loss: 'softmaxCrossEntropy', optimizer: { type: optimizer, lr: 0.01 } });
      const losses: number[] = [];
      await model.fit(x, y, { epochs: 2, batchSize: 128, seed: 4, onBatchEnd: (_b, l) => { losses.push(l.loss); } });
      const bytes = model.save();
      const pred = model.predict(x.subarray(0, 3 * F));
      model.dispose();
      return { bytes, losses, pred };
    };
    const bes = [await backend(1), await backend(2), await backend(3)];
    for (const opt of ['adam', 'momentum', 'rmsprop'] as const) {
      const ref = await train(bes[0]!, opt);
      expect(ref.losses.length).toBe(8);
      for (const be of bes.slice(1)) {
        const got = await train(be, opt);
        expect(got.losses, `${opt}, ${be.info.threads} threads: losses`).toEqual(ref.losses);
        expect(Buffer.from(got.bytes).equals(Buffer.from(ref.bytes)), `${opt}, ${be.info.threads} threads: saved bytes`).toBe(true);
        expect(Buffer.from(got.pred.buffer).equals(Buffer.from(ref.pred.buffer)), `${opt}, ${be.info.threads} threads: predict`).toBe(true);
      }
    }
  });

  it.each(['uniform noise', 'the digits (81% zeros: matmul skips all-zero depth steps)'])('trains the 784-256-256-10 batch-norm network of the bench to byte-identical weights with 1, 2 and 3 threads, on %s', async (data) => {
    const N = 384;
    const x = data === 'uniform noise' ? rand(N * 784, 60, 1, 0.5) : loadMnist({ train: N, test: 10, seed: 3 }).trainImages;
    const y = Uint8Array.from({ length: N }, (_, i) => i % 10);
    const train = async (be: Backend) => {
      const model = new Sequential([
        new Dense(784, 256), new BatchNorm(256), new ReLU(),
        new Dense(256, 256), new BatchNorm(256), new ReLU(),
        new Dense(256, 10),
      ], { backend: be, seed: 1 });
      model.compile({ loss: 'softmaxCrossEntropy', optimizer: { type: 'adam', lr: 1e-3 } });
      await model.fit(x, y, { epochs: 2, batchSize: 128, seed: 2 });
      const bytes = model.save();
      model.dispose();
      return bytes;
    };
    const bes = [await backend(1), await backend(2), await backend(3)];
    const ref = await train(bes[0]!);
    for (const be of bes.slice(1)) {
      expect(Buffer.from(await train(be)).equals(Buffer.from(ref)), `${be.info.threads} threads`).toBe(true);
    }
  });

  it('grows its shared memory in place while the workers run', async () => {
    const be = await backend(2);
    const before = be.heap.memoryBytes;
    const n = 4 << 20; // 16 MiB more
    const a = be.heap.put(rand(n, 70));
    const o = be.heap.allocF32(n);
    expect(be.heap.memoryBytes).toBeGreaterThan(before);
    be.unchecked.reluForward(o, a, n);
    const got = be.heap.f32(o, n);
    const src = be.heap.f32(a, n);
    let bad = 0;
    for (let i = 0; i < n; i += 997) if (got[i] !== Math.max(0, src[i]!)) bad++;
    expect(bad).toBe(0);
    be.heap.free(o);
    be.heap.free(a);
  });

  it('a part that traps (unchecked kernel, pointer past memory) is an error, and the pool keeps working', async () => {
    const be = await backend(2);
    const one = await backend(1);
    const n = 1 << 17;
    const past = be.heap.memoryBytes - 4 * 1000; // the first 1000 values are inside memory, the rest past its end
    let err: unknown;
    try {
      be.unchecked.fill(past, n, 1);
    } catch (e) {
      err = e;
    }
    // the caller's own trap (a RuntimeError), or the worker's, reported by the join (a NormcoreError)
    expect(err, 'the trap is thrown to the caller').toBeInstanceOf(Error);
    const x = rand(n, 80, 4);
    const run = (b: Backend) => {
      const i = b.heap.put(x), o = b.heap.allocF32(n);
      b.unchecked.tanhForward(o, i, n);
      const r = b.heap.readF32(o, n);
      b.heap.free(o);
      b.heap.free(i);
      return r;
    };
    expect(Buffer.from(run(be).buffer).equals(Buffer.from(run(one).buffer)), 'a split kernel after the trap').toBe(true);
  });

  it("reports its threads, and checks options.threads", async () => {
    const auto = await backend(1);
    expect(auto.info).toMatchObject({ threads: 1 });
    const two = await createBackend('wasm', { threads: 'auto' });
    backends.push(two);
    // this machine has ≥ 2 hardware threads in CI and development; 'auto' uses them
    expect(two.info.threads).toBeGreaterThanOrEqual(1);
    expect(two.info.reason).toMatch(/auto/);
    await expect(createBackend('wasm', { threads: 0 })).rejects.toThrow(/options\.threads must be an integer in \[1, 256\] or 'auto', got 0/);
    await expect(createBackend('wasm', { threads: 1.5 })).rejects.toThrow(/options\.threads must be a positive integer or 'auto', got 1\.5/);
    await expect(createBackend('js', { threads: 2 })).rejects.toThrow(/js backend runs on one thread/);
    await expect(createBackend('wasm', { threads: 2, debug: true })).rejects.toMatchObject({ code: 'UNSUPPORTED' });
    const { createBackendSync } = await import('../src/index.js');
    expect(() => createBackendSync('wasm', { threads: 2 })).toThrow(NormcoreError);
  });

  it("without SharedArrayBuffer: 'auto' falls back to one thread and says why; threads: 2 is an UNSUPPORTED error", async () => {
    const g = globalThis as { SharedArrayBuffer?: unknown };
    const saved = g.SharedArrayBuffer;
    try {
      delete g.SharedArrayBuffer;
      const be = await createBackend('wasm', { threads: 'auto' });
      expect(be.info.threads).toBe(1);
      expect(be.info.reason).toMatch(/SharedArrayBuffer is not available/);
      const err = await createBackend('wasm', { threads: 2 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NormcoreError);
      expect(err).toMatchObject({ code: 'UNSUPPORTED', message: expect.stringMatching(/options\.threads is 2, but SharedArrayBuffer is not available/) });
    } finally {
      g.SharedArrayBuffer = saved;
    }
  });
});

describe('the pool backs off when a part taken back says the machine is busy', () => {
  it('a worker that was awake and missed its part: always', () => {
    expect(busyWhenTakenBack(false, 0.01, 10, false)).toBe(true);
    expect(busyWhenTakenBack(false, 0.5, 0.01, true)).toBe(true);
  });
  it('a worker that ran a part of this busy stretch, then was found asleep and still asleep 0.1 ms after the post: yes', () => {
    expect(busyWhenTakenBack(true, 0.3, 0.02, true)).toBe(true);
    expect(busyWhenTakenBack(true, 0.11, 0.2, true)).toBe(true);
  });
  it('a worker waking from an idle sleep or a back-off, or a part joined within 0.1 ms of the post: no', () => {
    expect(busyWhenTakenBack(true, 0.3, 5, true)).toBe(false); // idle before this call: the worker slept and is waking
    expect(busyWhenTakenBack(true, 0.3, Infinity, false)).toBe(false); // the pool's first call
    expect(busyWhenTakenBack(true, 0.8, 0.01, false)).toBe(false); // no part of its own yet in this stretch: still waking
    expect(busyWhenTakenBack(true, 0.05, 0.01, true)).toBe(false); // a short part outruns any wake-up
  });
});
