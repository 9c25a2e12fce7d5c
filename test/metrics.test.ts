/**
 * Metrics records against scikit-learn. Expected values were computed with
 * scikit-learn 1.2.1 (Debian python3-sklearn) on the same inputs rounded to
 * float32 first (np.float32(...).astype(np.float64)), e.g.
 *   precision_score(y, p > 0.5), roc_auc_score(y, p),
 *   f1_score(y, pred, average='macro'), r2_score(Y, P) (uniform_average),
 *   mean([roc_auc_score(y == k, P[:, k]) for k in range(3)]) for one-vs-rest macro AUC.
 */
import { describe, expect, it } from 'vitest';
import {
  AUC_BINS, AUC_EXACT_VALUES, METRICS, confusionMatrix, predictedClasses, resolveMetrics, taskFor, type Metric, type MetricName,
} from '../src/train/metrics.js';

/** Runs a metric over the rows in batches of `batch` rows. */
function run(name: MetricName, pred: Float32Array, target: Int32Array | Float32Array, K: number, batch = 3): number {
  const m = METRICS[name] as Metric<unknown>;
  const s = m.init(K);
  const rows = pred.length / K;
  const perRow = target.length / rows;
  for (let r = 0; r < rows; r += batch) {
    const n = Math.min(batch, rows - r);
    m.update(s, pred.subarray(r * K, (r + n) * K), target.subarray(r * perRow, (r + n) * perRow), n, K);
  }
  return m.result(s);
}

const yb = new Int32Array([0, 1, 1, 0, 1, 0, 1, 1, 0, 0]);
const pb = new Float32Array([0.1, 0.8, 0.4, 0.35, 0.9, 0.6, 0.5, 0.7, 0.2, 0.5]);

const ym = new Int32Array([0, 1, 2, 2, 1, 0, 2, 1, 0, 2]);
const Pm = new Float32Array([
  0.7, 0.2, 0.1, 0.1, 0.6, 0.3, 0.2, 0.3, 0.5, 0.1, 0.5, 0.4, 0.3, 0.3, 0.4,
  0.5, 0.4, 0.1, 0.2, 0.2, 0.6, 0.25, 0.5, 0.25, 0.4, 0.4, 0.2, 0.3, 0.3, 0.4,
]);

describe('binary metrics (K = 1 sigmoid probability, threshold > 0.5)', () => {
  it('match sklearn', () => {
    expect(run('accuracy', pb, yb, 1)).toBeCloseTo(0.7, 12);
    expect(run('precision', pb, yb, 1)).toBeCloseTo(0.75, 12);
    expect(run('recall', pb, yb, 1)).toBeCloseTo(0.6, 12);
    expect(run('f1', pb, yb, 1)).toBeCloseTo(0.6666666666666665, 12);
    expect(run('auc', pb, yb, 1)).toBeCloseTo(0.86, 12);
    expect(confusionMatrix(yb, predictedClasses(pb, 10, 1))).toEqual([[4, 1], [2, 3]]);
  });

  it('give the same values from two softmax columns (column 1 positive)', () => {
    const p2 = new Float32Array(20);
    for (let i = 0; i < 10; i++) { p2[2 * i] = 1 - pb[i]!; p2[2 * i + 1] = pb[i]!; }
    expect(run('accuracy', p2, yb, 2)).toBeCloseTo(0.7, 12);
    expect(run('precision', p2, yb, 2)).toBeCloseTo(0.75, 12);
    expect(run('recall', p2, yb, 2)).toBeCloseTo(0.6, 12);
    expect(run('auc', p2, yb, 2)).toBeCloseTo(0.86, 12);
  });

  it('read float 0/1 targets for a single column', () => {
    expect(run('accuracy', pb, Float32Array.from(yb), 1)).toBeCloseTo(0.7, 12);
  });
});

describe('multiclass metrics (macro averages)', () => {
  it('match sklearn', () => {
    expect(Array.from(predictedClasses(Pm, 10, 3))).toEqual([0, 1, 2, 1, 2, 0, 2, 1, 0, 2]);
    expect(run('accuracy', Pm, ym, 3)).toBeCloseTo(0.8, 12);
    expect(run('precision', Pm, ym, 3)).toBeCloseTo(0.8055555555555555, 12);
    expect(run('recall', Pm, ym, 3)).toBeCloseTo(0.8055555555555555, 12);
    expect(run('f1', Pm, ym, 3)).toBeCloseTo(0.8055555555555555, 12);
    expect(run('auc', Pm, ym, 3, 4)).toBeCloseTo(0.9146825396825397, 12);
    expect(confusionMatrix(ym, predictedClasses(Pm, 10, 3))).toEqual([[3, 0, 0], [0, 2, 1], [0, 1, 3]]);
  });

  it('average over classes seen in targets or predictions, 0/0 counting 0 (sklearn zero_division=0)', () => {
    // y = [0,1,2,3,1,0], predicted [0,1,2,2,1,1] out of K = 5 (class 4 never seen: left out)
    const y = new Int32Array([0, 1, 2, 3, 1, 0]);
    const predicted = [0, 1, 2, 2, 1, 1];
    const P = new Float32Array(6 * 5);
    predicted.forEach((c, i) => { P[i * 5 + c] = 1; });
    expect(run('precision', P, y, 5)).toBeCloseTo(0.5416666666666666, 12);
    expect(run('recall', P, y, 5)).toBeCloseTo(0.625, 12);
    expect(run('f1', P, y, 5)).toBeCloseTo(0.5333333333333333, 12);
  });
});

