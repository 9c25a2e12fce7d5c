#!/usr/bin/env node
/**
 * The normcore command:
 *   normcore train [flags]       train an MNIST classifier, write <out>/model.nc and <out>/training.svg
 *   normcore eval <model.nc>     loss and accuracy of a saved model on the test split
 *   normcore [<command>] --help, normcore help <command>
 *   normcore --version
 *
 * `main(argv, io)` returns the exit code (0 done, 1 failed, 2 bad command line)
 * and writes through `io`, so tests run it in-process.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import cliProgress from 'cli-progress';
import {
  createBackend, loadMnist, loadModel, mlp, MNIST_AVAILABLE, MNIST_CLASSES, MNIST_FEATURES, saveModel,
  Sequential, trainingCurvesSvg, type Layer, writeFileAtomic, checkpointFile, readCheckpoint, type BackendName,
  OPTIMIZER_TYPES, ACTIVATION_TYPES, mnistCnn,
} from './node/index.js';
import { experimentMain } from './experiment/cli.js';
import { dispatch, flagLines, parseFlags, UsageError, type CommandLine, type Flags } from './node/flags.js';
import { ensureWritableFolder } from './node/fs.js';
import { NormcoreError } from './errors.js';
import { EXPORT_HELP, IMPORT_HELP } from './cli/onnx-flags.js';
import { dataEval, dataPredict, dataTrain, wantsData, DATA_EVAL_HELP, DATA_PREDICT_HELP, DATA_TRAIN_HELP } from './cli-data.js';

// Relaxed SIMD (a fused multiply-add in matmul, ~20% faster here) is on by
// default in browsers and Node ≥ 22; on Node 20 and 21 createBackend('wasm')
// sets V8's flag itself before its first compile (test/relaxed-simd-node.test.ts).
// NORMCORE_SIMD=baseline keeps the plain SIMD build.

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

// ---------------------------------------------------------------------------
// Flags. One table per command drives parseArgs, the checks and --help (src/node/flags.ts).

const OPTIMIZERS = OPTIMIZER_TYPES;
const ACTIVATIONS = ACTIVATION_TYPES;
const BACKENDS = ['wasm', 'js'] as const;
const SCHEDULES = ['cosine', 'none'] as const;
const MODELS = ['mlp', 'cnn'] as const;

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

/**
 * What `--model cnn` changes of those defaults (flags given on the command
 * line win). Measured on the 8,000 / 2,000 split, seed 1: see the README.
 */
export const CNN_DEFAULTS = {
  epochs: '8',
  lr: '0.003',
  'weight-decay': '0.001',
} as const;

const SPLIT_FLAGS: Flags = {
  seed: { type: 'string', value: '<n>', default: TRAIN_DEFAULTS.seed, help: 'seed of the data split, weight init and batch order' },
  train: { type: 'string', value: '<n>', default: TRAIN_DEFAULTS.train, help: `training digits; train + test ≤ ${MNIST_AVAILABLE}` },
  test: { type: 'string', value: '<n>', default: TRAIN_DEFAULTS.test, help: 'held-out test digits' },
};

