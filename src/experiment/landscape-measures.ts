/**
 * The measurements of Santurkar et al. (2018), "How Does Batch Normalization
 * Help Optimization?", computed through a model's own kernels: a Probe gives
 * the loss and parameter gradients on a fixed batch at whatever parameters
 * model/params.ts writes, with no optimizer step and no state change.
 *
 *   internalCovariateShift  their Definition 2.1: for layer i,
 *       G  = ∇_{W_i} L(W_1 … W_k)              (weights before step t's update)
 *       G′ = ∇_{W_i} L(W_1′ … W_{i−1}′, W_i … W_k)   (the layers below updated)
 *     ICS = ‖G − G′‖₂, and cos(G, G′).
 *   landscapeAlongGradient  their Section 3.2: with g = ∇L(w), over step
 *     sizes η, the losses L(w − ηg), the gradient changes
 *     ‖∇L(w − ηg) − g‖₂ and the effective β-smoothness
 *     max_η ‖∇L(w − ηg) − g‖₂ / ‖ηg‖₂.
 *
 * Norms and dot products are accumulated in f64 over the f32 gradients.
 * Both functions leave the parameters as they found them.
 */
import type { Network } from '../model/network.js';
import { paramRange, readGrads, writeParams } from '../model/params.js';
import type { Probe } from '../train/probe.js';

export interface IcsPoint {
  /** ‖G − G′‖₂. */
  l2: number;
  /** cos(G, G′) (NaN when either is 0). */
  cosine: number;
}

/** ‖a − b‖₂ and cos(a, b) over a[offset, offset + size) and b at the same positions. */
export function differenceAndCosine(a: Float32Array, b: Float32Array, offset = 0, size = a.length): IcsPoint {
  let d2 = 0, ab = 0, aa = 0, bb = 0;
  for (let j = offset; j < offset + size; j++) {
    const x = a[j]!, y = b[j]!;
    d2 += (x - y) * (x - y);
    ab += x * y;
    aa += x * x;
    bb += y * y;
  }
  return { l2: Math.sqrt(d2), cosine: aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : NaN };
}

/**
 * ICS (Definition 2.1) of each layer in `layers` (indices into net.layers,
 * layers with parameters) on the probe's batch: `before` are the parameters
 * of step t (w_t), `after` those after its update (w_{t+1}). The parameters
 * "below" layer i are every value before it in the flat vector (a lower
 * BatchNorm's γ and β included). Leaves the parameters at `before`.
 */
export function internalCovariateShift(net: Network, probe: Probe, before: Float32Array, after: Float32Array, layers: readonly number[]): IcsPoint[] {
  writeParams(net, before);
  probe.loss(true);
  const g = readGrads(net);
  const mixed = new Float32Array(before.length);
  const out = layers.map((i) => {
    const { offset, size } = paramRange(net, i);
    mixed.set(after.subarray(0, offset), 0);
    mixed.set(before.subarray(offset), offset);
    writeParams(net, mixed);
    probe.loss(true);
    return differenceAndCosine(g, readGrads(net), offset, size);
  });
  writeParams(net, before);
  return out;
}

export interface LandscapePoint {
  /** L(w) and the gradient norm ‖g‖₂ there. */
  loss: number;
  gradientNorm: number;
  /** min and max over η of L(w − ηg). */
  lossMin: number;
  lossMax: number;
  /** min and max over η of ‖∇L(w − ηg) − g‖₂. */
  gradientChangeMin: number;
  gradientChangeMax: number;
  /** max over η of ‖∇L(w − ηg) − g‖₂ / ‖ηg‖₂. */
  betaSmoothness: number;
}

/** The loss landscape along the gradient at w (Section 3.2), for the step sizes `etas`. Leaves the parameters at w. */
export function landscapeAlongGradient(net: Network, probe: Probe, w: Float32Array, etas: readonly number[]): LandscapePoint {
  writeParams(net, w);
  const loss = probe.loss(true);
  const g = readGrads(net);
  let g2 = 0;
  for (let j = 0; j < g.length; j++) g2 += g[j]! * g[j]!;
  const gNorm = Math.sqrt(g2);
  const moved = new Float32Array(w.length);
  const p: LandscapePoint = { loss, gradientNorm: gNorm, lossMin: Infinity, lossMax: -Infinity, gradientChangeMin: Infinity, gradientChangeMax: -Infinity, betaSmoothness: -Infinity };
  for (const eta of etas) {
    for (let j = 0; j < w.length; j++) moved[j] = w[j]! - eta * g[j]!;
    writeParams(net, moved);
    const l = probe.loss(true);
    const change = differenceAndCosine(readGrads(net), g).l2;
    p.lossMin = Math.min(p.lossMin, l);
    p.lossMax = Math.max(p.lossMax, l);
    p.gradientChangeMin = Math.min(p.gradientChangeMin, change);
    p.gradientChangeMax = Math.max(p.gradientChangeMax, change);
    p.betaSmoothness = Math.max(p.betaSmoothness, gNorm > 0 ? change / (eta * gNorm) : NaN);
  }
  writeParams(net, w);
  return p;
}

/** `n` step sizes spaced geometrically over [lo, hi] (n = 1: lo). */
export function geometricGrid(lo: number, hi: number, n: number): number[] {
  if (n === 1) return [lo];
  return Array.from({ length: n }, (_, i) => lo * (hi / lo) ** (i / (n - 1)));
}

/** The median of finite values (NaN if none). */
export function median(values: readonly number[]): number {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const m = v.length >> 1;
  return v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
}
