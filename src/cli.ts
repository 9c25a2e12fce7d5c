#!/usr/bin/env node
/**
 * The normcore command:
 *   normcore train [flags]       train an MNIST classifier, write <out>/model.nc and <out>/training.svg
 *   normcore eval <model.nc>     loss and accuracy of a saved model on the test split
 *   normcore [<command>] --help
 *
 * `main(argv, io)` returns the exit code (0 done, 1 failed, 2 bad command line)
 * and writes through `io`, so tests run it in-process.
 */
import { realpathSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import cliProgress from 'cli-progress';
import {
  createBackend, loadMnist, loadModel, mlp, MNIST_AVAILABLE, MNIST_CLASSES, MNIST_FEATURES, saveModel,
  Sequential, trainingCurvesSvg, type Layer, writeFileAtomic, checkpointFile, readCheckpoint, type BackendName,
} from './node/index.js';
import { experimentMain } from './experiment/cli.js';

// Relaxed SIMD (a fused multiply-add in matmul, ~20% faster here) is on by
// default in browsers and Node ≥ 22; Node 20 and 21 have it behind a V8 flag,
// which this command sets before any wasm is compiled. createBackend('wasm')
// then picks the relaxed build (tested in test/relaxed-simd.test.ts).
// NORMCORE_SIMD=baseline keeps the plain SIMD build.
if (Number(process.versions.node.split('.')[0]) < 22 && process.env.NORMCORE_SIMD !== 'baseline') {
  v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
}

/** Where the command writes. `tty`, if given, is a terminal stream for the progress bar. */
export interface CliIO {
  out(text: string): void;
  err(text: string): void;
  tty?: NodeJS.WriteStream | undefined;
}

const processIO: CliIO = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
  tty: process.stdout.isTTY ? process.stdout : undefined,
};

/** A bad command line: exit code 2 with this one-line message. */
class UsageError extends Error {}

// ---------------------------------------------------------------------------
// Flags. One table drives parseArgs, the checks and --help.

type FlagType = 'string' | 'boolean';
interface Flag {
  type: FlagType;
  /** Value placeholder in --help. */
  value?: string;
  default?: string;
  help: string;
}

const OPTIMIZERS = ['sgd', 'momentum', 'rmsprop', 'adam'] as const;
const ACTIVATIONS = ['relu', 'sigmoid', 'tanh'] as const;
const BACKENDS = ['wasm', 'js'] as const;
const SCHEDULES = ['cosine', 'none'] as const;

/** Defaults of `normcore train` (and so of `npm start`). */
export const TRAIN_DEFAULTS = {
  hidden: '256,256',
  activation: 'relu',
  optimizer: 'adam',
  lr: '0.004',
  'weight-decay': '0.001',
  schedule: 'cosine',
  epochs: '10',
  'batch-size': '64',
  backend: 'wasm',
  seed: '1',
  out: 'out',
  train: '8000',
  test: '2000',
} as const;

const SPLIT_FLAGS: Record<string, Flag> = {
  seed: { type: 'string', value: '<n>', default: TRAIN_DEFAULTS.seed, help: 'seed of the data split, weight init and batch order' },
  train: { type: 'string', value: '<n>', default: TRAIN_DEFAULTS.train, help: `training digits; train + test ≤ ${MNIST_AVAILABLE}` },
  test: { type: 'string', value: '<n>', default: TRAIN_DEFAULTS.test, help: 'held-out test digits' },
};

const TRAIN_FLAGS: Record<string, Flag> = {
  hidden: { type: 'string', value: '<n,n,…>', default: TRAIN_DEFAULTS.hidden, help: 'hidden layer widths, comma-separated' },
  activation: { type: 'string', value: ACTIVATIONS.join('|'), default: TRAIN_DEFAULTS.activation, help: 'activation after each hidden layer' },
  'no-bn': { type: 'boolean', help: 'no BatchNorm after the hidden Dense layers (default: Dense → BatchNorm → activation)' },
  optimizer: { type: 'string', value: OPTIMIZERS.join('|'), default: TRAIN_DEFAULTS.optimizer, help: 'optimizer' },
  lr: { type: 'string', value: '<n>', default: TRAIN_DEFAULTS.lr, help: 'learning rate, the peak one under a schedule' },
  'weight-decay': { type: 'string', value: '<n>', default: TRAIN_DEFAULTS['weight-decay'], help: 'L2 penalty, adds weight-decay × parameter to each gradient; 0 for none' },
  schedule: { type: 'string', value: SCHEDULES.join('|'), default: TRAIN_DEFAULTS.schedule, help: 'learning-rate schedule over the epochs' },
  epochs: { type: 'string', value: '<n>', default: TRAIN_DEFAULTS.epochs, help: 'passes over the training digits' },
  'batch-size': { type: 'string', value: '<n>', default: TRAIN_DEFAULTS['batch-size'], help: 'digits per step' },
  backend: { type: 'string', value: BACKENDS.join('|'), default: TRAIN_DEFAULTS.backend, help: 'where the kernels run' },
  ...SPLIT_FLAGS,
  out: { type: 'string', value: '<dir>', default: TRAIN_DEFAULTS.out, help: 'folder for model.nc and training.svg' },
  checkpoint: { type: 'string', value: '<file>', help: 'after every epoch, write a checkpoint (weights, optimizer state, progress) to <file>, atomically' },
  resume: { type: 'string', value: '<file>', help: 'continue the run saved in checkpoint <file> (give the flags of that run); ends as an uninterrupted run would' },
  help: { type: 'boolean', help: 'show this help' },
};