const TRAIN_FLAGS: Flags = {
  hidden: { type: 'string', value: '<n,n,…>', default: TRAIN_DEFAULTS.hidden, help: 'hidden layer widths, comma-separated' },
  activation: { type: 'string', value: ACTIVATIONS.join('|'), default: TRAIN_DEFAULTS.activation, help: 'activation after each hidden layer' },
  model: { type: 'string', value: MODELS.join('|'), default: 'mlp', help: `mlp: 784-[hidden]-10; cnn: conv 3×3×32 → BN → ReLU → maxpool 2 → conv 3×3×64 → BN → ReLU → maxpool 2 → dense 128 → BN → ReLU → dense 10 (its defaults: ${Object.entries(CNN_DEFAULTS).map(([k, v]) => `--${k} ${v}`).join(' ')})` },
  'no-bn': { type: 'boolean', help: 'no BatchNorm after the hidden Dense layers (default: Dense → BatchNorm → activation)' },
  optimizer: { type: 'string', value: OPTIMIZERS.join('|'), default: TRAIN_DEFAULTS.optimizer, help: 'optimizer' },
  lr: { type: 'string', value: '<n>', default: TRAIN_DEFAULTS.lr, help: 'learning rate, the peak one under a schedule' },
  'weight-decay': { type: 'string', value: '<n>', default: TRAIN_DEFAULTS['weight-decay'], help: 'L2 penalty, adds weight-decay × parameter to each gradient; 0 for none' },
  schedule: { type: 'string', value: SCHEDULES.join('|'), default: TRAIN_DEFAULTS.schedule, help: 'learning-rate schedule over all the optimizer steps (batches) of the fit; cosine decays --lr toward 0' },
  epochs: { type: 'string', value: '<n>', default: TRAIN_DEFAULTS.epochs, help: 'passes over the training digits' },
  'batch-size': { type: 'string', value: '<n>', default: TRAIN_DEFAULTS['batch-size'], help: 'digits per step' },
  backend: { type: 'string', value: BACKENDS.join('|'), default: TRAIN_DEFAULTS.backend, help: 'where the kernels run' },
  ...SPLIT_FLAGS,
  out: { type: 'string', value: '<dir>', default: TRAIN_DEFAULTS.out, help: 'folder for model.nc and training.svg' },
  checkpoint: { type: 'string', value: '<file>', help: 'after every epoch, write a checkpoint (weights, optimizer state, progress) to <file>, atomically' },
  resume: { type: 'string', value: '<file>', help: 'continue the run saved in checkpoint <file> (give the flags of that run); ends as an uninterrupted run would' },
  help: { type: 'boolean', help: 'show this help' },
};

const EVAL_FLAGS: Flags = {
  backend: TRAIN_FLAGS.backend!,
  ...SPLIT_FLAGS,
  seed: { ...SPLIT_FLAGS.seed!, help: 'seed of the data split, as given to train' },
  help: { type: 'boolean', help: 'show this help' },
};

const TRAIN_HELP = `normcore train [flags]
  Trains 784-[hidden]-10 (Dense → BatchNorm → activation per hidden layer, then Dense → softmax),
  or with --model cnn a convolutional network with batch norm, on the MNIST digits of the mnist package; writes <out>/model.nc and <out>/training.svg
  (the chart needs the optional packages vega and vega-lite).

${flagLines(TRAIN_FLAGS)}
`;

const EVAL_HELP = `normcore eval <model.nc> [flags]
  Loss and accuracy of a saved model on the test split (the same split as train for the same flags).

${flagLines(EVAL_FLAGS)}
`;

const HELP = `normcore: batch-normalized neural networks on WebAssembly

Usage:
  normcore train [flags]         train an MNIST classifier (npm start)
  normcore train --data <file.csv> --target <column>   train on your own table
  normcore eval <model.nc>       evaluate a saved model on the test split (or --data <file.csv>)
  normcore predict <model.nc> --data <file.csv>        predict the rows of a table
  normcore experiment bn-paper   reproduce the batch-norm paper's MNIST experiment (report with figures)
  normcore experiment bn-landscape   the second answer: Santurkar et al. 2018 (noisy BN, measured ICS, loss landscape)
  normcore export <model.nc> --onnx <out.onnx>   write a saved model as ONNX
  normcore import <in.onnx> --out <model.nc>     read an ONNX model (PyTorch, tf2onnx MLPs) into a model file
  normcore <command> --help      flags of one command (or: normcore help <command>)
  normcore --version             the installed version

${TRAIN_HELP}
${EVAL_HELP}
${DATA_TRAIN_HELP}
${DATA_EVAL_HELP}
${DATA_PREDICT_HELP}
${EXPORT_HELP}
${IMPORT_HELP}`;

