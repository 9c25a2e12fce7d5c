/**
 * The second answer to "why does batch normalization work": Santurkar,
 * Tsipras, Ilyas & Madry (2018), "How Does Batch Normalization Help
 * Optimization?" (NeurIPS, arXiv 1805.11604), reproduced on the MNIST digits.
 *
 * Four runs from the same initial weights on the same batches, plain SGD:
 *   standard        Dense → ReLU per hidden layer
 *   batchnorm       Dense → BatchNorm → ReLU
 *   noisyBatchnorm  Dense → BatchNorm → Noise → ReLU   (their Algorithm 1, redrawn every step)
 *   standardNoisy   Dense → Noise → ReLU               (the same noise, same seeds)
 * recording the training accuracy (Fig. 2); and, for standard and batchnorm,
 * every `every` steps on a fixed evaluation batch: internal covariate shift
 * as their Definition 2.1 measures it for two layers (Fig. 3), and the loss
 * landscape along the gradient (Section 3.2, Fig. 4). See
 * landscape-measures.ts for the definitions; they run through the model's
 * own kernels (train/probe.ts, model/params.ts).
 *
 * No Node built-ins here: the caller passes the digits (cli.ts loads them).
 */
import { createBackend, type Backend } from '../backend/index.js';
import { describe, expectInt, expectNumber, expectOptions, rangeError, typeError } from '../errors.js';
import { BatchNorm, Dense, ReLU, type Layer } from '../model/layers.js';
import { Network } from '../model/network.js';
import { Noise } from '../model/noise.js';
import { readParams, writeParams } from '../model/params.js';
import { Random } from '../model/random.js';
import { Probe } from '../train/probe.js';
import { Trainer } from '../train/trainer.js';
import { geometricGrid, internalCovariateShift, landscapeAlongGradient, median, type IcsPoint, type LandscapePoint } from './landscape-measures.js';

/** Defaults of runBnLandscape and of `normcore experiment bn-landscape` (see the README section "Why batch normalization works"). */
export const BN_LANDSCAPE_DEFAULTS = {
  steps: 1000,
  lr: 0.1,
  /** Hidden layers. */
  depth: 6,
  width: 100,
  batchSize: 64,
  seed: 1,
  /** Steps between measurements; default steps / 30. */
  checkpoints: 30,
  /** Rows of the fixed evaluation batch the measurements use. */
  evalRows: 256,
  /** Step sizes of the landscape, geometric over [½, 4] × lr. */
  etas: 6,
} as const;

export const RUN_NAMES = ['standard', 'batchnorm', 'noisyBatchnorm', 'standardNoisy'] as const;
export type RunName = (typeof RUN_NAMES)[number];
export const MEASURED = ['standard', 'batchnorm'] as const;
export type MeasuredRun = (typeof MEASURED)[number];

export interface BnLandscapeData {
  /** rows × features. */
  trainImages: Float32Array;
  /** rows class indices. */
  trainLabels: ArrayLike<number>;
}

export interface BnLandscapeOptions {
  data: BnLandscapeData;
  steps?: number;
  lr?: number;
  depth?: number;
  width?: number;
  batchSize?: number;
  seed?: number;
  every?: number;
  evalRows?: number;
  etas?: number;
  backend?: Backend | 'wasm' | 'js';
  onProgress?: (p: { run: RunName; step: number; steps: number; trainAccuracy: number }) => void;
}

export interface BnLandscapeConfig {
  steps: number; lr: number; depth: number; width: number; batchSize: number; seed: number; every: number;
  evalRows: number; etas: number[]; backend: string; train: number; features: number; classes: number;
  /** The two Dense layers whose ICS is measured, counted from 1 (the output layer is depth + 1). */
  icsLayers: number[];
}

export interface RunSeries {
  /** [step, accuracy]: the mean accuracy on the training batches of the last `every` steps, as the network saw them (noise included). */
  trainAccuracy: Array<[number, number]>;
  /** [step, mean training loss] over the same window. */
  trainLoss: Array<[number, number]>;
  seconds: number;
  /** The step whose loss was not finite, if any (the run stops there). */
  divergedAt?: number;
}

export interface IcsSeries {
  /** The Dense layers measured, counted from 1. */
  layer: number[];
  /** [step, ‖G − G′‖₂ of each layer in `layer` order]. */
  l2: number[][];
  /** [step, cos(G, G′) of each layer]. */
  cosine: number[][];
}