const EVAL_FLAGS: Record<string, Flag> = {
  backend: TRAIN_FLAGS.backend!,
  ...SPLIT_FLAGS,
  seed: { ...SPLIT_FLAGS.seed!, help: 'seed of the data split, as given to train' },
  help: { type: 'boolean', help: 'show this help' },
};

function flagLines(flags: Record<string, Flag>): string {
  const rows = Object.entries(flags).map(([name, f]) => [`  ${name === 'help' ? '-h, ' : ''}--${name}${f.value ? ` ${f.value}` : ''}`, f.help + (f.default !== undefined ? ` (default: ${f.default})` : '')] as const);
  const width = Math.max(...rows.map(([l]) => l.length)) + 2;
  return rows.map(([l, r]) => l.padEnd(width) + r).join('\n');
}

const TRAIN_HELP = `normcore train [flags]
  Trains 784-[hidden]-10 (Dense → BatchNorm → activation per hidden layer, then Dense → softmax)
  on the MNIST digits of the mnist package; writes <out>/model.nc and <out>/training.svg.

${flagLines(TRAIN_FLAGS)}
`;

const EVAL_HELP = `normcore eval <model.nc> [flags]
  Loss and accuracy of a saved model on the test split (the same split as train for the same flags).

${flagLines(EVAL_FLAGS)}
`;

const HELP = `normcore: batch-normalized neural networks on WebAssembly

Usage:
  normcore train [flags]         train an MNIST classifier (npm start)
  normcore eval <model.nc>       evaluate a saved model on the test split
  normcore experiment bn-paper   reproduce the batch-norm paper's MNIST experiment (report with figures)
  normcore <command> --help      flags of one command

${TRAIN_HELP}
${EVAL_HELP}`;

type Parsed = { values: Record<string, string | boolean | undefined>; positionals: string[] };

function parse(command: string, args: string[], flags: Record<string, Flag>, positionals: boolean): Parsed {
  const options = Object.fromEntries(
    Object.entries(flags).map(([name, f]) => [name, name === 'help' ? { type: f.type, short: 'h' } : { type: f.type }]),
  );
  // parseArgs takes "--lr -1" for two flags; a negative number after a flag that takes a value is its value.
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const next = args[i + 1];
    if (a.startsWith('--') && !a.includes('=') && flags[a.slice(2)]?.type === 'string' && next !== undefined && /^-(\d|\.\d)/.test(next)) {
      joined.push(`${a}=${next}`);
      i++;
    } else {
      joined.push(a);
    }
  }
  args = joined;
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: positionals }) as Parsed;
  } catch (e) {
    const err = e as Error & { code?: string };
    const known = Object.keys(flags).map((n) => `--${n}`).join(', ');
    const flag = /'(-[^' ]*)/.exec(err.message)?.[1];
    if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      throw new UsageError(`normcore ${command}: unknown flag ${flag ?? err.message}; expected one of ${known}`);
    }
    if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      const name = flag?.replace(/^-+/, '') ?? '';
      const f = flags[name];
      if (f?.type === 'boolean') throw new UsageError(`normcore ${command}: ${flag} takes no value`);
      throw new UsageError(`normcore ${command}: ${flag} needs a value (${f?.value ?? 'a value'}), got none`);
    }
    if (err.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
      const arg = /'([^']*)'/.exec(err.message)?.[1];
      throw new UsageError(`normcore ${command}: unexpected argument ${JSON.stringify(arg ?? err.message)}; it takes flags only`);
    }
    throw new UsageError(`normcore ${command}: ${err.message.split('\n')[0]}`);
  }
}

