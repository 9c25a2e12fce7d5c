/**
 * `normcore train|eval|predict --data file.csv`: the CLI on a user's own
 * table. train reads the CSV (loadCsv: numbers, one-hot categories, the
 * task inferred from the target), splits 80/20 (stratified for
 * classification), keeps a validation part of the training rows for early
 * stopping, puts a Normalization adapted on the fitted rows first, trains an
 * MLP and saves DIR/model.nc with the preprocessing (the CSV encoding and,
 * for regression, the target's scale) in the file's header; eval and predict
 * apply that preprocessing to new raw rows.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  createBackend, DataError, earlyStopping, loadCsv, loadCsvEncoded, loadModel, METRICS, mlp, Normalization, saveModel, Sequential, trainTestSplit,
  checkEncoding, type BackendName, type CsvData, type DataEncoding, type Layer, type MissingPolicy, type TaskKind,
} from './node/index.js';
import { flagLines, parseFlags, UsageError, type CommandLine, type Flags } from './node/flags.js';

export interface DataIO {
  out(text: string): void;
  err(text: string): void;
}

/** Defaults of `normcore train --data`, chosen once for small tables (not tuned to one data set or split). */
export const DATA_DEFAULTS = {
  hidden: '64,64', epochs: '500', 'batch-size': '32', lr: '0.001', 'validation-split': '0.2', patience: '30', missing: 'error', seed: '1', backend: 'wasm', out: 'out',
} as const;

const TASKS = ['classification', 'regression'] as const;
const MISSING = ['error', 'drop', 'impute'] as const;
const BACKENDS = ['wasm', 'js'] as const;
const help: Flags[string] = { type: 'boolean', help: 'show this help' };

const DATA_TRAIN_FLAGS: Flags = {
  data: { type: 'string', value: '<file.csv>', help: 'a CSV file with a header row (required for this form)' },
  target: { type: 'string', value: '<column>', help: 'the column to predict (required)' },
  task: { type: 'string', value: TASKS.join('|'), help: 'default: inferred (non-numeric, or at most 20 distinct integers → classification)' },
  categorical: { type: 'string', value: '<col,col,…>', help: 'feature columns to one-hot encode (a column with text in its first row is one-hot encoded anyway)' },
  hidden: { type: 'string', value: '<n,n,…>', default: DATA_DEFAULTS.hidden, help: 'hidden layer widths (Dense → BatchNorm → ReLU each)' },
  'no-bn': { type: 'boolean', help: 'no BatchNorm in the hidden layers' },
  epochs: { type: 'string', value: '<n>', default: DATA_DEFAULTS.epochs, help: 'most passes over the training rows (early stopping usually ends sooner)' },
  'batch-size': { type: 'string', value: '<n>', default: DATA_DEFAULTS['batch-size'], help: 'rows per step' },
  lr: { type: 'string', value: '<n>', default: DATA_DEFAULTS.lr, help: 'Adam learning rate' },
  'validation-split': { type: 'string', value: '<f>', default: DATA_DEFAULTS['validation-split'], help: 'fraction of the training rows held out to watch the validation loss (stratified for classification)' },
  patience: { type: 'string', value: '<n>', default: DATA_DEFAULTS.patience, help: 'epochs without a better validation loss before stopping; the best epoch\'s weights are kept' },
  missing: { type: 'string', value: MISSING.join('|'), default: DATA_DEFAULTS.missing, help: 'missing cells (empty, NA, ?, …): refuse with row and column, drop the row, or impute (mean / most frequent)' },
  seed: { type: 'string', value: '<n>', default: DATA_DEFAULTS.seed, help: 'seed of the 80/20 split, the validation split, weight init and batch order' },
  backend: { type: 'string', value: BACKENDS.join('|'), default: DATA_DEFAULTS.backend, help: 'where the kernels run' },
  out: { type: 'string', value: '<dir>', default: DATA_DEFAULTS.out, help: 'folder for model.nc (the preprocessing is saved inside it)' },
  help,
};

