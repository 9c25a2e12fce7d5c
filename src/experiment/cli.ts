/**
 * The experiment commands (Node):
 *   normcore experiment bn-paper [flags]      (also: npm run experiment -- [flags])
 *   normcore experiment bn-landscape [flags]  (also: npm run experiment:landscape -- [flags])
 *
 * `experimentMain(argv, io)` takes the arguments after `experiment`, returns
 * the exit code (0 done, 1 failed, 2 bad command line) and writes through
 * `io`, so tests run it in-process.
 */
import { join } from 'node:path';
import { dispatch, flagLines, parseFlags, type Flags } from '../node/flags.js';
import { loadMnist } from '../node/mnist.js';
import { ensureWritableFolder, writeFileAtomic } from '../node/fs.js';
import { BN_PAPER_DEFAULTS, medianDrift, runBnPaper, type BnPaperProgress } from './bn-paper.js';
import { accuracyChartSvg, bnPaperHtml, bnPaperSummary, describeBnPaper, percentilesChartSvg } from './report.js';
import { BN_LANDSCAPE_HELP, bnLandscape } from './landscape-cli.js';

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

const FLAGS: Flags = {
  steps: { type: 'string', value: '<n>', default: String(BN_PAPER_DEFAULTS.steps), help: 'training steps (mini-batches) per network; the paper ran 50000' },
  lr: { type: 'string', value: '<x>', default: String(BN_PAPER_DEFAULTS.lr), help: 'learning rate of plain SGD, the same for both networks' },
  'batch-size': { type: 'string', value: '<n>', default: String(BN_PAPER_DEFAULTS.batchSize), help: 'digits per step' },
  seed: { type: 'string', value: '<n>', default: String(BN_PAPER_DEFAULTS.seed), help: 'seed of the data split, the weights and the batch order' },
  every: { type: 'string', value: '<n>', default: `steps/${BN_PAPER_DEFAULTS.checkpoints}`, help: 'steps between checkpoints (test accuracy and percentiles)' },
  out: { type: 'string', value: '<dir>', default: 'out', help: 'folder for bn-paper.html, the two SVG figures and bn-paper.json' },
  help: { type: 'boolean', help: 'show this help' },
};

export const BN_PAPER_HELP = `normcore experiment bn-paper [flags]
  Reproduces Figure 1 of Ioffe & Szegedy (2015), "Batch Normalization": trains 784-100-100-100-10
  (sigmoid, softmax cross-entropy, plain SGD, weights ~ N(0, ${BN_PAPER_DEFAULTS.initStd}²)) twice on the MNIST digits of
  the mnist package (${BN_PAPER_SPLIT.train} train / ${BN_PAPER_SPLIT.test} test), without and with BatchNorm before each sigmoid.
  Writes <out>/bn-paper.html (self-contained report), <out>/bn-paper-accuracy.svg,
  <out>/bn-paper-percentiles.svg and <out>/bn-paper.json (raw series); prints a summary.

${flagLines(FLAGS)}
`;

const HELP = `normcore experiment <name> [flags]

Experiments:
  bn-paper       why batch normalization works: the MNIST experiment of the batch-norm paper (Fig. 1)
  bn-landscape   the second answer: noisy BN, measured covariate shift and the loss landscape (Santurkar et al. 2018)

${BN_PAPER_HELP}
${BN_LANDSCAPE_HELP}`;

/** The parsed flags of bn-paper (`every` undefined: runBnPaper's default). Throws UsageError. Exported for tests. */
export function bnPaperConfig(args: string[]): 'help' | { steps: number; lr: number; batchSize: number; seed: number; every: number | undefined; out: string } {
  const f = parseFlags('normcore experiment bn-paper', args, FLAGS);
  if (f.help) return 'help';
  const steps = f.int('steps', 1, 10_000_000);
  const lr = f.positiveNumber('lr');
  const batchSize = f.int('batch-size', 2, BN_PAPER_SPLIT.train);
  const seed = f.int('seed', 0, 0xffffffff);
  // Its default, steps/checkpoints, is left to runBnPaper.
  const every = f.optional('every', (n) => f.int(n, 1, steps));
  const out = f.path('out', 'a folder path');
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
  await ensureWritableFolder('normcore experiment bn-paper', '--out', c.out);
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
  return dispatch('normcore experiment', argv, {
    help: HELP,
    commands: { 'bn-paper': (args) => bnPaper(args, io), 'bn-landscape': (args) => bnLandscape(args, io) },
    unknown: (word) => `normcore experiment: unknown experiment ${JSON.stringify(word)}; expected bn-paper, bn-landscape or --help`,
    out: io.stdout,
    err: io.stderr,
  });
}
