// Optimizer steps over one flat block of n parameters, in one call.
//
// params, grads and the optimizer's state buffers share one layout, so a
// whole model is updated by a single loop. Weight decay is L2 (added to the
// gradient), as in PyTorch's SGD, RMSprop and Adam; AdamW decays the
// parameter itself (decoupled), as in PyTorch's AdamW.

import { at } from './memory';

/**
 * The host's Math.pow (imported as env.pow): the function the JS twin calls,
 * so both backends form Adam's bias corrections from the same f64, and the
 * module carries no pow of its own (AssemblyScript's is ~2 KB of code and
 * ~6 KB of lookup tables, a quarter of the kernels' size).
 */
// @ts-ignore: decorator
@external("env", "pow")
declare function hostPow(x: f64, y: f64): f64;

/**
 * SGD, optionally with momentum (PyTorch convention, no dampening):
 *   g = grad + wd·p;  v = momentum·v + g;  p −= lr·v      (momentum > 0)
 *   g = grad + wd·p;  p −= lr·g                           (momentum = 0; velocity untouched)
 * params, grads, velocity: [n].
 */
export function sgdUpdate(params: usize, grads: usize, velocity: usize, n: i32, lr: f64, momentum: f64, weightDecay: f64): void {
  // scalars arrive as f64 (like the other optimizers) and are rounded once
  const l = <f32>lr, mu = <f32>momentum, wd = <f32>weightDecay;
  const vlr = f32x4.splat(l), vmu = f32x4.splat(mu), vwd = f32x4.splat(wd);
  const nv = n & ~3;
  let i = 0;
  if (mu > 0) {
    for (; i < nv; i += 4) {
      const p = v128.load(at(params, i));
      const g = f32x4.add(v128.load(at(grads, i)), f32x4.mul(vwd, p));
      const v = f32x4.add(f32x4.mul(vmu, v128.load(at(velocity, i))), g);
      v128.store(at(velocity, i), v);
      v128.store(at(params, i), f32x4.sub(p, f32x4.mul(vlr, v)));
    }
    for (; i < n; i++) {
      const p = load<f32>(at(params, i));
      const v = mu * load<f32>(at(velocity, i)) + (load<f32>(at(grads, i)) + wd * p);
      store<f32>(at(velocity, i), v);
      store<f32>(at(params, i), p - l * v);
    }
  } else {
    for (; i < nv; i += 4) {
      const p = v128.load(at(params, i));
      const g = f32x4.add(v128.load(at(grads, i)), f32x4.mul(vwd, p));
      v128.store(at(params, i), f32x4.sub(p, f32x4.mul(vlr, g)));
    }
    for (; i < n; i++) {
      const p = load<f32>(at(params, i));
      store<f32>(at(params, i), p - l * (load<f32>(at(grads, i)) + wd * p));
    }
  }
}

/**
 * RMSprop (PyTorch form, ε outside the root):
 *   g = grad + wd·p;  s = ρ·s + (1−ρ)·g²;  p −= lr·g/(sqrt(s) + ε)
 * params, grads, sq: [n].
 */
export function rmspropUpdate(params: usize, grads: usize, sq: usize, n: i32, lr: f64, rho: f64, eps: f64, weightDecay: f64): void {
  const r = <f32>rho, c = <f32>(1 - rho), l = <f32>lr, e = <f32>eps, wd = <f32>weightDecay;
  const vlr = f32x4.splat(l), vrho = f32x4.splat(r), v1rho = f32x4.splat(c);
  const veps = f32x4.splat(e), vwd = f32x4.splat(wd);
  const nv = n & ~3;
  let i = 0;
  for (; i < nv; i += 4) {
    const p = v128.load(at(params, i));
    const g = f32x4.add(v128.load(at(grads, i)), f32x4.mul(vwd, p));
    const s = f32x4.add(f32x4.mul(vrho, v128.load(at(sq, i))), f32x4.mul(v1rho, f32x4.mul(g, g)));
    v128.store(at(sq, i), s);
    v128.store(at(params, i), f32x4.sub(p, f32x4.div(f32x4.mul(vlr, g), f32x4.add(f32x4.sqrt(s), veps))));
  }
  for (; i < n; i++) {
    const p = load<f32>(at(params, i));
    const g = load<f32>(at(grads, i)) + wd * p;
    const s = r * load<f32>(at(sq, i)) + c * g * g;
    store<f32>(at(sq, i), s);
    store<f32>(at(params, i), p - l * g / (Mathf.sqrt(s) + e));
  }
}

