/** The usual MLP stack, for the CLI, the demo, the experiments and users. */
import { describe, expectInt, expectOptions, mustBe, typeError } from '../errors.js';
import { Activation, GELU, LeakyReLU, ReLU, Sigmoid, Tanh } from './activation.js';
import { BatchNorm, type BatchNormOptions } from './batchnorm.js';
import type { Activation as ActivationType, WeightInit } from './config.js';
import { Dense } from './dense.js';
import type { Layer } from './layer.js';

export interface MlpOptions {
  /** Input width. */
  inputs: number;
  /** Hidden layer widths (may be empty). */
  hidden: readonly number[];
  /** Output width (classes). */
  outputs: number;
  /** Activation after each hidden layer. Default 'relu'. */
  activation?: ActivationType;
  /** A BatchNorm between each hidden Dense and its activation. Default true. */
  batchNorm?: boolean;
  /** Options of every BatchNorm. */
  batchNormOptions?: BatchNormOptions;
  /** Weight initialization of every Dense. Default 'auto'. */
  init?: WeightInit;
}

const ACTIVATIONS: Record<ActivationType, () => Activation> = {
  relu: () => new ReLU(),
  sigmoid: () => new Sigmoid(),
  tanh: () => new Tanh(),
  leakyrelu: () => new LeakyReLU(),
  gelu: () => new GELU(),
};

/** Every activation, by name (for CLIs and option checks). */
export const ACTIVATION_TYPES = Object.keys(ACTIVATIONS) as ActivationType[];

/**
 * The usual stack: per hidden width Dense → [BatchNorm] → activation, then
 * Dense to the outputs. The hidden Dense layers get no bias when a BatchNorm
 * follows them (the default rule).
 */
export function mlp(options: MlpOptions): Layer[] {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw typeError(`mlp: options must be an object like { inputs: 784, hidden: [256], outputs: 10 }, got ${describe(options)}`, {
      argument: 'options', expected: '{ inputs, hidden, outputs }', received: describe(options),
    });
  }
  const o = expectOptions('mlp', 'options', options, ['inputs', 'hidden', 'outputs', 'activation', 'batchNorm', 'batchNormOptions', 'init']);
  const act = o.activation ?? 'relu';
  if (typeof act !== 'string' || !Object.hasOwn(ACTIVATIONS, act)) {
    throw typeError(`mlp: options.activation must be one of ${Object.keys(ACTIVATIONS).join(', ')}, got ${describe(act)}`, {
      argument: 'options.activation', expected: Object.keys(ACTIVATIONS).join(' | '), received: describe(act),
    });
  }
  if (!Array.isArray(o.hidden)) {
    throw typeError(`mlp: options.hidden must be an array of widths (may be empty), got ${describe(o.hidden)}`, { argument: 'options.hidden', expected: 'an array of integers ≥ 1', received: describe(o.hidden) });
  }
  if (o.batchNorm !== undefined && typeof o.batchNorm !== 'boolean') {
    throw mustBe('mlp', 'options.batchNorm', 'a boolean', o.batchNorm);
  }
  const init = o.init ?? 'auto';
  const layers: Layer[] = [];
  let width = expectInt('mlp', 'inputs', o.inputs);
  const outputs = expectInt('mlp', 'outputs', o.outputs);
  o.hidden.forEach((h, i) => {
    const w = expectInt('mlp', `hidden[${i}]`, h);
    layers.push(new Dense(width, w, { init }));
    if (o.batchNorm ?? true) layers.push(new BatchNorm(w, o.batchNormOptions));
    layers.push(ACTIVATIONS[act as ActivationType]());
    width = w;
  });
  layers.push(new Dense(width, outputs, { init }));
  return layers;
}
