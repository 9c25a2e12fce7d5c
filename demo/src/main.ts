/**
 * The demo page: the network chooser, the training worker's progress and
 * curves, the drawing pad with its prediction, model download/upload, and
 * the in-page kernel parity check.
 */
import { createBackend, Sequential, type Backend } from 'normcore';
import { toOnnx } from 'normcore/onnx';
import { EpochChart, type Curve } from './charts.js';
import { fetchDigits, type Digits } from './digits.js';
import { attachPad, canvasGrey, paintDigit, toMnist } from './draw.js';
import { DEFAULT_CONFIG, describeConfig, type EpochPoint, type FromWorker, type NetConfig, type ToWorker } from './net.js';
import { initLandscape } from './landscape.js';
import { runParity } from './parity.js';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const pct = (v: number) => `${(100 * v).toFixed(2)}%`;
const digitsUrl = new URL('./digits.bin', location.href).href;

// ------------------------------------------------------------------ state

interface Run {
  id: number;
  config: NetConfig;
  points: EpochPoint[];
  state: 'loading' | 'training' | 'done' | 'stopped' | 'failed';
}

const runs: Run[] = [];
let current: Run | undefined;
let backend: Backend | undefined;
/** The model the pad predicts with, and its bytes (what Download saves). */
let model: Sequential | undefined;
let modelBytes: Uint8Array | undefined;
let modelName = 'normcore-mnist.nc';
/** What the model sees: a preprocessed drawing or a test digit. */
let input: Float32Array | undefined;
let testDigits: Promise<Digits> | undefined;
let nextTest = 0;

const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
const send = (m: ToWorker) => worker.postMessage(m);

// ------------------------------------------------------------------ chooser

function readConfig(): NetConfig {
  const hiddenText = $<HTMLInputElement>('hidden').value.trim();
  const hidden = hiddenText === '' ? [] : hiddenText.split(/[\s,]+/).map(Number);
  if (hidden.some((h) => !Number.isInteger(h) || h < 1 || h > 4096) || hidden.length > 6) {
    throw new Error('Hidden layers: up to 6 whole numbers from 1 to 4096, comma-separated, e.g. 256,256');
  }
  const num = (id: string, what: string, lo: number, hi: number, int: boolean) => {
    const v = Number($<HTMLInputElement>(id).value);
    if (!Number.isFinite(v) || v < lo || v > hi || (int && !Number.isInteger(v))) {
      throw new Error(`${what}: ${int ? 'a whole number' : 'a number'} from ${lo} to ${hi}`);
    }
    return v;
  };
  const lr = num('lr', 'Learning rate', 1e-6, 10, false);
  const batchSize = num('batch', 'Batch size', 2, 8000, true);
  const epochs = num('epochs', 'Epochs', 1, 50, true);
  return {
    ...DEFAULT_CONFIG,
    model: $<HTMLSelectElement>('model').value === 'cnn' ? 'cnn' : 'mlp',
    hidden,
    batchNorm: $<HTMLInputElement>('bn').checked,
    activation: $<HTMLSelectElement>('activation').value as NetConfig['activation'],
    optimizer: $<HTMLSelectElement>('optimizer').value as NetConfig['optimizer'],
    schedule: $<HTMLSelectElement>('schedule').value as NetConfig['schedule'],
    lr, batchSize, epochs,
  };
}

$('net-form').addEventListener('submit', (e) => {
  e.preventDefault();
  let config: NetConfig;
  try {
    config = readConfig();
  } catch (err) {
    $('form-error').textContent = (err as Error).message;
    return;
  }
  $('form-error').textContent = '';
  current = { id: runs.length + 1, config, points: [], state: 'loading' };
  runs.push(current);
  setTraining(true);
  $<HTMLProgressElement>('progress').value = 0;
  $('test-accuracy').textContent = '–';
  $('status').textContent = `Run ${current.id}: ${describeConfig(config)}: starting…`;
  render();
  send({ type: 'train', runId: current.id, config, digitsUrl });
});

$('stop').addEventListener('click', () => send({ type: 'stop' }));

