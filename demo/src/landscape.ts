/**
 * The "Why batch norm works" card: runs `normcore experiment bn-landscape`
 * (Santurkar et al. 2018, src/experiment/bn-landscape.ts) in the training
 * worker on the demo's digits and draws its figures with uPlot: training
 * accuracy of the four runs (Fig. 2), ICS cosine of the last hidden layer
 * (Fig. 3), the loss range along the gradient and β-smoothness (Fig. 4).
 */
import uPlot from 'uplot';
import type { BnLandscapeResult, RunName } from '../../src/experiment/bn-landscape.js';
import type { FromWorker, ToWorker } from './net.js';

const LABELS: Record<RunName, string> = { standard: 'standard', batchnorm: 'batch norm', noisyBatchnorm: 'batch norm + noise', standardNoisy: 'standard + noise' };
const COLORS: Record<RunName, string> = { standard: '#4c78a8', batchnorm: '#f58518', noisyBatchnorm: '#e45756', standardNoisy: '#72b7b2' };
const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

interface Series { name: RunName; points: ReadonlyArray<readonly number[]>; col?: number }

function chart(el: HTMLElement, yLabel: string, series: Series[], log: boolean): void {
  el.replaceChildren();
  const x = series[0]!.points.map((p) => p[0]!);
  const data: uPlot.AlignedData = [x, ...series.map((s) => x.map((_, i) => { const v = s.points[i]?.[s.col ?? 1]; return v !== undefined && Number.isFinite(v) && (!log || v > 0) ? v : null; }))];
  new uPlot({
    width: Math.max(260, el.clientWidth), height: 200,
    scales: { x: { time: false }, y: log ? { distr: 3 } : {} },
    axes: [{ label: 'training step' }, { label: yLabel, size: 56 }],
    series: [{ label: 'step' }, ...series.map((s) => ({ label: LABELS[s.name], stroke: COLORS[s.name], width: 2, points: { show: true, size: 5 } }))],
    legend: { live: false },
  }, data, el);
}

const g3 = (v: number) => (Number.isFinite(v) ? v.toPrecision(3) : '–');

function render(r: BnLandscapeResult): void {
  const last = r.config.icsLayers.length;
  chart($('ls-acc'), 'training accuracy', (['standard', 'batchnorm', 'noisyBatchnorm', 'standardNoisy'] as const).map((n) => ({ name: n, points: r.runs[n].trainAccuracy })), false);
  chart($('ls-ics'), `cos(G, G′), layer ${r.config.icsLayers[last - 1]}`, (['standard', 'batchnorm'] as const).map((n) => ({ name: n, points: r.ics[n].cosine, col: last })), false);
  chart($('ls-loss'), 'loss range over η', (['standard', 'batchnorm'] as const).map((n) => ({ name: n, points: r.landscape[n].lossRange })), true);
  chart($('ls-beta'), 'β-smoothness', (['standard', 'batchnorm'] as const).map((n) => ({ name: n, points: r.landscape[n].betaSmoothness })), true);
  const s = r.summary;
  const rows = (['standard', 'batchnorm'] as const).map((n) => `<tr><th scope="row">${LABELS[n]}</th><td class="num">${(100 * s.finalTrainAccuracy[n]).toFixed(1)}%</td>` +
    s.ics[n].l2.map((v, j) => `<td class="num">${g3(v)} / ${g3(s.ics[n].cosine[j]!)}</td>`).join('') +
    `<td class="num">${g3(s.landscape[n].lossRange)}</td><td class="num">${g3(s.landscape[n].gradientChange)}</td><td class="num">${g3(s.landscape[n].betaSmoothness)}</td></tr>`);
  $('ls-table').innerHTML = `<caption>Medians over the run</caption><thead><tr><th scope="col">network</th><th scope="col">final train acc.</th>` +
    r.config.icsLayers.map((l) => `<th scope="col">ICS layer ${l}: ℓ2 / cos</th>`).join('') +
    `<th scope="col">loss range</th><th scope="col">gradient change</th><th scope="col">β-smoothness</th></tr></thead><tbody>${rows.join('')}</tbody>` +
    `<tfoot><tr><td colspan="${5 + last}">with noise: batch norm + noise ${(100 * s.finalTrainAccuracy.noisyBatchnorm).toFixed(1)}%, standard + noise ${(100 * s.finalTrainAccuracy.standardNoisy).toFixed(1)}%; ${s.seconds.toFixed(1)} s</td></tr></tfoot>`;
  $('ls-table').hidden = false;
}

/** Wires the card; returns the handler for the worker's landscape messages (true when the message was one). */
export function initLandscape(send: (m: ToWorker) => void, digitsUrl: string): (m: FromWorker) => boolean {
  let runId = 0;
  const button = $<HTMLButtonElement>('ls-run');
  const status = $('ls-status');
  button.addEventListener('click', () => {
    const steps = Number($<HTMLInputElement>('ls-steps').value), depth = Number($<HTMLInputElement>('ls-depth').value);
    if (!Number.isInteger(steps) || steps < 10 || steps > 5000 || !Number.isInteger(depth) || depth < 2 || depth > 12) {
      status.textContent = 'Steps: a whole number from 10 to 5000; depth: from 2 to 12.';
      return;
    }
    button.disabled = true;
    status.textContent = 'Loading the digits…';
    send({ type: 'landscape', runId: ++runId, steps, depth, digitsUrl });
  });
  return (m) => {
    if (m.type !== 'landscape-progress' && m.type !== 'landscape-done' && m.type !== 'landscape-error') return false;
    if (m.runId !== runId) return true;
    if (m.type === 'landscape-progress') {
      status.textContent = `${LABELS[m.run]}: step ${m.step}/${m.steps}, training accuracy ${(100 * m.trainAccuracy).toFixed(1)}%`;
    } else if (m.type === 'landscape-done') {
      button.disabled = false;
      status.textContent = `Done: four runs of ${m.result.config.steps} steps with their measurements in ${m.result.summary.seconds.toFixed(1)} s.`;
      render(m.result);
      document.body.dataset.landscapeDone = String(runId);
    } else {
      button.disabled = false;
      status.textContent = `The experiment failed: ${m.message}`;
    }
    return true;
  };
}