/** The ONNX commands, loaded on use: they need the optional peer dependency @bufbuild/protobuf. */
async function onnxCommands(): Promise<typeof import('./cli/onnx.js')> {
  try {
    return await import('./cli/onnx.js');
  } catch (e) {
    if (/@bufbuild\/protobuf/.test(String((e as Error).message))) {
      throw new NormcoreError('normcore: ONNX export and import need the optional package @bufbuild/protobuf; install it with: npm install @bufbuild/protobuf@^2.17.0', 'UNAVAILABLE', { cause: e });
    }
    throw e;
  }
}

function hiddenFlag(f: CommandLine): number[] {
  const raw = f.string('hidden');
  const parts = raw.split(',').map((s) => s.trim());
  if (!parts.every((p) => /^\+?\d+$/.test(p) && Number(p) >= 1 && Number(p) <= 65536)) {
    f.bad('hidden', 'comma-separated layer widths in [1, 65536] (e.g. 256,256)', raw);
  }
  return parts.map(Number);
}

interface Split {
  seed: number;
  train: number;
  test: number;
}

function splitFlags(f: CommandLine): Split {
  const seed = f.int('seed', 0, 0xffffffff);
  const train = f.int('train', 1, MNIST_AVAILABLE - 1);
  const test = f.int('test', 1, MNIST_AVAILABLE - 1);
  if (train + test > MNIST_AVAILABLE) {
    f.fail(`--train + --test must be ≤ ${MNIST_AVAILABLE} (the digits available), got ${train} + ${test} = ${train + test}`);
  }
  return { seed, train, test };
}

// ---------------------------------------------------------------------------
// Output helpers.

const pct = (x: number): string => `${(100 * x).toFixed(2)}%`;

// ---------------------------------------------------------------------------
// Commands.

export interface TrainConfig extends Split {
  model: (typeof MODELS)[number];
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
  let f = parseFlags('normcore train', args, TRAIN_FLAGS);
  if (f.help) return 'help';
  const model = f.choice('model', MODELS);
  if (model === 'cnn') {
    for (const flag of ['hidden', 'activation']) if (f.given(flag) !== undefined) f.fail(`--${flag} applies to --model mlp only`);
    // the CNN's own defaults, for the flags not given
    const extra = Object.entries(CNN_DEFAULTS).filter(([k]) => f.given(k) === undefined).flatMap(([k, v]) => [`--${k}`, v]);
    f = parseFlags('normcore train', [...args, ...extra], TRAIN_FLAGS);
  }
  const out = f.path('out', 'a folder path');
  const c: TrainConfig = {
    checkpoint: f.optional('checkpoint', (n) => f.path(n, 'a file path')),
    resume: f.optional('resume', (n) => f.path(n, 'a file path')),
    model,
    hidden: hiddenFlag(f),
    activation: f.choice('activation', ACTIVATIONS),
    batchNorm: !f.is('no-bn'),
    optimizer: f.choice('optimizer', OPTIMIZERS),
    lr: f.positiveNumber('lr'),
    weightDecay: f.nonNegativeNumber('weight-decay'),
    schedule: f.choice('schedule', SCHEDULES),
    epochs: f.int('epochs', 1, 10_000),
    batchSize: f.int('batch-size', 1, MNIST_AVAILABLE),
    backend: f.choice('backend', BACKENDS),
    ...splitFlags(f),
    out,
  };
  // What fit would refuse only after the data is loaded, refused here (exit 2, nothing trained).
  if (c.batchSize > c.train) f.fail(`--batch-size must be ≤ --train (${c.train} digits), got ${c.batchSize}`);
  if (c.batchNorm && c.batchSize < 2) f.fail(`--batch-size must be ≥ 2 with batch norm (the variance of one sample is undefined; --no-bn allows 1), got ${c.batchSize}`);
  return c;
}