/**
 * Adam (PyTorch form), step t ≥ 1:
 *   g = grad + wd·p;  m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²
 *   p −= (lr/(1−β1ᵗ)) · m / (sqrt(v)/sqrt(1−β2ᵗ) + ε)
 * params, grads, m, v: [n].
 */
export function adamUpdate(params: usize, grads: usize, m: usize, v: usize, n: i32, lr: f64, beta1: f64, beta2: f64, eps: f64, weightDecay: f64, t: i32): void {
  adamStep(params, grads, m, v, n, lr, beta1, beta2, eps, weightDecay, t, false);
}

/**
 * AdamW (PyTorch's torch.optim.AdamW; Loshchilov & Hutter, decoupled weight
 * decay), step t ≥ 1: the decay shrinks the parameter and never enters m, v:
 *   p ← p·(1 − lr·wd);  m = β1·m + (1−β1)·grad;  v = β2·v + (1−β2)·grad²
 *   p −= (lr/(1−β1ᵗ)) · m / (sqrt(v)/sqrt(1−β2ᵗ) + ε)
 * params, grads, m, v: [n].
 */
export function adamwUpdate(params: usize, grads: usize, m: usize, v: usize, n: i32, lr: f64, beta1: f64, beta2: f64, eps: f64, weightDecay: f64, t: i32): void {
  adamStep(params, grads, m, v, n, lr, beta1, beta2, eps, weightDecay, t, true);
}

/**
 * The loop of adamUpdate and adamwUpdate. `decoupled` is a constant at each
 * call site, so after inlining each kernel keeps only its own branch:
 * L2 (g = grad + wd·p) for Adam, p·(1 − lr·wd) for AdamW.
 */
// @ts-ignore: decorator
@inline function adamStep(params: usize, grads: usize, m: usize, v: usize, n: i32, lr: f64, beta1: f64, beta2: f64, eps: f64, weightDecay: f64, t: i32, decoupled: bool): void {
  // Scalars arrive as f64 and every per-step constant is formed in f64, then
  // rounded once: 1−β2 and β2ᵗ for β2 = 0.999 would lose ~1e-5 relative in f32.
  const stepSize = <f32>(lr / (1 - hostPow(beta1, <f64>t)));
  const invSqrtBc2 = <f32>(1 / Math.sqrt(1 - hostPow(beta2, <f64>t)));
  const b1 = <f32>beta1, c1 = <f32>(1 - beta1), b2 = <f32>beta2, c2 = <f32>(1 - beta2);
  const e = <f32>eps, wd = <f32>weightDecay, decay = <f32>(1 - lr * weightDecay);
  const vb1 = f32x4.splat(b1), v1b1 = f32x4.splat(c1);
  const vb2 = f32x4.splat(b2), v1b2 = f32x4.splat(c2);
  const vstep = f32x4.splat(stepSize), vibc2 = f32x4.splat(invSqrtBc2);
  const veps = f32x4.splat(e), vwd = f32x4.splat(wd), vdecay = f32x4.splat(decay);
  const nv = n & ~3;
  let i = 0;
  for (; i < nv; i += 4) {
    let p = v128.load(at(params, i));
    let g = v128.load(at(grads, i));
    if (decoupled) p = f32x4.mul(p, vdecay);
    else g = f32x4.add(g, f32x4.mul(vwd, p));
    const mi = f32x4.add(f32x4.mul(vb1, v128.load(at(m, i))), f32x4.mul(v1b1, g));
    const vi = f32x4.add(f32x4.mul(vb2, v128.load(at(v, i))), f32x4.mul(v1b2, f32x4.mul(g, g)));
    v128.store(at(m, i), mi);
    v128.store(at(v, i), vi);
    const denom = f32x4.add(f32x4.mul(f32x4.sqrt(vi), vibc2), veps);
    v128.store(at(params, i), f32x4.sub(p, f32x4.div(f32x4.mul(vstep, mi), denom)));
  }
  for (; i < n; i++) {
    let p = load<f32>(at(params, i));
    let g = load<f32>(at(grads, i));
    if (decoupled) p = p * decay;
    else g = g + wd * p;
    const mi = b1 * load<f32>(at(m, i)) + c1 * g;
    const vi = b2 * load<f32>(at(v, i)) + c2 * g * g;
    store<f32>(at(m, i), mi);
    store<f32>(at(v, i), vi);
    store<f32>(at(params, i), p - stepSize * mi / (Mathf.sqrt(vi) * invSqrtBc2 + e));
  }
}
