/**
 * Tables of raw text cells (a CSV file, records from a form) turned into the
 * model's f32 matrix, and the serializable `DataEncoding` that turns new raw
 * rows into the same columns later (`normcore predict`).
 *
 * Browser-safe: no Node built-ins here. The Node CSV reader (src/node/csv.ts)
 * feeds records into TableEncoder / EncodingApplier one at a time, so memory
 * is bounded by the output arrays (plus one compact f32 cell per categorical
 * value, expanded to one-hot at the end), never by the text.
 *
 * Rules:
 * - Numeric columns: a cell is a decimal number (`12`, `-3.5`, `.5`, `1e-3`);
 *   anything else is an error naming row and column; a number that overflows
 *   f32 is NOT_FINITE.
 * - Categorical columns: one-hot over the categories seen when the encoding
 *   was made, sorted (JavaScript string order); the feature names are
 *   `column=category`. A category not in the list, met later, is an error.
 * - Missing cells are the strings in MISSING_TOKENS. 'error' (default)
 *   refuses them with row and column; 'drop' drops the row; 'impute' fills
 *   numeric cells with the column mean and categorical ones with the most
 *   frequent category (ties: the first in sorted order), both saved in the
 *   encoding. A row whose target is missing is dropped under 'drop' and
 *   'impute' (a target is never imputed).
 * - Task: a target with any non-numeric value, or only integers with at
 *   most CLASSIFICATION_MAX_DISTINCT (20) distinct values, is
 *   classification; any other numeric target is regression. Classes are
 *   sorted: numerically for numbers, in string order otherwise.
 */
import { describe, mustBe, NormcoreError, type ErrorCode, typeError } from '../errors.js';

/** Cells read as missing. */
export const MISSING_TOKENS: readonly string[] = ['', 'NA', 'N/A', 'NaN', 'nan', 'null', 'NULL', '?'];

/** A numeric target with at most this many distinct integer values is read as class labels. */
export const CLASSIFICATION_MAX_DISTINCT = 20;

/** Distinct target strings tracked while streaming (more are not class labels). */
export const MAX_CLASSES = 65_536;

export type MissingPolicy = 'error' | 'drop' | 'impute';
export type TaskKind = 'classification' | 'regression';

/**
 * A data file or raw records that cannot be read as the table asked for.
 * `row`: in files, the 1-based line, the header being line 1 (the message
 * says so); in `encodeRows`, the 0-based index into the records.
 * `column`: the column's name from the header.
 */
export class DataError extends NormcoreError {
  override name = 'DataError';
  readonly row: number | undefined;
  readonly column: string | undefined;
  constructor(message: string, code: ErrorCode = 'DATA_FORMAT', row?: number, column?: string) {
    super(message, code);
    this.row = row;
    this.column = column;
  }
}

export type ColumnEncoding =
  | { name: string; kind: 'numeric'; /** mean of the column, used under missing: 'impute' */ impute: number }
  | { name: string; kind: 'categorical'; /** one-hot order */ categories: string[]; /** most frequent category */ impute: string };

export interface TargetInfo {
  name: string;
  kind: TaskKind;
  /** classification: class names, index = class index. */
  classes?: string[];
}

/** JSON-serializable preprocessing: apply with encodeRows (or loadCsvEncoded in Node). */
export interface DataEncoding {
  format: 'normcore-data-encoding';
  version: 1;
  /** Feature columns in input order. */
  columns: ColumnEncoding[];
  /** Names of the output features (one-hot expanded: `column=category`). */
  featureNames: string[];
  target: TargetInfo;
  /** The policy the encoding was made with. */
  missing: MissingPolicy;
}

/** How a table is described to TableEncoder. */
export interface TableOptions {
  target: string;
  /** Feature columns (default: every column but the target), in this order. */
  columns?: readonly string[];
  /** Feature columns to one-hot encode. */
  categorical?: readonly string[];
  missing?: MissingPolicy;
  /** Force the task instead of inferring it. */
  task?: TaskKind;
}