function setTraining(on: boolean): void {
  $<HTMLButtonElement>('train').disabled = on;
  $<HTMLButtonElement>('stop').disabled = !on;
  document.body.toggleAttribute('data-training', on);
}

// ------------------------------------------------------------------ worker

const landscapeMessage = initLandscape(send, digitsUrl);

worker.onmessage = (e: MessageEvent<FromWorker>) => {
  const m = e.data;
  if (landscapeMessage(m)) return;
  const run = runs.find((r) => r.id === m.runId);
  if (!run) return;
  const status = $('status');
  switch (m.type) {
    case 'status':
      status.textContent = `Run ${run.id}: ${m.text}`;
      break;
    case 'started':
      run.state = 'training';
      status.textContent = `Run ${run.id}: training ${m.parameters.toLocaleString('en')} parameters on ${m.train.toLocaleString('en')} digits with ${m.threads} thread${m.threads === 1 ? '' : 's'}…`;
      status.title = m.threadsReason;
      document.body.dataset.threads = String(m.threads);
      break;
    case 'progress':
      $<HTMLProgressElement>('progress').value = (m.batch + 1) / m.batches;
      status.textContent = `Run ${run.id}: epoch ${m.epoch + 1}/${run.config.epochs}, batch ${m.batch + 1}/${m.batches}, loss ${m.loss.toFixed(4)}`;
      break;
    case 'epoch': {
      const { type: _t, runId: _r, ...point } = m;
      run.points.push(point);
      $('test-accuracy').textContent = pct(point.testAccuracy);
      status.textContent = `Run ${run.id}: epoch ${point.epoch}/${run.config.epochs}: loss ${point.loss.toFixed(4)}, ` +
        `test accuracy ${pct(point.testAccuracy)}, ${point.seconds.toFixed(2)} s (${Math.round(point.samplesPerSecond).toLocaleString('en')} digits/s)`;
      render();
      break;
    }
    case 'done':
      run.state = m.stopped ? 'stopped' : 'done';
      setTraining(false);
      status.textContent = `Run ${run.id} ${m.stopped ? 'stopped' : 'done'}` +
        (run.points.length ? `: test accuracy ${pct(run.points[run.points.length - 1]!.testAccuracy)} after ${run.points.length} epoch${run.points.length > 1 ? 's' : ''}.` : '.');
      // the run counts as done once its model is in the pad (Sequential.load is asynchronous)
      void useModel(m.model, `normcore-mnist-run${run.id}-${run.config.batchNorm ? 'bn' : 'nobn'}.nc`, `run ${run.id} (${describeConfig(run.config)})`)
        .catch((err: unknown) => { $('model-status').textContent = `Could not use run ${run.id}'s model: ${(err as Error).message}`; })
        .finally(() => { document.body.dataset.runsDone = String(runs.filter((r) => r.state === 'done' || r.state === 'stopped').length); });
      render();
      break;
    case 'error':
      run.state = 'failed';
      setTraining(false);
      status.textContent = `Run ${run.id} failed: ${m.message}`;
      render();
      break;
  }
};

worker.onerror = (e) => {
  $('status').textContent = `The training worker failed: ${e.message}`;
  setTraining(false);
};

// ------------------------------------------------------------------ charts and runs table

const lossChart = new EpochChart($('loss-chart'), 'loss', (v) => v.toFixed(2), (_min, max) => [0, Number.isFinite(max) ? max * 1.1 : 1]);
const accChart = new EpochChart($('acc-chart'), 'test accuracy', (v) => `${(100 * v).toFixed(0)}%`,
  (min) => [Number.isFinite(min) ? Math.max(0, Math.floor(min * 20 - 0.2) / 20) : 0, 1]);

