/**
 * Metrics as typed records: each is a plain object with init/update/result
 * over a state it owns, listed in one table (METRICS) that the compiler
 * checks against MetricName. Nothing registers itself by import.
 *
 * Predictions are what the head outputs, rows × K (row-major):
 * - multiclass (K ≥ 3): class probabilities; the predicted class is the
 *   first argmax.
 * - binary: K = 1 (a sigmoid probability of the positive class 1) or K = 2
 *   (softmax probabilities; column 1 is the positive class). The predicted
 *   class is positive when its probability is > 0.5 (for K = 2 that is the
 *   argmax, ties going to class 0).
 * - regression: values, rows × K, with targets of the same shape.
 * Targets: class indices (Int32Array; a Float32Array of 0/1 is read as
 * > 0.5 for K = 1) or regression values (Float32Array rows × K).
 *
 * Averages (scikit-learn semantics, checked against sklearn 1.2 in the tests):
 * - precision, recall, f1: binary (K ≤ 2) → of the positive class 1
 *   (sklearn average='binary'); multiclass → macro average over the classes
 *   present in the targets or the predictions (sklearn average='macro').
 *   0/0 counts as 0 (sklearn zero_division's default value).
 * - auc: ROC AUC. Binary: exact, scores sorted, tied scores count half
 *   (the Mann–Whitney statistic, = sklearn roc_auc_score). Multiclass:
 *   one-vs-rest, macro average over classes that have both positive and
 *   negative rows (= sklearn multi_class='ovr', average='macro', which
 *   refuses data where a class is absent; here that class is skipped).
 *   NaN when no class has both. Memory: the scores are kept exactly for up
 *   to AUC_EXACT_VALUES values (rows × columns, 4 bytes each plus 4 per
 *   row); past that they are folded into AUC_BINS equal-width bins over
 *   [0, 1] per column (2 f64 counts per bin), and scores in one bin count
 *   as tied: the result is then within 1/AUC_BINS-wide-tie error of exact.
 * - mae, rmse: over all rows × K values.
 * - r2: per output 1 − SSres/SStot, then the plain mean over outputs
 *   (sklearn r2_score multioutput='uniform_average', also the Keras R2Score
 *   default). A constant target gives 1 if predicted exactly, else 0
 *   (sklearn's force_finite). SStot is accumulated with Welford's update in
 *   f64, so large target means do not cancel.
 */
import { describe, mustBe, rangeError, typeError } from '../errors.js';

export type Task = 'multiclass' | 'binary' | 'regression';
export type MetricName = 'accuracy' | 'precision' | 'recall' | 'f1' | 'auc' | 'mae' | 'rmse' | 'r2';

export interface Metric<S> {
  name: MetricName;
  /** The tasks the metric means something for. */
  tasks: readonly Task[];
  /** A fresh state for K = outputs columns of predictions. */
  init(outputs: number): S;
  /** Adds a batch: pred rows × K after the head, target class indices (rows) or values (rows × K). */
  update(s: S, pred: Float32Array, target: Int32Array | Float32Array, rows: number, K: number): void;
  /** The value over everything added since init. */
  result(s: S): number;
}

const CLASSIFICATION: readonly Task[] = ['multiclass', 'binary'];
const REGRESSION: readonly Task[] = ['regression'];

/** Values kept exactly by auc before it folds them into bins (4 M: 16 MB of scores). */
export const AUC_EXACT_VALUES = 1 << 22;
/** Bins per column once auc has folded its scores. */
export const AUC_BINS = 1 << 13;

/** The predicted class of row i (see the header: > 0.5 for K = 1, first argmax otherwise). */
function predictedClass(pred: Float32Array, i: number, K: number): number {
  if (K === 1) return pred[i]! > 0.5 ? 1 : 0;
  const base = i * K;
  let best = 0;
  let bestV = pred[base]!;
  for (let k = 1; k < K; k++) {
    const v = pred[base + k]!;
    if (v > bestV) { bestV = v; best = k; }
  }
  return best;
}