/** Where rows come from, for messages: `iris.csv line 7 (the header is line 1)` or `rawRecords[5]`. */
export interface RowNaming {
  /** e.g. "iris.csv" */
  source: string;
  /** true: rows are 1-based file lines, the header being line 1; false: 0-based record indices. */
  headerIsRow1: boolean;
}

export function at(naming: RowNaming, row: number, column?: string): string {
  const r = naming.headerIsRow1 ? `${naming.source} line ${row} (the header is line 1)` : `${naming.source}[${row}]`;
  return column === undefined ? r : `${r}, column ${JSON.stringify(column)}`;
}

export const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** A cell as a number, or undefined when the text is not a decimal number. */
export function parseNumber(cell: string): number | undefined {
  return NUMBER.test(cell) ? Number(cell) : undefined;
}

/** Cell text: numbers written back as JavaScript prints them; null/undefined as ''. */
export type RawCell = string | number | null | undefined;

export function cellText(v: RawCell): string {
  return v === null || v === undefined ? '' : typeof v === 'number' ? String(v) : v.trim();
}

export const MISSING = new Set(MISSING_TOKENS);

/** A cell normalized: a number as is, text trimmed; undefined when missing (a MISSING_TOKENS string, NaN, null, undefined). */
export function cellValue(v: RawCell): string | number | undefined {
  if (typeof v === 'string') {
    const t = v.trim();
    return MISSING.has(t) ? undefined : t;
  }
  if (typeof v === 'number') return Number.isNaN(v) ? undefined : v;
  return undefined;
}

/** Growable Float32Array / Int32Array / Float64Array. */
export class Grow<T extends Float32Array | Float64Array | Int32Array> {
  data: T;
  length = 0;
  constructor(private readonly make: (n: number) => T, capacity = 1024) {
    this.data = make(capacity);
  }
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = this.make(this.data.length * 2);
      next.set(this.data as never);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
  /** The filled part, copied into an exact-size array. */
  take(): T {
    return this.data.slice(0, this.length) as T;
  }
}

export function uniqueCheck(where: string, list: readonly string[], what: string): void {
  const seen = new Set<string>();
  for (const name of list) {
    if (seen.has(name)) throw typeError(`${where}: ${what} names column ${JSON.stringify(name)} twice`, { argument: what, expected: 'distinct column names', received: JSON.stringify(name) });
    seen.add(name);
  }
}

export function headerIndex(where: string, header: readonly string[], name: string, argument: string, source: string): number {
  const i = header.indexOf(name);
  if (i < 0) {
    throw typeError(`${where}: ${argument} ${JSON.stringify(name)} is not a column of ${source}; its columns are ${header.map((h) => JSON.stringify(h)).join(', ')}`, {
      argument, expected: `a column of ${source}: ${header.join(', ')}`, received: JSON.stringify(name),
    });
  }
  return i;
}

export function featureNamesOf(columns: readonly ColumnEncoding[]): string[] {
  const names: string[] = [];
  for (const c of columns) {
    if (c.kind === 'numeric') names.push(c.name);
    else for (const cat of c.categories) names.push(`${c.name}=${cat}`);
  }
  return names;
}

/** What TableEncoder.finish gives: the matrix, the labels and the encoding. */
export interface EncodedTable {
  x: Float32Array;
  /** classification: class indices; regression: values. */
  y: Int32Array | Float32Array;
  rows: number;
  features: number;
  featureNames: string[];
  target: TargetInfo;
  encoding: DataEncoding;
  /** Rows left out under missing: 'drop' (or for a missing target under 'impute'). */
  droppedRows: number;
}

/**
 * Builds a table and its encoding from raw rows pushed one at a time (the
 * header first, to the constructor). Categories and the task are learned
 * from the whole table, so the one-hot expansion happens in finish().
 */
