/**
 * issue 17: `normcore experiment bn-landscape` (Santurkar et al. 2018).
 *  - the Noise layer: its kernel pair on both backends, its backward by
 *    finite differences, its draws (Algorithm 1's ranges), inference pass-through;
 *  - the 'probe' forward: loss and gradients with no state change;
 *  - ICS (Definition 2.1) and the three landscape quantities on a tiny
 *    network against a direct float64 computation (finite-difference gradients);
 *  - the runner and the command: same initial weights, the JSON fields, the files.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bnLandscapeLayers, runBnLandscape, RUN_NAMES, type BnLandscapeResult, type RunName } from '../src/experiment/bn-landscape.js';
import { experimentMain } from '../src/experiment/cli.js';
import { bnLandscapeConfig } from '../src/experiment/landscape-cli.js';
import { geometricGrid, internalCovariateShift, landscapeAlongGradient, median } from '../src/experiment/landscape-measures.js';
import { BatchNorm, Dense, ReLU } from '../src/model/layers.js';
import { Network } from '../src/model/network.js';
import { Noise } from '../src/model/noise.js';
import { paramRange, readGrads, readParams, writeParams } from '../src/model/params.js';
import { Random } from '../src/model/random.js';
import { loadMnist } from '../src/node/mnist.js';
import { Probe } from '../src/train/probe.js';
import { finiteDiff, gradErr } from './helpers/gradcheck.js';
import { BACKENDS, getBackend, Scope } from './helpers/kernels.js';

const randn = (n: number, rng: Random, scale = 1): Float32Array => Float32Array.from({ length: n }, () => rng.normal() * scale);

describe.each(BACKENDS)('noiseForward / noiseBackward (%s)', (name) => {
  it.each([1, 5, 8, 13])('out = inp·scale + shift and dinp = dout·scale, n = %i', async (n) => {
    const be = await getBackend(name);
    const s = new Scope(be);
    const rng = new Random(n);
    const inp = randn(n, rng), scale = randn(n, rng), shift = randn(n, rng), dout = randn(n, rng);
    const out = s.out(n), dinp = s.out(n);
    be.kernels.noiseForward(out, s.f32(inp), s.f32(scale), s.f32(shift), n);
    be.kernels.noiseBackward(dinp, s.f32(dout), s.f32(scale), n);
    const o = be.heap.readF32(out, n), d = be.heap.readF32(dinp, n);
    for (let i = 0; i < n; i++) {
      expect(o[i]).toBe(Math.fround(Math.fround(inp[i]! * scale[i]!) + shift[i]!));
      expect(d[i]).toBe(Math.fround(dout[i]! * scale[i]!));
    }
    s.free();
  });
});

describe.each(BACKENDS)('the Noise layer (%s)', (name) => {
  it('backward: the gradient through the noise matches finite differences', async () => {
    const be = await getBackend(name);
    const noise = new Noise({ seed: 3 });
    const net = new Network([new Dense(3, 4, { init: 'he' }), noise, new Dense(4, 2, { init: 'glorot' })], be, true);
    net.initialize(5);
    const rows = 5, rng = new Random(9);
    net.ensureCapacity(rows);
    noise.redraw(rows, net.capacity);
    const x = randn(rows * 3, rng), labels = Int32Array.from({ length: rows }, (_, i) => i % 2);
    const probe = new Probe(net, x, labels);
    probe.loss(true);
    const analytic = readGrads(net);
    const w = readParams(net);
    const numeric = finiteDiff(w, 1e-2, (v) => { writeParams(net, v); return probe.loss(false); });
    writeParams(net, w);
    expect(gradErr(analytic, numeric)).toBeLessThan(2e-3);
    // the first Dense's gradient reaches it only through the noise's backward
    const first = paramRange(net, 0);
    expect(Math.max(...analytic.subarray(first.offset, first.offset + first.size).map(Math.abs))).toBeGreaterThan(1e-3);
    probe.dispose();
    net.dispose();
  });

  it("draws Algorithm 1's noise: per unit μ ∈ (−0.5, 0.5) and σ ∈ (1, 1.25), per sample m ∈ μ ± 0.1 and s ~ N(σ, 0.1²); seeded", async () => {
    const be = await getBackend(name);
    const make = () => {
      const n = new Noise({ seed: 11 });
      const net = new Network([new Dense(2, 6), n], be, true);
      net.ensureCapacity(400);
      return { n, net };
    };
    const a = make(), b = make();
    const rows = 400, C = 6;
    const da = a.n.redraw(rows, a.net.capacity), db = b.n.redraw(rows, b.net.capacity);
    expect(da.scale).toEqual(db.scale);
    expect(da.shift).toEqual(db.shift);
    for (let j = 0; j < C; j++) {
      const m = Array.from({ length: rows }, (_, i) => da.shift[i * C + j]!);
      const s = Array.from({ length: rows }, (_, i) => da.scale[i * C + j]!);
      const mLo = Math.min(...m), mHi = Math.max(...m);
      expect(mHi - mLo).toBeLessThanOrEqual(0.2 + 1e-6);
      expect(mLo).toBeGreaterThanOrEqual(-0.6 - 1e-6);
      expect(mHi).toBeLessThanOrEqual(0.6 + 1e-6);
      const mean = s.reduce((p, v) => p + v, 0) / rows;
      const sd = Math.sqrt(s.reduce((p, v) => p + (v - mean) ** 2, 0) / (rows - 1));
      // σ_j ∈ (1, 1.25); the mean of 400 draws is within 4 standard errors (4·0.1/20 = 0.02) of it
      expect(mean).toBeGreaterThan(1 - 0.02);
      expect(mean).toBeLessThan(1.25 + 0.02);
      expect(sd).toBeGreaterThan(0.08);
      expect(sd).toBeLessThan(0.12);
    }
    // the next redraw is a new draw (non-stationary by design)
    expect(a.n.redraw(rows, a.net.capacity).shift).not.toEqual(da.shift);
    a.net.dispose();
    b.net.dispose();
  });

  it('passes its input through in inference, refuses a batch larger than its draw, and is never saved', async () => {
    const be = await getBackend(name);
    const n = new Noise();
    const net = new Network([new Dense(2, 3), n], be, true);
    net.initialize(1);
    net.ensureCapacity(4);
    be.heap.write(net.block('x'), Float32Array.of(1, 2, 3, 4, 5, 6, 7, 8));
    const dense = be.heap.readF32(net.forward(4, false, 0), 12);
    expect(be.heap.readF32(net.forward(4, false), 12)).toEqual(dense);
    expect(() => net.forward(4, true)).toThrow(/noise for 0 rows, the batch has 4/);
    n.redraw(2, net.capacity);
    expect(() => net.forward(4, true)).toThrow(/noise for 2 rows/);
    expect(() => n.redraw(net.capacity + 1, net.capacity)).toThrow(RangeError);
    expect(() => n.config()).toThrow(/cannot be saved/);
    expect(() => new Noise({ scaleMax: 0.5 })).toThrow(/options.scaleMax/);
    net.dispose();
  });
});

// ------------------------------------------------------------------ a float64 reference network

type RefLayer = { kind: 'dense'; inp: number; out: number; bias: boolean } | { kind: 'bn'; c: number } | { kind: 'relu' };

/** The tiny networks of bnLandscapeLayers(…, 4 features, 3 classes, depth 2, width 3), described for the reference. */
function refLayers(bn: boolean): RefLayer[] {
  const L: RefLayer[] = [];
  for (const inp of [4, 3]) {
    L.push({ kind: 'dense', inp, out: 3, bias: !bn });
    if (bn) L.push({ kind: 'bn', c: 3 });
    L.push({ kind: 'relu' });
  }
  L.push({ kind: 'dense', inp: 3, out: 3, bias: true });
  return L;
}