const DATA_EVAL_FLAGS: Flags = {
  data: { type: 'string', value: '<file.csv>', help: 'a labelled CSV file with the training columns' },
  target: { type: 'string', value: '<column>', help: 'the label column (default: the one the model was trained on)' },
  missing: { type: 'string', value: MISSING.join('|'), help: 'missing cells (default: as in training: impute if it imputed, else refuse)' },
  backend: { type: 'string', value: BACKENDS.join('|'), default: 'wasm', help: 'where the kernels run' },
  help,
};

const DATA_PREDICT_FLAGS: Flags = {
  data: { type: 'string', value: '<file.csv>', help: 'rows to predict (the target column may be absent)' },
  out: { type: 'string', value: '<file.csv>', help: 'where to write the predictions (default: standard output)' },
  missing: DATA_EVAL_FLAGS.missing!,
  backend: DATA_EVAL_FLAGS.backend!,
  help,
};

export const DATA_TRAIN_HELP = `normcore train --data <file.csv> --target <column> [flags]
  Trains on your own table: numeric columns as numbers, other columns one-hot, the task
  inferred from the target (and said). 80/20 train/test split (stratified for classification),
  a Normalization adapted on the training rows, then Dense → BatchNorm → ReLU per hidden layer,
  Adam, early stopping on the validation loss. Writes <out>/model.nc and ends with
  "test accuracy …" (classification) or "test r2 …  rmse …  mae …" (regression).

${flagLines(DATA_TRAIN_FLAGS)}
`;

export const DATA_EVAL_HELP = `normcore eval <model.nc> --data <file.csv> [flags]
  Evaluates a model trained with --data on a labelled CSV file, with the preprocessing saved in it.

${flagLines(DATA_EVAL_FLAGS)}
`;

export const DATA_PREDICT_HELP = `normcore predict <model.nc> --data <file.csv> [--out predictions.csv] [flags]
  Predicts each row of a CSV file with a model trained with --data: writes the class and the
  probability of each class (classification) or the value (regression), one line per row.

${flagLines(DATA_PREDICT_FLAGS)}
`;

/** True when a command line asks for the --data form. */
export function wantsData(args: readonly string[]): boolean {
  return args.some((a) => a === '--data' || a.startsWith('--data='));
}

/** What model.nc carries besides the network: the encoding of raw rows and, for regression, the target's scale. */
interface Preprocessing {
  format: 'normcore-table-model';
  version: 1;
  encoding: DataEncoding;
  /** Regression: the network predicts (y − mean)/std. */
  targetScale?: { mean: number; std: number };
}

const pct = (x: number): string => `${(100 * x).toFixed(2)}%`;
const num = (x: number): string => (Math.abs(x) >= 1e5 || (x !== 0 && Math.abs(x) < 1e-3) ? x.toExponential(3) : x.toPrecision(4));

/** A data file's problems are command-line problems: one line, exit 2. */
async function reading<T>(command: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (e) {
    if (e instanceof DataError || (e instanceof Error && ((e as { code?: string }).code === 'ENOENT' || e instanceof TypeError))) {
      throw new UsageError(`${command}: ${e.message.split('\n')[0]}`);
    }
    throw e;
  }
}

/**
 * loadCsv, with every column that holds text from its first row on one-hot
 * encoded: such a cell adds its column to the categorical ones and the file
 * is read again (once per such column). Text met later in a numeric column
 * is an error naming row and column.
 */
async function loadTable(command: string, file: string, target: string, categorical: string[], missing: MissingPolicy, task: TaskKind | undefined): Promise<CsvData> {
  for (;;) {
    try {
      return await loadCsv(file, { target, categorical, missing, ...(task ? { task } : {}) });
    } catch (e) {
      const column = e instanceof DataError ? e.column : undefined;
      const notNumber = column !== undefined && column !== target && !categorical.includes(column) && /expected a number/.test(e instanceof Error ? e.message : '');
      // text from the first row on: a column of categories; a number first and text later: a bad cell
      if (notNumber && (e as DataError).row === 2) {
        categorical.push(column);
        continue;
      }
      if (notNumber) throw new UsageError(`${command}: ${(e as Error).message} (if ${JSON.stringify(column)} holds categories, pass --categorical ${column})`);
      return reading(command, () => Promise.reject(e));
    }
  }
}

