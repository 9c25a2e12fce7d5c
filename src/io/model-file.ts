/**
 * The model file and the checkpoint, over the byte format of format.ts: what
 * the JSON header holds, how a model's weights and optimizer state are laid
 * out (the defensive parse that checks every size before it allocates is
 * model-parse.ts, loaded with the layer table only when a file is read).
 *
 * Header: { kind, layers: LayerConfig[], seed, compile: { loss, optimizer, lrSchedule } | null }
 * and, when the model carries one, preprocessing: a JSON object (e.g. the CSV
 * encoding of `normcore train --data`), kept as is by load;
 * and, in a checkpoint, optimizerState: { step, slots } and fit: FitRecord & { epochsDone }.
 * Weights: each layer's params then its file state, in layer order; a
 * checkpoint appends each optimizer slot (parameter order).
 */
import { NormcoreError } from '../errors.js';
import type { LayerConfig } from '../model/config.js';
import type { Layer } from '../model/layer.js';
import { sum, type Network } from '../model/network.js';
import type { FitRecord } from '../train/fit.js';
import { lossConfig } from '../train/losses.js';
import type { Trainer } from '../train/trainer.js';
import { encodeModelFile } from './format.js';

export const FILE_KIND = 'normcore-sequential';
/** A model file plus optimizer state and training progress (see FitOptions.checkpoint). */
export const CHECKPOINT_KIND = 'normcore-checkpoint';

export interface Header {
  kind: string;
  layers: LayerConfig[];
  seed: number;
  compile: unknown;
  /** The model's options.inputShape, only when it was given (older files have none). */
  inputShape?: number[];
  preprocessing?: Record<string, unknown>;
}

/** What a header carries besides layers, seed and compile options, when the model has it. */
export interface HeaderExtras {
  inputShape?: readonly number[] | undefined;
  preprocessing?: Record<string, unknown> | undefined;
}

/** The header of a model's file (kind FILE_KIND or CHECKPOINT_KIND). */
export function header(kind: string, net: Network, t: Trainer, seed: number, extras: HeaderExtras = {}): Header {
  const { inputShape } = extras;
  const c = t.compiled;
  return {
    ...(extras.preprocessing ? { preprocessing: extras.preprocessing } : {}),
    kind,
    layers: net.layers.map((l) => l.config()),
    seed,
    compile: c ? { loss: lossConfig(c.loss), optimizer: c.optimizer, lrSchedule: c.schedule, ...(c.metricNames ? { metrics: c.metricNames } : {}) } : null,
    ...(inputShape ? { inputShape: [...inputShape] } : {}),
  };
}

export const paramCount = (l: Layer): number => sum(l.paramSpecs().map((s) => s.size));
export const fileStateCount = (l: Layer): number => sum(l.stateSpecs().filter((s) => s.inFile !== false).map((s) => s.size));

/**
 * Why the model part of a file's weights (each layer's params, then its file
 * state) would be refused by load, or undefined: a weight that is not finite,
 * or a state a layer refuses (a negative running variance…). model-parse.ts
 * runs it on every file it reads.
 */
export function refusedWeights(layers: readonly Layer[], weights: Float32Array): string | undefined {
  for (let i = 0; i < weights.length; i++) {
    if (!Number.isFinite(weights[i]!)) return `weight ${i} is ${weights[i]}`;
  }
  // Each layer judges its own state (running variances ≥ 0, constant γ and β…).
  let w = 0;
  for (const l of layers) {
    w += paramCount(l);
    for (const spec of l.stateSpecs()) {
      if (spec.inFile === false) continue;
      const why = l.checkState(spec.name, weights.subarray(w, w + spec.size));
      if (why) return why;
      w += spec.size;
    }
  }
  return undefined;
}

/**
 * Runs load's weight checks on a model about to be written, so nothing
 * normcore writes is refused when read back: a model with a NaN or infinite
 * weight (or a negative running variance…) is a NOT_FINITE error instead.
 * (The rest of what load checks, the header, comes from the model itself.)
 */
function loadable(where: string, layers: readonly Layer[], weights: Float32Array): void {
  const why = refusedWeights(layers, weights);
  if (why) throw new NormcoreError(`${where}: refusing to write a model that load would refuse (${why}); nothing was written`, 'NOT_FINITE');
}

/** The model file: topology, options and weights including running statistics. */
export function encodeModel(net: Network, t: Trainer, seed: number, extras: HeaderExtras = {}): Uint8Array {
  const weights = net.readWeights();
  loadable('save', net.layers, weights);
  return encodeModelFile(header(FILE_KIND, net, t, seed, extras), weights);
}

/** A checkpoint: the model file, plus the optimizer state and the progress of the fit `record` after `epochsDone` epochs. */
export function encodeCheckpoint(net: Network, t: Trainer, seed: number, record: FitRecord, epochsDone: number, extras: HeaderExtras = {}): Uint8Array {
  const model = net.readWeights();
  loadable('fit: checkpoint', net.layers, model);
  const opt = t.optimizerState();
  const all = new Float32Array(model.length + opt.slots.length * net.nParams);
  all.set(model);
  opt.slots.forEach((slot, s) => all.set(slot, model.length + s * net.nParams));
  for (let i = model.length; i < all.length; i++) {
    if (!Number.isFinite(all[i]!)) throw new NormcoreError(`fit: checkpoint: refusing to write a model that load would refuse (weight ${i} is ${all[i]}); nothing was written`, 'NOT_FINITE');
  }
  const h = { ...header(CHECKPOINT_KIND, net, t, seed, extras), optimizerState: { step: t.step, slots: opt.slots.length }, fit: { ...record, epochsDone } };
  return encodeModelFile(h, all);
}

