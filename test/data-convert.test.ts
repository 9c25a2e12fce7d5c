/**
 * toMatrix / toTargets: every input kind users hold becomes the model's f32
 * row-major matrix; bad input names the argument, what was expected and what
 * was given.
 */
import { describe, expect, it } from 'vitest';
import { NormcoreError } from '../src/errors.js';
import { targetKindForLoss, toMatrix, toTargets } from '../src/data/convert.js';

function caught(fn: () => unknown): Error & { code?: string; argument?: string; expected?: string; received?: string } {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(NormcoreError);
    return e as Error;
  }
  throw new Error('expected a throw');
}

describe('toMatrix', () => {
  it('returns a Float32Array as is (same object, no copy)', () => {
    const x = new Float32Array([1, 2, 3, 4, 5, 6]);
    const m = toMatrix('fit', 'x', x, 3);
    expect(m.data).toBe(x);
    expect(m.rows).toBe(2);
    expect(m.features).toBe(3);
  });

  it('copies Float64Array, number[][] and flat number[] into f32', () => {
    const want = new Float32Array([0.1, 2, -3, 4e10, 5, 6]);
    expect(toMatrix('fit', 'x', new Float64Array([0.1, 2, -3, 4e10, 5, 6]), 2)).toEqual({ data: want, rows: 3, features: 2 });
    expect(toMatrix('fit', 'x', [[0.1, 2], [-3, 4e10], [5, 6]])).toEqual({ data: want, rows: 3, features: 2 });
    expect(toMatrix('fit', 'x', [0.1, 2, -3, 4e10, 5, 6], 3)).toEqual({ data: want, rows: 2, features: 3 });
  });

  it('names a ragged row', () => {
    const e = caught(() => toMatrix('fit', 'x', [[1, 2], [3, 4], [5]]));
    expect(e).toBeInstanceOf(RangeError);
    expect(e.message).toBe('fit: x has ragged rows: row 2 has 1 values, expected 2 (the length of row 0)');
    expect(e).toMatchObject({ code: 'SHAPE_MISMATCH', argument: 'x[2]', expected: '2 values', received: '1 values' });
  });

  it('names the row and column of a non-finite value, for every input kind', () => {
    const kinds: [unknown, number | undefined][] = [
      [new Float32Array([1, 2, 3, NaN]), 2],
      [new Float64Array([1, 2, 3, NaN]), 2],
      [[[1, 2], [3, NaN]], undefined],
      [[1, 2, 3, NaN], 2],
    ];
    for (const [x, f] of kinds) {
      const e = caught(() => toMatrix('fit', 'x', x, f));
      expect(e.message).toBe('fit: x must hold finite numbers, got NaN at row 1, column 1 (0-based)');
      expect(e).toMatchObject({ code: 'NOT_FINITE', argument: 'x[1][1]', expected: 'finite numbers', received: 'NaN' });
    }
    expect(caught(() => toMatrix('fit', 'x', new Float32Array([1, Infinity]), 1)).message).toMatch(/got Infinity at row 1 \(0-based\)/);
  });

  it('asks for features for flat input and checks the length', () => {
    expect(caught(() => toMatrix('fit', 'x', new Float32Array(6)))).toMatchObject({ code: 'INVALID_ARGUMENT', argument: 'features' });
    const e = caught(() => toMatrix('fit', 'x', [1, 2, 3, 4, 5], 2));
    expect(e.message).toBe('fit: x must hold rows × 2 values, got length 5 (not a multiple of 2)');
    expect(e).toMatchObject({ code: 'SHAPE_MISMATCH', argument: 'x' });
    expect(caught(() => toMatrix('fit', 'x', 'abc', 2))).toMatchObject({ code: 'INVALID_ARGUMENT', argument: 'x', received: '"abc"' });
    expect(caught(() => toMatrix('fit', 'x', [[1, '2']]))).toMatchObject({ argument: 'x[0][1]', expected: 'a number', received: '"2"' });
  });
});

describe('toTargets', () => {
  it('reads class indices from any integer array, returning an Int32Array as is', () => {
    const y = new Int32Array([0, 2, 1]);
    expect(toTargets('fit', 'y', y, { kind: 'classification', rows: 3, classes: 3 }).data).toBe(y);
    for (const given of [new Uint8Array([0, 2, 1]), new Float32Array([0, 2, 1]), new Float64Array([0, 2, 1]), [0, 2, 1]]) {
      expect(toTargets('fit', 'y', given, { kind: 'classification', rows: 3 })).toEqual({ kind: 'classification', data: y, rows: 3 });
    }
  });

  it('under regression losses reads integer labels as targets, never class indices', () => {
    expect(targetKindForLoss('mse')).toBe('regression');
    expect(targetKindForLoss('mae')).toBe('regression');
    expect(targetKindForLoss('huber')).toBe('regression');
    expect(targetKindForLoss('softmaxCrossEntropy')).toBe('classification');
    // the case: fit(x, new Uint8Array([0,1,0,1])) under mse was read as class indices
    const t = toTargets('fit', 'y', new Uint8Array([0, 1, 0, 1]), { kind: targetKindForLoss('mse'), rows: 4 });
    expect(t).toEqual({ kind: 'regression', data: new Float32Array([0, 1, 0, 1]), rows: 4, outputs: 1 });
    const f = new Float32Array([1.5, -2, 3, 4]);
    expect(toTargets('fit', 'y', f, { kind: 'regression', rows: 2 })).toEqual({ kind: 'regression', data: f, rows: 2, outputs: 2 });
    expect(toTargets('fit', 'y', f, { kind: 'regression', rows: 2 }).data).toBe(f);
    expect(toTargets('fit', 'y', [[1, 2], [3, 4]], { kind: 'regression' })).toMatchObject({ rows: 2, outputs: 2 });
    expect(toTargets('fit', 'y', [7, 8, 9], { kind: 'regression' })).toMatchObject({ rows: 3, outputs: 1 });
  });

  it('names bad labels', () => {
    expect(caught(() => toTargets('fit', 'y', [0, 1.5], { kind: 'classification' }))).toMatchObject({
      code: 'OUT_OF_RANGE', argument: 'y[1]', expected: 'an integer ≥ 0', received: '1.5',
    });
    expect(caught(() => toTargets('fit', 'y', [0, 3], { kind: 'classification', classes: 3 })).message).toBe('fit: y[1] must be a class index in [0, 2], got 3');
    expect(caught(() => toTargets('fit', 'y', [0, 1], { kind: 'classification', rows: 3 }))).toMatchObject({ code: 'SHAPE_MISMATCH', expected: 'length 3', received: 'length 2' });
    expect(caught(() => toTargets('fit', 'y', [0, NaN], { kind: 'regression' }))).toMatchObject({ code: 'NOT_FINITE', argument: 'y[1]' });
    expect(caught(() => toTargets('fit', 'y', new Float32Array(5), { kind: 'regression', rows: 2 }))).toMatchObject({ code: 'SHAPE_MISMATCH', argument: 'y' });
    expect(caught(() => toTargets('fit', 'y', { a: 1 }, { kind: 'regression' }))).toMatchObject({ code: 'INVALID_ARGUMENT', argument: 'y' });
  });
});