export interface LandscapeSeries {
  /** [step, max − min over η of L(w − ηg)]. */
  lossRange: Array<[number, number]>;
  /** [step, max − min over η of ‖∇L(w − ηg) − ∇L(w)‖₂]. */
  gradientChange: Array<[number, number]>;
  /** [step, max over η of ‖∇L(w − ηg) − ∇L(w)‖₂ / ‖ηg‖₂]. */
  betaSmoothness: Array<[number, number]>;
  /** The bands of the figures: [step, min, max]. */
  lossBand: Array<[number, number, number]>;
  gradientChangeBand: Array<[number, number, number]>;
  /** [step, L(w), ‖∇L(w)‖₂] on the evaluation batch. */
  loss: Array<[number, number, number]>;
}

export interface BnLandscapeSummary {
  /** The last recorded training accuracy of each run. */
  finalTrainAccuracy: Record<RunName, number>;
  /** Medians over the measurements, per measured layer. */
  ics: Record<MeasuredRun, { layer: number[]; l2: number[]; cosine: number[] }>;
  landscape: Record<MeasuredRun, { lossRange: number; gradientChange: number; betaSmoothness: number }>;
  /** The same landscape medians over the first quarter of training, where the paper sees the largest gap. */
  landscapeEarly: Record<MeasuredRun, { lossRange: number; gradientChange: number; betaSmoothness: number }>;
  /** Wall time of the four runs with their measurements. */
  seconds: number;
}

export interface BnLandscapeResult {
  config: BnLandscapeConfig;
  runs: Record<RunName, RunSeries>;
  ics: Record<MeasuredRun, IcsSeries>;
  landscape: Record<MeasuredRun, LandscapeSeries>;
  summary: BnLandscapeSummary;
}

/** The layers of one run, the indices of its Dense layers and its Noise layers. Noise seeds depend on the seed and the layer's depth only, so both noisy runs draw the same noise. */
export function bnLandscapeLayers(run: RunName, features: number, classes: number, depth: number, width: number, seed: number): { layers: Layer[]; dense: number[]; noise: Noise[] } {
  const bn = run === 'batchnorm' || run === 'noisyBatchnorm';
  const noisy = run === 'noisyBatchnorm' || run === 'standardNoisy';
  const layers: Layer[] = [], dense: number[] = [], noise: Noise[] = [];
  let inp = features;
  for (let h = 0; h < depth; h++) {
    dense.push(layers.length);
    layers.push(new Dense(inp, width, { bias: !bn, init: 'he' }));
    if (bn) layers.push(new BatchNorm(width));
    if (noisy) {
      noise.push(new Noise({ seed: (seed * 7919 + h + 1) >>> 0 }));
      layers.push(noise[noise.length - 1]!);
    }
    layers.push(new ReLU());
    inp = width;
  }
  dense.push(layers.length);
  layers.push(new Dense(inp, classes, { init: 'glorot' }));
  return { layers, dense, noise };
}

function checkData(where: string, d: unknown): { x: Float32Array; y: Int32Array; rows: number; features: number; classes: number } {
  const data = d as BnLandscapeData | undefined;
  if (!data || typeof data !== 'object' || !(data.trainImages instanceof Float32Array) || data.trainImages.length === 0) {
    throw typeError(`${where}: options.data must be { trainImages: Float32Array, trainLabels }, got ${describe(d)}`, { argument: 'options.data', expected: '{ trainImages, trainLabels }', received: describe(d) });
  }
  const rows = data.trainLabels?.length ?? 0;
  if (rows === 0 || data.trainImages.length % rows !== 0) {
    throw rangeError(`${where}: options.data.trainImages (length ${data.trainImages.length}) must hold one row per label (${rows} labels)`, { argument: 'options.data.trainImages' });
  }
  const y = new Int32Array(rows);
  let classes = 2;
  for (let i = 0; i < rows; i++) {
    const v = data.trainLabels[i]!;
    if (!Number.isInteger(v) || v < 0 || v > 255) throw rangeError(`${where}: options.data.trainLabels[${i}] must be a class index 0…255, got ${v}`, { argument: `options.data.trainLabels[${i}]` });
    y[i] = v;
    classes = Math.max(classes, v + 1);
  }
  return { x: data.trainImages, y, rows, features: data.trainImages.length / rows, classes };
}