// ---------------------------------------------------------------------------
// Values: each check names the flag, what it expects and what it got.

function bad(command: string, flag: string, expected: string, got: string): never {
  throw new UsageError(`normcore ${command}: --${flag} must be ${expected}, got ${JSON.stringify(got)}`);
}

function intFlag(command: string, flag: string, raw: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = /^\+?\d+$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!(n >= min && n <= max)) {
    bad(command, flag, max === Number.MAX_SAFE_INTEGER ? `an integer ≥ ${min}` : `an integer in [${min}, ${max}]`, raw);
  }
  return n;
}

function positiveNumberFlag(command: string, flag: string, raw: string): number {
  const n = /^\+?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!(n > 0 && Number.isFinite(n))) bad(command, flag, 'a positive number', raw);
  return n;
}

function nonNegativeNumberFlag(command: string, flag: string, raw: string): number {
  const n = /^\+?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!(n >= 0 && Number.isFinite(n))) bad(command, flag, 'a number ≥ 0', raw);
  return n;
}

function choiceFlag<T extends string>(command: string, flag: string, raw: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(raw)) bad(command, flag, `one of ${choices.join(', ')}`, raw);
  return raw as T;
}

function hiddenFlag(command: string, raw: string): number[] {
  const parts = raw.split(',').map((s) => s.trim());
  if (!parts.every((p) => /^\+?\d+$/.test(p) && Number(p) >= 1 && Number(p) <= 65536)) {
    bad(command, 'hidden', 'comma-separated layer widths in [1, 65536] (e.g. 256,256)', raw);
  }
  return parts.map(Number);
}

function str(values: Parsed['values'], name: string, fallback: string): string {
  const v = values[name];
  return typeof v === 'string' ? v : fallback;
}

interface Split {
  seed: number;
  train: number;
  test: number;
}

function splitFlags(command: string, values: Parsed['values']): Split {
  const seed = intFlag(command, 'seed', str(values, 'seed', TRAIN_DEFAULTS.seed), 0, 0xffffffff);
  const train = intFlag(command, 'train', str(values, 'train', TRAIN_DEFAULTS.train), 1, MNIST_AVAILABLE - 1);
  const test = intFlag(command, 'test', str(values, 'test', TRAIN_DEFAULTS.test), 1, MNIST_AVAILABLE - 1);
  if (train + test > MNIST_AVAILABLE) {
    throw new UsageError(`normcore ${command}: --train + --test must be ≤ ${MNIST_AVAILABLE} (the digits available), got ${train} + ${test} = ${train + test}`);
  }
  return { seed, train, test };
}

// ---------------------------------------------------------------------------
// Output helpers.

const pct = (x: number): string => `${(100 * x).toFixed(2)}%`;

// ---------------------------------------------------------------------------
// Commands.

export interface TrainConfig extends Split {
  hidden: number[];
  activation: (typeof ACTIVATIONS)[number];
  batchNorm: boolean;
  optimizer: (typeof OPTIMIZERS)[number];
  lr: number;
  weightDecay: number;
  schedule: (typeof SCHEDULES)[number];
  epochs: number;
  batchSize: number;
  backend: BackendName;
  out: string;
  /** --checkpoint: file written after every epoch. */
  checkpoint?: string | undefined;
  /** --resume: checkpoint file to continue from. */
  resume?: string | undefined;
}

/** Reads `train` flags into a config (throws UsageError on a bad one). Exported for tests. */
export function trainConfig(args: string[]): TrainConfig | 'help' {
  const cmd = 'train';
  const { values } = parse(cmd, args, TRAIN_FLAGS, false);
  if (values.help) return 'help';
  const out = str(values, 'out', TRAIN_DEFAULTS.out);
  if (out.trim() === '') bad(cmd, 'out', 'a folder path', out);
  const file = (flag: 'checkpoint' | 'resume'): string | undefined => {
    const v = values[flag];
    if (typeof v === 'string' && v.trim() === '') bad(cmd, flag, 'a file path', v);
    return typeof v === 'string' ? v : undefined;
  };
  return {
    checkpoint: file('checkpoint'),
    resume: file('resume'),
    hidden: hiddenFlag(cmd, str(values, 'hidden', TRAIN_DEFAULTS.hidden)),
    activation: choiceFlag(cmd, 'activation', str(values, 'activation', TRAIN_DEFAULTS.activation), ACTIVATIONS),
    batchNorm: !values['no-bn'],
    optimizer: choiceFlag(cmd, 'optimizer', str(values, 'optimizer', TRAIN_DEFAULTS.optimizer), OPTIMIZERS),
    lr: positiveNumberFlag(cmd, 'lr', str(values, 'lr', TRAIN_DEFAULTS.lr)),
    weightDecay: nonNegativeNumberFlag(cmd, 'weight-decay', str(values, 'weight-decay', TRAIN_DEFAULTS['weight-decay'])),
    schedule: choiceFlag(cmd, 'schedule', str(values, 'schedule', TRAIN_DEFAULTS.schedule), SCHEDULES),
    epochs: intFlag(cmd, 'epochs', str(values, 'epochs', TRAIN_DEFAULTS.epochs), 1, 10_000),
    batchSize: intFlag(cmd, 'batch-size', str(values, 'batch-size', TRAIN_DEFAULTS['batch-size']), 1, MNIST_AVAILABLE),
    backend: choiceFlag(cmd, 'backend', str(values, 'backend', TRAIN_DEFAULTS.backend), BACKENDS),
    ...splitFlags(cmd, values),
    out,
  };
}