/** Mean softmax cross-entropy in float64 of the network with flat params p (normcore's layout) on x (rows × 4). */
function refLoss(L: RefLayer[], p: ArrayLike<number>, x: Float32Array, y: Int32Array): number {
  const rows = y.length;
  let a: number[][] = Array.from({ length: rows }, (_, r) => Array.from(x.subarray(r * 4, r * 4 + 4)));
  let o = 0;
  for (const l of L) {
    if (l.kind === 'dense') {
      const W = o; o += l.inp * l.out;
      const B = o; if (l.bias) o += l.out;
      a = a.map((row) => Array.from({ length: l.out }, (_, j) => row.reduce((s, v, i) => s + v * p[W + i * l.out + j]!, l.bias ? p[B + j]! : 0)));
    } else if (l.kind === 'bn') {
      const G = o, Bt = o + l.c; o += 2 * l.c;
      for (let j = 0; j < l.c; j++) {
        const mean = a.reduce((s, row) => s + row[j]!, 0) / rows;
        const v = a.reduce((s, row) => s + (row[j]! - mean) ** 2, 0) / rows;
        for (const row of a) row[j] = ((row[j]! - mean) / Math.sqrt(v + 1e-5)) * p[G + j]! + p[Bt + j]!;
      }
    } else {
      a = a.map((row) => row.map((v) => Math.max(0, v)));
    }
  }
  return a.reduce((s, row, r) => {
    const m = Math.max(...row);
    return s + Math.log(row.reduce((t, v) => t + Math.exp(v - m), 0)) + m - row[y[r]!]!;
  }, 0) / rows;
}

