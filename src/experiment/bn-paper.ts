/**
 * The MNIST experiment of Ioffe & Szegedy (2015), "Batch Normalization:
 * Accelerating Deep Network Training by Reducing Internal Covariate Shift",
 * Figure 1: the same network trained twice, without and with batch
 * normalization, recording as it trains
 *
 *   (a) test accuracy, and
 *   (b, c) the 15th, 50th and 85th percentiles, over the test digits, of the
 *          input to one fixed sigmoid of the last hidden layer.
 *
 * Network (the paper's): 784 → 3 × [Dense 100 → (BatchNorm) → Sigmoid] → Dense 10,
 * softmax cross-entropy, mini-batches of 60, plain SGD, weights drawn from a
 * small Gaussian. Both runs use the same seed, so they start from the same
 * weights (a Dense before a BatchNorm has no bias; the biases of the plain
 * net start at 0 and draw no random numbers) and see the same batches.
 *
 * "The input to the sigmoid" is what the sigmoid receives while training:
 * the Dense output in the plain net; in the BN net the Dense output
 * normalized with batch statistics, scaled by γ and shifted by β. It is
 * measured over the test digits taken as one batch (their own mean and
 * variance; the running statistics are not touched). The BN net's
 * inference-mode input, normalized with the running statistics instead, is
 * recorded too (`runningStats`): it follows the same centre but jitters,
 * because BatchNorm leaves the mean and scale of the Dense output free to
 * wander between steps and a running average lags behind them. Test accuracy
 * is measured in inference mode.
 *
 * No Node built-ins here: the caller passes the digits (see cli.ts for the
 * Node command, which loads them with loadMnist).
 */
import { createBackend, type Backend } from '../backend/index.js';
import { describe, expectInt, expectNumber, expectOptions, typeError, rangeError } from '../errors.js';
import { BatchNorm, mlp, type Layer } from '../model/layers.js';
import { Sequential } from '../model/sequential.js';
import { DivergenceError } from '../train/trainer.js';
/** Class labels of the experiment's data. */
type Labels = Uint8Array | Int32Array | Uint16Array | Float32Array;

/** Defaults of runBnPaper and of `normcore experiment bn-paper`. See the README section "Why batch normalization works" for how they were chosen. */
export const BN_PAPER_DEFAULTS = {
  /** Training steps (mini-batches) per network. The paper ran 50,000. */
  steps: 10_000,
  /** Plain SGD learning rate, the same for both networks. */
  lr: 0.1,
  batchSize: 60,
  seed: 1,
  /** Checkpoints per run when `every` is not given: every = round(steps / checkpoints). */
  checkpoints: 50,
  hidden: [100, 100, 100] as readonly number[],
  /** Standard deviation of the Gaussian the weights are drawn from. */
  initStd: 0.1,
  /** Which sigmoid of the last hidden layer is watched. */
  unit: 0,
  /** Weight of each new batch in BatchNorm's running statistics (inference only; training uses batch statistics). */
  bnMomentum: 0.1 as number,
} as const;

/** The digits: images rows × 784 (any width works), labels 0…classes−1. */
export interface BnPaperData {
  trainImages: Float32Array;
  trainLabels: Labels;
  testImages: Float32Array;
  testLabels: Labels;
}

export type BnPaperNetwork = 'plain' | 'batchnorm';

/** Reported at every checkpoint. */
export interface BnPaperProgress {
  network: BnPaperNetwork;
  step: number;
  steps: number;
  accuracy: number;
  p15: number;
  p50: number;
  p85: number;
}

export interface BnPaperOptions {
  data: BnPaperData;
  /** Training steps per network (default 10,000). */
  steps?: number;
  /** Learning rate of plain SGD (default 0.1). */
  lr?: number;
  /** Digits per step (default 60, the paper's). */
  batchSize?: number;
  /** Seed of the weights and of the batch order, the same for both networks (default 1). */
  seed?: number;
  /** Record a checkpoint every this many steps (default: steps / 50, rounded, at least 1). The last step is always recorded. */
  every?: number;
  /** Hidden layer widths (default [100, 100, 100]). */
  hidden?: number[];
  /** Std of the Gaussian weight initialization (default 0.1). */
  initStd?: number;
  /** Index of the watched sigmoid in the last hidden layer (default 0). */
  unit?: number;
  /** BatchNorm running-statistics momentum (default 0.1); changes only inference-mode outputs, not training. */
  bnMomentum?: number;
  /** A backend, or 'wasm' (default) / 'js'. */
  backend?: Backend | 'wasm' | 'js';
  onProgress?: (p: BnPaperProgress) => void;
}

