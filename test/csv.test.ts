/**
 * loadCsv / loadCsvEncoded / encodeRows: typed numbers, one-hot categories
 * with a saved encoding, task inference, missing values, and errors that name
 * the line and the column.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeRows } from '../src/data/apply.js';
import { DataError, type DataEncoding } from '../src/data/table.js';
import { loadCsv, loadCsvEncoded } from '../src/node/csv.js';
import { NormcoreError } from '../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'normcore-csv-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function file(text: string): string {
  const path = join(dir, `t${n++}.csv`);
  writeFileSync(path, text);
  return path;
}

async function rejection(p: Promise<unknown>): Promise<Error & { code?: string; row?: number; column?: string; argument?: string }> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(NormcoreError);
    return e as Error;
  }
  throw new Error('expected a rejection');
}

const PETS = `weight,color,legs,kind
4.5,black,4,cat
30,brown,4,dog
0.02,green,6,bug
5.5,white,4,cat
25,black,4,dog
`;

describe('loadCsv', () => {
  it('reads numbers as f32, one-hot encodes categorical columns and classifies a text target', async () => {
    const d = await loadCsv(file(PETS), { target: 'kind', categorical: ['color'] });
    expect(d.rows).toBe(5);
    expect(d.featureNames).toEqual(['weight', 'color=black', 'color=brown', 'color=green', 'color=white', 'legs']);
    expect(d.features).toBe(6);
    expect(Array.from(d.x.subarray(0, 12))).toEqual([Math.fround(4.5), 1, 0, 0, 0, 4, 30, 0, 1, 0, 0, 4]);
    expect(d.target).toEqual({ name: 'kind', kind: 'classification', classes: ['bug', 'cat', 'dog'] });
    expect(d.y).toEqual(new Int32Array([1, 2, 0, 1, 2]));
    expect(d.encoding.columns).toEqual([
      { name: 'weight', kind: 'numeric', impute: (4.5 + 30 + 0.02 + 5.5 + 25) / 5 },
      { name: 'color', kind: 'categorical', categories: ['black', 'brown', 'green', 'white'], impute: 'black' },
      { name: 'legs', kind: 'numeric', impute: 4.4 },
    ]);
  });

  it('saves an encoding that encodes new raw rows the same way, after a JSON round trip, without the target', async () => {
    const d = await loadCsv(file(PETS), { target: 'kind', categorical: ['color'], columns: ['color', 'weight'] });
    expect(d.featureNames).toEqual(['color=black', 'color=brown', 'color=green', 'color=white', 'weight']);
    const encoding = JSON.parse(JSON.stringify(d.encoding)) as DataEncoding;
    const e = encodeRows(encoding, [{ weight: 30, color: 'brown' }, { weight: '0.02', color: 'green', legs: 6 }]);
    expect(e.y).toBeUndefined();
    expect(Array.from(e.x)).toEqual(Array.from(d.x.subarray(5, 15)));
    const again = await loadCsvEncoded(file(PETS), encoding);
    expect(again.x).toEqual(d.x);
    expect(again.y).toEqual(d.y);
    const noTarget = await loadCsvEncoded(file('color,weight\nwhite,3\n'), encoding);
    expect(noTarget.y).toBeUndefined();
    expect(Array.from(noTarget.x)).toEqual([0, 0, 0, 1, 3]);
    // an unseen category names the row and the column
    const bad = (() => { try { encodeRows(encoding, [{ weight: 1, color: 'black' }, { weight: 1, color: 'purple' }]); } catch (err) { return err as DataError; } return undefined; })();
    expect(bad).toBeInstanceOf(DataError);
    expect(bad!.message).toBe('encodeRows: rawRecords[1], column "color": category "purple" was not seen when the encoding was made; known: "black", "brown", "green", "white"');
    expect(bad).toMatchObject({ code: 'DATA_FORMAT', row: 1, column: 'color' });
    const badFile = await rejection(loadCsvEncoded(file('color,weight\nwhite,3\npurple,2\n'), encoding));
    expect(badFile.message).toMatch(/line 3 \(the header is line 1\), column "color": category "purple" was not seen/);
    expect(badFile).toMatchObject({ row: 3, column: 'color' });
  });

  it('infers the task: ≤ 20 distinct integers → classification, otherwise regression; the task can be forced', async () => {
    const ints = (k: number) => 'x,y\n' + Array.from({ length: 42 }, (_, i) => `${i},${i % k}`).join('\n');
    const c = await loadCsv(file(ints(20)), { target: 'y' });
    expect(c.target.kind).toBe('classification');
    expect(c.target.classes).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
    expect(c.y).toBeInstanceOf(Int32Array);
    const r = await loadCsv(file(ints(21)), { target: 'y' });
    expect(r.target).toEqual({ name: 'y', kind: 'regression' });
    expect(r.y).toBeInstanceOf(Float32Array);
    expect(r.y[23]).toBe(2); // 23 % 21
    expect((await loadCsv(file('x,y\n1,0.5\n2,1\n'), { target: 'y' })).target.kind).toBe('regression');
    // class labels sorted numerically, not as text; "2.0" and "2" are one class
    const s = await loadCsv(file('x,y\n1,10\n2,9\n3,2.0\n4,2\n'), { target: 'y' });
    expect(s.target.classes).toEqual(['2', '9', '10']);
    expect(s.y).toEqual(new Int32Array([2, 1, 0, 0]));
    const forced = await loadCsv(file(ints(3)), { target: 'y', task: 'regression' });
    expect(forced.target.kind).toBe('regression');
    const e = await rejection(loadCsv(file('x,y\n1,2\n2,big\n'), { target: 'y', task: 'regression' }));
    expect(e.message).toBe(`loadCsv: ${'t'}${n - 1}.csv line 3 (the header is line 1), column "y": expected a number (task 'regression'), got "big"`);
  });

  it('missing values: refused with line and column by default, dropped or imputed on request', async () => {
    const text = 'a,b,c,y\n1,u,3,0\n,v,5,1\n7,,9,0\n10,u,12,\n13,v,NA,1\n';
    const e = await rejection(loadCsv(file(text), { target: 'y', categorical: ['b'] }));
    expect(e).toBeInstanceOf(DataError);
    expect(e.message).toMatch(/line 3 \(the header is line 1\), column "a" is missing; pass missing: 'drop'/);
    expect(e).toMatchObject({ code: 'DATA_FORMAT', row: 3, column: 'a' });
    const dropped = await loadCsv(file(text), { target: 'y', categorical: ['b'], missing: 'drop' });
    expect(dropped.rows).toBe(1);
    expect(dropped.droppedRows).toBe(4);
    const imputed = await loadCsv(file(text), { target: 'y', categorical: ['b'], missing: 'impute' });
    expect(imputed.rows).toBe(4); // the row without a target is dropped, never imputed
    expect(imputed.droppedRows).toBe(1);
    // kept rows 1, 2, 3, 5: a = mean of 1, 7, 13 = 7; b = v (u once, v twice); c = mean of 3, 5, 9 = 17/3
    expect(imputed.encoding.columns).toEqual([
      { name: 'a', kind: 'numeric', impute: 7 },
      { name: 'b', kind: 'categorical', categories: ['u', 'v'], impute: 'v' },
      { name: 'c', kind: 'numeric', impute: 17 / 3 },
    ]);
    expect(Array.from(imputed.x)).toEqual([1, 1, 0, 3, 7, 0, 1, 5, 7, 0, 1, 9, 13, 0, 1, Math.fround(17 / 3)]);
    // the saved imputation is applied to new rows
    expect(Array.from(encodeRows(imputed.encoding, [{ a: '', b: null, c: 1 }]).x)).toEqual([7, 0, 1, 1]);
  });

  it('names the line and column of text in a numeric column, and refuses overflowing numbers', async () => {
    const e = await rejection(loadCsv(file('a,b,y\n1,2,0\n3,4,1\n5,x6,0\n'), { target: 'y' }));
    expect(e.message).toMatch(/^loadCsv: t\d+\.csv line 4 \(the header is line 1\), column "b": expected a number, got "x6"$/);
    expect(e).toMatchObject({ code: 'DATA_FORMAT', row: 4, column: 'b' });
    const big = await rejection(loadCsv(file('a,y\n1e39,0\n'), { target: 'y' }));
    expect(big).toMatchObject({ code: 'NOT_FINITE', row: 2, column: 'a' });
    // lines count blank lines and quoted line breaks as in an editor
    const q = await rejection(loadCsv(file('a,name,y\n1,"two\nlines",0\n\n2,z,1\nbad,z,1\n'), { target: 'y', columns: ['a'] }));
    expect(q).toMatchObject({ row: 6, column: 'a' });
  });

  it('refuses ragged rows, an unknown target or column, an empty file, a header alone and broken quoting', async () => {
    const ragged = await rejection(loadCsv(file('a,b,y\n1,2,0\n3,1\n'), { target: 'y' }));
    expect(ragged.message).toMatch(/line 3 \(the header is line 1\) has 2 fields, the header has 3/);
    expect(ragged).toMatchObject({ code: 'DATA_FORMAT', row: 3 });
    const unknown = await rejection(loadCsv(file('a,b,y\n1,2,0\n'), { target: 'label' }));
    expect(unknown).toBeInstanceOf(TypeError);
    expect(unknown.message).toMatch(/options.target "label" is not a column of t\d+\.csv; its columns are "a", "b", "y"/);
    expect(unknown).toMatchObject({ code: 'INVALID_ARGUMENT', argument: 'options.target' });
    expect(await rejection(loadCsv(file('a,b,y\n1,2,0\n'), { target: 'y', columns: ['a', 'c'] }))).toMatchObject({ argument: 'options.columns[1]' });
    expect(await rejection(loadCsv(file('a,b,y\n1,2,0\n'), { target: 'y', categorical: ['y'] }))).toMatchObject({ argument: 'options.categorical[0]' });
    const empty = await rejection(loadCsv(file(''), { target: 'y' }));
    expect(empty.message).toMatch(/^loadCsv: t\d+\.csv is empty \(no header row\)$/);
    expect(empty).toMatchObject({ code: 'DATA_FORMAT' });
    expect((await rejection(loadCsv(file('a,y\n'), { target: 'y' }))).message).toMatch(/has no data rows/);
    const quote = await rejection(loadCsv(file('a,y\n1,"0\n2,1\n'), { target: 'y' }));
    expect(quote).toBeInstanceOf(DataError);
    expect(quote.message).toMatch(/is not valid CSV/);
    expect(await rejection(loadCsv(file('a,y\n1,0\n'), { target: 'y', missing: 'skip' as never }))).toMatchObject({ argument: 'options.missing' });
    expect(await rejection(loadCsv(file('a,y\n1,0\n'), { target: 'y', delimeter: ';' } as never))).toMatchObject({ code: 'UNKNOWN_OPTION' });
    await expect(loadCsv(join(dir, 'nope.csv'), { target: 'y' })).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('takes another delimiter and a byte order mark', async () => {
    const d = await loadCsv(file('\ufeffa;b;y\n1,5;2;0\n3;4;1\n'.replace('1,5', '1.5')), { target: 'y', delimiter: ';' });
    expect(d.featureNames).toEqual(['a', 'b']);
    expect(Array.from(d.x)).toEqual([1.5, 2, 3, 4]);
    // spaces around cells and quotes, quoted delimiters inside a category
    const q = await loadCsv(file('a, city ,y\n 1 , "Paris, FR" ,0\n2,"Rome, IT",1\n'), { target: 'y', categorical: ['city'] });
    expect(q.featureNames).toEqual(['a', 'city=Paris, FR', 'city=Rome, IT']);
    expect(Array.from(q.x)).toEqual([1, 1, 0, 2, 0, 1]);
  });

  it('streams: 150 MB of text from a lazy Readable passes with memory bounded by the output, not the text', async () => {
    // each row: two used columns and a ~1 KB column left out by `columns`; the output is 150,000 × 2 f32 = 1.2 MB
    const rows = 150_000;
    const pad = 'p'.repeat(1000);
    let produced = 0;
    let peak = 0;
    const base = process.memoryUsage();
    const baseline = base.heapUsed + base.arrayBuffers;
    function* lines() {
      yield 'a,b,pad,y\n';
      for (let i = 0; i < rows; i += 100) {
        let chunk = '';
        for (let k = i; k < i + 100; k++) chunk += `${k},${k % 7},${pad},${k % 3}\n`;
        produced += chunk.length;
        if (i % 10_000 === 0) {
          const m = process.memoryUsage();
          peak = Math.max(peak, m.heapUsed + m.arrayBuffers - baseline);
        }
        yield chunk;
      }
    }
    const d = await loadCsv(Readable.from(lines(), { objectMode: false }), { target: 'y', columns: ['a', 'b'] });
    expect(produced).toBeGreaterThan(150e6);
    expect(d.rows).toBe(rows);
    expect(d.x[2 * 123_456]).toBe(123_456);
    expect(d.target.classes).toEqual(['0', '1', '2']);
    // everything buffered would be ≥ 150 MB (300 MB as UTF-16 strings); allow GC slack, far below that
    console.log(`csv streaming: ${(produced / 1e6).toFixed(0)} MB of text, peak heap + array buffers +${(peak / 1e6).toFixed(1)} MB`);
    expect(peak).toBeLessThan(80e6);
  }, 120_000);
});