function render(): void {
  // The latest run with BatchNorm and the latest without, overlaid.
  const latest = (bn: boolean) => [...runs].reverse().find((r) => r.config.batchNorm === bn && r.state !== 'failed');
  const shown = [latest(true), latest(false)].filter((r): r is Run => r !== undefined).sort((a, b) => a.id - b.id);
  const curves = (pick: (p: EpochPoint) => number): Curve[] => shown.map((r) => ({
    label: `run ${r.id}, ${r.config.batchNorm ? 'BatchNorm' : 'no BatchNorm'}`,
    color: r.config.batchNorm ? '#0b5cd5' : '#d9480f',
    dash: !r.config.batchNorm,
    values: r.points.map(pick),
  }));
  lossChart.set(curves((p) => p.loss));
  accChart.set(curves((p) => p.testAccuracy));

  const body = $('runs').querySelector('tbody')!;
  body.replaceChildren(...runs.map((r) => {
    const tr = document.createElement('tr');
    const last = r.points[r.points.length - 1];
    const seconds = r.points.reduce((s, p) => s + p.seconds, 0);
    const cells = [String(r.id), describeConfig(r.config), `${r.points.length}/${r.config.epochs}${r.state === 'stopped' ? ' (stopped)' : r.state === 'failed' ? ' (failed)' : ''}`,
      last ? pct(last.testAccuracy) : '–', r.points.length ? `${seconds.toFixed(1)} s` : '–'];
    for (const [i, c] of cells.entries()) {
      const td = document.createElement('td');
      td.textContent = c;
      if (i >= 2) td.className = 'num';
      tr.append(td);
    }
    return tr;
  }));
}

// ------------------------------------------------------------------ model in the page

async function useModel(bytes: Uint8Array, fileName: string, label: string): Promise<void> {
  if (!backend) throw new Error('the wasm backend is not ready yet');
  const next = await Sequential.load(bytes, { backend });
  if (next.inFeatures !== 784 || next.outFeatures !== 10) {
    next.dispose();
    throw new Error(`this model takes ${next.inFeatures} inputs and gives ${next.outFeatures} outputs; the pad needs 784 → 10`);
  }
  model?.dispose();
  model = next;
  modelBytes = bytes;
  modelName = fileName;
  $('model-status').textContent = `Model: ${label}, ${model.parameterCount.toLocaleString('en')} parameters, ${bytes.length.toLocaleString('en')} bytes.`;
  $<HTMLButtonElement>('download').disabled = false;
  // ONNX export maps every layer the demo builds, the CNN's included.
  $<HTMLButtonElement>('download-onnx').disabled = false;
  document.body.dataset.model = label;
  predict();
}