describe('regression metrics', () => {
  const Y = new Float32Array([3.0, -1.0, 2.5, 0.0, 4.0, 1.5, 7.0, 2.0, 1.0, -0.5]);
  const P = new Float32Array([2.5, -0.8, 3.0, 0.3, 4.2, 1.0, 6.1, 2.4, 1.5, -0.2]);

  it('match sklearn over two outputs (r2: uniform_average)', () => {
    expect(run('mae', P, Y, 2, 2)).toBeCloseTo(0.4299999997019768, 9);
    expect(run('rmse', P, Y, 2, 2)).toBeCloseTo(0.4722287763634781, 9);
    expect(run('r2', P, Y, 2, 2)).toBeCloseTo(0.912985066504619, 9);
  });

  it('r2 keeps its digits for targets around 1e4 with spread 0.1 (Welford, not Σt² − n·mean²)', () => {
    const y = new Float32Array([0.1, -0.2, 0.05, 0.3, -0.15, 0.0].map((d) => 1e4 + d));
    const p = new Float32Array([0.12, -0.1, 0.0, 0.25, -0.2, 0.05].map((d) => 1e4 + d));
    // sklearn r2_score on the float32-rounded values: 0.8747539573581223
    expect(run('r2', p, y, 1, 4)).toBeCloseTo(0.8747539573581223, 6);
  });

  it('r2 of a constant target: 1 when exact, 0 otherwise (sklearn force_finite)', () => {
    expect(run('r2', new Float32Array([2, 2]), new Float32Array([2, 2]), 1)).toBe(1);
    expect(run('r2', new Float32Array([2, 3]), new Float32Array([2, 2]), 1)).toBe(0);
  });
});

describe('auc', () => {
  it('counts ties as one half', () => {
    // every score tied: AUC 0.5 exactly
    expect(run('auc', new Float32Array([0.3, 0.3, 0.3, 0.3]), new Int32Array([0, 1, 0, 1]), 1)).toBe(0.5);
  });

  it('is NaN without both classes', () => {
    expect(run('auc', new Float32Array([0.3, 0.6]), new Int32Array([1, 1]), 1)).toBeNaN();
  });

  it(`folds into ${AUC_BINS} bins past ${AUC_EXACT_VALUES} values and stays close to exact`, () => {
    // a seeded stream of 2^22 + 2^20 scores: positives skewed high; the exact value is computed
    // on the first 2^20 rows (same distribution) by the exact path for comparison
    const rows = AUC_EXACT_VALUES + (1 << 20);
    const scores = new Float32Array(rows);
    const labels = new Int32Array(rows);
    let state = 12345;
    const next = () => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 4294967296);
    for (let i = 0; i < rows; i++) {
      labels[i] = next() < 0.3 ? 1 : 0;
      const u = next();
      scores[i] = labels[i] ? Math.sqrt(u) : u; // positives: density 2u, negatives: uniform → AUC 2/3
    }
    const folded = run('auc', scores, labels, 1, 1 << 20);
    expect(Math.abs(folded - 2 / 3)).toBeLessThan(2e-3);
    const exact = run('auc', scores.subarray(0, 1 << 20), labels.subarray(0, 1 << 20), 1, 1 << 18);
    expect(Math.abs(exact - 2 / 3)).toBeLessThan(3e-3);
  });
});

describe('metric records', () => {
  it('declare the tasks they fit and resolve compile lists', () => {
    expect(taskFor('mse', 1)).toBe('regression');
    expect(taskFor('huber', 3)).toBe('regression');
    expect(taskFor('softmaxCrossEntropy', 2)).toBe('binary');
    expect(taskFor('softmaxCrossEntropy', 10)).toBe('multiclass');
    expect(resolveMetrics('compile', ['accuracy', 'f1', 'accuracy'], 'multiclass').map((m) => m.name)).toEqual(['accuracy', 'f1']);
    expect(resolveMetrics('compile', ['r2', 'rmse'], 'regression').map((m) => m.name)).toEqual(['r2', 'rmse']);
    expect(() => resolveMetrics('compile', ['accuracy'], 'regression')).toThrow(/compile: metric 'accuracy' does not fit a regression model/);
    expect(() => resolveMetrics('compile', ['acc'], 'binary')).toThrow(/metrics\[0\] must be one of accuracy, precision/);
    for (const [name, m] of Object.entries(METRICS)) expect(m.name).toBe(name);
  });
});

describe('confusionMatrix', () => {
  it('puts true classes in rows and predictions in columns, with a fixed class count', () => {
    expect(confusionMatrix([0, 1, 2], [0, 2, 2], 4)).toEqual([[1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 1, 0], [0, 0, 0, 0]]);
  });

  it('names bad labels', () => {
    expect(() => confusionMatrix([0, 1], [0])).toThrow(/yPred must have one label per row of yTrue \(2\), got length 1/);
    expect(() => confusionMatrix([0, 3], [0, 1], 3)).toThrow(/yTrue\[1\] must be a class index \(an integer in \[0, 2\]\), got 3/);
    expect(() => confusionMatrix([0, 1.5], [0, 1])).toThrow(/yTrue\[1\] must be a class index/);
  });
});