/** Output paths are checked before any training: an unwritable --out or --checkpoint folder is a usage error (exit 2), not a lost model. */
async function checkOutputs(command: string, paths: Array<[flag: string, folder: string]>): Promise<void> {
  for (const [flag, folder] of paths) {
    try {
      await ensureWritableFolder(command, flag, folder);
    } catch (e) {
      if (e instanceof NormcoreError && e.code === 'IO') throw new UsageError(e.message);
      throw e;
    }
  }
}

/** The MNIST image shape of `--model cnn` (H, W, C: a flat row is one image). */
export const MNIST_IMAGE = [28, 28, 1] as const;

/**
 * mlp: Dense → [BatchNorm] → activation per hidden width, then Dense to the classes.
 * cnn: issue 12's network; without batch norm the convolutions and the dense layer get biases.
 */
export function buildLayers(c: Pick<TrainConfig, 'hidden' | 'activation' | 'batchNorm'> & { model?: TrainConfig['model'] }): Layer[] {
  if (c.model === 'cnn') return mnistCnn({ batchNorm: c.batchNorm, classes: MNIST_CLASSES });
  return mlp({ inputs: MNIST_FEATURES, hidden: c.hidden, outputs: MNIST_CLASSES, activation: c.activation, batchNorm: c.batchNorm });
}

function netName(c: TrainConfig): string {
  return c.model === 'cnn' ? 'CNN 28×28×1 → conv32 → pool → conv64 → pool → 128 → 10' : [MNIST_FEATURES, ...c.hidden, MNIST_CLASSES].join('-');
}

function describeConfig(c: TrainConfig): string {
  const net = netName(c);
  const sched = c.schedule === 'none' ? '' : ` ${c.schedule}`;
  const wd = c.weightDecay > 0 ? `, weight decay ${c.weightDecay}` : '';
  return (
    `normcore train: ${net} (${c.batchNorm ? 'batch norm, ' : ''}${c.model === 'cnn' ? 'relu' : c.activation}), ${c.optimizer} lr ${c.lr}${sched}${wd}, ` +
    `batch ${c.batchSize} × ${c.epochs} epoch${c.epochs === 1 ? '' : 's'}\n` +
    `data: ${c.train} train / ${c.test} test digits (seed ${c.seed}), ${c.backend} backend`
  );
}

async function train(args: string[], io: CliIO): Promise<number> {
  const c = trainConfig(args);
  if (c === 'help') {
    io.out(TRAIN_HELP + '\n' + DATA_TRAIN_HELP);
    return 0;
  }
  await checkOutputs('normcore train', [['--out', c.out], ...(c.checkpoint === undefined ? [] : [['--checkpoint', dirname(resolve(c.checkpoint))] as [string, string]])]);
  io.out(describeConfig(c) + '\n');
  const data = loadMnist({ train: c.train, test: c.test, seed: c.seed });
  const backend = await createBackend(c.backend);
  const model = new Sequential(buildLayers(c), { backend, seed: c.seed, ...(c.model === 'cnn' ? { inputShape: MNIST_IMAGE } : {}) });
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
      const info = await Sequential.checkpointInfo(resumeFrom);
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
          `${epochLabel(logs.epoch + 1)}  loss ${logs.loss.toFixed(4)}  train acc ${pct(logs.accuracy ?? NaN)}` +
            `  test acc ${logs.valAccuracy === undefined ? '–' : pct(logs.valAccuracy)}` +
            `  ${logs.seconds.toFixed(2)} s  ${Math.round(logs.samplesPerSecond)} samples/s\n`,
        );
      },
    });
    const seconds = history.seconds.reduce((a, b) => a + b, 0);
    if (abort.signal.aborted) io.out(`stopped after ${history.loss.length} of ${c.epochs} epochs\n`);
    const final = model.evaluate(data.testImages, data.testLabels);
    const finalAccuracy = final.accuracy ?? NaN;
    io.out(
      `test accuracy ${pct(finalAccuracy)} (${Math.round(finalAccuracy * c.test)}/${c.test} digits), loss ${final.loss.toFixed(4)}; ` +
        `training took ${seconds.toFixed(2)} s on the ${c.backend} backend\n`,
    );

    const modelPath = join(c.out, 'model.nc');
    const chartPath = join(c.out, 'training.svg');
    await saveModel(model, modelPath);
    const title = `${c.model === 'cnn' ? 'CNN' : netName(c)} ${c.batchNorm ? 'with' : 'without'} batch norm, ${c.optimizer}, test accuracy ${pct(finalAccuracy)}`;
    io.out(`model: ${modelPath}\n`);
    try {
      await writeFileAtomic(chartPath, await trainingCurvesSvg(history, { title }));
      io.out(`chart: ${chartPath}\n`);
    } catch (e) {
      // The chart renderer is an optional dependency: without it the model is still trained and saved.
      if ((e as { code?: unknown }).code !== 'UNAVAILABLE') throw e;
      io.err(`chart: skipped, ${(e as Error).message}\n`);
    }
    return abort.signal.aborted ? 130 : 0;
  } finally {
    process.off('SIGINT', onSigint);
    stopBar();
  }
}

