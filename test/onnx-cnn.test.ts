/**
 * The image layers (issue 12) exported to ONNX (issue 14): normcore's NHWC
 * rows become Reshape → Transpose → NCHW Conv / BatchNormalization / MaxPool
 * / AveragePool / GlobalAveragePool, and back to NHWC before Flatten; ONNX
 * Runtime agrees with predict.
 */
import { describe, expect, it } from 'vitest';
import { createBackend, Dense, Sequential } from '../src/index.js';
import { Conv2d, Flatten } from '../src/cnn.js';
import { CNN_NETS } from './helpers/cnn-nets.js';
import { decodeModel } from '../src/io/onnx-pb.js';
import { toOnnx } from '../src/onnx.js';
import { runOrt, worstRelative } from './helpers/onnx.js';

const nets = CNN_NETS;

describe.each(['wasm', 'js'] as const)('image layers through ONNX on the %s backend', (name) => {
  it.each(nets)('%s: ONNX Runtime agrees with predict (≤ 1e-5 of each row’s largest output)', async (_n, inputShape, make) => {
    const be = await createBackend(name);
    const m = new Sequential(make(), { backend: be, seed: 4, inputShape }).compile({ optimizer: { type: 'adam', lr: 0.01 } });
    const F = inputShape.reduce((a, b) => a * b, 1), rows = 6;
    const x = Float32Array.from({ length: rows * F }, (_, i) => Math.sin(i * 0.37) + 0.2 * Math.cos(i * 1.3));
    const y = new Uint8Array(rows).map((_, i) => i % m.outFeatures);
    await m.fit(x, y, { epochs: 3, batchSize: 3 }); // running statistics away from their initial values
    const onnx = toOnnx(m);
    const ops = decodeModel(onnx).graph!.node.map((n) => n.opType);
    expect(ops.slice(0, 3)).toEqual(['Reshape', 'Transpose', 'Conv']);
    const want = m.predict(x);
    const got = await runOrt(onnx, x, rows);
    expect(worstRelative(got, want, m.outFeatures).rel).toBeLessThan(1e-5);
  });
});

it('an image layer in a file without inputShape is refused, naming the layer', async () => {
  const be = await createBackend('js');
  const m = new Sequential([new Conv2d(1, 2, 3), new Flatten(), new Dense(2 * 2 * 2, 2)], { backend: be, inputShape: [4, 4, 1] });
  const { decodeModelFile, encodeModelFile } = await import('../src/index.js');
  const f = decodeModelFile(m.save());
  const { inputShape: _dropped, ...header } = f.header as Record<string, unknown>;
  expect(() => toOnnx(encodeModelFile(header, f.weights))).toThrow(/layer 0 \(conv2d\) needs the model's inputShape/);
});
