/** Applying a saved encoding (see table.ts) to new raw rows: the preprocessing of `normcore predict` and `loadCsvEncoded`. */
import { describe, typeError } from '../errors.js';
import { at, cellValue, Grow, uniqueCheck, headerIndex, featureNamesOf, readNumber, DataError, parseNumber, type MissingPolicy, type DataEncoding, type RowNaming, type RawCell } from './table.js';

/** Checks that a value is a DataEncoding (e.g. read back from JSON). */
export function checkEncoding(where: string, encoding: unknown): DataEncoding {
  const bad = (why: string): never => {
    throw typeError(`${where}: encoding is not a normcore data encoding (${why})`, { argument: 'encoding', expected: 'a DataEncoding from loadCsv', received: describe(encoding) });
  };
  if (typeof encoding !== 'object' || encoding === null) bad('not an object');
  const e = encoding as Partial<DataEncoding>;
  if (e.format !== 'normcore-data-encoding') bad(`format ${describe(e.format)}`);
  if (e.version !== 1) bad(`version ${describe(e.version)}`);
  if (!Array.isArray(e.columns) || e.columns.length === 0) bad('no columns');
  for (const c of e.columns!) {
    if (typeof c?.name !== 'string') bad('a column without a name');
    if (c.kind === 'numeric') { if (typeof c.impute !== 'number') bad(`column ${c.name}: impute`); }
    else if (c.kind === 'categorical') {
      if (!Array.isArray(c.categories) || c.categories.some((s) => typeof s !== 'string') || typeof c.impute !== 'string') bad(`column ${c.name}: categories`);
    }
    else bad(`column ${(c as { name: string }).name}: kind ${describe((c as { kind: unknown }).kind)}`);
  }
  if (typeof e.target?.name !== 'string' || (e.target.kind !== 'classification' && e.target.kind !== 'regression')) bad('target');
  if (e.target!.kind === 'classification' && !Array.isArray(e.target!.classes)) bad('target classes');
  return { ...(e as DataEncoding), featureNames: featureNamesOf(e.columns!) };
}

/** Rows encoded with a saved encoding. */
export interface EncodedRows {
  x: Float32Array;
  rows: number;
  features: number;
  /** Present when every row carried the target column. */
  y?: Int32Array | Float32Array;
  /** Rows left out under missing: 'drop'. */
  droppedRows: number;
}

export interface ApplyOptions {
  /** Default: 'impute' if the encoding was made with it, else 'error'. 'drop' leaves rows out (predictions then skip them). */
  missing?: MissingPolicy;
}

/**
 * Applies a saved encoding to raw rows pushed one at a time: the feature
 * width is known, so rows go straight into the output. The target column may
 * be absent from the header (predict); when present its labels are read.
 */
export class EncodingApplier {
  readonly encoding: DataEncoding;
  private readonly where: string;
  private readonly naming: RowNaming;
  private readonly width: number;
  private readonly cols: number[];
  private readonly targetCol: number;
  private readonly missing: MissingPolicy;
  private readonly categoryIndex: (Map<string, number> | undefined)[];
  private readonly classIndex: Map<string, number> | undefined;
  private readonly out: Grow<Float32Array>;
  private readonly y: Grow<Float32Array> | Grow<Int32Array> | undefined;
  private readonly features: number;
  private readonly rowBuf: Float32Array;
  private rows = 0;
  private dropped = 0;

  constructor(where: string, encoding: unknown, header: readonly string[], naming: RowNaming, options: ApplyOptions = {}) {
    this.where = where;
    this.naming = naming;
    this.encoding = checkEncoding(where, encoding);
    const e = this.encoding;
    this.width = header.length;
    uniqueCheck(where, header, `the header of ${naming.source}`);
    this.cols = e.columns.map((c) => headerIndex(where, header, c.name, `encoding column`, naming.source));
    this.targetCol = header.indexOf(e.target.name);
    this.missing = options.missing ?? (e.missing === 'impute' ? 'impute' : 'error');
    this.categoryIndex = e.columns.map((c) => (c.kind === 'categorical' ? new Map(c.categories.map((s, k) => [s, k])) : undefined));
    this.classIndex = e.target.kind === 'classification' ? new Map(e.target.classes!.map((s, k) => [s, k])) : undefined;
    this.features = e.featureNames.length;
    this.rowBuf = new Float32Array(this.features);
    this.out = new Grow((n) => new Float32Array(n), Math.max(1024, this.features * 256));
    if (this.targetCol >= 0) this.y = e.target.kind === 'classification' ? new Grow((n) => new Int32Array(n)) : new Grow((n) => new Float32Array(n));
  }

