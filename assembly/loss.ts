// Losses over a mini-batch of logits or predictions, fused with their gradient.
//
// Dimension letters: rows = N (the mini-batch), cols = K (classes or outputs).

import { at } from './memory';

/**
 * Softmax with cross-entropy, fused. For each row r with label t = labels[r]:
 *   p = softmax(logits[r,:]),  loss_r = −log p[t] = logsumexp(logits[r,:]) − logits[r,t]
 * Returns the mean loss over the N rows, and writes
 *   dlogits[r,:] = (p − onehot(t)) / N       (the gradient of the mean loss)
 * Max-subtracted, so logits of any size stay finite.
 * dlogits: [N×K]; logits: [N×K]; labels: i32[N], each in [0, K). dlogits may alias logits.
 */
export function softmaxCrossEntropy(dlogits: usize, logits: usize, labels: usize, rows: i32, cols: i32): f64 {
  const invN: f32 = <f32>1 / <f32>rows;
  let total: f64 = 0;
  for (let r = 0; r < rows; r++) {
    const lr = at(logits, r * cols);
    const dr = at(dlogits, r * cols);
    const t = load<i32>(at(labels, r));
    let mx = load<f32>(lr);
    for (let j = 1; j < cols; j++) mx = max(mx, load<f32>(at(lr, j)));
    const target = load<f32>(at(lr, t)) - mx; // read before dr, which may alias lr, is overwritten
    let sum: f32 = 0;
    for (let j = 0; j < cols; j++) {
      const e = Mathf.exp(load<f32>(at(lr, j)) - mx);
      store<f32>(at(dr, j), e);
      sum += e;
    }
    total += <f64>(Mathf.log(sum) - target);
    const k = invN / sum;
    for (let j = 0; j < cols; j++) store<f32>(at(dr, j), load<f32>(at(dr, j)) * k);
    store<f32>(at(dr, t), load<f32>(at(dr, t)) - invN);
  }
  return total / <f64>rows;
}

/** probs[r,:] = softmax(logits[r,:]). probs, logits: [N×K]. May run in place. */
export function softmaxForward(probs: usize, logits: usize, rows: i32, cols: i32): void {
  for (let r = 0; r < rows; r++) {
    const lr = at(logits, r * cols);
    const pr = at(probs, r * cols);
    let mx = load<f32>(lr);
    for (let j = 1; j < cols; j++) mx = max(mx, load<f32>(at(lr, j)));
    let sum: f32 = 0;
    for (let j = 0; j < cols; j++) {
      const e = Mathf.exp(load<f32>(at(lr, j)) - mx);
      store<f32>(at(pr, j), e);
      sum += e;
    }
    const k = <f32>1 / sum;
    for (let j = 0; j < cols; j++) store<f32>(at(pr, j), load<f32>(at(pr, j)) * k);
  }
}

/**
 * Mean squared error over all N·K values, fused with its gradient:
 *   loss = Σ (pred − target)² / (N·K),  dpred = 2·(pred − target)/(N·K)
 * Returns the loss. dpred, pred, target: [N×K]. dpred may alias pred.
 */
export function mseLoss(dpred: usize, pred: usize, target: usize, rows: i32, cols: i32): f64 {
  const n = rows * cols;
  const k: f32 = <f32>2 / <f32>n;
  let total: f64 = 0;
  for (let i = 0; i < n; i++) {
    const e = load<f32>(at(pred, i)) - load<f32>(at(target, i));
    total += <f64>e * <f64>e;
    store<f32>(at(dpred, i), k * e);
  }
  return total / <f64>n;
}

/**
 * Binary cross-entropy from logits z (one sigmoid per value), fused with its
 * gradient, over all N·K values with targets t in [0, 1]:
 *   loss = Σ [max(z, 0) − z·t + log1p(exp(−|z|))] / (N·K)   (= −t·log σ(z) − (1−t)·log(1−σ(z)))
 *   dlogits = (σ(z) − t) / (N·K)
 * Never forms log σ(z) or exp(|z|), so logits of any size stay finite.
 * Returns the loss. dlogits, logits, targets: [N×K]. dlogits may alias logits.
 */
