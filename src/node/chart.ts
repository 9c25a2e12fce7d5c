/**
 * Line charts as standalone SVG, drawn by Vega-Lite and rendered headless by
 * Vega (no browser, no canvas): `lineChartSvg` for one chart with several
 * named series, `lineChartsSvg` for charts stacked in one picture.
 *
 * vega and vega-lite are optional peer dependencies (11 MB and 80 packages a
 * user who only trains does not need): they are imported on the first chart,
 * and a missing one gives an 'UNAVAILABLE' NormcoreError that says what to install.
 */
import type * as Vega from 'vega';
import type * as VegaLite from 'vega-lite';
import { describe, typeError, rangeError, NormcoreError } from '../errors.js';

/** The versions this package is tested with (package.json devDependencies), for the install hint. */
const RENDERER_INSTALL = 'npm install vega@6.4.0 vega-lite@6.4.3';

let renderer: Promise<{ vega: typeof Vega; vl: typeof VegaLite }> | undefined;

/** Imports vega and vega-lite once; a missing one gives an 'UNAVAILABLE' error that names it and how to install it. */
function loadRenderer(): Promise<{ vega: typeof Vega; vl: typeof VegaLite }> {
  renderer ??= Promise.all([import('vega'), import('vega-lite')]).then(
    ([vega, vl]) => ({ vega, vl }),
    (cause: unknown) => {
      renderer = undefined; // installing the packages later in the same process is allowed to work
      const code = (cause as { code?: unknown } | null)?.code;
      const message = cause instanceof Error ? cause.message : String(cause);
      if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND' || /Cannot find (module|package)/.test(message)) {
        throw new NormcoreError(
          `charts need the optional packages vega and vega-lite, which are not installed (${message.split('\n')[0]}); install them with: ${RENDERER_INSTALL}`,
          'UNAVAILABLE',
          { cause },
        );
      }
      throw cause;
    },
  );
  return renderer;
}

export interface LineSeries {
  /** Legend label. */
  name: string;
  x: ArrayLike<number>;
  /** Same length as x; a non-finite value leaves a gap. */
  y: ArrayLike<number>;
}

export interface LineChartOptions {
  title?: string;
  series: LineSeries[];
  xLabel?: string;
  yLabel?: string;
  /** Fixed y range [lo, hi]; default: fitted to the data. */
  yDomain?: [number, number];
  /** Format of the y axis labels (d3-format), e.g. '.0%'. Default: Vega's. */
  yFormat?: string;
  /** Plot size in pixels (axes and legend come on top). Default 480 × 240. */
  width?: number;
  height?: number;
}

type Row = { series: string; x: number; y: number | null };

function layer(where: string, chart: LineChartOptions): Record<string, unknown> {
  if (chart === null || typeof chart !== 'object' || !Array.isArray(chart.series) || chart.series.length === 0) {
    throw typeError(`${where}: series must be a non-empty array, got ${describe(chart?.series)}`);
  }
  const rows: Row[] = [];
  const names: string[] = [];
  chart.series.forEach((s, k) => {
    if (typeof s?.name !== 'string') throw typeError(`${where}: series[${k}].name must be a string, got ${describe(s?.name)}`);
    if (s.x?.length !== s.y?.length) {
      throw rangeError(`${where}: series[${k}] ("${s.name}") needs x and y of the same length, got ${s.x?.length} and ${s.y?.length}`);
    }
    names.push(s.name);
    for (let i = 0; i < s.x.length; i++) {
      const y = s.y[i]!;
      rows.push({ series: s.name, x: s.x[i]!, y: Number.isFinite(y) ? y : null });
    }
  });
  if (chart.yDomain !== undefined) {
    const d = chart.yDomain;
    if (!Array.isArray(d) || d.length !== 2 || !d.every(Number.isFinite) || !(d[0] < d[1])) {
      throw rangeError(`${where}: yDomain must be [lo, hi] with lo < hi, got ${JSON.stringify(d)}`);
    }
  }
  return {
    ...(chart.title ? { title: chart.title } : {}),
    width: chart.width ?? 480,
    height: chart.height ?? 240,
    data: { values: rows },
    mark: { type: 'line', point: true, clip: chart.yDomain !== undefined },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: chart.xLabel ?? 'x', axis: { tickMinStep: 1 } },
      y: {
        field: 'y',
        type: 'quantitative',
        title: chart.yLabel ?? 'y',
        scale: chart.yDomain ? { domain: chart.yDomain, zero: false } : { zero: false },
        ...(chart.yFormat ? { axis: { format: chart.yFormat } } : {}),
      },
      color: { field: 'series', type: 'nominal', title: null, sort: names },
    },
  };
}

/** Compiles a Vega-Lite spec and renders it headless to an SVG document (white background). */
export async function renderVegaLiteSvg(spec: Record<string, unknown>): Promise<string> {
  const { vega, vl } = await loadRenderer();
  const compiled = vl.compile({ $schema: 'https://vega.github.io/schema/vega-lite/v6.json', background: 'white', ...spec } as VegaLite.TopLevelSpec);
  const view = new vega.View(vega.parse(compiled.spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** One line chart, several named series, as an SVG document. */
export async function lineChartSvg(chart: LineChartOptions): Promise<string> {
  return renderVegaLiteSvg(layer('lineChartSvg', chart));
}

/** Several line charts stacked vertically in one SVG document, under an optional title. */
export async function lineChartsSvg(charts: LineChartOptions[], options: { title?: string } = {}): Promise<string> {
  if (!Array.isArray(charts) || charts.length === 0) {
    throw typeError(`lineChartsSvg: charts must be a non-empty array, got ${describe(charts)}`);
  }
  const panels = charts.map((c, k) => layer(`lineChartsSvg: charts[${k}]`, c));
  return renderVegaLiteSvg({ ...(options.title ? { title: options.title } : {}), vconcat: panels, resolve: { scale: { color: 'independent' } } });
}

/** The per-epoch lists of a training history (the shape `fit` returns). */
export interface TrainingCurves {
  loss: ArrayLike<number>;
  /** Absent for regression: the chart then shows the loss only. */
  accuracy?: ArrayLike<number>;
  valLoss?: ArrayLike<number>;
  valAccuracy?: ArrayLike<number>;
}

/** Loss (top) and accuracy (bottom) per epoch, for training and, if present, validation data. */
export async function trainingCurvesSvg(history: TrainingCurves, options: { title?: string; valName?: string } = {}): Promise<string> {
  const valName = options.valName ?? 'test';
  const epochs = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);
  const pair = (train: ArrayLike<number>, val: ArrayLike<number> | undefined): LineSeries[] => [
    { name: 'train', x: epochs(train.length), y: train },
    ...(val && val.length > 0 ? [{ name: valName, x: epochs(val.length), y: val }] : []),
  ];
  return lineChartsSvg(
    [
      { title: 'Loss', series: pair(history.loss, history.valLoss), xLabel: 'epoch', yLabel: 'loss', height: 200 },
      ...(history.accuracy ? [{ title: 'Accuracy', series: pair(history.accuracy, history.valAccuracy), xLabel: 'epoch', yLabel: 'accuracy', yFormat: '.1%', height: 200 }] : []),
    ],
    options.title ? { title: options.title } : {},
  );
}
