/**
 * Reading a model or checkpoint file (model-file.ts writes them): the
 * defensive parse that checks every size before it allocates, and resuming
 * a fit from a checkpoint. It rebuilds layers from their configs, so it
 * brings the whole layer table: Sequential.load imports it on demand, and a
 * page that only trains and saves never fetches it.
 */
import { describe, NormcoreError, typeError } from '../errors.js';
import type { LayerConfig } from '../model/config.js';
import type { Layer } from '../model/layer.js';
import { layerFromConfig } from '../model/layer-table.js';
import { sum, type Network } from '../model/network.js';
import type { FitRecord, Resume } from '../train/fit.js';
import { OPTIMIZERS, type OptimizerType } from '../train/optimizers.js';
import type { CompileOptions, OptimizerState, Trainer } from '../train/trainer.js';
import { decodeModelFile, ModelFormatError } from './format.js';
import { CHECKPOINT_KIND, FILE_KIND, fileStateCount, header, paramCount, refusedWeights } from './model-file.js';

/** A model or checkpoint file, checked: layers built (not yet in a model), weights split, header validated. */
export interface ParsedFile {
  layers: Layer[];
  seed: number;
  compile: CompileOptions | null;
  /** The model's inputShape, when the file records one. */
  inputShape?: number[];
  /** Params and file state, in file order. */
  weights: Float32Array;
  /** Checkpoints only. */
  optimizer?: OptimizerState;
  fit?: FitRecord & { epochsDone: number };
  /** The header's preprocessing object, if any. */
  preprocessing?: Record<string, unknown>;
}