/** What one network did, one entry per checkpoint. */
export interface BnPaperSeries {
  network: BnPaperNetwork;
  /** Steps done at each checkpoint. */
  step: number[];
  /** Test accuracy (inference mode). */
  accuracy: number[];
  /**
   * Percentiles of the watched sigmoid's input over the test digits. With
   * BatchNorm: the input as the sigmoid receives it while training, i.e. the
   * Dense output normalized with batch statistics (the test digits taken as
   * one batch), times γ, plus β.
   */
  p15: number[];
  p50: number[];
  p85: number[];
  /**
   * BatchNorm net only: the same percentiles through the model's inference
   * path, which normalizes with the running statistics (an average of recent
   * batches, so it lags the weights and adds noise of its own).
   */
  runningStats?: { p15: number[]; p50: number[]; p85: number[] };
  /** Wall time of training and checkpoints, in seconds. */
  seconds: number;
  /** The step at which the training loss became NaN/∞, if it did (the run stops there). */
  divergedAt?: number;
}

export interface BnPaperConfig {
  steps: number;
  lr: number;
  batchSize: number;
  seed: number;
  every: number;
  hidden: number[];
  initStd: number;
  unit: number;
  bnMomentum: number;
  backend: string;
  /** Training and test rows. */
  train: number;
  test: number;
  /** Input width and number of classes, read from the data. */
  features: number;
  classes: number;
}

export interface BnPaperResult {
  config: BnPaperConfig;
  plain: BnPaperSeries;
  batchnorm: BnPaperSeries;
}

/** Dense(std) → [BatchNorm] → Sigmoid per hidden width, then Dense(std) to the classes. */
export function bnPaperLayers(inFeatures: number, classes: number, hidden: readonly number[], initStd: number, batchNorm: boolean, bnMomentum = BN_PAPER_DEFAULTS.bnMomentum): Layer[] {
  return mlp({
    inputs: inFeatures, hidden, outputs: classes, activation: 'sigmoid', batchNorm,
    batchNormOptions: { momentum: bnMomentum }, init: { type: 'normal', std: initStd },
  });
}

/**
 * The p-th percentile (0…100) of sorted values, interpolating linearly
 * between the two nearest ranks (numpy's default): position p/100·(n−1).
 */
export function percentileOfSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const pos = (p / 100) * (n - 1);
  const lo = Math.floor(pos), hi = Math.min(lo + 1, n - 1);
  return sorted[lo]! + (pos - lo) * (sorted[hi]! - sorted[lo]!);
}

function labelsOf(where: string, name: string, y: Labels, rows: number, classes: number): Int32Array {
  if (y.length !== rows) throw rangeError(`${where}: data.${name} must have one label per row (${rows}), got length ${y.length}`);
  const out = new Int32Array(rows);
  for (let i = 0; i < rows; i++) {
    const v = y[i]!;
    if (!Number.isInteger(v) || v < 0 || v >= classes) throw rangeError(`${where}: data.${name}[${i}] must be a class index in [0, ${classes - 1}], got ${v}`);
    out[i] = v;
  }
  return out;
}

/**
 * Trains the plain and the batch-normalized network for `steps` steps each
 * and returns, per checkpoint, test accuracy and the 15/50/85th percentiles
 * of the watched sigmoid's input.
 */
