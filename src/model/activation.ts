/**
 * Element-wise activations: one layer class over a table of kernel pairs.
 * ReLU, Sigmoid, Tanh, LeakyReLU and GELU are its public names; a new
 * activation is one entry in KERNELS plus its kernels.
 */
import type { Kernels, Ptr } from '../backend/types.js';
import { expectInt, expectF32Number, expectOptions } from '../errors.js';
import type { Activation as ActivationType, ActivationConfig } from './config.js';
import { SameWidthLayer, type InitHint } from './layer.js';

interface KernelPair {
  /** out = f(inp), n elements; `alpha` is the layer's parameter (LeakyReLU's slope). */
  forward(k: Kernels, out: Ptr, inp: Ptr, n: number, alpha: number): void;
  /** dinp = dout · f′(inp), given the forward's inp and out. */
  backward(k: Kernels, dinp: Ptr, dout: Ptr, inp: Ptr, out: Ptr, n: number, alpha: number): void;
  /** The initialization a Dense layer before it should use. */
  init: 'he' | 'glorot';
}

const KERNELS: Record<ActivationType, KernelPair> = {
  relu: {
    forward: (k, out, inp, n) => k.reluForward(out, inp, n),
    backward: (k, dinp, dout, _inp, out, n) => k.reluBackward(dinp, dout, out, n),
    init: 'he',
  },
  sigmoid: {
    forward: (k, out, inp, n) => k.sigmoidForward(out, inp, n),
    backward: (k, dinp, dout, _inp, out, n) => k.sigmoidBackward(dinp, dout, out, n),
    init: 'glorot',
  },
  tanh: {
    forward: (k, out, inp, n) => k.tanhForward(out, inp, n),
    backward: (k, dinp, dout, _inp, out, n) => k.tanhBackward(dinp, dout, out, n),
    init: 'glorot',
  },
  leakyrelu: {
    forward: (k, out, inp, n, alpha) => k.leakyReluForward(out, inp, n, alpha),
    backward: (k, dinp, dout, inp, _out, n, alpha) => k.leakyReluBackward(dinp, dout, inp, n, alpha),
    init: 'he',
  },
  gelu: {
    forward: (k, out, inp, n) => k.geluForward(out, inp, n),
    backward: (k, dinp, dout, inp, _out, n) => k.geluBackward(dinp, dout, inp, n),
    init: 'he',
  },
};

/** An element-wise activation; its width is taken from the layer before it. */
export class Activation extends SameWidthLayer {
  readonly type: ActivationType;
  /** LeakyReLU's slope for x < 0 (0 for the others). */
  readonly alpha: number;
  readonly #kernels: KernelPair;

  /** @param type one of 'relu', 'sigmoid', 'tanh', 'leakyrelu', 'gelu' */
  constructor(type: ActivationType, alpha = 0) {
    super();
    this.type = type;
    this.alpha = alpha;
    this.#kernels = KERNELS[type];
  }

  override get initHint(): InitHint {
    return this.#kernels.init;
  }

  override get fusableActivation(): 'relu' | undefined {
    return this.type === 'relu' ? 'relu' : undefined;
  }

  /** Element-wise: any shape, unchanged. */
  override outputShape(shape: readonly number[]): number[] {
    return [...shape];
  }

  forward(k: Kernels, out: Ptr, inp: Ptr, rows: number): void {
    this.#kernels.forward(k, out, inp, rows * this.features, this.alpha);
  }

  backward(k: Kernels, dinp: Ptr, dout: Ptr, inp: Ptr, out: Ptr, rows: number): void {
    this.#kernels.backward(k, dinp, dout, inp, out, rows * this.features, this.alpha);
  }

  override describe(): string {
    return this.type === 'leakyrelu' ? `leakyrelu α=${this.alpha}` : this.type;
  }

  config(): ActivationConfig {
    if (this.type === 'leakyrelu') return { type: 'leakyrelu', features: this.features, alpha: this.alpha };
    return { type: this.type, features: this.features };
  }

  /** @internal From a model file's config; `where` names it in errors. */
  static fromConfig(c: ActivationConfig, where: string): Activation {
    const l = c.type === 'leakyrelu' ? new LeakyReLU({ alpha: c.alpha }) : create(c.type);
    l.setFeatures(expectInt('load', `${where}.features`, c.features));
    return l;
  }
}

/** out = max(x, 0). */
export class ReLU extends Activation {
  constructor() {
    super('relu');
  }
}

/** out = 1/(1+exp(−x)). */
export class Sigmoid extends Activation {
  constructor() {
    super('sigmoid');
  }
}

/** out = tanh(x). */
export class Tanh extends Activation {
  constructor() {
    super('tanh');
  }
}

export interface LeakyReLUOptions {
  /** Slope for x < 0. Default 0.01 (as PyTorch's negative_slope). */
  alpha?: number;
}

/** out = x for x > 0, alpha·x otherwise. */
export class LeakyReLU extends Activation {
  /** @param options { alpha = 0.01 } */
  constructor(options?: LeakyReLUOptions) {
    const o = expectOptions('LeakyReLU', 'options', options, ['alpha']);
    super('leakyrelu', expectF32Number('LeakyReLU', 'options.alpha', o.alpha ?? 0.01));
  }
}

/** GELU, tanh approximation (PyTorch's approximate='tanh'): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
export class GELU extends Activation {
  constructor() {
    super('gelu');
  }
}

/** The public class of each activation without options. */
function create(type: Exclude<ActivationType, 'leakyrelu'>): Activation {
  switch (type) {
    case 'relu': return new ReLU();
    case 'sigmoid': return new Sigmoid();
    case 'tanh': return new Tanh();
    case 'gelu': return new GELU();
  }
}