const isInt = (v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;

/**
 * Decodes and checks a model or checkpoint file without allocating more
 * than the file's own size: every size is checked against the weights the
 * file holds before any layer gets memory. Throws ModelFormatError.
 */
export function parseFile(where: string, bytes: unknown): ParsedFile {
  let decoded: { header: unknown; weights: Float32Array };
  try {
    decoded = decodeModelFile(bytes);
  } catch (e) {
    if (where === 'load' || !(e instanceof Error)) throw e;
    const message = e.message.replace(/^load: /, `${where}: `);
    throw e instanceof ModelFormatError ? new ModelFormatError(message) : typeError(message);
  }
  const { header: h0, weights } = decoded;
  const bad = (why: string): never => {
    throw new ModelFormatError(`${where}: not a valid normcore model file: ${why}`);
  };
  const h = h0 as Record<string, unknown> | null;
  if (!h || typeof h !== 'object' || Array.isArray(h) || (h.kind !== FILE_KIND && h.kind !== CHECKPOINT_KIND)) {
    return bad('the header is not a normcore Sequential model or checkpoint');
  }
  const isCheckpoint = h.kind === CHECKPOINT_KIND;
  if (!Array.isArray(h.layers) || h.layers.length === 0 || h.layers.length > 10000) bad('the header has no valid layer list');
  let layers: Layer[] = [];
  try {
    layers = (h.layers as unknown[]).map((c, i) => layerFromConfig(c as LayerConfig, `layers[${i}]`));
  } catch (e) {
    bad(`a layer in the header is invalid (${(e as Error).message})`);
  }
  const nParams = sum(layers.map(paramCount));
  const modelCount = nParams + sum(layers.map(fileStateCount));
  const c = h.compile;
  if (c !== null && c !== undefined && (typeof c !== 'object' || Array.isArray(c))) bad(`the compile options are not an object (${describe(c)})`);
  const compile = (c ?? null) as CompileOptions | null;
  let slotCount = 0;
  let step = 0;
  let fit: ParsedFile['fit'];
  if (isCheckpoint) {
    const os = h.optimizerState as { step?: unknown; slots?: unknown } | null;
    if (!os || typeof os !== 'object' || !isInt(os.step, 0) || !isInt(os.slots, 0, 2)) bad('the checkpoint has no valid optimizerState { step, slots }');
    step = os!.step as number;
    slotCount = os!.slots as number;
    const type = (compile?.optimizer as { type?: unknown } | undefined)?.type;
    const expected = typeof type === 'string' && Object.hasOwn(OPTIMIZERS, type) ? OPTIMIZERS[type as OptimizerType].slots : undefined;
    if (slotCount > 0 && expected !== slotCount) bad(`the checkpoint holds ${slotCount} optimizer slots, which does not fit its optimizer ${describe(type)}`);
    const r = h.fit as Record<string, unknown> | null;
    if (
      !r || typeof r !== 'object' || !isInt(r.epochs, 1) || !isInt(r.batchSize, 1) || typeof r.shuffle !== 'boolean' || !isInt(r.seed, 0)
      || typeof r.dropLast !== 'boolean' || !isInt(r.rows, 1) || !isInt(r.features, 1) || typeof r.data !== 'string' || !isInt(r.epochsDone, 0, r.epochs as number)
    ) {
      bad('the checkpoint has no valid fit record');
    }
    const v = r as unknown as FitRecord & { epochsDone: number };
    fit = { epochs: v.epochs, batchSize: v.batchSize, shuffle: v.shuffle, seed: v.seed, dropLast: v.dropLast, rows: v.rows, features: v.features, data: v.data, epochsDone: v.epochsDone };
  }
  const expected = modelCount + slotCount * nParams;
  if (expected !== weights.length) bad(`the topology needs ${expected} weights, the file has ${weights.length}`);
  const refused = refusedWeights(layers, weights.subarray(0, modelCount));
  if (refused) bad(refused);
  for (let i = modelCount; i < weights.length; i++) {
    if (!Number.isFinite(weights[i]!)) bad(`weight ${i} is ${weights[i]}`);
  }
  const seed = isInt(h.seed, 0) ? h.seed : 1;
  const parsed: ParsedFile = { layers, seed, compile, weights: weights.subarray(0, modelCount) };
  if (h.inputShape !== undefined) {
    const shape = h.inputShape;
    if (!Array.isArray(shape) || shape.length === 0 || shape.length > 8 || !shape.every((v) => isInt(v, 1))) bad(`the inputShape is not an array of integers ≥ 1 (${describe(shape)})`);
    parsed.inputShape = [...(shape as number[])];
  }
  if (h.preprocessing !== undefined) {
    if (typeof h.preprocessing !== 'object' || h.preprocessing === null || Array.isArray(h.preprocessing)) bad(`the preprocessing entry is not an object (${describe(h.preprocessing)})`);
    parsed.preprocessing = h.preprocessing as Record<string, unknown>;
  }
  if (isCheckpoint) {
    const slots: Float32Array[] = [];
    for (let s = 0; s < slotCount; s++) slots.push(weights.subarray(modelCount + s * nParams, modelCount + (s + 1) * nParams));
    parsed.optimizer = { step, slots };
    parsed.fit = fit;
  }
  return parsed;
}

/** Checks that checkpoint bytes belong to this model, compile options and fit (see FitOptions.resumeFrom). Changes nothing. */
export function checkResume(bytes: Uint8Array, net: Network, t: Trainer, seed: number, record: FitRecord): ParsedFile & Required<Pick<ParsedFile, 'fit' | 'optimizer'>> {
  const f = parseFile('fit: options.resumeFrom', bytes);
  const mismatch = (why: string): never => {
    throw new NormcoreError(`fit: options.resumeFrom ${why}`, 'CHECKPOINT_MISMATCH');
  };
  if (!f.fit || !f.optimizer) return mismatch('is a model file, not a checkpoint (it holds no optimizer state or training progress)');
  // the counters (BatchNorm's batches, Dropout's steps) are progress, restored from the checkpoint, not topology
  const layerKey = (c: LayerConfig) => JSON.stringify({ ...c, numBatchesTracked: undefined, step: undefined });
  if (f.layers.length !== net.layers.length) mismatch(`was written by a model of ${f.layers.length} layers, this model has ${net.layers.length}`);
  f.layers.forEach((l, i) => {
    const mine = net.layers[i]!.config(), theirs = l.config();
    if (layerKey(theirs) !== layerKey(mine)) mismatch(`was written by another model: its layers[${i}] is ${layerKey(theirs)}, this model's is ${layerKey(mine)}`);
  });
  const mine = JSON.stringify(header(CHECKPOINT_KIND, net, t, seed).compile), theirs = JSON.stringify(f.compile);
  if (mine !== theirs) mismatch(`was written with other compile options: ${theirs}; this model has ${mine}`);
  const fit = f.fit;
  if (fit.data !== record.data || fit.rows !== record.rows || fit.features !== record.features) {
    mismatch(`was written for other training data (${fit.rows} rows × ${fit.features} features, fingerprint ${fit.data}); this fit has ${record.rows} × ${record.features}, fingerprint ${record.data}`);
  }
  for (const key of ['epochs', 'batchSize', 'shuffle', 'seed', 'dropLast'] as const) {
    if (fit[key] !== record[key]) mismatch(`was written by a fit with options.${key} = ${fit[key]}, this fit has ${record[key]}; resume with the same options`);
  }
  return f as ParsedFile & Required<Pick<ParsedFile, 'fit' | 'optimizer'>>;
}

/** What resuming from checkpoint bytes restores, checked against this model, its compile options and the fit `record` (changes nothing until `restore`). */
export function resumeFrom(bytes: Uint8Array, net: Network, t: Trainer, seed: number, record: FitRecord): Resume {
  const f = checkResume(bytes, net, t, seed, record);
  return {
    epochsDone: f.fit.epochsDone,
    optimizer: f.optimizer,
    restore: () => {
      net.writeWeights(f.weights);
      net.writeTransientState(f.layers);
    },
  };
}