function trueClass(target: Int32Array | Float32Array, i: number, K: number): number {
  const t = target[i]!;
  return K === 1 ? (t > 0.5 ? 1 : 0) : t;
}

/** Predicted classes of every row: first argmax, or > 0.5 for a single column. */
export function predictedClasses(pred: Float32Array, rows: number, K: number): Int32Array {
  const out = new Int32Array(rows);
  for (let i = 0; i < rows; i++) out[i] = predictedClass(pred, i, K);
  return out;
}

// ---------------------------------------------------------------- accuracy

interface CountState { correct: number; total: number }

const accuracy: Metric<CountState> = {
  name: 'accuracy',
  tasks: CLASSIFICATION,
  init: () => ({ correct: 0, total: 0 }),
  update(s, pred, target, rows, K) {
    for (let i = 0; i < rows; i++) if (predictedClass(pred, i, K) === trueClass(target, i, K)) s.correct++;
    s.total += rows;
  },
  result: (s) => (s.total === 0 ? NaN : s.correct / s.total),
};

// ------------------------------------------------- precision, recall, f1

/** Per class: true positives, predicted count, true count. */
interface ClassCounts { binary: boolean; tp: Float64Array; predicted: Float64Array; actual: Float64Array }

function initCounts(K: number): ClassCounts {
  const C = Math.max(K, 2);
  return { binary: K <= 2, tp: new Float64Array(C), predicted: new Float64Array(C), actual: new Float64Array(C) };
}

function updateCounts(s: ClassCounts, pred: Float32Array, target: Int32Array | Float32Array, rows: number, K: number): void {
  const C = s.tp.length;
  for (let i = 0; i < rows; i++) {
    const p = predictedClass(pred, i, K);
    const t = trueClass(target, i, K);
    if (!(t >= 0 && t < C && Number.isInteger(t))) {
      throw rangeError(`metrics: target[${i}] must be a class index in [0, ${C - 1}], got ${t}`, { argument: `target[${i}]`, expected: `an integer in [0, ${C - 1}]`, received: String(t) });
    }
    s.predicted[p]!++;
    s.actual[t]!++;
    if (p === t) s.tp[t]!++;
  }
}

const safeDiv = (a: number, b: number): number => (b === 0 ? 0 : a / b);

function classAverage(s: ClassCounts, perClass: (tp: number, predicted: number, actual: number) => number): number {
  if (s.binary) {
    if (s.predicted[0]! + s.predicted[1]! === 0) return NaN;
    return perClass(s.tp[1]!, s.predicted[1]!, s.actual[1]!);
  }
  let sum = 0;
  let n = 0;
  for (let c = 0; c < s.tp.length; c++) {
    if (s.predicted[c]! + s.actual[c]! === 0) continue;
    sum += perClass(s.tp[c]!, s.predicted[c]!, s.actual[c]!);
    n++;
  }
  return n === 0 ? NaN : sum / n;
}

const precision: Metric<ClassCounts> = {
  name: 'precision',
  tasks: CLASSIFICATION,
  init: initCounts,
  update: updateCounts,
  result: (s) => classAverage(s, (tp, predicted) => safeDiv(tp, predicted)),
};

const recall: Metric<ClassCounts> = {
  name: 'recall',
  tasks: CLASSIFICATION,
  init: initCounts,
  update: updateCounts,
  result: (s) => classAverage(s, (tp, _predicted, actual) => safeDiv(tp, actual)),
};

const f1: Metric<ClassCounts> = {
  name: 'f1',
  tasks: CLASSIFICATION,
  init: initCounts,
  update: updateCounts,
  // 2PR/(P+R) = 2tp / (predicted + actual)
  result: (s) => classAverage(s, (tp, predicted, actual) => safeDiv(2 * tp, predicted + actual)),
};

// --------------------------------------------------------------------- auc