/** Dense → [BatchNorm] → activation per hidden width, then Dense to the classes. */
export function buildLayers(c: Pick<TrainConfig, 'hidden' | 'activation' | 'batchNorm'>): Layer[] {
  return mlp({ inputs: MNIST_FEATURES, hidden: c.hidden, outputs: MNIST_CLASSES, activation: c.activation, batchNorm: c.batchNorm });
}

function describeConfig(c: TrainConfig): string {
  const net = [MNIST_FEATURES, ...c.hidden, MNIST_CLASSES].join('-');
  const sched = c.schedule === 'none' ? '' : ` ${c.schedule}`;
  const wd = c.weightDecay > 0 ? `, weight decay ${c.weightDecay}` : '';
  return (
    `normcore train: ${net} (${c.batchNorm ? 'batch norm, ' : ''}${c.activation}), ${c.optimizer} lr ${c.lr}${sched}${wd}, ` +
    `batch ${c.batchSize} × ${c.epochs} epoch${c.epochs === 1 ? '' : 's'}\n` +
    `data: ${c.train} train / ${c.test} test digits (seed ${c.seed}), ${c.backend} backend`
  );
}

async function train(args: string[], io: CliIO): Promise<number> {
  const c = trainConfig(args);
  if (c === 'help') {
    io.out(TRAIN_HELP);
    return 0;
  }
  io.out(describeConfig(c) + '\n');
  const data = loadMnist({ train: c.train, test: c.test, seed: c.seed });
  const backend = await createBackend(c.backend);
  const model = new Sequential(buildLayers(c), { backend, seed: c.seed });
  model.compile({
    loss: 'softmaxCrossEntropy',
    optimizer: { type: c.optimizer, lr: c.lr, weightDecay: c.weightDecay },
    ...(c.schedule === 'cosine' ? { lrSchedule: { type: 'cosine' as const } } : {}),
  });

  const epochWidth = String(c.epochs).length;
  const epochLabel = (e: number): string => `epoch ${String(e).padStart(epochWidth)}/${c.epochs}`;
  let bar: cliProgress.SingleBar | undefined;
  let barEpoch = -1;
  const stopBar = (): void => {
    bar?.stop();
    bar = undefined;
  };
  // Ctrl-C stops after the current batch and still saves the model; a second one quits.
  const abort = new AbortController();
  const onSigint = (): void => {
    if (abort.signal.aborted) process.exit(130);
    abort.abort();
    stopBar();
    io.err('stopping after this batch (Ctrl-C again to quit at once)\n');
  };
  if (io === processIO) process.on('SIGINT', onSigint);
  try {
    const resumeFrom = c.resume === undefined ? undefined : await readCheckpoint(c.resume);
    if (resumeFrom) {
      const info = Sequential.checkpointInfo(resumeFrom);
      io.out(`resuming from ${c.resume}: ${info.epochsDone} of ${info.epochs} epochs done\n`);
    }
    const history = await model.fit(data.trainImages, data.trainLabels, {
      ...(c.checkpoint === undefined ? {} : { checkpoint: checkpointFile(c.checkpoint) }),
      ...(resumeFrom === undefined ? {} : { resumeFrom }),
      epochs: c.epochs,
      batchSize: c.batchSize,
      shuffle: true,
      seed: c.seed,
      validationData: [data.testImages, data.testLabels],
      signal: abort.signal,
      onBatchEnd: io.tty
        ? (_batch, logs) => {
            if (abort.signal.aborted) return;
            if (!bar || barEpoch !== logs.epoch) {
              stopBar();
              barEpoch = logs.epoch;
              bar = new cliProgress.SingleBar(
                {
                  stream: io.tty,
                  format: `${epochLabel(logs.epoch + 1)} {bar} {value}/{total} batches  loss {loss}`,
                  barsize: 30,
                  hideCursor: true,
                  clearOnComplete: true,
                  fps: 20,
                },
                cliProgress.Presets.shades_classic,
              );
              bar.start(logs.batches, 0, { loss: '…' });
            }
            bar.update(logs.batch + 1, { loss: logs.loss.toFixed(4) });
          }
        : undefined,
      onEpochEnd: (_epoch, logs) => {
        stopBar();
        io.out(
          `${epochLabel(logs.epoch + 1)}  loss ${logs.loss.toFixed(4)}  train acc ${pct(logs.accuracy)}` +
            `  test acc ${logs.valAccuracy === undefined ? '–' : pct(logs.valAccuracy)}` +
            `  ${logs.seconds.toFixed(2)} s  ${Math.round(logs.samplesPerSecond)} samples/s\n`,
        );
      },
    });
    const seconds = history.seconds.reduce((a, b) => a + b, 0);
    if (abort.signal.aborted) io.out(`stopped after ${history.loss.length} of ${c.epochs} epochs\n`);
    const final = model.evaluate(data.testImages, data.testLabels);
    io.out(
      `test accuracy ${pct(final.accuracy)} (${Math.round(final.accuracy * c.test)}/${c.test} digits), loss ${final.loss.toFixed(4)}; ` +
        `training took ${seconds.toFixed(2)} s on the ${c.backend} backend\n`,
    );

    await mkdir(c.out, { recursive: true });
    const modelPath = join(c.out, 'model.nc');
    const chartPath = join(c.out, 'training.svg');
    await saveModel(model, modelPath);
    const title = `${[MNIST_FEATURES, ...c.hidden, MNIST_CLASSES].join('-')} ${c.batchNorm ? 'with' : 'without'} batch norm, ${c.optimizer}, test accuracy ${pct(final.accuracy)}`;
    await writeFileAtomic(chartPath, await trainingCurvesSvg(history, { title }));
    io.out(`model: ${modelPath}\nchart: ${chartPath}\n`);
    return abort.signal.aborted ? 130 : 0;
  } finally {
    process.off('SIGINT', onSigint);
    stopBar();
  }
}

