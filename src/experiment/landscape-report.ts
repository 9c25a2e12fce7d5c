/**
 * The bn-landscape report: three figures drawn by Vega-Lite and rendered to
 * SVG by Vega (headless), a text summary, and one self-contained HTML page.
 * No files are written here (see cli.ts).
 *
 *   accuracy figure   training accuracy of the four runs (paper Fig. 2)
 *   ics figure        ICS ℓ2 and cosine per step, two layers, with and without BN (Fig. 3)
 *   landscape figure  loss-range band, gradient-change band, β-smoothness (Fig. 4)
 */
import { lineChartSvg, lineChartsSvg, renderVegaLiteSvg } from '../node/chart.js';
import { MEASURED, RUN_NAMES, type BnLandscapeResult, type RunName } from './bn-landscape.js';

export const RUN_LABELS: Record<RunName, string> = {
  standard: 'standard',
  batchnorm: 'batch norm',
  noisyBatchnorm: 'batch norm + noise',
  standardNoisy: 'standard + noise',
};

const col = (rows: ReadonlyArray<readonly number[]>, j: number): number[] => rows.map((r) => r[j]!);

/** Training accuracy of the four runs (Fig. 2). */
export function landscapeAccuracySvg(r: BnLandscapeResult): Promise<string> {
  return lineChartSvg({
    title: 'Training accuracy (Fig. 2)',
    series: RUN_NAMES.map((n) => ({ name: RUN_LABELS[n], x: col(r.runs[n].trainAccuracy, 0), y: col(r.runs[n].trainAccuracy, 1) })),
    xLabel: 'training step',
    yLabel: 'training accuracy',
    yFormat: '.0%',
    width: 520,
    height: 260,
  });
}

/** ICS ℓ2 and cosine per step for each measured layer, with and without BN (Fig. 3). */
export function landscapeIcsSvg(r: BnLandscapeResult): Promise<string> {
  const charts = r.config.icsLayers.flatMap((layer, j) => (['l2', 'cosine'] as const).map((m) => ({
    title: `Layer ${layer}: ${m === 'l2' ? '‖G − G′‖₂' : 'cos(G, G′)'}`,
    series: MEASURED.map((n) => ({ name: RUN_LABELS[n], x: col(r.ics[n][m], 0), y: col(r.ics[n][m], j + 1) })),
    xLabel: 'training step',
    yLabel: m === 'l2' ? 'ℓ2 difference' : 'cosine',
    width: 480,
    height: 180,
  })));
  return lineChartsSvg(charts, { title: 'Internal covariate shift as Definition 2.1 measures it (Fig. 3)' });
}

/** The three landscape panels: loss band, gradient-change band (log y) and β-smoothness (log y) (Fig. 4). */
export function landscapeSvg(r: BnLandscapeResult): Promise<string> {
  const rows = MEASURED.flatMap((n) => {
    const l = r.landscape[n];
    return l.lossBand.map((b, i) => ({
      network: RUN_LABELS[n], step: b[0], lossMin: b[1], lossMax: b[2],
      changeMin: l.gradientChangeBand[i]![1], changeMax: l.gradientChangeBand[i]![2], beta: l.betaSmoothness[i]![1],
    }));
  });
  const x = { field: 'step', type: 'quantitative', title: 'training step' };
  const color = { field: 'network', type: 'nominal', title: null, sort: MEASURED.map((n) => RUN_LABELS[n]) };
  const band = (lo: string, hi: string, title: string, log: boolean) => ({
    width: 480, height: 200, title,
    layer: [
      { mark: { type: 'area', opacity: 0.3 }, encoding: { x, y: { field: lo, type: 'quantitative', title, scale: log ? { type: 'log' } : { zero: false } }, y2: { field: hi }, color } },
      { mark: { type: 'line' }, encoding: { x, y: { field: hi, type: 'quantitative' }, color } },
      { mark: { type: 'line', strokeDash: [4, 3] }, encoding: { x, y: { field: lo, type: 'quantitative' }, color } },
    ],
  });
  return renderVegaLiteSvg({
    title: { text: `The loss landscape along the gradient, step sizes [½, 4] × lr (Fig. 4)`, anchor: 'start', fontSize: 13 },
    data: { values: rows },
    vconcat: [
      band('lossMin', 'lossMax', 'loss L(w − ηg): range over η', false),
      band('changeMin', 'changeMax', '‖∇L(w − ηg) − ∇L(w)‖₂ over η', true),
      {
        width: 480, height: 200, title: 'effective β-smoothness',
        mark: { type: 'line', point: true },
        encoding: { x, y: { field: 'beta', type: 'quantitative', title: 'max ‖Δ∇L‖ / ‖ηg‖', scale: { type: 'log' } }, color },
      },
    ],
  });
}

const pct = (x: number): string => (Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : '–');
const g3 = (x: number): string => (Number.isFinite(x) ? x.toPrecision(3) : '–');