export class TableEncoder {
  private readonly where: string;
  private readonly naming: RowNaming;
  private readonly missing: MissingPolicy;
  private readonly task: TaskKind | undefined;
  private readonly targetName: string;
  private readonly targetCol: number;
  private readonly featureCols: number[];
  private readonly names: string[];
  private readonly categorical: boolean[];
  /** rows × features compact cells: the number, or the category id in order of appearance; NaN = missing (impute). */
  private readonly cells = new Grow((n) => new Float32Array(n), 4096);
  private readonly categoryIds: Map<string, number>[];
  private readonly categoryCounts: Grow<Float64Array>[];
  private readonly sums: Float64Array;
  private readonly counts: Float64Array;
  private readonly width: number;
  // target
  private readonly targetNum = new Grow((n) => new Float64Array(n));
  private targetStrings: Map<string, number> | undefined = new Map();
  private readonly targetStringIds = new Grow((n) => new Int32Array(n));
  private firstNonNumeric: { row: number; text: string } | undefined;
  private allIntegers = true;
  private readonly distinctNumbers = new Set<number>();
  private rows = 0;
  private dropped = 0;
  /** One row's feature cells, normalized (reused). */
  private readonly values: (string | number | undefined)[];

  constructor(where: string, header: readonly string[], options: TableOptions, naming: RowNaming) {
    this.where = where;
    this.naming = naming;
    this.width = header.length;
    uniqueCheck(where, header, `the header of ${naming.source}`);
    this.missing = options.missing ?? 'error';
    if (!['error', 'drop', 'impute'].includes(this.missing)) {
      throw typeError(`${where}: options.missing must be 'error', 'drop' or 'impute', got ${describe(this.missing)}`, { argument: 'options.missing', expected: "'error', 'drop' or 'impute'", received: describe(this.missing) });
    }
    if (options.task !== undefined && options.task !== 'classification' && options.task !== 'regression') {
      throw typeError(`${where}: options.task must be 'classification' or 'regression', got ${describe(options.task)}`, { argument: 'options.task', expected: "'classification' or 'regression'", received: describe(options.task) });
    }
    this.task = options.task;
    if (typeof options.target !== 'string') {
      throw mustBe(where, 'options.target', 'a column name', options.target);
    }
    this.targetName = options.target;
    this.targetCol = headerIndex(where, header, options.target, 'options.target', naming.source);
    const columns = options.columns ?? header.filter((h) => h !== options.target);
    uniqueCheck(where, columns, 'options.columns');
    this.featureCols = columns.map((c, i) => headerIndex(where, header, c, `options.columns[${i}]`, naming.source));
    if (this.featureCols.includes(this.targetCol)) {
      throw typeError(`${where}: options.columns includes the target ${JSON.stringify(options.target)}`, { argument: 'options.columns', expected: 'feature columns other than the target', received: JSON.stringify(options.target) });
    }
    if (columns.length === 0) {
      throw typeError(`${where}: no feature columns (${naming.source} has only the target)`, { argument: 'options.columns', expected: 'at least one feature column', received: '[]' });
    }
    const cat = options.categorical ?? [];
    cat.forEach((c, i) => {
      if (!columns.includes(c)) {
        throw typeError(`${where}: options.categorical[${i}] ${JSON.stringify(c)} is not a feature column; the feature columns are ${columns.map((h) => JSON.stringify(h)).join(', ')}`, {
          argument: `options.categorical[${i}]`, expected: `one of ${columns.join(', ')}`, received: JSON.stringify(c),
        });
      }
    });
    this.names = [...columns];
    this.values = new Array<string | number | undefined>(columns.length);
    this.categorical = columns.map((c) => cat.includes(c));
    this.categoryIds = columns.map(() => new Map());
    this.categoryCounts = columns.map(() => new Grow((n) => new Float64Array(n), 16));
    this.sums = new Float64Array(columns.length);
    this.counts = new Float64Array(columns.length);
  }