function refGrad(L: RefLayer[], p: Float64Array, x: Float32Array, y: Int32Array): Float64Array {
  const g = new Float64Array(p.length), q = Float64Array.from(p), h = 1e-6;
  for (let i = 0; i < p.length; i++) {
    q[i] = p[i]! + h; const lp = refLoss(L, q, x, y);
    q[i] = p[i]! - h; const lm = refLoss(L, q, x, y);
    q[i] = p[i]!;
    g[i] = (lp - lm) / (2 * h);
  }
  return g;
}

const norm = (v: ArrayLike<number>, from = 0, to = v.length): number => { let s = 0; for (let i = from; i < to; i++) s += v[i]! ** 2; return Math.sqrt(s); };

describe.each(BACKENDS)('ICS and the loss landscape on a tiny network, against float64 finite differences (%s)', (name) => {
  for (const bn of [false, true]) {
    const run: RunName = bn ? 'batchnorm' : 'standard';
    it(`${run}: the probe's loss and gradient, Definition 2.1's ℓ2 and cosine, and the three landscape quantities`, async () => {
      const be = await getBackend(name);
      const { layers, dense } = bnLandscapeLayers(run, 4, 3, 2, 3, 4);
      const net = new Network(layers, be, true);
      net.initialize(4);
      const rng = new Random(21), rows = 12;
      const x = randn(rows * 4, rng), y = Int32Array.from({ length: rows }, (_, i) => i % 3);
      const probe = new Probe(net, x, y);
      const L = refLayers(bn);
      // Moved off the initial zero biases: a row whose first hidden layer is all dead would put the next ReLU exactly
      // at its kink, where the kernel's subgradient (0) and a central difference (½) legitimately differ.
      const before = Float32Array.from(readParams(net), (v) => v + 0.05 * rng.normal());
      writeParams(net, before);
      const after = Float32Array.from(before, (v) => v + 0.1 * rng.normal());
      // the probe itself
      const loss = probe.loss(true);
      expect(loss).toBeCloseTo(refLoss(L, before, x, y), 5);
      const g64 = refGrad(L, Float64Array.from(before), x, y);
      expect(gradErr(readGrads(net), g64)).toBeLessThan(1e-4);
      // Definition 2.1, for the second Dense layer (the first BatchNorm's γ, β are "below" it)
      const layer = dense[1]!;
      const [ics] = internalCovariateShift(net, probe, before, after, [layer]);
      expect(readParams(net)).toEqual(before);
      const { offset, size } = paramRange(net, layer);
      expect(offset).toBe(bn ? 4 * 3 + 2 * 3 : 4 * 3 + 3);
      const mixed = Float64Array.from(before);
      for (let i = 0; i < offset; i++) mixed[i] = after[i]!;
      const gm = refGrad(L, mixed, x, y);
      let d2 = 0, ab = 0;
      for (let i = offset; i < offset + size; i++) { d2 += (g64[i]! - gm[i]!) ** 2; ab += g64[i]! * gm[i]!; }
      const l2 = Math.sqrt(d2), cos = ab / (norm(g64, offset, offset + size) * norm(gm, offset, offset + size));
      expect(l2).toBeGreaterThan(1e-3);
      expect(Math.abs(ics!.l2 - l2) / l2).toBeLessThan(1e-3);
      expect(ics!.cosine).toBeCloseTo(cos, 4);
      // Section 3.2: the landscape along g at w = before
      const etas = geometricGrid(0.05, 0.4, 4);
      const p = landscapeAlongGradient(net, probe, before, etas);
      expect(readParams(net)).toEqual(before);
      const losses: number[] = [], changes: number[] = [], betas: number[] = [];
      const gn = norm(g64);
      for (const eta of etas) {
        const w = Float64Array.from(before, (v, i) => Math.fround(v - eta * g64[i]!));
        losses.push(refLoss(L, w, x, y));
        const gw = refGrad(L, w, x, y);
        const ch = norm(gw.map((v, i) => v - g64[i]!));
        changes.push(ch);
        betas.push(ch / (eta * gn));
      }
      const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);
      expect(rel(p.lossMax - p.lossMin, Math.max(...losses) - Math.min(...losses))).toBeLessThan(1e-3);
      expect(rel(p.gradientChangeMax, Math.max(...changes))).toBeLessThan(1e-3);
      expect(rel(p.gradientChangeMin, Math.min(...changes))).toBeLessThan(1e-3);
      expect(rel(p.betaSmoothness, Math.max(...betas))).toBeLessThan(1e-3);
      probe.dispose();
      net.dispose();
    });
  }

  it("the 'probe' forward changes no state: BatchNorm's running statistics and counter stay, the loss is training's", async () => {
    const be = await getBackend(name);
    const bnLayer = new BatchNorm(3);
    const net = new Network([new Dense(4, 3), bnLayer, new ReLU(), new Dense(3, 2)], be, true);
    net.initialize(2);
    const rng = new Random(3), rows = 6;
    const x = randn(rows * 4, rng), y = Int32Array.from({ length: rows }, (_, i) => i % 2);
    const probe = new Probe(net, x, y);
    const state = () => be.heap.readF32(net.block('state'), net.nState);
    const s0 = state(), p0 = readParams(net);
    const l1 = probe.loss(true);
    expect(state()).toEqual(s0);
    expect(bnLayer.numBatchesTracked).toBe(0);
    expect(readParams(net)).toEqual(p0);
    // the same batch in training mode: the same output, but the running statistics move
    be.heap.write(net.block('x'), x);
    const out = be.heap.readF32(net.forward(rows, true), rows * 2);
    const outProbe = (probe.loss(false), be.heap.readF32(net.out(3), rows * 2));
    expect(outProbe).toEqual(out);
    expect(bnLayer.numBatchesTracked).toBe(1);
    expect(state()).not.toEqual(s0);
    expect(Number.isFinite(l1)).toBe(true);
    probe.dispose();
    net.dispose();
  });
});

