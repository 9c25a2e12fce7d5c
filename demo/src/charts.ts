/**
 * Per-epoch curves with uPlot: one line per run, x = epoch.
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface Curve {
  label: string;
  color: string;
  /** Dashed line (told apart without colour). */
  dash: boolean;
  /** One value per epoch, epoch 1 first. */
  values: number[];
}

export class EpochChart {
  private plot: uPlot | undefined;
  private key = '';
  private curves: Curve[] = [];

  constructor(
    private readonly el: HTMLElement,
    private readonly yLabel: string,
    private readonly format: (v: number) => string,
    /** The y range for the data's [min, max]. */
    private readonly yRange: (min: number, max: number) => [number, number],
  ) {
    new ResizeObserver(() => this.plot?.setSize(this.size())).observe(el);
  }

  private size() {
    return { width: Math.max(240, this.el.clientWidth), height: 220 };
  }

  set(curves: Curve[]): void {
    this.curves = curves;
    const epochs = Math.max(1, ...curves.map((c) => c.values.length));
    const x = Array.from({ length: epochs }, (_, i) => i + 1);
    const data: uPlot.AlignedData = [x, ...curves.map((c) => x.map((_, i) => c.values[i] ?? null))];
    const key = curves.map((c) => c.label).join('|');
    if (this.plot && key === this.key) {
      this.plot.setData(data);
      return;
    }
    this.plot?.destroy();
    this.key = key;
    const fmt = this.format;
    this.plot = new uPlot(
      {
        ...this.size(),
        scales: {
          x: { time: false, range: (_u, _min, max) => [1, Math.max(2, max)] },
          y: { range: (_u, min, max) => this.yRange(min, max) },
        },
        axes: [
          { label: 'epoch', incrs: [1, 2, 5, 10, 20, 50] },
          { label: this.yLabel, values: (_u, ticks) => ticks.map(fmt), size: 60 },
        ],
        series: [
          { label: 'epoch' },
          ...this.curves.map((c) => ({
            label: c.label, stroke: c.color, width: 2, dash: c.dash ? [6, 4] : [],
            points: { show: true, size: 6 }, value: (_u: uPlot, v: number | null) => (v == null ? '–' : fmt(v)),
          })),
        ],
        legend: { live: false },
      },
      data,
      this.el,
    );
  }
}