  /** Adds one raw row (the header's length); `row` is its number for messages. */
  push(record: readonly RawCell[], row: number): void {
    const { where, naming } = this;
    if (record.length !== this.width) {
      throw new DataError(`${where}: ${at(naming, row)} has ${record.length} fields, the header has ${this.width}`, 'DATA_FORMAT', row);
    }
    // missing cells first: a dropped row must leave nothing behind (any other error ends the load)
    const target = cellValue(record[this.targetCol]);
    if (target === undefined) {
      if (this.missing === 'error') throw this.missingError(row, this.targetName);
      this.dropped++;
      return;
    }
    const values = this.values;
    for (let j = 0; j < values.length; j++) {
      const v = cellValue(record[this.featureCols[j]!]);
      if (v === undefined) {
        if (this.missing === 'error') throw this.missingError(row, this.names[j]!);
        if (this.missing === 'drop') {
          this.dropped++;
          return;
        }
      }
      values[j] = v;
    }
    for (let j = 0; j < values.length; j++) {
      const v = values[j];
      if (v === undefined) {
        this.cells.push(NaN);
      } else if (this.categorical[j]) {
        const text = String(v);
        const ids = this.categoryIds[j]!;
        let id = ids.get(text);
        if (id === undefined) {
          id = ids.size;
          ids.set(text, id);
          this.categoryCounts[j]!.push(0);
        }
        this.categoryCounts[j]!.data[id]!++;
        this.cells.push(id);
      } else {
        const x = readNumber(where, naming, v, row, this.names[j]!);
        this.sums[j]! += x;
        this.counts[j]!++;
        this.cells.push(x);
      }
    }
    // target
    const text = String(target);
    const num = typeof target === 'number' ? target : parseNumber(text);
    if (num === undefined) this.firstNonNumeric ??= { row, text };
    else if (!Number.isFinite(num)) {
      throw new DataError(`${where}: ${at(naming, row, this.targetName)}: ${text} is not a finite number`, 'NOT_FINITE', row, this.targetName);
    }
    this.targetNum.push(num ?? NaN);
    if (num !== undefined) {
      if (!Number.isInteger(num)) this.allIntegers = false;
      const cap = this.task === 'classification' ? MAX_CLASSES : CLASSIFICATION_MAX_DISTINCT;
      if (this.distinctNumbers.size <= cap) this.distinctNumbers.add(num);
    }
    if (this.targetStrings !== undefined) {
      let id = this.targetStrings.get(text);
      if (id === undefined) {
        id = this.targetStrings.size;
        this.targetStrings.set(text, id);
      }
      this.targetStringIds.push(id);
      if (this.targetStrings.size > MAX_CLASSES) this.targetStrings = undefined; // too many to be classes
    }
    this.rows++;
  }

  private missingError(row: number, column: string): DataError {
    return new DataError(
      `${this.where}: ${at(this.naming, row, column)} is missing; pass missing: 'drop' to leave such rows out or 'impute' to fill them (${this.naming.source})`,
      'DATA_FORMAT', row, column,
    );
  }

  /** The table, its labels and its encoding. */
  finish(): EncodedTable {
    const { where, naming } = this;
    if (this.rows === 0) {
      throw new DataError(`${where}: ${naming.source} has no data rows${this.dropped > 0 ? ` (all ${this.dropped} were dropped for missing values)` : ''}`, 'DATA_FORMAT');
    }
    const rows = this.rows;
    const F = this.names.length;
    // categorical: sorted categories, remap ids; impute values
    const columns: ColumnEncoding[] = [];
    const remap: Int32Array[] = [];
    for (let j = 0; j < F; j++) {
      if (this.categorical[j]) {
        const ids = this.categoryIds[j]!;
        const categories = [...ids.keys()].sort();
        const order = new Int32Array(ids.size);
        categories.forEach((c, k) => { order[ids.get(c)!] = k; });
        remap.push(order);
        let best = categories[0] ?? '';
        let bestCount = -1;
        for (const c of categories) {
          const n = this.categoryCounts[j]!.data[ids.get(c)!]!;
          if (n > bestCount) { best = c; bestCount = n; }
        }
        if (categories.length === 0) {
          throw new DataError(`${where}: categorical column ${JSON.stringify(this.names[j])} of ${naming.source} has no values`, 'DATA_FORMAT', undefined, this.names[j]);
        }
        columns.push({ name: this.names[j]!, kind: 'categorical', categories, impute: best });
      } else {
        remap.push(new Int32Array(0));
        columns.push({ name: this.names[j]!, kind: 'numeric', impute: this.counts[j]! > 0 ? this.sums[j]! / this.counts[j]! : 0 });
      }
    }
    const target = this.finishTarget();
    const featureNames = featureNamesOf(columns);
    const features = featureNames.length;
    const x = new Float32Array(rows * features);
    const cells = this.cells.data;
    for (let r = 0; r < rows; r++) {
      let o = r * features;
      for (let j = 0; j < F; j++) {
        const col = columns[j]!;
        const v = cells[r * F + j]!;
        if (col.kind === 'numeric') {
          x[o++] = Number.isNaN(v) ? col.impute : v;
        } else {
          const k = Number.isNaN(v) ? col.categories.indexOf(col.impute) : remap[j]![v]!;
          x[o + k] = 1;
          o += col.categories.length;
        }
      }
    }
    const encoding: DataEncoding = {
      format: 'normcore-data-encoding', version: 1, columns, featureNames, target: target.info, missing: this.missing,
    };
    return { x, y: target.y, rows, features, featureNames, target: target.info, encoding, droppedRows: this.dropped };
  }

