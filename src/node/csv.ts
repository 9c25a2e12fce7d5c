/**
 * CSV files in: loadCsv reads a labelled file into the model's f32 matrix
 * and labels, with a saved encoding; loadCsvEncoded applies a saved encoding
 * to another file (the target column may be absent: predict).
 *
 * The file is streamed through csv-parse (one record at a time, with
 * backpressure), so memory is bounded by the output arrays, not the text.
 * Rows in messages are file lines, 1-based, the header being line 1 (for a
 * quoted field that spans lines: the record's last line). Blank lines are
 * skipped; a UTF-8 byte order mark is ignored; cells are trimmed.
 * The rules for numbers, categories, missing cells and the task are in
 * src/data/table.ts.
 */
import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import { pipeline, type Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { expectOptions, mustBe, NormcoreError, typeError } from '../errors.js';
import { EncodingApplier, type ApplyOptions, type EncodedRows } from '../data/apply.js';
import { DataError, TableEncoder, type DataEncoding, type EncodedTable, type MissingPolicy, type RowNaming, type TaskKind } from '../data/table.js';

export interface LoadCsvOptions {
  /** The label column. */
  target: string;
  /** Feature columns, in this order (default: every column but the target). */
  columns?: readonly string[];
  /** Feature columns to one-hot encode (their categories are saved in the encoding). */
  categorical?: readonly string[];
  /** Missing cells: refuse (default), drop the row, or impute (mean / most frequent). */
  missing?: MissingPolicy;
  /** Field delimiter (default ','). */
  delimiter?: string;
  /** Force the task instead of inferring it. */
  task?: TaskKind;
}

/** loadCsv's result: x rows × features (row-major), y class indices or values, the encoding to reuse. */
export type CsvData = EncodedTable;

/** A path, a file: URL, or a readable stream of CSV text (e.g. a Readable producing rows lazily). */
export type CsvSource = string | URL | Readable | AsyncIterable<string | Uint8Array>;

const LOAD_KNOWN = ['target', 'columns', 'categorical', 'missing', 'delimiter', 'task'] as const;

function open(parse: typeof import('csv-parse').parse, where: string, source: CsvSource, delimiter: string | undefined): { records: AsyncIterable<{ record: string[]; info: { lines: number } }>; name: string } {
  if (delimiter !== undefined && (typeof delimiter !== 'string' || delimiter.length === 0)) {
    throw mustBe(where, 'options.delimiter', 'a non-empty string', delimiter);
  }
  const parser = parse({
    delimiter: delimiter ?? ',', bom: true, trim: true, skip_empty_lines: true, relax_column_count: true, info: true,
  });
  let name: string;
  let input: Readable | AsyncIterable<string | Uint8Array>;
  if (typeof source === 'string' || source instanceof URL) {
    const path = source instanceof URL ? fileURLToPath(source) : source;
    name = basename(path);
    input = createReadStream(path);
  } else if (source !== null && typeof source === 'object' && Symbol.asyncIterator in source) {
    name = 'the CSV stream';
    input = source;
  } else {
    throw mustBe(where, 'source', 'a path, a file URL or a readable stream', source);
  }
  // backpressure both ways; a read error (no such file…) destroys the parser with it, so the loop below throws it
  pipeline(input, parser, () => {});
  return { records: parser as AsyncIterable<{ record: string[]; info: { lines: number } }>, name };
}

/** csv-parse's own errors (unclosed quote…) as DataError with the line. */
function parseError(where: string, name: string, e: unknown): unknown {
  const err = e as { code?: unknown; lines?: unknown; message?: unknown };
  if (typeof err?.code === 'string' && err.code.startsWith('CSV_')) {
    const line = typeof err.lines === 'number' ? err.lines : undefined;
    return new DataError(`${where}: ${name}${line !== undefined ? ` line ${line}` : ''} is not valid CSV: ${String(err.message)}`, 'DATA_FORMAT', line);
  }
  return e;
}

/** csv-parse, loaded on first use: an optional peer dependency, so a user who never reads CSV does not install it. */
async function csvParse(where: string): Promise<typeof import('csv-parse').parse> {
  try {
    return (await import('csv-parse')).parse;
  } catch (e) {
    throw new NormcoreError(`${where}: reading CSV needs the optional package csv-parse; install it with: npm install csv-parse@^7.0.3`, 'UNAVAILABLE', { cause: e });
  }
}

async function readTable<T>(
  where: string, source: CsvSource, delimiter: string | undefined,
  start: (header: string[], naming: RowNaming) => { push(record: string[], row: number): void; finish(): T },
): Promise<T> {
  const { records, name } = open(await csvParse(where), where, source, delimiter);
  const naming: RowNaming = { source: name, headerIsRow1: true };
  let sink: { push(record: string[], row: number): void; finish(): T } | undefined;
  const iterator = records[Symbol.asyncIterator]();
  try {
    for (;;) {
      let next: IteratorResult<{ record: string[]; info: { lines: number } }>;
      try {
        next = await iterator.next();
      } catch (e) {
        throw parseError(where, name, e);
      }
      if (next.done) break;
      const { record, info } = next.value;
      if (sink === undefined) sink = start(record, naming);
      else sink.push(record, info.lines);
    }
  } finally {
    await iterator.return?.();
  }
  if (sink === undefined) throw new DataError(`${where}: ${name} is empty (no header row)`, 'DATA_FORMAT');
  return sink.finish();
}

/**
 * Reads a labelled CSV file: features as f32 (numeric columns as numbers,
 * categorical ones one-hot), the target as class indices (classification:
 * non-numeric, or ≤ 20 distinct integers) or values (regression), and the
 * encoding that does the same to new rows.
 */
export async function loadCsv(source: CsvSource, options: LoadCsvOptions): Promise<CsvData> {
  const where = 'loadCsv';
  if (options === undefined) {
    throw typeError(`${where}: options.target is required (the label column)`, { argument: 'options.target', expected: 'a column name', received: 'undefined' });
  }
  const o = expectOptions(where, 'options', options, LOAD_KNOWN);
  return readTable(where, source, o.delimiter, (header, naming) => new TableEncoder(where, header, options, naming));
}

export interface LoadCsvEncodedOptions extends ApplyOptions {
  delimiter?: string;
}

/**
 * Reads a CSV file with a saved encoding (from loadCsv): the same columns,
 * one-hot categories and imputation. The target column may be absent (then
 * no y); a category not seen when the encoding was made is an error naming
 * the line and column.
 */
export async function loadCsvEncoded(source: CsvSource, encoding: DataEncoding, options: LoadCsvEncodedOptions = {}): Promise<EncodedRows> {
  const where = 'loadCsvEncoded';
  const o = expectOptions(where, 'options', options, ['missing', 'delimiter']);
  const apply: ApplyOptions = o.missing === undefined ? {} : { missing: o.missing };
  return readTable(where, source, o.delimiter, (header, naming) => new EncodingApplier(where, encoding, header, naming, apply));
}
