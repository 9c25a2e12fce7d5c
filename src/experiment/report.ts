/**
 * The bn-paper report: two figures drawn by Vega-Lite and rendered to SVG by
 * Vega (headless), a text summary, and one self-contained HTML page holding
 * them all. No files are written here (see cli.ts).
 *
 *   accuracy figure    test accuracy against steps, both networks (paper Fig. 1a)
 *   percentiles figure 15/50/85th percentiles of one sigmoid's input against
 *                      steps, one panel per network on a shared y axis (Figs. 1b, 1c)
 */
import { lineChartSvg, renderVegaLiteSvg } from '../node/chart.js';
import { medianDrift, type BnPaperResult, type BnPaperSeries } from './bn-paper.js';

const NAMES = { plain: 'without batch norm', batchnorm: 'with batch norm' } as const;
const SHORT = { plain: 'without BN', batchnorm: 'with BN' } as const;

function networkLabel(r: BnPaperResult): string {
  return [r.config.features, ...r.config.hidden, r.config.classes].join('-');
}

/** Test accuracy against training steps for both networks (Fig. 1a). */
export function accuracyChartSvg(r: BnPaperResult): Promise<string> {
  return lineChartSvg({
    title: 'Test accuracy (Fig. 1a)',
    series: (['batchnorm', 'plain'] as const).map((n) => ({ name: NAMES[n], x: r[n].step, y: r[n].accuracy })),
    xLabel: 'training step',
    yLabel: 'test accuracy',
    yFormat: '.0%',
    width: 520,
    height: 280,
  });
}

/**
 * 15/50/85th percentiles of the watched sigmoid's input against steps: a
 * shaded 15–85 band and three lines, one panel per network, shared y axis
 * (Figs. 1b and 1c).
 */
export function percentilesChartSvg(r: BnPaperResult): Promise<string> {
  const rows = (['plain', 'batchnorm'] as const).flatMap((n) => {
    const s = r[n];
    return s.step.map((step, i) => ({ network: NAMES[n], step, p15: s.p15[i]!, p50: s.p50[i]!, p85: s.p85[i]! }));
  });
  const x = { field: 'step', type: 'quantitative', title: 'training step' };
  return renderVegaLiteSvg({
    title: {
      text: `Input to sigmoid #${r.config.unit} of the last hidden layer over the test digits (Figs. 1b, 1c)`,
      anchor: 'start',
      fontSize: 13,
    },
    data: { values: rows },
    facet: {
      column: { field: 'network', type: 'nominal', title: null, sort: [NAMES.plain, NAMES.batchnorm], header: { labelFontSize: 13, labelFontWeight: 'bold' } },
    },
    spec: {
      width: 340,
      height: 260,
      layer: [
        {
          mark: { type: 'area', opacity: 0.15, color: '#4c78a8' },
          encoding: { x, y: { field: 'p15', type: 'quantitative', title: 'sigmoid input' }, y2: { field: 'p85' } },
        },
        {
          transform: [
            { fold: ['p85', 'p50', 'p15'], as: ['key', 'value'] },
            { calculate: "datum.key === 'p50' ? '50th percentile' : '15th, 85th percentiles'", as: 'percentile' },
          ],
          mark: { type: 'line', clip: true },
          encoding: {
            x,
            y: { field: 'value', type: 'quantitative', title: 'sigmoid input' },
            detail: { field: 'key' },
            color: {
              field: 'percentile',
              type: 'nominal',
              title: null,
              sort: ['50th percentile', '15th, 85th percentiles'],
              scale: { domain: ['50th percentile', '15th, 85th percentiles'], range: ['#1f4e79', '#7fb0d8'] },
              legend: { orient: 'bottom', labelLimit: 400 },
            },
            strokeWidth: { condition: { test: "datum.key === 'p50'", value: 2.5 }, value: 1.5 },
          },
        },
      ],
    },
  });
}

const pct = (x: number): string => (Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : '–');
const num = (x: number): string => (Number.isFinite(x) ? (x >= 0 ? ' ' : '') + x.toFixed(2) : '–');

/** Indices of the checkpoints nearest to 5%, 10%, 25%, 50% and 100% of the run (distinct, in order). */
export function summaryCheckpoints(s: Pick<BnPaperSeries, 'step'>, steps: number): number[] {
  if (s.step.length === 0) return [];
  const picks = new Set<number>();
  for (const f of [0.05, 0.1, 0.25, 0.5, 1]) {
    const target = f * steps;
    let best = 0;
    s.step.forEach((st, i) => { if (Math.abs(st - target) < Math.abs(s.step[best]! - target)) best = i; });
    picks.add(best);
  }
  return [...picks].sort((a, b) => a - b);
}

/** One-line description of the configuration. */
export function describeBnPaper(r: BnPaperResult): string {
  const c = r.config;
  return (
    `${networkLabel(r)} sigmoid net, softmax cross-entropy, plain SGD lr ${c.lr}, batch ${c.batchSize}, ` +
    `weights ~ N(0, ${c.initStd}²), ${c.steps} steps, checkpoint every ${c.every}, ` +
    `${c.train} train / ${c.test} test digits, seed ${c.seed}, ${c.backend} backend`
  );
}