export async function runBnPaper(options: BnPaperOptions): Promise<BnPaperResult> {
  const where = 'runBnPaper';
  const o = expectOptions(where, 'options', options, ['data', 'steps', 'lr', 'batchSize', 'seed', 'every', 'hidden', 'initStd', 'unit', 'bnMomentum', 'backend', 'onProgress']);
  const d = o.data;
  if (!d || typeof d !== 'object') throw typeError(`${where}: options.data must be { trainImages, trainLabels, testImages, testLabels }, got ${describe(d)}`);
  for (const name of ['trainImages', 'testImages'] as const) {
    if (!(d[name] instanceof Float32Array) || d[name].length === 0) throw typeError(`${where}: options.data.${name} must be a non-empty Float32Array, got ${describe(d[name])}`);
  }
  const steps = expectInt(where, 'options.steps', o.steps ?? BN_PAPER_DEFAULTS.steps);
  const lr = expectNumber(where, 'options.lr', o.lr ?? BN_PAPER_DEFAULTS.lr, 0, Infinity, true);
  const batchSize = expectInt(where, 'options.batchSize', o.batchSize ?? BN_PAPER_DEFAULTS.batchSize, 2);
  const seed = expectInt(where, 'options.seed', o.seed ?? BN_PAPER_DEFAULTS.seed, 0);
  const every = expectInt(where, 'options.every', o.every ?? Math.max(1, Math.round(steps / BN_PAPER_DEFAULTS.checkpoints)));
  const hidden = o.hidden ?? [...BN_PAPER_DEFAULTS.hidden];
  if (!Array.isArray(hidden) || hidden.length === 0) throw typeError(`${where}: options.hidden must be a non-empty array of widths, got ${describe(hidden)}`);
  hidden.forEach((h, i) => expectInt(where, `options.hidden[${i}]`, h));
  const initStd = expectNumber(where, 'options.initStd', o.initStd ?? BN_PAPER_DEFAULTS.initStd, 0, Infinity, true);
  const last = hidden[hidden.length - 1]!;
  const unit = expectInt(where, 'options.unit', o.unit ?? BN_PAPER_DEFAULTS.unit, 0);
  if (unit >= last) throw rangeError(`${where}: options.unit must be < ${last} (the width of the last hidden layer), got ${unit}`);
  const bnMomentum = expectNumber(where, 'options.bnMomentum', o.bnMomentum ?? BN_PAPER_DEFAULTS.bnMomentum, 0, 1, true);
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw typeError(`${where}: options.onProgress must be a function, got ${describe(o.onProgress)}`);

  // The input width follows from the training rows, the classes from the largest label.
  const trainLabels0 = d.trainLabels, testLabels0 = d.testLabels;
  const trainRows = trainLabels0?.length ?? 0, testRows = testLabels0?.length ?? 0;
  if (trainRows === 0 || d.trainImages.length % trainRows !== 0) {
    throw rangeError(`${where}: options.data.trainImages (length ${d.trainImages.length}) must hold one row per label (${trainRows} labels)`);
  }
  const features = d.trainImages.length / trainRows;
  if (testRows === 0 || d.testImages.length !== testRows * features) {
    throw rangeError(`${where}: options.data.testImages must be ${testRows} rows × ${features} features = ${testRows * features} values, got length ${d.testImages.length}`);
  }
  let classes = 2;
  for (const y of [trainLabels0, testLabels0]) for (let i = 0; i < y.length; i++) if (Number.isInteger(y[i])) classes = Math.max(classes, y[i]! + 1);
  const trainLabels = labelsOf(where, 'trainLabels', trainLabels0, trainRows, classes);
  const testLabels = labelsOf(where, 'testLabels', testLabels0, testRows, classes);
  if (batchSize > trainRows) throw rangeError(`${where}: options.batchSize must be ≤ the training rows (${trainRows}), got ${batchSize}`);
  const backendOpt = o.backend ?? 'wasm';
  const backend = typeof backendOpt === 'string' ? await createBackend(backendOpt) : backendOpt;

  const config: BnPaperConfig = { steps, lr, batchSize, seed, every, hidden: [...hidden], initStd, unit, bnMomentum, backend: backend.name, train: trainRows, test: testRows, features, classes };
  const run = async (network: BnPaperNetwork): Promise<BnPaperSeries> => {
    const batchNorm = network === 'batchnorm';
    const layers = bnPaperLayers(features, classes, hidden, initStd, batchNorm, bnMomentum);
    // The layer the last hidden sigmoid reads: the one just before it.
    const probe = layers.length - 3;
    const model = new Sequential(layers, { backend, seed });
    const series: BnPaperSeries = { network, step: [], accuracy: [], p15: [], p50: [], p85: [], seconds: 0 };
    const width = last;
    const column = new Float32Array(testRows);
    const percentiles = (values: Float32Array): { p15: number; p50: number; p85: number } => {
      values.sort();
      return { p15: percentileOfSorted(values, 15), p50: percentileOfSorted(values, 50), p85: percentileOfSorted(values, 85) };
    };
    const checkpoint = (step: number): void => {
      // One inference pass gives the watched unit's input (and, with BN, the Dense output before it) and the logits.
      const outs = model.layerOutputs(d.testImages, batchNorm ? [probe - 1, probe, layers.length - 1] : [probe, layers.length - 1]);
      const logits = outs[outs.length - 1]!;
      let correct = 0;
      for (let r = 0; r < testRows; r++) {
        let best = 0;
        for (let c = 1; c < classes; c++) if (logits[r * classes + c]! > logits[r * classes + best]!) best = c;
        if (best === testLabels[r]) correct++;
      }
      let p: { p15: number; p50: number; p85: number };
      if (batchNorm) {
        const bn = layers[probe] as BatchNorm;
        // What the sigmoid receives while training: the Dense output normalized with the statistics of the batch it
        // belongs to (here the whole test set as one batch, biased variance as in training), scaled by γ, shifted by β.
        const dense = outs[0]!;
        let mean = 0;
        for (let r = 0; r < testRows; r++) mean += dense[r * width + unit]!;
        mean /= testRows;
        let variance = 0;
        for (let r = 0; r < testRows; r++) variance += (dense[r * width + unit]! - mean) ** 2;
        variance /= testRows;
        const affine = bn.scaleAndShift();
        const gamma = affine.gamma[unit]!;
        const beta = affine.beta[unit]!;
        const scale = gamma / Math.sqrt(variance + bn.eps);
        for (let r = 0; r < testRows; r++) column[r] = (dense[r * width + unit]! - mean) * scale + beta;
        p = percentiles(column);
        // The same through the model's inference path (running statistics), as it runs at test time.
        const inference = outs[1]!;
        for (let r = 0; r < testRows; r++) column[r] = inference[r * width + unit]!;
        const q = percentiles(column);
        const rs = (series.runningStats ??= { p15: [], p50: [], p85: [] });
        rs.p15.push(q.p15);
        rs.p50.push(q.p50);
        rs.p85.push(q.p85);
      } else {
        const inputs = outs[0]!;
        for (let r = 0; r < testRows; r++) column[r] = inputs[r * width + unit]!;
        p = percentiles(column);
      }
      const point = { step, accuracy: correct / testRows, ...p };
      series.step.push(step);
      series.accuracy.push(point.accuracy);
      series.p15.push(point.p15);
      series.p50.push(point.p50);
      series.p85.push(point.p85);
      o.onProgress?.({ network, steps, ...point });
    };
    const t0 = performance.now();
    try {
      model.compile({ loss: 'softmaxCrossEntropy', optimizer: { type: 'sgd', lr } });
      const stepsPerEpoch = Math.floor(trainRows / batchSize);
      const stop = new AbortController();
      let step = 0;
      try {
        await model.fit(d.trainImages, trainLabels, {
          epochs: Math.ceil(steps / stepsPerEpoch),
          batchSize,
          // Every step a full batch of `batchSize`, as in the paper.
          dropLast: true,
          shuffle: true,
          seed,
          checkInputs: false,
          signal: stop.signal,
          onBatchEnd: () => {
            step++;
            if (step % every === 0 || step === steps) checkpoint(step);
            if (step >= steps) stop.abort();
          },
        });
      } catch (e) {
        if (!(e instanceof DivergenceError)) throw e;
        series.divergedAt = step + 1;
      }
    } finally {
      series.seconds = (performance.now() - t0) / 1000;
      model.dispose();
    }
    return series;
  };
  const plain = await run('plain');
  const batchnorm = await run('batchnorm');
  return { config, plain, batchnorm };
}

/** How far the median of the watched sigmoid's input moved over a run. */
export interface MedianDrift {
  /** max − min of the 50th percentile over all checkpoints. */
  range: number;
  /** last − first checkpoint's 50th percentile (signed). */
  drift: number;
  /** Σ |p50[i+1] − p50[i]| over consecutive checkpoints. */
  totalVariation: number;
  /** Mean width of the 15–85 band (p85 − p15), for scale. */
  meanBand: number;
}

/** Range, drift and total variation of the median over the checkpoints of a series (or of its first `upTo` checkpoints). */
export function medianDrift(s: Pick<BnPaperSeries, 'p15' | 'p50' | 'p85'>, upTo = s.p50.length): MedianDrift {
  const m = s.p50.slice(0, upTo);
  if (m.length === 0) return { range: NaN, drift: NaN, totalVariation: NaN, meanBand: NaN };
  let tv = 0, band = 0;
  for (let i = 1; i < m.length; i++) tv += Math.abs(m[i]! - m[i - 1]!);
  for (let i = 0; i < m.length; i++) band += s.p85[i]! - s.p15[i]!;
  return { range: Math.max(...m) - Math.min(...m), drift: m[m.length - 1]! - m[0]!, totalVariation: tv, meanBand: band / m.length };
}
