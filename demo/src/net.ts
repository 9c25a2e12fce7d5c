/**
 * The network the demo's chooser describes, and the messages between the page
 * and the training worker.
 */
import { mlp, Sequential, type Backend, type OptimizerType } from 'normcore';
import { mnistCnn } from 'normcore/cnn';
import type { BnLandscapeResult, RunName } from '../../src/experiment/bn-landscape.js';

export type Activation = 'relu' | 'sigmoid' | 'tanh';
export type Schedule = 'constant' | 'cosine';

export interface NetConfig {
  /** 'mlp': Dense layers of `hidden` widths; 'cnn': issue 12's convolutional network (mnistCnn) on 28×28×1 images. */
  model: 'mlp' | 'cnn';
  /** Hidden layer widths, e.g. [256, 256]. */
  hidden: number[];
  /** Dense → BatchNorm → activation per hidden layer (else Dense → activation). */
  batchNorm: boolean;
  activation: Activation;
  optimizer: OptimizerType;
  lr: number;
  schedule: Schedule;
  batchSize: number;
  epochs: number;
  seed: number;
}

/** The defaults of `npm start` (src/cli.ts TRAIN_DEFAULTS), with fewer epochs. */
export const DEFAULT_CONFIG: NetConfig = {
  model: 'mlp', hidden: [256, 256], batchNorm: true, activation: 'relu', optimizer: 'adam', lr: 0.002, schedule: 'cosine', batchSize: 128, epochs: 5, seed: 1,
};

export function describeConfig(c: NetConfig): string {
  if (c.model === 'cnn') return `CNN ${c.batchNorm ? 'BN' : 'no BN'}, ${c.optimizer} lr ${c.lr}${c.schedule === 'cosine' ? ' cosine' : ''}, batch ${c.batchSize}`;
  return `784-${c.hidden.join('-')}${c.hidden.length ? '-' : ''}10 ${c.batchNorm ? 'BN' : 'no BN'} ${c.activation}, ${c.optimizer} lr ${c.lr}${c.schedule === 'cosine' ? ' cosine' : ''}, batch ${c.batchSize}`;
}

export function buildModel(c: NetConfig, backend: Backend, features = 784, classes = 10): Sequential {
  const model = c.model === 'cnn'
    ? new Sequential(mnistCnn({ batchNorm: c.batchNorm, classes }), { backend, seed: c.seed, inputShape: [28, 28, 1] })
    : new Sequential(mlp({ inputs: features, hidden: c.hidden, outputs: classes, activation: c.activation, batchNorm: c.batchNorm }), { backend, seed: c.seed });
  model.compile({
    loss: 'softmaxCrossEntropy',
    optimizer: { type: c.optimizer, lr: c.lr },
    lrSchedule: c.schedule === 'cosine' ? { type: 'cosine' } : { type: 'constant' },
  });
  return model;
}

export interface EpochPoint {
  epoch: number;
  loss: number;
  accuracy: number;
  testLoss: number;
  testAccuracy: number;
  seconds: number;
  samplesPerSecond: number;
}

export type ToWorker =
  | { type: 'train'; runId: number; config: NetConfig; digitsUrl: string }
  | { type: 'landscape'; runId: number; steps: number; depth: number; digitsUrl: string }
  | { type: 'stop' };

export type FromWorker =
  | { type: 'status'; runId: number; text: string }
  | { type: 'started'; runId: number; parameters: number; train: number; test: number; threads: number; threadsReason: string }
  | { type: 'progress'; runId: number; epoch: number; batch: number; batches: number; loss: number }
  | ({ type: 'epoch'; runId: number } & EpochPoint)
  | { type: 'done'; runId: number; model: Uint8Array; stopped: boolean }
  | { type: 'error'; runId: number; message: string }
  // the bn-landscape experiment (runId counts landscape runs separately)
  | { type: 'landscape-progress'; runId: number; run: RunName; step: number; steps: number; trainAccuracy: number }
  | { type: 'landscape-done'; runId: number; result: BnLandscapeResult }
  | { type: 'landscape-error'; runId: number; message: string };