interface AucState {
  /** Score columns: 1 for binary (the positive class's probability), K for one-vs-rest. */
  columns: number;
  rows: number;
  /** Exact store (rows × columns) and labels, grown by doubling; undefined once folded. */
  scores: Float32Array | undefined;
  labels: Int32Array | undefined;
  /** Folded: per column AUC_BINS × [negatives, positives]. */
  bins: Float64Array | undefined;
}

function aucInit(K: number): AucState {
  const columns = K <= 2 ? 1 : K;
  return { columns, rows: 0, scores: new Float32Array(256 * columns), labels: new Int32Array(256), bins: undefined };
}

/** The bin of a score: equal-width bins over [0, 1], values outside clamped. */
function binOf(v: number): number {
  const b = Math.floor(v * AUC_BINS);
  return b < 0 ? 0 : b >= AUC_BINS ? AUC_BINS - 1 : b;
}

function positive(label: number, column: number, columns: number): boolean {
  return columns === 1 ? label === 1 : label === column;
}

function foldIntoBins(s: AucState, scores: ArrayLike<number>, labels: ArrayLike<number>, rows: number): void {
  const C = s.columns;
  s.bins ??= new Float64Array(C * AUC_BINS * 2);
  const bins = s.bins;
  for (let i = 0; i < rows; i++) {
    const label = labels[i]!;
    for (let c = 0; c < C; c++) bins[(c * AUC_BINS + binOf(scores[i * C + c]!)) * 2 + (positive(label, c, C) ? 1 : 0)]!++;
  }
}

const auc: Metric<AucState> = {
  name: 'auc',
  tasks: CLASSIFICATION,
  init: aucInit,
  update(s, pred, target, rows, K) {
    const C = s.columns;
    // the batch's scores (positive-class column for binary) and labels
    const scores = new Float32Array(rows * C);
    const labels = new Int32Array(rows);
    for (let i = 0; i < rows; i++) {
      labels[i] = trueClass(target, i, K);
      if (C === 1) scores[i] = K === 1 ? pred[i]! : pred[i * K + 1]!;
      else for (let c = 0; c < C; c++) scores[i * C + c] = pred[i * K + c]!;
    }
    if (s.scores !== undefined && (s.rows + rows) * C > AUC_EXACT_VALUES) {
      foldIntoBins(s, s.scores, s.labels!, s.rows);
      s.scores = undefined;
      s.labels = undefined;
    }
    if (s.scores === undefined) {
      foldIntoBins(s, scores, labels, rows);
      s.rows += rows;
      return;
    }
    if ((s.rows + rows) * C > s.scores.length) {
      let cap = s.labels!.length;
      while (cap < s.rows + rows) cap *= 2;
      const grown = new Float32Array(cap * C);
      grown.set(s.scores.subarray(0, s.rows * C));
      const grownLabels = new Int32Array(cap);
      grownLabels.set(s.labels!.subarray(0, s.rows));
      s.scores = grown;
      s.labels = grownLabels;
    }
    s.scores.set(scores, s.rows * C);
    s.labels!.set(labels, s.rows);
    s.rows += rows;
  },
  result(s) {
    const C = s.columns;
    let sum = 0;
    let n = 0;
    for (let c = 0; c < C; c++) {
      const a = s.bins !== undefined ? binnedAuc(s.bins, c) : exactAuc(s.scores!, s.labels!, s.rows, c, C);
      if (!Number.isNaN(a)) { sum += a; n++; }
    }
    return n === 0 ? NaN : sum / n;
  },
};

/**
 * Exact ROC AUC of column c: P(score of a positive > score of a negative),
 * ties counting ½. Positives and negatives are sorted separately (typed
 * array sort), then merged in one walk.
 */