describe('median and geometricGrid', () => {
  it('median of finite values; a geometric grid from lo to hi', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, NaN, 1, 2, 3])).toBe(2.5);
    expect(median([])).toBeNaN();
    const g = geometricGrid(0.05, 0.4, 4);
    expect(g[0]).toBeCloseTo(0.05, 12);
    expect(g[3]).toBeCloseTo(0.4, 12);
    expect(g[2]! / g[1]!).toBeCloseTo(g[1]! / g[0]!, 12);
  });
});

describe('runBnLandscape: a short seeded run', () => {
  let r: BnLandscapeResult;
  beforeAll(async () => {
    const data = loadMnist({ train: 1000, test: 10, seed: 1 });
    r = await runBnLandscape({ data, steps: 40, every: 10, depth: 3, evalRows: 64, etas: 3, seed: 2, backend: 'wasm' });
  }, 60_000);

  it('records every run at the same steps, the measurements for standard and batchnorm, and the medians of them', () => {
    for (const n of RUN_NAMES) {
      expect(r.runs[n].trainAccuracy.map((a) => a[0])).toEqual([10, 20, 30, 40]);
      for (const [, acc] of r.runs[n].trainAccuracy) expect(acc).toBeGreaterThanOrEqual(0);
    }
    for (const n of ['standard', 'batchnorm'] as const) {
      expect(r.ics[n].layer).toEqual([2, 3]);
      expect(r.ics[n].l2.map((row) => row.length)).toEqual([3, 3, 3, 3]);
      for (const k of ['lossRange', 'gradientChange', 'betaSmoothness'] as const) {
        expect(r.landscape[n][k].map((a) => a[0])).toEqual([10, 20, 30, 40]);
        expect(r.summary.landscape[n][k]).toBe(median(r.landscape[n][k].map((a) => a[1])));
      }
      expect(r.summary.ics[n].l2[1]).toBe(median(r.ics[n].l2.map((row) => row[2]!)));
      for (const b of r.landscape[n].lossBand) expect(b[2]).toBeGreaterThanOrEqual(b[1]);
    }
    for (const n of RUN_NAMES) expect(r.summary.finalTrainAccuracy[n]).toBe(r.runs[n].trainAccuracy.at(-1)![1]);
    expect(r.config.etas).toHaveLength(3);
    // the paper's landscape finding holds even this early on MNIST: BN's loss range is smaller
    expect(r.summary.landscape.batchnorm.lossRange).toBeLessThan(r.summary.landscape.standard.lossRange);
  });

  it('starts the four runs from the same Dense weights', async () => {
    const { createBackend } = await import('../src/backend/index.js');
    const be = await createBackend('js');
    const weights = (n: RunName) => {
      const { layers, dense } = bnLandscapeLayers(n, 20, 10, 3, 8, 5);
      const net = new Network(layers, be, true);
      net.initialize(5);
      const p = readParams(net);
      const w = dense.map((d) => { const { offset } = paramRange(net, d); const l = layers[d] as Dense; return p.slice(offset, offset + l.inFeatures * l.outFeatures); });
      net.dispose();
      return w;
    };
    const base = weights('standard');
    for (const n of RUN_NAMES) expect(weights(n)).toEqual(base);
  });
});

