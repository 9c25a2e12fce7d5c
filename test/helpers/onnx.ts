/** ONNX Runtime (onnxruntime-node, CPU) as the reference for the ONNX tests, and the error measure they report. */
import * as ort from 'onnxruntime-node';

/** Runs an ONNX model on x (rows × features) with ONNX Runtime; returns its single output. */
export async function runOrt(onnx: Uint8Array, x: Float32Array, rows: number, inputShape?: number[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(onnx, { graphOptimizationLevel: 'disabled' });
  try {
    const shape = inputShape ?? [rows, x.length / rows];
    const feeds = { [session.inputNames[0]!]: new ort.Tensor('float32', x, shape) };
    const out = await session.run(feeds);
    return out[session.outputNames[0]!]!.data as Float32Array;
  } finally {
    await session.release();
  }
}

/**
 * Worst relative disagreement of a against b (rows × cols): max over elements
 * of |a − b| / max(|b|, the row's largest |b|). Each output is compared
 * relative to its row's scale: a logit of −0.003 that is the sum of terms of
 * size 1 carries f32 rounding of size 1e-7 whichever engine sums it, so an
 * element-by-element ratio would measure cancellation, not disagreement.
 * `elementwise` is the plain max |a − b| / |b| (reported, not asserted).
 */
export function worstRelative(a: Float32Array, b: Float32Array, cols = b.length): { rel: number; index: number; elementwise: number } {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let rel = 0, index = -1, elementwise = 0;
  for (let r = 0; r < b.length; r += cols) {
    let scale = 0;
    for (let j = r; j < r + cols; j++) scale = Math.max(scale, Math.abs(b[j]!));
    for (let i = r; i < r + cols; i++) {
      const d = Math.abs(a[i]! - b[i]!);
      const x = d / Math.max(Math.abs(b[i]!), scale);
      if (!(x <= rel)) { rel = x; index = i; }
      const e = d === 0 ? 0 : d / Math.abs(b[i]!);
      if (!(e <= elementwise)) elementwise = e;
    }
  }
  return { rel, index, elementwise };
}

/** The worst disagreement any ONNX test measured, printed at the end of a file (figures for the report). */
export const measured: { rel: number; what: string; elementwise: number } = { rel: 0, what: '', elementwise: 0 };

export function record(r: { rel: number; elementwise: number }, what: string): void {
  if (r.rel > measured.rel) { measured.rel = r.rel; measured.what = what; }
  measured.elementwise = Math.max(measured.elementwise, r.elementwise);
}