function exactAuc(scores: Float32Array, labels: Int32Array, rows: number, c: number, C: number): number {
  let nPos = 0;
  for (let i = 0; i < rows; i++) if (positive(labels[i]!, c, C)) nPos++;
  const nNeg = rows - nPos;
  if (nPos === 0 || nNeg === 0) return NaN;
  const pos = new Float32Array(nPos);
  const neg = new Float32Array(nNeg);
  for (let i = 0, p = 0, q = 0; i < rows; i++) {
    const v = scores[i * C + c]!;
    if (positive(labels[i]!, c, C)) pos[p++] = v;
    else neg[q++] = v;
  }
  pos.sort();
  neg.sort();
  let below = 0; // negatives with a smaller score than the current positive
  let wins = 0;
  for (let p = 0; p < nPos; ) {
    const v = pos[p]!;
    let samePos = 0;
    while (p < nPos && pos[p] === v) { samePos++; p++; }
    while (below < nNeg && neg[below]! < v) below++;
    let tied = 0;
    while (below + tied < nNeg && neg[below + tied] === v) tied++;
    wins += samePos * (below + 0.5 * tied);
  }
  return wins / (nPos * nNeg);
}

function binnedAuc(bins: Float64Array, c: number): number {
  let below = 0;
  let wins = 0;
  let nPos = 0;
  for (let b = 0; b < AUC_BINS; b++) {
    const neg = bins[(c * AUC_BINS + b) * 2]!;
    const pos = bins[(c * AUC_BINS + b) * 2 + 1]!;
    wins += pos * (below + 0.5 * neg);
    below += neg;
    nPos += pos;
  }
  return nPos === 0 || below === 0 ? NaN : wins / (nPos * below);
}

// --------------------------------------------------------------- regression

interface SumState { sum: number; count: number }

const mae: Metric<SumState> = {
  name: 'mae',
  tasks: REGRESSION,
  init: () => ({ sum: 0, count: 0 }),
  update(s, pred, target, rows, K) {
    const n = rows * K;
    for (let i = 0; i < n; i++) s.sum += Math.abs(pred[i]! - target[i]!);
    s.count += n;
  },
  result: (s) => (s.count === 0 ? NaN : s.sum / s.count),
};

const rmse: Metric<SumState> = {
  name: 'rmse',
  tasks: REGRESSION,
  init: () => ({ sum: 0, count: 0 }),
  update(s, pred, target, rows, K) {
    const n = rows * K;
    for (let i = 0; i < n; i++) {
      const d = pred[i]! - target[i]!;
      s.sum += d * d;
    }
    s.count += n;
  },
  result: (s) => (s.count === 0 ? NaN : Math.sqrt(s.sum / s.count)),
};

/** Per output: count, target mean and Σ(t − mean)² (Welford), Σ(t − pred)². */
interface R2State { count: number; mean: Float64Array; ssTot: Float64Array; ssRes: Float64Array }

const r2: Metric<R2State> = {
  name: 'r2',
  tasks: REGRESSION,
  init: (K) => ({ count: 0, mean: new Float64Array(K), ssTot: new Float64Array(K), ssRes: new Float64Array(K) }),
  update(s, pred, target, rows, K) {
    for (let i = 0; i < rows; i++) {
      const n = ++s.count;
      for (let k = 0; k < K; k++) {
        const t = target[i * K + k]!;
        const d = t - s.mean[k]!;
        s.mean[k]! += d / n;
        s.ssTot[k]! += d * (t - s.mean[k]!);
        const e = t - pred[i * K + k]!;
        s.ssRes[k]! += e * e;
      }
    }
  },
  result(s) {
    if (s.count === 0) return NaN;
    let sum = 0;
    for (let k = 0; k < s.mean.length; k++) {
      const tot = s.ssTot[k]!;
      const res = s.ssRes[k]!;
      sum += tot === 0 ? (res === 0 ? 1 : 0) : 1 - res / tot;
    }
    return sum / s.mean.length;
  },
};

/** Every metric by name. */
export const METRICS = { accuracy, precision, recall, f1, auc, mae, rmse, r2 } satisfies Record<MetricName, Metric<any>>;

export const METRIC_NAMES = Object.keys(METRICS) as MetricName[];

