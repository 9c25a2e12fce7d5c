/**
 * `normcore experiment bn-landscape [flags]`: runs runBnLandscape on the
 * embedded MNIST digits and writes <out>/bn-landscape.html, three SVG
 * figures and <out>/bn-landscape.json. Dispatched from cli.ts.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { flagLines, parseFlags, type Flags } from '../node/flags.js';
import { writeFileAtomic } from '../node/fs.js';
import { loadMnist } from '../node/mnist.js';
import { BN_LANDSCAPE_DEFAULTS, runBnLandscape, type BnLandscapeResult } from './bn-landscape.js';
import { bnLandscapeHtml, bnLandscapeSummary, describeBnLandscape, landscapeAccuracySvg, landscapeIcsSvg, landscapeSvg, RUN_LABELS } from './landscape-report.js';

/** Where a command writes: whole chunks of text. */
interface IO {
  stdout(text: string): void;
  stderr(text: string): void;
}

/** The training digits (the split of bn-paper; only the training part is used). */
export const BN_LANDSCAPE_SPLIT = { train: 8000, test: 2000 } as const;

const D = BN_LANDSCAPE_DEFAULTS;
const FLAGS: Flags = {
  steps: { type: 'string', value: '<n>', default: String(D.steps), help: 'training steps (mini-batches of ' + D.batchSize + ') per network' },
  lr: { type: 'string', value: '<x>', default: String(D.lr), help: 'learning rate of plain SGD, the same for the four networks' },
  depth: { type: 'string', value: '<n>', default: String(D.depth), help: `hidden layers of ${D.width} ReLU units (≥ 2)` },
  seed: { type: 'string', value: '<n>', default: String(D.seed), help: 'seed of the data split, the weights, the batch order and the noise' },
  every: { type: 'string', value: '<n>', default: `steps/${D.checkpoints}`, help: 'steps between measurements (accuracy window, ICS, landscape)' },
  out: { type: 'string', value: '<dir>', default: 'out', help: 'folder for bn-landscape.html, the three SVG figures and bn-landscape.json' },
  help: { type: 'boolean', help: 'show this help' },
};

export const BN_LANDSCAPE_HELP = `normcore experiment bn-landscape [flags]
  Reproduces Santurkar et al. (2018), "How Does Batch Normalization Help Optimization?", on the MNIST
  digits of the mnist package (${BN_LANDSCAPE_SPLIT.train} training digits): a deep ReLU MLP trained with plain SGD four times
  from the same weights and batches (standard, batch norm, batch norm + noise, standard + noise), recording
  training accuracy (Fig. 2), internal covariate shift as their Definition 2.1 measures it (Fig. 3) and the
  loss landscape along the gradient (Fig. 4). Writes <out>/bn-landscape.html, <out>/bn-landscape-accuracy.svg,
  <out>/bn-landscape-ics.svg, <out>/bn-landscape-landscape.svg and <out>/bn-landscape.json; prints the medians.

${flagLines(FLAGS)}
`;

/** The parsed flags of bn-landscape (`every` undefined: runBnLandscape's default). Throws UsageError. Exported for tests. */
export function bnLandscapeConfig(args: string[]): 'help' | { steps: number; lr: number; depth: number; seed: number; every: number | undefined; out: string } {
  const f = parseFlags('normcore experiment bn-landscape', args, FLAGS);
  if (f.help) return 'help';
  const steps = f.int('steps', 1, 10_000_000);
  const lr = f.positiveNumber('lr');
  const depth = f.int('depth', 2, 100);
  const seed = f.int('seed', 0, 0xffffffff);
  const every = f.optional('every', (n) => f.int(n, 1, steps));
  const out = f.path('out', 'a folder path');
  return { steps, lr, depth, seed, every, out };
}

/** The JSON file: the fields of issue 17, plus the configuration and the bands of the figures. */
export function bnLandscapeJson(r: BnLandscapeResult, command: string): Record<string, unknown> {
  return { command, config: r.config, runs: r.runs, ics: r.ics, landscape: r.landscape, summary: r.summary };
}

export async function bnLandscape(args: string[], io: IO): Promise<number> {
  const t0 = performance.now();
  const c = bnLandscapeConfig(args);
  if (c === 'help') {
    io.stdout(BN_LANDSCAPE_HELP);
    return 0;
  }
  const data = loadMnist({ ...BN_LANDSCAPE_SPLIT, seed: c.seed });
  let current = '';
  const result = await runBnLandscape({
    data,
    steps: c.steps,
    lr: c.lr,
    depth: c.depth,
    seed: c.seed,
    ...(c.every !== undefined ? { every: c.every } : {}),
    backend: 'wasm',
    onProgress: (p) => {
      if (p.run !== current) {
        current = p.run;
        io.stderr(`training ${RUN_LABELS[p.run]}…\n`);
      }
      if (p.step === p.steps) io.stderr(`  step ${p.step}/${p.steps}  training acc ${(100 * p.trainAccuracy).toFixed(1)}%\n`);
    },
  });
  const command = ['normcore experiment bn-landscape', ...args].join(' ');
  const [accuracySvg, icsSvg, landSvg] = await Promise.all([landscapeAccuracySvg(result), landscapeIcsSvg(result), landscapeSvg(result)]);
  const summary = bnLandscapeSummary(result);
  await mkdir(c.out, { recursive: true });
  const paths = {
    html: join(c.out, 'bn-landscape.html'),
    accuracy: join(c.out, 'bn-landscape-accuracy.svg'),
    ics: join(c.out, 'bn-landscape-ics.svg'),
    landscape: join(c.out, 'bn-landscape-landscape.svg'),
    json: join(c.out, 'bn-landscape.json'),
  };
  await writeFileAtomic(paths.accuracy, accuracySvg);
  await writeFileAtomic(paths.ics, icsSvg);
  await writeFileAtomic(paths.landscape, landSvg);
  await writeFileAtomic(paths.json, JSON.stringify(bnLandscapeJson(result, command), null, 1) + '\n');
  await writeFileAtomic(paths.html, bnLandscapeHtml(result, { accuracySvg, icsSvg, landscapeSvg: landSvg, summary, command }));
  io.stdout(`bn-landscape: ${describeBnLandscape(result)}\n${summary}`);
  io.stdout(`report: ${paths.html}\nfigures: ${paths.accuracy}, ${paths.ics}, ${paths.landscape}\nseries: ${paths.json}\n`);
  io.stdout(`wall time ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  return 0;
}