  private finishTarget(): { info: TargetInfo; y: Int32Array | Float32Array } {
    const { where, naming } = this;
    const rows = this.rows;
    const nums = this.targetNum.data;
    const numeric = this.firstNonNumeric === undefined;
    const kind: TaskKind = this.task
      ?? (!numeric || (this.allIntegers && this.distinctNumbers.size <= CLASSIFICATION_MAX_DISTINCT) ? 'classification' : 'regression');
    if (kind === 'regression') {
      if (!numeric) {
        const { row, text } = this.firstNonNumeric!;
        throw new DataError(`${where}: ${at(naming, row, this.targetName)}: expected a number (task 'regression'), got ${JSON.stringify(text)}`, 'DATA_FORMAT', row, this.targetName);
      }
      return { info: { name: this.targetName, kind }, y: Float32Array.from(nums.subarray(0, rows)) };
    }
    const y = new Int32Array(rows);
    if (numeric && this.distinctNumbers.size <= MAX_CLASSES) {
      const classes = [...this.distinctNumbers].sort((a, b) => a - b);
      const index = new Map(classes.map((c, i) => [c, i]));
      for (let r = 0; r < rows; r++) y[r] = index.get(nums[r]!)!;
      return { info: { name: this.targetName, kind, classes: classes.map(String) }, y };
    }
    if (this.targetStrings === undefined || (numeric && this.distinctNumbers.size > MAX_CLASSES)) {
      throw new DataError(`${where}: target column ${JSON.stringify(this.targetName)} of ${naming.source} has more than ${MAX_CLASSES} distinct values, too many to be classes`, 'DATA_FORMAT', undefined, this.targetName);
    }
    const names = [...this.targetStrings.keys()];
    const sorted = [...names].sort();
    const order = new Int32Array(names.length);
    sorted.forEach((c, k) => { order[this.targetStrings!.get(c)!] = k; });
    const ids = this.targetStringIds.data;
    for (let r = 0; r < rows; r++) y[r] = order[ids[r]!]!;
    return { info: { name: this.targetName, kind, classes: sorted }, y };
  }
}

export function readNumber(where: string, naming: RowNaming, raw: RawCell, row: number, column: string): number {
  const v = typeof raw === 'number' ? raw : parseNumber(cellText(raw));
  if (v === undefined) {
    throw new DataError(`${where}: ${at(naming, row, column)}: expected a number, got ${JSON.stringify(cellText(raw))}`, 'DATA_FORMAT', row, column);
  }
  const f = Math.fround(v);
  if (!Number.isFinite(f)) {
    throw new DataError(`${where}: ${at(naming, row, column)}: ${cellText(raw)} is not a finite 32-bit number`, 'NOT_FINITE', row, column);
  }
  return v;
}