/** The task of a model: regression losses (mse, mae, huber) → 'regression'; otherwise K ≤ 2 outputs → 'binary', else 'multiclass'. */
export function taskFor(loss: string, outputs: number): Task {
  if (loss === 'mse' || loss === 'mae' || loss === 'huber') return 'regression';
  return outputs <= 2 ? 'binary' : 'multiclass';
}

/** Default metrics of a task: accuracy for classification, mae for regression (no NaN accuracy for regression). */
export function defaultMetrics(task: Task): MetricName[] {
  return task === 'regression' ? ['mae'] : ['accuracy'];
}

/**
 * Checks a compile({ metrics }) list: known names, each fitting the task.
 * Returns the records in the given order (duplicates removed).
 */
export function resolveMetrics(where: string, names: unknown, task: Task): Metric<unknown>[] {
  if (!Array.isArray(names)) {
    throw typeError(`${where}: metrics must be an array of metric names, got ${describe(names)}`, {
      argument: 'metrics', expected: `an array of ${METRIC_NAMES.join(', ')}`, received: describe(names),
    });
  }
  const out: Metric<unknown>[] = [];
  names.forEach((name: unknown, i) => {
    if (typeof name !== 'string' || !(name in METRICS)) {
      throw mustBe(where, `metrics[${i}]`, `one of ${METRIC_NAMES.join(', ')}`, name);
    }
    const m = METRICS[name as MetricName] as Metric<unknown>;
    if (!m.tasks.includes(task)) {
      throw typeError(`${where}: metric '${name}' does not fit a ${task} model (it is for ${m.tasks.join(', ')})`, {
        argument: `metrics[${i}]`, expected: `a metric for ${task}: ${METRIC_NAMES.filter((n) => METRICS[n].tasks.includes(task)).join(', ')}`, received: name,
      });
    }
    if (!out.includes(m)) out.push(m);
  });
  return out;
}

/**
 * Confusion matrix: m[t][p] counts rows of true class t predicted as p
 * (rows true, columns predicted, as sklearn). `classes` defaults to
 * 1 + the largest label in either array.
 */
export function confusionMatrix(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, classes?: number): number[][] {
  const where = 'confusionMatrix';
  for (const [name, a] of [['yTrue', yTrue], ['yPred', yPred]] as const) {
    if (!(Array.isArray(a) || (ArrayBuffer.isView(a) && !(a instanceof DataView)))) {
      throw typeError(`${where}: ${name} must be class indices as a typed array or number[], got ${describe(a)}`, {
        argument: name, expected: 'a typed array or number[] of class indices', received: describe(a),
      });
    }
  }
  if (yTrue.length !== yPred.length) {
    throw rangeError(`${where}: yPred must have one label per row of yTrue (${yTrue.length}), got length ${yPred.length}`, {
      code: 'SHAPE_MISMATCH', argument: 'yPred', expected: `length ${yTrue.length}`, received: `length ${yPred.length}`,
    });
  }
  if (classes !== undefined && (!Number.isInteger(classes) || classes < 1)) {
    throw mustBe(where, 'classes', 'an integer ≥ 1', classes, true);
  }
  let max = -1;
  for (const [name, a] of [['yTrue', yTrue], ['yPred', yPred]] as const) {
    for (let i = 0; i < a.length; i++) {
      const v = a[i]!;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || (classes !== undefined && v >= classes)) {
        const range = classes === undefined ? 'an integer ≥ 0' : `an integer in [0, ${classes - 1}]`;
        throw rangeError(`${where}: ${name}[${i}] must be a class index (${range}), got ${describe(v)}`, { argument: `${name}[${i}]`, expected: range, received: describe(v) });
      }
      if (v > max) max = v;
    }
  }
  const C = classes ?? max + 1;
  const m: number[][] = Array.from({ length: C }, () => new Array<number>(C).fill(0));
  for (let i = 0; i < yTrue.length; i++) m[yTrue[i]!]![yPred[i]!]!++;
  return m;
}