async function evaluate(args: string[], io: CliIO): Promise<number> {
  const f = parseFlags('normcore eval', args, EVAL_FLAGS, { positionals: true });
  const positionals = f.positionals;
  if (f.help) {
    io.out(EVAL_HELP + '\n' + DATA_EVAL_HELP);
    return 0;
  }
  if (positionals.length !== 1) {
    f.fail(`expected one model file, got ${positionals.length === 0 ? 'none' : positionals.map((p) => JSON.stringify(p)).join(' ')}`);
  }
  const path = positionals[0]!;
  const backend = f.choice('backend', BACKENDS);
  const split = splitFlags(f);
  const model = await loadModel(path, { backend });
  if (model.inFeatures !== MNIST_FEATURES || model.outFeatures !== MNIST_CLASSES) {
    f.fail(`${path} maps ${model.inFeatures} inputs to ${model.outFeatures} outputs; evaluating on the MNIST digits needs ${MNIST_FEATURES} → ${MNIST_CLASSES} (for a model of your own data, use --data and --target)`);
  }
  const data = loadMnist(split);
  const { loss, accuracy = NaN } = model.evaluate(data.testImages, data.testLabels);
  io.out(
    `${path}: test loss ${loss.toFixed(4)}, accuracy ${pct(accuracy)} ` +
      `(${Math.round(accuracy * split.test)}/${split.test} digits, seed ${split.seed}, ${backend} backend)\n`,
  );
  return 0;
}

/** The package's version, from its package.json (one folder up from dist/ and from src/). */
export function version(): string {
  return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

/** Runs the command line `argv` (without node and the script). Returns the exit code. */
export async function main(argv: string[], io: CliIO = processIO): Promise<number> {
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
    io.out(`normcore ${version()}\n`);
    return 0;
  }
  // `normcore help <command>` is `normcore <command> --help` (an unknown command is reported as such).
  if (argv.length === 2 && argv[0] === 'help') return main([argv[1]!, '--help'], io);
  return dispatch('normcore', argv, {
    help: HELP,
    commands: {
      train: (args) => (wantsData(args) ? dataTrain(args, io) : train(args, io)),
      eval: (args) => (wantsData(args) ? dataEval(args, io) : evaluate(args, io)),
      predict: (args) => dataPredict(args, io),
      experiment: (args) => experimentMain(args, { stdout: io.out, stderr: io.err }),
      export: async (args) => (await onnxCommands()).exportCommand(args, io),
      import: async (args) => (await onnxCommands()).importCommand(args, io),
    },
    unknown: (word) =>
      word.startsWith('-')
        ? `normcore: unknown flag ${word} before the command; expected train, eval, predict, experiment, export, import, --help or --version`
        : `normcore: unknown command ${JSON.stringify(word)}; expected train, eval, predict, experiment, export, import or --help`,
    out: io.out,
    err: io.err,
  });
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