export function binaryCrossEntropy(dlogits: usize, logits: usize, targets: usize, rows: i32, cols: i32): f64 {
  const n = rows * cols;
  const invN: f32 = <f32>1 / <f32>n;
  let total: f64 = 0;
  for (let i = 0; i < n; i++) {
    const z = load<f32>(at(logits, i)); // read before dlogits, which may alias logits, is written
    const t = load<f32>(at(targets, i));
    const e = Mathf.exp(-Mathf.abs(z)); // in (0, 1]
    // max(z, 0) − z·t in f64: exact for f32 inputs, no cancellation when t ≈ 1 and z is large
    total += <f64>max(z, <f32>0) - <f64>z * <f64>t + <f64>Mathf.log1p(e);
    const s = z >= 0 ? <f32>1 / (<f32>1 + e) : e / (<f32>1 + e); // σ(z)
    store<f32>(at(dlogits, i), (s - t) * invN);
  }
  return total / <f64>n;
}

/**
 * Mean absolute error over all N·K values, fused with its gradient:
 *   loss = Σ |pred − target| / (N·K),  dpred = sign(pred − target)/(N·K)  (0 where pred = target)
 * Returns the loss. dpred, pred, target: [N×K]. dpred may alias pred.
 */
export function maeLoss(dpred: usize, pred: usize, target: usize, rows: i32, cols: i32): f64 {
  const n = rows * cols;
  const k: f32 = <f32>1 / <f32>n;
  let total: f64 = 0;
  for (let i = 0; i < n; i++) {
    const d = <f64>load<f32>(at(pred, i)) - <f64>load<f32>(at(target, i)); // exact in f64
    total += Math.abs(d);
    store<f32>(at(dpred, i), d > 0 ? k : d < 0 ? -k : <f32>0);
  }
  return total / <f64>n;
}

/**
 * Huber loss over all N·K values (torch.nn.HuberLoss, reduction 'mean'),
 * fused with its gradient. With d = pred − target and δ > 0:
 *   ℓ(d) = 0.5·d²  if |d| ≤ δ,  δ·(|d| − 0.5·δ) otherwise
 *   loss = Σ ℓ(d) / (N·K),  dpred = clamp(d, −δ, δ)/(N·K)
 * Returns the loss. dpred, pred, target: [N×K]. dpred may alias pred.
 */
export function huberLoss(dpred: usize, pred: usize, target: usize, rows: i32, cols: i32, delta: f64): f64 {
  const n = rows * cols;
  const invN: f64 = 1 / <f64>n;
  let total: f64 = 0;
  for (let i = 0; i < n; i++) {
    const d = <f64>load<f32>(at(pred, i)) - <f64>load<f32>(at(target, i)); // exact in f64
    const a = Math.abs(d);
    total += a <= delta ? 0.5 * d * d : delta * (a - 0.5 * delta);
    store<f32>(at(dpred, i), <f32>(min(max(d, -delta), delta) * invN));
  }
  return total / <f64>n;
}

/** Number of rows whose arg-max (first on ties) equals labels[r]. scores: [N×K]; labels: i32[N]. */
export function countCorrect(scores: usize, labels: usize, rows: i32, cols: i32): i32 {
  let correct = 0;
  for (let r = 0; r < rows; r++) {
    const sr = at(scores, r * cols);
    let best = 0;
    let bv = load<f32>(sr);
    for (let j = 1; j < cols; j++) {
      const v = load<f32>(at(sr, j));
      if (v > bv) { bv = v; best = j; }
    }
    if (best == load<i32>(at(labels, r))) correct++;
  }
  return correct;
}