/** One-line description of the configuration. */
export function describeBnLandscape(r: BnLandscapeResult): string {
  const c = r.config;
  return (
    `${[c.features, ...Array(c.depth).fill(c.width), c.classes].join('-')} ReLU net, softmax cross-entropy, plain SGD lr ${c.lr}, batch ${c.batchSize}, ` +
    `${c.steps} steps, measurements every ${c.every} on a fixed batch of ${c.evalRows} training digits, ${c.etas.length} step sizes, ` +
    `${c.train} training digits, seed ${c.seed}, ${c.backend} backend`
  );
}

/** The text summary: the medians the issue asks for. */
export function bnLandscapeSummary(r: BnLandscapeResult): string {
  const s = r.summary;
  const lines: string[] = [];
  lines.push('final training accuracy: ' + RUN_NAMES.map((n) => `${RUN_LABELS[n]} ${pct(s.finalTrainAccuracy[n])}${r.runs[n].divergedAt !== undefined ? ` (diverged at step ${r.runs[n].divergedAt})` : ''}`).join(', '));
  lines.push('internal covariate shift (Def. 2.1), median over the measurements:');
  for (const n of MEASURED) {
    lines.push(`  ${RUN_LABELS[n].padEnd(11)} ` + s.ics[n].layer.map((l, j) => `layer ${l}: ℓ2 ${g3(s.ics[n].l2[j]!)}, cos ${g3(s.ics[n].cosine[j]!)}`).join(';  '));
  }
  lines.push('loss landscape along the gradient, median (first quarter of training in brackets):');
  for (const n of MEASURED) {
    const a = s.landscape[n], e = s.landscapeEarly[n];
    lines.push(`  ${RUN_LABELS[n].padEnd(11)} loss range ${g3(a.lossRange)} [${g3(e.lossRange)}], gradient change ${g3(a.gradientChange)} [${g3(e.gradientChange)}], β-smoothness ${g3(a.betaSmoothness)} [${g3(e.betaSmoothness)}]`);
  }
  lines.push(`runs: ` + RUN_NAMES.map((n) => `${RUN_LABELS[n]} ${r.runs[n].seconds.toFixed(1)} s`).join(', ') + `; total ${s.seconds.toFixed(1)} s`);
  return lines.join('\n') + '\n';
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const inlineSvg = (svg: string): string => svg.replace(/^<\?xml[^>]*>\s*/, '');

export interface BnLandscapeReportParts {
  accuracySvg: string;
  icsSvg: string;
  landscapeSvg: string;
  summary: string;
  command: string;
}

/** The self-contained HTML report: no scripts, no external files. */
export function bnLandscapeHtml(r: BnLandscapeResult, p: BnLandscapeReportParts): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>normcore: why batch normalization works, the second answer (bn-landscape)</title>
<style>
  body { font: 15px/1.5 system-ui, sans-serif; max-width: 1000px; margin: 2em auto; padding: 0 1em; color: #222; }
  h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; }
  figure { margin: 1em 0; overflow-x: auto; } figure svg { max-width: 100%; height: auto; }
  pre, code { font: 13px/1.4 ui-monospace, monospace; background: #f5f5f5; }
  pre { padding: 0.8em; overflow-x: auto; }
</style>
</head>
<body>
<h1>Why batch normalization works, the second answer: Santurkar et al. (2018) on MNIST</h1>
<p>Santurkar, Tsipras, Ilyas and Madry, "How Does Batch Normalization Help Optimization?" (NeurIPS 2018), tested
the internal-covariate-shift story. Four networks are trained here from the same initial weights on the same batches:
a standard network, the same with batch normalization, batch normalization followed by noise that shifts and rescales
every unit's distribution anew each step (their Algorithm 1: μ<sub>j</sub> ~ U(−0.5, 0.5), σ<sub>j</sub> ~ U(1, 1.25),
per sample m ~ U(μ<sub>j</sub> ± 0.1), s ~ N(σ<sub>j</sub>, 0.1²)), and the standard network with the same noise.
For the standard and the batch-normalized network, internal covariate shift is measured as their Definition 2.1 does
(the change of a layer's gradient when the layers below take their update), and the loss landscape along the gradient
as in their Section 3.2, on a fixed batch of training digits, through the model's own kernels.</p>
<p><strong>Setup:</strong> ${escapeHtml(describeBnLandscape(r))}.<br>
<strong>Command:</strong> <code>${escapeHtml(p.command)}</code></p>
<h2>Training accuracy</h2>
<p>The mean accuracy on the training batches of each measurement window, as the network saw them (noise included).</p>
<figure>${inlineSvg(p.accuracySvg)}</figure>
<h2>Internal covariate shift, measured</h2>
<p>G is layer i's weight gradient at step t; G′ the same after the layers below i have taken step t's update.</p>
<figure>${inlineSvg(p.icsSvg)}</figure>
<h2>The loss landscape</h2>
<p>At each measurement, with g the gradient on the fixed batch, the loss and gradient at w − ηg for step sizes η over
[½, 4] × the learning rate: the band of losses, the band of gradient changes, and the largest gradient change per unit
of distance moved (effective β-smoothness).</p>
<figure>${inlineSvg(p.landscapeSvg)}</figure>
<h2>Summary</h2>
<pre>${escapeHtml(p.summary)}</pre>
</body>
</html>
`;
}