describe('normcore experiment bn-landscape', () => {
  let dir: string;
  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'normcore-landscape-')); });
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

  it('writes the report, three SVG figures and the JSON with the fields of issue 17', async () => {
    let out = '', err = '';
    const io = { stdout: (t: string) => void (out += t), stderr: (t: string) => void (err += t) };
    const code = await experimentMain(['bn-landscape', '--steps', '20', '--every', '10', '--depth', '2', '--seed', '3', '--out', dir], io);
    expect(code, err).toBe(0);
    expect(out).toMatch(/final training accuracy: standard \d/);
    expect(out).toMatch(/wall time/);
    const json = JSON.parse(await readFile(join(dir, 'bn-landscape.json'), 'utf8'));
    for (const n of ['standard', 'batchnorm', 'noisyBatchnorm', 'standardNoisy']) {
      expect(json.runs[n].trainAccuracy).toHaveLength(2);
      for (const p of json.runs[n].trainAccuracy) { expect(p).toHaveLength(2); expect(p[1]).toBeGreaterThanOrEqual(0); expect(p[1]).toBeLessThanOrEqual(1); }
    }
    for (const n of ['standard', 'batchnorm']) {
      expect(Object.keys(json.ics[n]).sort()).toEqual(['cosine', 'l2', 'layer']);
      for (const k of ['lossRange', 'gradientChange', 'betaSmoothness']) {
        expect(json.landscape[n][k].map((p: number[]) => p.length)).toEqual([2, 2]);
        expect(json.summary.landscape[n][k]).toBeGreaterThan(0);
      }
      // depth 2: layer 2 and the output layer 3
      expect(json.ics[n].layer).toEqual([2, 3]);
      expect(json.summary.ics[n].l2).toHaveLength(2);
    }
    expect(Object.keys(json.summary.finalTrainAccuracy).sort()).toEqual(['batchnorm', 'noisyBatchnorm', 'standard', 'standardNoisy']);
    expect(json.config.depth).toBe(2);
    const html = await readFile(join(dir, 'bn-landscape.html'), 'utf8');
    expect(html.match(/<svg/g)).toHaveLength(3);
    expect(html).not.toMatch(/<script|src="http/);
    for (const f of ['accuracy', 'ics', 'landscape']) expect(await readFile(join(dir, `bn-landscape-${f}.svg`), 'utf8')).toMatch(/<svg/);
  }, 60_000);

  it('parses its flags and refuses bad ones', async () => {
    expect(bnLandscapeConfig(['--steps', '50', '--lr', '0.05', '--depth', '4', '--seed', '9', '--every', '5'])).toEqual({ steps: 50, lr: 0.05, depth: 4, seed: 9, every: 5, out: 'out' });
    expect(bnLandscapeConfig(['--help'])).toBe('help');
    let err = '';
    const io = { stdout: () => {}, stderr: (t: string) => void (err += t) };
    expect(await experimentMain(['bn-landscape', '--depth', '1'], io)).toBe(2);
    expect(err).toMatch(/--depth/);
    expect(await experimentMain(['bn-landscape', '--steps', '10', '--every', '11'], io)).toBe(2);
  });
});
