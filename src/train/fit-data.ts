/** The data options of a fit: per-row loss weights and validation data (arrays or a stream), checked up front. */
import { describe, mustBe, rangeError, typeError } from '../errors.js';
import { checkTargets, toX, type Features, type Labels } from './data.js';
import type { Loss } from './losses.js';
import type { Trainer } from './trainer.js';

/** A batch of a streamed source: x rows × features, y their labels or targets, optional per-row weights. */
export interface Batch {
  x: Features;
  y: Labels;
  sampleWeight?: ArrayLike<number>;
}

/** Validation data as the loop reads it: checked arrays, or a source of batches read at each epoch's end. */
export type ValidationSource =
  | { kind: 'arrays'; x: Float32Array; y: Int32Array | Float32Array; rows: number }
  | { kind: 'stream'; source: AsyncIterable<Batch> | Iterable<Batch> };

export function isBatchSource(v: unknown): v is AsyncIterable<Batch> | Iterable<Batch> {
  if (typeof v !== 'object' || v === null || ArrayBuffer.isView(v) || Array.isArray(v)) return false;
  return Symbol.asyncIterator in v || Symbol.iterator in v;
}

/** Checks options.validationData (arrays are converted and checked once; a stream is checked batch by batch when read). */
export function checkValidation(t: Trainer, v: unknown, checkFinite: boolean): ValidationSource | undefined {
  if (v === undefined) return undefined;
  if (isBatchSource(v)) return { kind: 'stream', source: v };
  if (!Array.isArray(v) || v.length !== 2) {
    throw typeError(`fit: options.validationData must be [x, y] or an (async) iterable of { x, y } batches, got ${describe(v)}`, {
      argument: 'options.validationData', expected: '[x, y] or an (async) iterable of { x, y }', received: describe(v),
    });
  }
  const [vx, vy] = v as [unknown, unknown];
  const net = t.net;
  const m = toX('fit', 'validationData[0]', vx, net.inFeatures, checkFinite);
  const y = checkTargets('fit', 'validationData[1]', vy, m.rows, net.outFeatures, t.compiled!.lossSpec);
  return { kind: 'arrays', x: m.data, y, rows: m.rows };
}

/**
 * Per-row loss weights from sampleWeight (one per row, ≥ 0, finite) and
 * classWeight (by class index; classes left out weigh 1), multiplied; or
 * undefined when neither is given.
 */
export function rowWeights(
  where: string, sampleWeight: unknown, classWeight: unknown, targets: Int32Array | Float32Array, rows: number, K: number, kind: Loss['targets'],
): Float32Array | undefined {
  if (sampleWeight === undefined && classWeight === undefined) return undefined;
  const w = new Float32Array(rows).fill(1);
  if (sampleWeight !== undefined) {
    const ok = (ArrayBuffer.isView(sampleWeight) && !(sampleWeight instanceof DataView)) || Array.isArray(sampleWeight);
    const a = sampleWeight as ArrayLike<unknown>;
    if (!ok) throw typeError(`${where}: options.sampleWeight must be one weight per row (a typed array or number[]), got ${describe(sampleWeight)}`, { argument: 'options.sampleWeight', expected: `${rows} numbers ≥ 0`, received: describe(sampleWeight) });
    if (a.length !== rows) throw rangeError(`${where}: options.sampleWeight must have one weight per row (${rows}), got length ${a.length}`, { code: 'SHAPE_MISMATCH', argument: 'options.sampleWeight', expected: `length ${rows}`, received: `length ${a.length}` });
    for (let i = 0; i < rows; i++) {
      const v = a[i];
      if (typeof v !== 'number' || !(v >= 0) || v === Infinity) throw mustBe(where, `options.sampleWeight[${i}]`, 'a finite number ≥ 0', v, true);
      w[i] = v;
    }
  }
  if (classWeight !== undefined) {
    if (kind === 'values') throw typeError(`${where}: options.classWeight needs a classification loss (softmaxCrossEntropy, binaryCrossEntropy); use sampleWeight for regression`, { argument: 'options.classWeight', expected: 'a classification loss', received: 'a regression loss' });
    if (kind === 'probabilities' && K !== 1) throw typeError(`${where}: options.classWeight with binaryCrossEntropy needs one output (targets 0/1), the model has ${K}`, { argument: 'options.classWeight', expected: 'a model with 1 output', received: `${K} outputs` });
    if (typeof classWeight !== 'object' || classWeight === null) throw typeError(`${where}: options.classWeight must map class indices to weights ({ 0: 1, 1: 5 } or [1, 5]), got ${describe(classWeight)}`, { argument: 'options.classWeight', expected: '{ [class]: weight } or number[]', received: describe(classWeight) });
    const classes = kind === 'classes' ? K : 2;
    const byClass = new Float64Array(classes).fill(1);
    for (const [key, v] of Object.entries(classWeight as Record<string, unknown>)) {
      const c = Number(key);
      if (!Number.isInteger(c) || c < 0 || c >= classes) throw rangeError(`${where}: options.classWeight has key ${JSON.stringify(key)}, which is not a class index in [0, ${classes - 1}]`, { argument: 'options.classWeight', expected: `keys in [0, ${classes - 1}]`, received: key });
      if (typeof v !== 'number' || !(v >= 0) || v === Infinity) throw mustBe(where, `options.classWeight[${c}]`, 'a finite number ≥ 0', v, true);
      byClass[c] = v;
    }
    for (let i = 0; i < rows; i++) {
      const c = kind === 'classes' ? targets[i]! : targets[i]! > 0.5 ? 1 : 0;
      w[i] = w[i]! * byClass[c]!;
    }
  }
  return w;
}