/** Runs the four networks and the measurements. */
export async function runBnLandscape(options: BnLandscapeOptions): Promise<BnLandscapeResult> {
  const where = 'runBnLandscape';
  const o = expectOptions(where, 'options', options, ['data', 'steps', 'lr', 'depth', 'width', 'batchSize', 'seed', 'every', 'evalRows', 'etas', 'backend', 'onProgress']);
  const D = BN_LANDSCAPE_DEFAULTS;
  const data = checkData(where, o.data);
  const steps = expectInt(where, 'options.steps', o.steps ?? D.steps);
  const lr = expectNumber(where, 'options.lr', o.lr ?? D.lr, 0, Infinity, true);
  const depth = expectInt(where, 'options.depth', o.depth ?? D.depth, 2);
  const width = expectInt(where, 'options.width', o.width ?? D.width);
  const batchSize = expectInt(where, 'options.batchSize', o.batchSize ?? D.batchSize, 2);
  const seed = expectInt(where, 'options.seed', o.seed ?? D.seed, 0);
  const every = expectInt(where, 'options.every', o.every ?? Math.max(1, Math.round(steps / D.checkpoints)));
  const evalRows = expectInt(where, 'options.evalRows', o.evalRows ?? Math.min(D.evalRows, data.rows), 2);
  const nEtas = expectInt(where, 'options.etas', o.etas ?? D.etas);
  if (batchSize > data.rows) throw rangeError(`${where}: options.batchSize must be ≤ the training rows (${data.rows}), got ${batchSize}`, { argument: 'options.batchSize' });
  if (evalRows > data.rows) throw rangeError(`${where}: options.evalRows must be ≤ the training rows (${data.rows}), got ${evalRows}`, { argument: 'options.evalRows' });
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw typeError(`${where}: options.onProgress must be a function, got ${describe(o.onProgress)}`, { argument: 'options.onProgress' });
  const backendOpt = o.backend ?? 'wasm';
  const backend = typeof backendOpt === 'string' ? await createBackend(backendOpt) : backendOpt;
  const { features, classes } = data;
  const etas = geometricGrid(0.5 * lr, 4 * lr, nEtas);
  // ICS of a middle hidden layer and of the last hidden layer (layer 1 has nothing below it); with depth 2, layers 2 and 3 (the output).
  const icsDense = depth >= 3 ? [Math.max(2, Math.ceil(depth / 2)), depth] : [2, 3];
  const config: BnLandscapeConfig = { steps, lr, depth, width, batchSize, seed, every, evalRows, etas, backend: backend.name, train: data.rows, features, classes, icsLayers: icsDense };

  // The batches: a seeded permutation per epoch, the same for every run; the evaluation batch: a fixed seeded sample.
  const order = new Int32Array(data.rows).map((_, i) => i);
  const evalIdx = new Int32Array(order);
  new Random(seed ^ 0x5eed).shuffle(evalIdx);
  const evalX = new Float32Array(evalRows * features), evalY = new Int32Array(evalRows);
  for (let r = 0; r < evalRows; r++) {
    evalX.set(data.x.subarray(evalIdx[r]! * features, (evalIdx[r]! + 1) * features), r * features);
    evalY[r] = data.y[evalIdx[r]!]!;
  }

  const t0 = performance.now();
  const runs = {} as Record<RunName, RunSeries>;
  const ics = {} as Record<MeasuredRun, IcsSeries>;
  const landscape = {} as Record<MeasuredRun, LandscapeSeries>;
  for (const name of RUN_NAMES) {
    const measured = name === 'standard' || name === 'batchnorm';
    const { layers, dense: denseIdx, noise } = bnLandscapeLayers(name, features, classes, depth, width, seed);
    const net = new Network(layers, backend, true);
    const series: RunSeries = { trainAccuracy: [], trainLoss: [], seconds: 0 };
    const icsS: IcsSeries = { layer: icsDense, l2: [], cosine: [] };
    const land: LandscapeSeries = { lossRange: [], gradientChange: [], betaSmoothness: [], lossBand: [], gradientChangeBand: [], loss: [] };
    const tRun = performance.now();
    let probe: Probe | undefined;
    try {
      net.initialize(seed);
      net.ensureCapacity(Math.max(batchSize, evalRows));
      const trainer = new Trainer(net);
      trainer.compile({ loss: 'softmaxCrossEntropy', optimizer: { type: 'sgd', lr } });
      if (measured) probe = new Probe(net, evalX, evalY);
      const heap = backend.heap, k = net.k;
      const rng = new Random(seed);
      const bx = new Float32Array(batchSize * features), by = new Int32Array(batchSize);
      let pos = data.rows, correct = 0, lossSum = 0, seen = 0;
      for (let step = 1; step <= steps; step++) {
        if (pos + batchSize > data.rows) {
          rng.shuffle(order);
          pos = 0;
        }
        for (let r = 0; r < batchSize; r++) {
          const i = order[pos + r]!;
          bx.set(data.x.subarray(i * features, (i + 1) * features), r * features);
          by[r] = data.y[i]!;
        }
        pos += batchSize;
        heap.write(net.block('x'), bx);
        heap.write(net.block('y'), by);
        for (const n of noise) n.redraw(batchSize, net.capacity);
        const out = net.forward(batchSize, true);
        const loss = trainer.lossAndGrad(out, batchSize);
        if (!Number.isFinite(loss)) {
          series.divergedAt = step;
          break;
        }
        correct += k.countCorrect(out, net.block('y'), batchSize, classes);
        lossSum += loss * batchSize;
        seen += batchSize;
        net.backward(batchSize);
        const checkpoint = step % every === 0 || step === steps;
        const before = checkpoint && probe ? readParams(net) : undefined;
        trainer.applyOptimizer(lr);
        if (checkpoint) {
          series.trainAccuracy.push([step, correct / seen]);
          series.trainLoss.push([step, lossSum / seen]);
          o.onProgress?.({ run: name, step, steps, trainAccuracy: correct / seen });
          correct = lossSum = seen = 0;
        }
        if (before && probe) {
          const after = readParams(net);
          const points: IcsPoint[] = internalCovariateShift(net, probe, before, after, icsDense.map((d) => denseIdx[d - 1]!));
          icsS.l2.push([step, ...points.map((p) => p.l2)]);
          icsS.cosine.push([step, ...points.map((p) => p.cosine)]);
          const p: LandscapePoint = landscapeAlongGradient(net, probe, before, etas);
          land.lossRange.push([step, p.lossMax - p.lossMin]);
          land.gradientChange.push([step, p.gradientChangeMax - p.gradientChangeMin]);
          land.betaSmoothness.push([step, p.betaSmoothness]);
          land.lossBand.push([step, p.lossMin, p.lossMax]);
          land.gradientChangeBand.push([step, p.gradientChangeMin, p.gradientChangeMax]);
          land.loss.push([step, p.loss, p.gradientNorm]);
          writeParams(net, after);
        }
      }
    } finally {
      probe?.dispose();
      net.dispose();
      series.seconds = (performance.now() - tRun) / 1000;
    }
    runs[name] = series;
    if (name === 'standard' || name === 'batchnorm') {
      ics[name] = icsS;
      landscape[name] = land;
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  return { config, runs, ics, landscape, summary: summarize(runs, ics, landscape, steps, seconds) };
}

const values = (rows: ReadonlyArray<readonly number[]>, col: number, upTo = Infinity): number[] => rows.filter((r) => r[0]! <= upTo).map((r) => r[col]!);

/** The medians the issue asks for. */
export function summarize(runs: Record<RunName, RunSeries>, ics: Record<MeasuredRun, IcsSeries>, landscape: Record<MeasuredRun, LandscapeSeries>, steps: number, seconds: number): BnLandscapeSummary {
  const finalTrainAccuracy = Object.fromEntries(RUN_NAMES.map((n) => [n, runs[n].trainAccuracy.at(-1)?.[1] ?? NaN])) as Record<RunName, number>;
  const icsMed = Object.fromEntries(MEASURED.map((n) => [n, {
    layer: ics[n].layer,
    l2: ics[n].layer.map((_, j) => median(values(ics[n].l2, j + 1))),
    cosine: ics[n].layer.map((_, j) => median(values(ics[n].cosine, j + 1))),
  }])) as BnLandscapeSummary['ics'];
  const land = (upTo: number) => Object.fromEntries(MEASURED.map((n) => [n, {
    lossRange: median(values(landscape[n].lossRange, 1, upTo)),
    gradientChange: median(values(landscape[n].gradientChange, 1, upTo)),
    betaSmoothness: median(values(landscape[n].betaSmoothness, 1, upTo)),
  }])) as BnLandscapeSummary['landscape'];
  return { finalTrainAccuracy, ics: icsMed, landscape: land(Infinity), landscapeEarly: land(steps / 4), seconds };
}
