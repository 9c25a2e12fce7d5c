/**
 * The experiment command (Node):
 *   normcore experiment bn-paper [flags]    (also: npm run experiment -- [flags])
 *
 * `experimentMain(argv, io)` takes the arguments after `experiment`, returns
 * the exit code (0 done, 1 failed, 2 bad command line) and writes through
 * `io`, so tests run it in-process.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadMnist } from '../node/mnist.js';
import { writeFileAtomic } from '../node/model-file.js';
import { BN_PAPER_DEFAULTS, medianDrift, runBnPaper, type BnPaperProgress } from './bn-paper.js';
import { accuracyChartSvg, bnPaperHtml, bnPaperSummary, describeBnPaper, percentilesChartSvg } from './report.js';

/** Where the command writes: whole chunks of text. */
export interface ExperimentIO {
  stdout(text: string): void;
  stderr(text: string): void;
}

const processIO: ExperimentIO = {
  stdout: (t) => void process.stdout.write(t),
  stderr: (t) => void process.stderr.write(t),
};

/** The digits the experiment uses (the split of `normcore train`'s defaults). */
export const BN_PAPER_SPLIT = { train: 8000, test: 2000 } as const;

class UsageError extends Error {}

interface Flag {
  type: 'string' | 'boolean';
  value?: string;
  default?: string;
  help: string;
}

const FLAGS: Record<string, Flag> = {
  steps: { type: 'string', value: '<n>', default: String(BN_PAPER_DEFAULTS.steps), help: 'training steps (mini-batches) per network; the paper ran 50000' },
  lr: { type: 'string', value: '<x>', default: String(BN_PAPER_DEFAULTS.lr), help: 'learning rate of plain SGD, the same for both networks' },
  'batch-size': { type: 'string', value: '<n>', default: String(BN_PAPER_DEFAULTS.batchSize), help: 'digits per step' },
  seed: { type: 'string', value: '<n>', default: String(BN_PAPER_DEFAULTS.seed), help: 'seed of the data split, the weights and the batch order' },
  every: { type: 'string', value: '<n>', default: `steps/${BN_PAPER_DEFAULTS.checkpoints}`, help: 'steps between checkpoints (test accuracy and percentiles)' },
  out: { type: 'string', value: '<dir>', default: 'out', help: 'folder for bn-paper.html, the two SVG figures and bn-paper.json' },
  help: { type: 'boolean', help: 'show this help' },
};

function flagLines(): string {
  const rows = Object.entries(FLAGS).map(
    ([name, f]) => [`  ${name === 'help' ? '-h, ' : ''}--${name}${f.value ? ` ${f.value}` : ''}`, f.help + (f.default !== undefined ? ` (default: ${f.default})` : '')] as const,
  );
  const width = Math.max(...rows.map(([l]) => l.length)) + 2;
  return rows.map(([l, r]) => l.padEnd(width) + r).join('\n');
}

export const BN_PAPER_HELP = `normcore experiment bn-paper [flags]
  Reproduces Figure 1 of Ioffe & Szegedy (2015), "Batch Normalization": trains 784-100-100-100-10
  (sigmoid, softmax cross-entropy, plain SGD, weights ~ N(0, ${BN_PAPER_DEFAULTS.initStd}²)) twice on the MNIST digits of
  the mnist package (${BN_PAPER_SPLIT.train} train / ${BN_PAPER_SPLIT.test} test), without and with BatchNorm before each sigmoid.
  Writes <out>/bn-paper.html (self-contained report), <out>/bn-paper-accuracy.svg,
  <out>/bn-paper-percentiles.svg and <out>/bn-paper.json (raw series); prints a summary.

${flagLines()}
`;

const HELP = `normcore experiment <name> [flags]

Experiments:
  bn-paper     why batch normalization works: the MNIST experiment of the batch-norm paper (Fig. 1)

${BN_PAPER_HELP}`;

function parse(args: string[]): Record<string, string | boolean | undefined> {
  const options = Object.fromEntries(Object.entries(FLAGS).map(([name, f]) => [name, name === 'help' ? { type: f.type, short: 'h' } : { type: f.type }]));
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values as Record<string, string | boolean | undefined>;
  } catch (e) {
    const err = e as Error & { code?: string };
    const flag = /'(-[^' ]*)/.exec(err.message)?.[1];
    const cmd = 'normcore experiment bn-paper';
    if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      throw new UsageError(`${cmd}: unknown flag ${flag ?? err.message}; expected one of ${Object.keys(FLAGS).map((n) => `--${n}`).join(', ')}`);
    }
    if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      const f = FLAGS[flag?.replace(/^-+/, '') ?? ''];
      throw new UsageError(f?.type === 'boolean' ? `${cmd}: ${flag} takes no value` : `${cmd}: ${flag} needs a value (${f?.value ?? 'a value'}), got none`);
    }
    if (err.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
      const arg = /'([^']*)'/.exec(err.message)?.[1];
      throw new UsageError(`${cmd}: unexpected argument ${JSON.stringify(arg ?? err.message)}; it takes flags only`);
    }
    throw new UsageError(`${cmd}: ${err.message.split('\n')[0]}`);
  }
}

function bad(flag: string, expected: string, got: string): never {
  throw new UsageError(`normcore experiment bn-paper: --${flag} must be ${expected}, got ${JSON.stringify(got)}`);
}