function saveBytes(bytes: Uint8Array, name: string): void {
  const url = URL.createObjectURL(new Blob([bytes as BlobPart], { type: 'application/octet-stream' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

$('download').addEventListener('click', () => {
  if (modelBytes) saveBytes(modelBytes, modelName);
});

// The same model as ONNX (opset 15, ending in Softmax): ONNX Runtime gives the probabilities the pad shows.
$('download-onnx').addEventListener('click', () => {
  if (modelBytes) saveBytes(toOnnx(modelBytes), modelName.replace(/\.nc$/, '') + '.onnx');
});

$<HTMLInputElement>('load-model').addEventListener('change', async (e) => {
  const el = e.target as HTMLInputElement;
  const file = el.files?.[0];
  if (!file) return;
  try {
    await useModel(new Uint8Array(await file.arrayBuffer()), file.name, `loaded from ${file.name}`);
  } catch (err) {
    $('model-status').textContent = `Could not load ${file.name}: ${(err as Error).message}`;
  } finally {
    el.value = '';
  }
});

// ------------------------------------------------------------------ drawing pad and prediction

const pad = $<HTMLCanvasElement>('pad');
const preview = $<HTMLCanvasElement>('preview');
const probs = $('probs');
probs.replaceChildren(...Array.from({ length: 10 }, (_, d) => {
  const li = document.createElement('li');
  li.dataset.digit = String(d);
  li.innerHTML = `<span>${d}</span><span class="bar"><span style="width:0%"></span></span><span class="p">–</span>`;
  return li;
}));

function predict(): void {
  const out = $('prediction');
  if (!input) {
    out.textContent = '–';
    document.body.removeAttribute('data-prediction');
    for (const li of probs.children) {
      (li.querySelector('.bar span') as HTMLElement).style.width = '0%';
      li.querySelector('.p')!.textContent = '–';
      li.classList.remove('top');
    }
    return;
  }
  if (!model) {
    out.textContent = 'train or load a model first';
    return;
  }
  const p = model.predict(input);
  let best = 0;
  for (let d = 1; d < 10; d++) if (p[d]! > p[best]!) best = d;
  out.textContent = `${best} (${pct(p[best]!)})`;
  document.body.dataset.prediction = String(best);
  [...probs.children].forEach((li, d) => {
    (li.querySelector('.bar span') as HTMLElement).style.width = `${(100 * p[d]!).toFixed(1)}%`;
    li.querySelector('.p')!.textContent = pct(p[d]!);
    li.classList.toggle('top', d === best);
    li.setAttribute('aria-label', `${d}: ${pct(p[d]!)}`);
  });
}

const padApi = attachPad(pad, () => {
  input = toMnist(canvasGrey(pad), pad.width);
  $('digit-note').textContent = '';
  paintDigit(preview, input ?? new Float32Array(784));
  predict();
});

$('clear').addEventListener('click', () => {
  padApi.clear();
  input = undefined;
  $('digit-note').textContent = '';
  paintDigit(preview, new Float32Array(784));
  predict();
});

$('next-digit').addEventListener('click', async () => {
  const d = await (testDigits ??= fetchDigits(digitsUrl));
  const n = d.testLabels.length;
  const i = nextTest++ % n;
  input = d.testImages.slice(i * 784, (i + 1) * 784);
  paintDigit(pad, input);
  paintDigit(preview, input);
  $('digit-note').textContent = `Test digit ${i + 1} of ${n}, labelled ${d.testLabels[i]}.`;
  document.body.dataset.testLabel = String(d.testLabels[i]);
  predict();
});

// ------------------------------------------------------------------ kernel parity

$('parity-run').addEventListener('click', async () => {
  const btn = $<HTMLButtonElement>('parity-run');
  const table = $<HTMLTableElement>('parity');
  const body = table.querySelector('tbody')!;
  const status = $('parity-status');
  btn.disabled = true;
  body.replaceChildren();
  table.hidden = false;
  status.textContent = 'Running…';
  document.body.removeAttribute('data-parity');
  try {
    const { rows, wasmBuild } = await runParity((r) => {
      const tr = document.createElement('tr');
      tr.innerHTML = `<td></td><td></td><td class="num"></td><td></td>`;
      const [a, b, c, d] = tr.children;
      a!.textContent = r.name;
      b!.textContent = r.shape;
      c!.textContent = r.relErr.toExponential(2);
      d!.textContent = r.pass ? 'yes' : 'NO';
      d!.className = r.pass ? 'pass' : 'fail';
      tr.dataset.relErr = String(r.relErr);
      body.append(tr);
    });
    const worst = Math.max(...rows.map((r) => r.relErr));
    const failed = rows.filter((r) => !r.pass).length;
    status.textContent = failed
      ? `${failed} of ${rows.length} checks above 1e-4 (worst ${worst.toExponential(2)}; wasm build "${wasmBuild}").`
      : `All ${rows.length} checks agree: worst ${worst.toExponential(2)} ≤ 1e-4 (wasm build "${wasmBuild}").`;
    document.body.dataset.parity = failed ? 'fail' : 'pass';
  } catch (err) {
    status.textContent = `The check failed to run: ${(err as Error).message}`;
    document.body.dataset.parity = 'error';
  } finally {
    btn.disabled = false;
  }
});

// ------------------------------------------------------------------ start

render();
paintDigit(preview, new Float32Array(784));
createBackend('wasm').then((b) => {
  backend = b;
  $<HTMLButtonElement>('train').disabled = false;
  $<HTMLButtonElement>('next-digit').disabled = false;
  document.body.dataset.ready = 'true';
}, (err: unknown) => {
  $('status').textContent = `WebAssembly could not start: ${(err as Error).message}`;
});