  push(record: readonly RawCell[], row: number): void {
    const { where, naming, encoding: e } = this;
    if (record.length !== this.width) {
      throw new DataError(`${where}: ${at(naming, row)} has ${record.length} fields, the header has ${this.width}`, 'DATA_FORMAT', row);
    }
    const buf = this.rowBuf;
    buf.fill(0);
    let o = 0;
    for (let j = 0; j < e.columns.length; j++) {
      const col = e.columns[j]!;
      let raw: string | number | undefined = cellValue(record[this.cols[j]!]);
      if (raw === undefined) {
        if (this.missing === 'drop') { this.dropped++; return; }
        if (this.missing === 'error') {
          throw new DataError(`${where}: ${at(naming, row, col.name)} is missing; pass missing: 'drop' or 'impute'`, 'DATA_FORMAT', row, col.name);
        }
        raw = col.impute;
      }
      if (col.kind === 'numeric') {
        buf[o++] = readNumber(where, naming, raw, row, col.name);
      } else {
        const text = String(raw);
        const k = this.categoryIndex[j]!.get(text);
        if (k === undefined) {
          throw new DataError(`${where}: ${at(naming, row, col.name)}: category ${JSON.stringify(text)} was not seen when the encoding was made; known: ${col.categories.map((c) => JSON.stringify(c)).join(', ')}`, 'DATA_FORMAT', row, col.name);
        }
        buf[o + k] = 1;
        o += col.categories.length;
      }
    }
    let label: number | undefined;
    if (this.y !== undefined) {
      const raw = cellValue(record[this.targetCol]);
      const name = e.target.name;
      if (raw === undefined) {
        if (this.missing === 'error') throw new DataError(`${where}: ${at(naming, row, name)} is missing`, 'DATA_FORMAT', row, name);
        this.dropped++;
        return;
      }
      if (this.classIndex !== undefined) {
        const text = String(raw);
        // numeric class names were written by String(number): "2.0" is class "2"
        const num = parseNumber(text);
        label = this.classIndex.get(text) ?? (num !== undefined ? this.classIndex.get(String(num)) : undefined);
        if (label === undefined) {
          throw new DataError(`${where}: ${at(naming, row, name)}: class ${JSON.stringify(text)} is not one of ${e.target.classes!.map((c) => JSON.stringify(c)).join(', ')}`, 'DATA_FORMAT', row, name);
        }
      } else {
        label = readNumber(where, naming, raw, row, name);
      }
    }
    for (let k = 0; k < this.features; k++) this.out.push(buf[k]!);
    if (label !== undefined) this.y!.push(label);
    this.rows++;
  }

  finish(): EncodedRows {
    const result: EncodedRows = { x: this.out.take(), rows: this.rows, features: this.features, droppedRows: this.dropped };
    if (this.y !== undefined) result.y = this.y.take();
    return result;
  }
}

/**
 * Encodes raw records (objects keyed by column name, e.g. parsed from a form
 * or JSON) with a saved encoding. The target key may be absent (predict).
 * Unseen categories, text in numeric columns and missing values (unless
 * imputed) are DataErrors naming the record index and the column.
 */
export function encodeRows(encoding: DataEncoding, rawRecords: readonly Readonly<Record<string, RawCell>>[], options: ApplyOptions = {}): EncodedRows {
  const where = 'encodeRows';
  if (!Array.isArray(rawRecords)) {
    throw typeError(`${where}: rawRecords must be an array of objects keyed by column name, got ${describe(rawRecords)}`, { argument: 'rawRecords', expected: 'an array of objects', received: describe(rawRecords) });
  }
  const e = checkEncoding(where, encoding);
  const names = e.columns.map((c) => c.name);
  const hasTarget = rawRecords.length > 0 && rawRecords.every((r) => r !== null && typeof r === 'object' && e.target.name in r);
  const header = hasTarget ? [...names, e.target.name] : names;
  const applier = new EncodingApplier(where, e, header, { source: 'rawRecords', headerIsRow1: false }, options);
  rawRecords.forEach((rec, i) => {
    if (rec === null || typeof rec !== 'object') {
      throw typeError(`${where}: rawRecords[${i}] must be an object keyed by column name, got ${describe(rec)}`, { argument: `rawRecords[${i}]`, expected: 'an object', received: describe(rec) });
    }
    applier.push(header.map((h) => rec[h]), i);
  });
  return applier.finish();
}