function hiddenFlag(f: CommandLine): number[] {
  const raw = f.string('hidden');
  const parts = raw.split(',').map((s) => s.trim());
  if (!parts.every((p) => /^\+?\d+$/.test(p) && Number(p) >= 1 && Number(p) <= 65536)) f.bad('hidden', 'comma-separated layer widths in [1, 65536] (e.g. 64,64)', raw);
  return parts.map(Number);
}

function fraction(f: CommandLine, name: string): number {
  const raw = f.string(name);
  const v = Number(raw);
  if (!(v > 0 && v < 1)) f.bad(name, 'a fraction in (0, 1)', raw);
  return v;
}

function required(f: CommandLine, name: string, what: string): string {
  const v = f.given(name);
  if (v === undefined || v.trim() === '') f.fail(`--${name} is required (${what})`);
  return v!;
}

/** Mean and (population) standard deviation of regression targets. */
function scaleOf(y: Float32Array): { mean: number; std: number } {
  let mean = 0;
  for (const v of y) mean += v;
  mean /= y.length;
  let ss = 0;
  for (const v of y) ss += (v - mean) ** 2;
  const std = Math.sqrt(ss / y.length);
  return { mean, std: std > 0 ? std : 1 };
}

/** "test r2 0.861  rmse 290.1  mae 230.2" from values and predictions. */
function regressionLine(y: Float32Array, pred: Float32Array): string {
  const r = (name: 'r2' | 'rmse' | 'mae'): number => {
    const m = METRICS[name];
    const s = m.init(1);
    m.update(s as never, pred, y, y.length, 1);
    return m.result(s as never);
  };
  return `r2 ${r('r2').toFixed(3)}  rmse ${num(r('rmse'))}  mae ${num(r('mae'))}`;
}

function unscale(pred: Float32Array, s: { mean: number; std: number } | undefined): Float32Array {
  if (!s) return pred;
  return pred.map((v) => v * s.std + s.mean);
}

