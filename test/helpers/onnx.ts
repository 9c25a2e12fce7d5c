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
 * Worst relative disagreement of a against b: max over elements of
^ * |a − b| / max(|b|, floor). Default floor 0: purely relative. A floor keeps values near zero
 * (a probability of 1e-9, a ReLU output of 0) from turning rounding noise
 * into a huge ratio: below it the measure is |a − b| / floor.
 */
export function worstRelative(a: Float32Array, b: Float32Array, floor = 0): { rel: number; index: number } {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let rel = 0, index = -1;
  for (let i = 0; i < a.length; i++) {
    const r = Math.abs(a[i]! - b[i]!) / Math.max(Math.abs(b[i]!), floor);
    if (!(r <= rel)) { rel = r; index = i; }
  }
  return { rel, index };
}

/** The worst disagreement any ONNX test measured, printed at the end of a file (figures for the report). */
export const measured: { rel: number; what: string } = { rel: 0, what: '' };

export function record(rel: number, what: string): void {
  if (rel > measured.rel) { measured.rel = rel; measured.what = what; }
}
