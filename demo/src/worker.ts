/**
 * The training worker: loads the digits once, builds the chosen network on
 * the wasm backend and trains it, posting progress, one point per epoch, and
 * finally the trained model's bytes (`model.save()`). The page stays free.
 */
import { createBackend, type Backend } from 'normcore';
import { fetchDigits, type Digits } from './digits.js';
import { buildModel, type FromWorker, type ToWorker } from './net.js';
import { runBnLandscape } from '../../src/experiment/bn-landscape.js';

const post = (m: FromWorker, transfer: Transferable[] = []) => (self as unknown as Worker).postMessage(m, transfer);

let digits: Promise<Digits> | undefined;
let backend: Promise<Backend> | undefined;
let controller: AbortController | undefined;

async function train(m: Extract<ToWorker, { type: 'train' }>): Promise<void> {
  const { runId, config } = m;
  controller?.abort();
  const ctl = (controller = new AbortController());
  post({ type: 'status', runId, text: 'Loading the digits…' });
  const data = await (digits ??= fetchDigits(m.digitsUrl));
  // One backend (one linear memory) for the worker's life; each run's model is disposed at its end.
  // threads: 'auto' uses every core where the page is cross-origin isolated (the demo server sends COOP/COEP), else one thread.
  const be = await (backend ??= createBackend('wasm', { threads: 'auto' }));
  const model = buildModel(config, be, data.features, data.classes);
  try {
    post({ type: 'started', runId, parameters: model.parameterCount, train: data.trainLabels.length, test: data.testLabels.length, threads: be.info.threads, threadsReason: be.info.reason });
    let lastPost = 0;
    await model.fit(data.trainImages, data.trainLabels, {
      epochs: config.epochs,
      batchSize: config.batchSize,
      validationData: [data.testImages, data.testLabels],
      signal: ctl.signal,
      checkInputs: false, // the asset's grey levels are all finite
      onBatchEnd: (batch, logs) => {
        const now = performance.now();
        if (now - lastPost > 50 || batch === logs.batches - 1) {
          lastPost = now;
          post({ type: 'progress', runId, epoch: logs.epoch, batch, batches: logs.batches, loss: logs.loss });
        }
      },
      onEpochEnd: (epoch, logs) => {
        post({
          type: 'epoch', runId, epoch: epoch + 1, loss: logs.loss, accuracy: logs.accuracy ?? NaN,
          testLoss: logs.valLoss ?? NaN, testAccuracy: logs.valAccuracy ?? NaN, seconds: logs.seconds, samplesPerSecond: logs.samplesPerSecond,
        });
      },
    });
    const bytes = model.save();
    post({ type: 'done', runId, model: bytes, stopped: ctl.signal.aborted }, [bytes.buffer]);
  } finally {
    model.dispose();
  }
}

/** The bn-landscape experiment (Santurkar et al. 2018) on the demo's training digits: four runs and their measurements. */
async function landscape(m: Extract<ToWorker, { type: 'landscape' }>): Promise<void> {
  const data = await (digits ??= fetchDigits(m.digitsUrl));
  const be = await (backend ??= createBackend('wasm'));
  const result = await runBnLandscape({
    data: { trainImages: data.trainImages, trainLabels: data.trainLabels },
    steps: m.steps,
    depth: m.depth,
    every: Math.max(1, Math.round(m.steps / 30)),
    backend: be,
    onProgress: (p) => post({ type: 'landscape-progress', runId: m.runId, ...p }),
  });
  post({ type: 'landscape-done', runId: m.runId, result });
}

self.onmessage = (e: MessageEvent<ToWorker>) => {
  const m = e.data;
  if (m.type === 'stop') {
    controller?.abort();
    return;
  }
  if (m.type === 'landscape') {
    landscape(m).catch((err: unknown) => {
      post({ type: 'landscape-error', runId: m.runId, message: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
    });
    return;
  }
  train(m).catch((err: unknown) => {
    post({ type: 'error', runId: m.runId, message: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
  });
};