export async function dataTrain(args: string[], io: DataIO): Promise<number> {
  const command = 'normcore train';
  const f = parseFlags(command, args, DATA_TRAIN_FLAGS);
  if (f.help) { io.out(DATA_TRAIN_HELP); return 0; }
  const file = required(f, 'data', 'a CSV file');
  const target = required(f, 'target', 'the column to predict');
  const task = f.optional('task', (n) => f.choice(n, TASKS));
  const categorical = (f.given('categorical') ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  const hidden = hiddenFlag(f);
  const epochs = f.int('epochs', 1, 100_000);
  const batchSize = f.int('batch-size', 2, 1 << 20);
  const lr = f.positiveNumber('lr');
  const valFraction = fraction(f, 'validation-split');
  const patience = f.int('patience', 0, 100_000);
  const missing = f.choice('missing', MISSING);
  const seed = f.int('seed', 0, 0xffffffff);
  const backendName: BackendName = f.choice('backend', BACKENDS);
  const outDir = f.path('out', 'a folder path');
  const batchNorm = !f.is('no-bn');

  const table = await loadTable(command, file, target, categorical, missing, task);
  const { encoding } = table;
  const classification = table.target.kind === 'classification';
  const classes = table.target.classes ?? [];
  const inferred = task === undefined ? 'inferred' : 'as asked';
  io.out(`${file}: ${table.rows} rows, ${encoding.columns.length} feature columns → ${table.features} features` +
    `${categorical.length ? ` (one-hot: ${categorical.join(', ')})` : ''}${table.droppedRows ? `, ${table.droppedRows} rows with ${missing === 'impute' ? 'a missing target' : 'missing cells'} dropped` : ''}${missing === 'impute' ? ', missing features imputed' : ''}\n`);
  io.out(classification
    ? `task: classification of ${JSON.stringify(target)} into ${classes.length} classes (${inferred}): ${classes.slice(0, 10).join(', ')}${classes.length > 10 ? ', …' : ''}\n`
    : `task: regression of ${JSON.stringify(target)} (${inferred})\n`);
  if (classification && classes.length < 2) throw new UsageError(`${command}: the target ${JSON.stringify(target)} has a single class; nothing to learn`);

  // 80/20, then a validation part of the training rows (both stratified for classification)
  const F = table.features;
  const outer = trainTestSplit(table.x, table.y, { testFraction: 0.2, stratify: classification, seed, features: F });
  const inner = trainTestSplit(outer.xTrain, outer.yTrain, { testFraction: valFraction, stratify: classification, seed: seed + 1, features: F });
  const targetScale = classification ? undefined : scaleOf(inner.yTrain as Float32Array);
  const scaleY = (y: Float32Array): Float32Array => (targetScale ? y.map((v) => (v - targetScale.mean) / targetScale.std) : y);
  io.out(`split: ${inner.xTrain.length / F} training, ${inner.xTest.length / F} validation, ${outer.xTest.length / F} test rows (seed ${seed}${classification ? ', stratified' : ''})\n`);

  const backend = await createBackend(backendName);
  const norm = new Normalization(F);
  norm.adapt(inner.xTrain);
  const layers: Layer[] = [norm, ...mlp({ inputs: F, hidden, outputs: classification ? classes.length : 1, batchNorm })];
  const model = new Sequential(layers, { backend, seed });
  model.compile(classification
    ? { loss: 'softmaxCrossEntropy', optimizer: { type: 'adam', lr }, metrics: ['accuracy'] }
    : { loss: 'mse', optimizer: { type: 'adam', lr }, metrics: ['mae'] });
  model.preprocessing = { format: 'normcore-table-model', version: 1, encoding, ...(targetScale ? { targetScale } : {}) } satisfies Preprocessing;
  io.out(`model: ${[F, ...hidden, classification ? classes.length : 1].join('-')} (normalization, ${batchNorm ? 'batch norm, ' : ''}relu), adam lr ${lr}, batch ${Math.min(batchSize, inner.xTrain.length / F)}, up to ${epochs} epochs, patience ${patience}\n`);

  const stop = earlyStopping({ monitor: 'valLoss', patience, restoreBestWeights: true });
  const trainRows = inner.xTrain.length / F;
  const history = await model.fit(inner.xTrain, classification ? inner.yTrain : scaleY(inner.yTrain as Float32Array), {
    epochs, batchSize: Math.min(batchSize, trainRows), seed, shuffle: true,
    validationData: [inner.xTest, classification ? inner.yTest : scaleY(inner.yTest as Float32Array)],
    callbacks: [stop],
    onEpochEnd: (epoch, logs) => {
      if (epoch === 0 || (epoch + 1) % 50 === 0) {
        const extra = classification ? `  acc ${pct(logs.accuracy ?? NaN)}  val acc ${pct(logs.valAccuracy ?? NaN)}` : '';
        io.out(`epoch ${epoch + 1}  loss ${logs.loss.toFixed(4)}  val loss ${(logs.valLoss ?? NaN).toFixed(4)}${extra}\n`);
      }
    },
  });
  const ran = history.epoch.length;
  io.out(stop.stoppedEpoch >= 0
    ? `stopped at epoch ${ran}: no better validation loss for ${patience} epochs; kept the weights of epoch ${stop.bestEpoch + 1} (val loss ${stop.best.toFixed(4)})\n`
    : `trained ${ran} epochs; kept the weights of epoch ${stop.bestEpoch + 1} (val loss ${stop.best.toFixed(4)})\n`);

  await mkdir(outDir, { recursive: true });
  const modelPath = join(outDir, 'model.nc');
  await saveModel(model, modelPath);
  io.out(`saved: ${modelPath} (with the preprocessing)\n`);
  const testRows = outer.xTest.length / F;
  if (classification) {
    const e = model.evaluate(outer.xTest, outer.yTest);
    const acc = e.accuracy ?? NaN;
    io.out(`test accuracy ${pct(acc)} (${Math.round(acc * testRows)}/${testRows} rows), loss ${e.loss.toFixed(4)}\n`);
  } else {
    const pred = unscale(model.predict(outer.xTest), targetScale);
    io.out(`test ${regressionLine(outer.yTest as Float32Array, pred)}  (${testRows} rows)\n`);
  }
  model.dispose();
  return 0;
}

/** The preprocessing saved by `train --data`, or a one-line error. */
function preprocessingOf(command: string, model: Sequential, path: string): Preprocessing {
  const p = model.preprocessing as Partial<Preprocessing> | undefined;
  if (!p || p.format !== 'normcore-table-model') {
    throw new UsageError(`${command}: ${path} was not trained with --data (it holds no CSV preprocessing); for MNIST models leave out --data`);
  }
  return { ...(p as Preprocessing), encoding: checkEncoding(command, p.encoding) };
}

function modelPath(f: CommandLine): string {
  if (f.positionals.length !== 1) f.fail(`expected one model file, got ${f.positionals.length === 0 ? 'none' : f.positionals.map((p) => JSON.stringify(p)).join(' ')}`);
  return f.positionals[0]!;
}

export async function dataEval(args: string[], io: DataIO): Promise<number> {
  const command = 'normcore eval';
  const f = parseFlags(command, args, DATA_EVAL_FLAGS, { positionals: true });
  if (f.help) { io.out(DATA_EVAL_HELP); return 0; }
  const path = modelPath(f);
  const file = required(f, 'data', 'a labelled CSV file');
  const missing = f.optional('missing', (n) => f.choice(n, MISSING));
  const backend = f.choice('backend', BACKENDS);
  const model = await loadModel(path, { backend });
  const pre = preprocessingOf(command, model, path);
  const target = f.given('target') ?? pre.encoding.target.name;
  if (target !== pre.encoding.target.name) f.bad('target', `the column the model was trained on (${JSON.stringify(pre.encoding.target.name)})`, target);
  const rows = await reading(command, () => loadCsvEncoded(file, pre.encoding, missing ? { missing } : {}));
  if (!rows.y) throw new UsageError(`${command}: ${file} has no column ${JSON.stringify(target)} to evaluate against`);
  if (pre.encoding.target.kind === 'classification') {
    const e = model.evaluate(rows.x, rows.y);
    const acc = e.accuracy ?? NaN;
    io.out(`test accuracy ${pct(acc)} (${Math.round(acc * rows.rows)}/${rows.rows} rows), loss ${e.loss.toFixed(4)}\n`);
  } else {
    io.out(`test ${regressionLine(rows.y as Float32Array, unscale(model.predict(rows.x), pre.targetScale))}  (${rows.rows} rows)\n`);
  }
  model.dispose();
  return 0;
}

/** A CSV cell: quoted when it holds a comma, a quote or a line break. */
const cell = (s: string): string => (/[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s);

export async function dataPredict(args: string[], io: DataIO): Promise<number> {
  const command = 'normcore predict';
  const f = parseFlags(command, args, DATA_PREDICT_FLAGS, { positionals: true });
  if (f.help) { io.out(DATA_PREDICT_HELP); return 0; }
  const path = modelPath(f);
  const file = required(f, 'data', 'a CSV file of rows to predict');
  const out = f.optional('out', (n) => f.path(n, 'a file path'));
  const missing = f.optional('missing', (n) => f.choice(n, MISSING));
  const backend = f.choice('backend', BACKENDS);
  const model = await loadModel(path, { backend });
  const pre = preprocessingOf(command, model, path);
  const rows = await reading(command, () => loadCsvEncoded(file, pre.encoding, missing ? { missing } : {}));
  const t = pre.encoding.target;
  const lines: string[] = [];
  if (t.kind === 'classification') {
    const classes = t.classes ?? [];
    const p = model.predict(rows.x);
    const K = classes.length;
    const predicted = model.predictClasses(rows.x);
    lines.push([t.name, ...classes.map((c) => `p(${c})`)].map(cell).join(','));
    for (let r = 0; r < rows.rows; r++) {
      const probs = Array.from(p.subarray(r * K, (r + 1) * K), (v) => v.toFixed(4));
      lines.push([cell(classes[predicted[r]!]!), ...probs].join(','));
    }
  } else {
    const pred = unscale(model.predict(rows.x), pre.targetScale);
    lines.push(cell(t.name));
    for (const v of pred) lines.push(String(Number(v.toPrecision(6))));
  }
  const text = lines.join('\n') + '\n';
  if (out === undefined) io.out(text);
  else {
    await writeFile(out, text);
    io.out(`${rows.rows} predictions written to ${out}${rows.droppedRows ? ` (${rows.droppedRows} rows with missing cells dropped)` : ''}\n`);
  }
  model.dispose();
  return 0;
}