async function evaluate(args: string[], io: CliIO): Promise<number> {
  const cmd = 'eval';
  const { values, positionals } = parse(cmd, args, EVAL_FLAGS, true);
  if (values.help) {
    io.out(EVAL_HELP);
    return 0;
  }
  if (positionals.length !== 1) {
    throw new UsageError(`normcore eval: expected one model file, got ${positionals.length === 0 ? 'none' : positionals.map((p) => JSON.stringify(p)).join(' ')}`);
  }
  const path = positionals[0]!;
  const backend = choiceFlag(cmd, 'backend', str(values, 'backend', TRAIN_DEFAULTS.backend), BACKENDS);
  const split = splitFlags(cmd, values);
  const model = await loadModel(path, { backend });
  const data = loadMnist(split);
  const { loss, accuracy } = model.evaluate(data.testImages, data.testLabels);
  io.out(
    `${path}: test loss ${loss.toFixed(4)}, accuracy ${pct(accuracy)} ` +
      `(${Math.round(accuracy * split.test)}/${split.test} digits, seed ${split.seed}, ${backend} backend)\n`,
  );
  return 0;
}

/** Runs the command line `argv` (without node and the script). Returns the exit code. */
export async function main(argv: string[], io: CliIO = processIO): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined) {
      io.err(HELP);
      return 2;
    }
    if (command === '--help' || command === '-h' || command === 'help') {
      io.out(HELP);
      return 0;
    }
    if (command === 'train') return await train(rest, io);
    if (command === 'eval') return await evaluate(rest, io);
    if (command === 'experiment') return await experimentMain(rest, { stdout: io.out, stderr: io.err });
    throw new UsageError(
      command.startsWith('-')
        ? `normcore: unknown flag ${command} before the command; expected train, eval, experiment or --help`
        : `normcore: unknown command ${JSON.stringify(command)}; expected train, eval, experiment or --help`,
    );
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(e.message + '\n');
      return 2;
    }
    io.err(`normcore ${command}: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}

function isEntry(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntry()) {
  process.exitCode = await main(process.argv.slice(2));
}