function intFlag(values: Record<string, unknown>, flag: string, min: number, max: number): number | undefined {
  const raw = values[flag];
  if (typeof raw !== 'string') return undefined;
  const n = /^\+?\d+$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!(n >= min && n <= max)) bad(flag, `an integer in [${min}, ${max}]`, raw);
  return n;
}

/** The parsed flags of bn-paper (undefined: the default). Throws UsageError. Exported for tests. */
export function bnPaperConfig(args: string[]): 'help' | { steps: number; lr: number; batchSize: number; seed: number; every: number | undefined; out: string } {
  const values = parse(args);
  if (values.help) return 'help';
  const steps = intFlag(values, 'steps', 1, 10_000_000) ?? BN_PAPER_DEFAULTS.steps;
  let lr: number = BN_PAPER_DEFAULTS.lr;
  if (typeof values.lr === 'string') {
    const raw = values.lr;
    lr = /^\+?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(raw.trim()) ? Number(raw) : NaN;
    if (!(lr > 0 && Number.isFinite(lr))) bad('lr', 'a positive number', raw);
  }
  const batchSize = intFlag(values, 'batch-size', 2, BN_PAPER_SPLIT.train) ?? BN_PAPER_DEFAULTS.batchSize;
  const seed = intFlag(values, 'seed', 0, 0xffffffff) ?? BN_PAPER_DEFAULTS.seed;
  const every = intFlag(values, 'every', 1, steps);
  const out = typeof values.out === 'string' ? values.out : 'out';
  if (out.trim() === '') bad('out', 'a folder path', out);
  return { steps, lr, batchSize, seed, every, out };
}

async function bnPaper(args: string[], io: ExperimentIO): Promise<number> {
  const t0 = performance.now();
  const c = bnPaperConfig(args);
  if (c === 'help') {
    io.stdout(BN_PAPER_HELP);
    return 0;
  }
  const data = loadMnist({ ...BN_PAPER_SPLIT, seed: c.seed });
  // Progress on stderr, about five lines per network.
  const reportEvery = Math.max(1, Math.round(c.steps / 5));
  let nextReport = reportEvery;
  let current = '';
  const onProgress = (p: BnPaperProgress): void => {
    if (p.network !== current) {
      current = p.network;
      nextReport = reportEvery;
      io.stderr(`training ${p.network === 'plain' ? 'without' : 'with'} batch norm…\n`);
    }
    if (p.step >= nextReport || p.step === p.steps) {
      while (nextReport <= p.step) nextReport += reportEvery;
      io.stderr(`  step ${String(p.step).padStart(String(p.steps).length)}/${p.steps}  test acc ${(100 * p.accuracy).toFixed(1)}%  sigmoid input p15/p50/p85 ${p.p15.toFixed(2)} / ${p.p50.toFixed(2)} / ${p.p85.toFixed(2)}\n`);
    }
  };
  const result = await runBnPaper({
    data,
    steps: c.steps,
    lr: c.lr,
    batchSize: c.batchSize,
    seed: c.seed,
    ...(c.every !== undefined ? { every: c.every } : {}),
    backend: 'wasm',
    onProgress,
  });
  const command = ['normcore experiment bn-paper', ...args].join(' ');
  const [accuracySvg, percentilesSvg] = await Promise.all([accuracyChartSvg(result), percentilesChartSvg(result)]);
  const summary = bnPaperSummary(result);
  await mkdir(c.out, { recursive: true });
  const paths = {
    html: join(c.out, 'bn-paper.html'),
    accuracy: join(c.out, 'bn-paper-accuracy.svg'),
    percentiles: join(c.out, 'bn-paper-percentiles.svg'),
    json: join(c.out, 'bn-paper.json'),
  };
  const json = { command, ...result, medianDrift: { plain: medianDrift(result.plain), batchnorm: medianDrift(result.batchnorm) } };
  await writeFileAtomic(paths.accuracy, accuracySvg);
  await writeFileAtomic(paths.percentiles, percentilesSvg);
  await writeFileAtomic(paths.json, JSON.stringify(json, null, 1) + '\n');
  await writeFileAtomic(paths.html, bnPaperHtml(result, { accuracySvg, percentilesSvg, summary, command }));
  io.stdout(`bn-paper: ${describeBnPaper(result)}\n${summary}`);
  io.stdout(`report: ${paths.html}\nfigures: ${paths.accuracy}, ${paths.percentiles}\nseries: ${paths.json}\n`);
  io.stdout(`wall time ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  return 0;
}

/** Runs `experiment <name> [flags]` given the arguments after `experiment`. Returns the exit code. */
export async function experimentMain(argv: string[], io: ExperimentIO = processIO): Promise<number> {
  const [name, ...rest] = argv;
  try {
    if (name === undefined) {
      io.stderr(HELP);
      return 2;
    }
    if (name === '--help' || name === '-h' || name === 'help') {
      io.stdout(HELP);
      return 0;
    }
    if (name === 'bn-paper') return await bnPaper(rest, io);
    throw new UsageError(`normcore experiment: unknown experiment ${JSON.stringify(name)}; expected bn-paper or --help`);
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(e.message + '\n');
      return 2;
    }
    io.stderr(`normcore experiment ${name}: ${(e as Error).message ?? String(e)}\n`);
    return 1;
  }
}