/** The text summary: accuracy at a few checkpoints and how far the median sigmoid input moved. */
export function bnPaperSummary(r: BnPaperResult): string {
  const idx = summaryCheckpoints(r.batchnorm.step.length >= r.plain.step.length ? r.batchnorm : r.plain, r.config.steps);
  const steps = idx.map((i) => (r.batchnorm.step[i] ?? r.plain.step[i])!);
  const colW = Math.max(7, ...steps.map((s) => String(s).length + 1));
  const lines: string[] = [];
  lines.push('test accuracy   step' + steps.map((s) => String(s).padStart(colW)).join(''));
  for (const n of ['plain', 'batchnorm'] as const) {
    const s = r[n];
    lines.push(`  ${SHORT[n].padEnd(18)}` + idx.map((i) => pct(s.accuracy[i] ?? NaN).padStart(colW)).join(''));
  }
  lines.push(`median input of sigmoid #${r.config.unit} in the last hidden layer over the ${r.config.test} test digits, checkpoints ${r.plain.step[0] ?? '–'}…${r.plain.step[r.plain.step.length - 1] ?? '–'}:`);
  for (const n of ['plain', 'batchnorm'] as const) {
    const s = r[n];
    const d = medianDrift(s);
    const k = s.p50.length - 1;
    lines.push(
      `  ${SHORT[n].padEnd(11)} max−min ${d.range.toFixed(2)}, first → last ${num(s.p50[0]!).trim()} → ${num(s.p50[k]!).trim()} (drift ${d.drift >= 0 ? '+' : ''}${d.drift.toFixed(2)}); ` +
        `15–85 band ${(s.p85[0]! - s.p15[0]!).toFixed(2)} → ${(s.p85[k]! - s.p15[k]!).toFixed(2)} wide` +
        (s.divergedAt !== undefined ? `; DIVERGED at step ${s.divergedAt}` : ''),
    );
  }
  const rs = r.batchnorm.runningStats;
  if (rs && rs.p50.length > 0) {
    const d = medianDrift(rs);
    lines.push(`  (with BN, through the running statistics used at test time: max−min ${d.range.toFixed(2)}, drift ${d.drift >= 0 ? '+' : ''}${d.drift.toFixed(2)})`);
  }
  lines.push(`training + checkpoints: ${SHORT.plain} ${r.plain.seconds.toFixed(1)} s, ${SHORT.batchnorm} ${r.batchnorm.seconds.toFixed(1)} s`);
  return lines.join('\n') + '\n';
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** An inline SVG without its XML prolog, so it can sit inside HTML. */
function inlineSvg(svg: string): string {
  return svg.replace(/^<\?xml[^>]*>\s*/, '');
}

export interface BnPaperReportParts {
  accuracySvg: string;
  percentilesSvg: string;
  summary: string;
  /** The command line that made the report, shown in the page. */
  command: string;
}

/** The self-contained HTML report: no scripts, no external files. */
export function bnPaperHtml(r: BnPaperResult, parts: BnPaperReportParts): string {
  const rows = r.plain.step.map((step, i) => {
    const b = r.batchnorm;
    const j = b.step.indexOf(step);
    const trio = (q: { p15: number[]; p50: number[]; p85: number[] } | undefined, k: number): string =>
      q && k >= 0 && k < q.p50.length ? `<td>${q.p15[k]!.toFixed(2)} / ${q.p50[k]!.toFixed(2)} / ${q.p85[k]!.toFixed(2)}</td>` : '<td>–</td>';
    const cell = (s: BnPaperSeries, k: number): string => `<td>${k < 0 ? '–' : pct(s.accuracy[k]!)}</td>${trio(s, k)}`;
    return `<tr><td>${step}</td>${cell(r.plain, i)}${cell(b, j)}${trio(b.runningStats, j)}</tr>`;
  });
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>normcore: why batch normalization works (bn-paper)</title>
<style>
  body { font: 15px/1.5 system-ui, sans-serif; max-width: 1000px; margin: 2em auto; padding: 0 1em; color: #222; }
  h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; }
  figure { margin: 1em 0; overflow-x: auto; } figure svg { max-width: 100%; height: auto; }
  pre, code { font: 13px/1.4 ui-monospace, monospace; background: #f5f5f5; }
  pre { padding: 0.8em; overflow-x: auto; }
  table { border-collapse: collapse; font-size: 13px; } td, th { padding: 2px 10px; text-align: right; border-bottom: 1px solid #eee; }
  details { margin-top: 1em; }
</style>
</head>
<body>
<h1>Why batch normalization works: the MNIST experiment of Ioffe &amp; Szegedy (2015), Figure 1</h1>
<p>The same network is trained twice from the same initial weights on the same batches: once as is, once with
batch normalization between each hidden Dense layer and its sigmoid. Batch normalization keeps the distribution
of each sigmoid's input steady while the layers below it change, so the network trains faster.</p>
<p><strong>Setup:</strong> ${escapeHtml(describeBnPaper(r))}.<br>
<strong>Command:</strong> <code>${escapeHtml(parts.command)}</code></p>
<h2>Test accuracy</h2>
<figure>${inlineSvg(parts.accuracySvg)}</figure>
<h2>The input to one sigmoid over training</h2>
<p>Percentiles over the test digits of the input to one fixed sigmoid (unit #${r.config.unit} of the last hidden layer),
as the sigmoid receives it while training. Without batch normalization this is the Dense layer's output. With it,
it is the Dense output normalized with batch statistics (the test digits taken as one batch), scaled by γ and shifted
by β. The table below also lists the batch-normalized input through the running statistics that the model uses at
test time: it has the same centre but jitters more, because batch normalization leaves the mean and scale of the Dense
output free to wander and the running average lags behind them.</p>
<figure>${inlineSvg(parts.percentilesSvg)}</figure>
<h2>Summary</h2>
<pre>${escapeHtml(parts.summary)}</pre>
<details><summary>All checkpoints</summary>
<table>
<tr><th>step</th><th>accuracy<br>without BN</th><th>15 / 50 / 85th pct<br>without BN</th><th>accuracy<br>with BN</th><th>15 / 50 / 85th pct<br>with BN</th><th>15 / 50 / 85th pct with BN,<br>running statistics</th></tr>
${rows.join('\n')}
</table>
</details>
</body>
</html>
`;
}
