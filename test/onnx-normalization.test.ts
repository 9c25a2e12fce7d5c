/**
 * The Normalization layer (issue 11) through ONNX (issue 14): written as Sub
 * then Div, read back from that pair; ONNX Runtime agrees with predict.
 */
import { describe, expect, it } from 'vitest';
import { createBackend, Dense, ReLU, Sequential } from '../src/index.js';
import { Normalization } from '../src/data.js';
import { decodeModel } from '../src/io/onnx-pb.js';
import { fromOnnx, OnnxUnsupportedError, toOnnx } from '../src/onnx.js';
import { runOrt, worstRelative } from './helpers/onnx.js';
import { toBinary } from '@bufbuild/protobuf';
import { ModelProtoSchema } from '../src/io/onnx-proto/onnx/onnx_pb.generated.js';

const F = 5, rows = 32;
// features far from 0 and of different scales: what a Normalization is for
const x = Float32Array.from({ length: rows * F }, (_, i) => (i % F) * 100 + 1000 * Math.sin(i * 0.7) / ((i % F) + 1) + 5e3);

describe.each(['wasm', 'js'] as const)('Normalization through ONNX on the %s backend', (name) => {
  it('exports as Sub and Div, runs in ONNX Runtime as predict does, and imports back as a Normalization', async () => {
    const be = await createBackend(name);
    const norm = new Normalization(F);
    const m = new Sequential([norm, new Dense(F, 8), new ReLU(), new Dense(8, 3)], { backend: be, seed: 3 }).compile();
    await m.adapt(x);
    const onnx = toOnnx(m);
    const ops = decodeModel(onnx).graph!.node.map((n) => n.opType);
    expect(ops.slice(0, 2)).toEqual(['Sub', 'Div']);
    const want = m.predict(x);
    const got = await runOrt(onnx, x, rows);
    expect(worstRelative(got, want, 3).rel).toBeLessThan(1e-5);
    const back = fromOnnx(onnx, { backend: be }).compile();
    expect(back.layers[0]).toBeInstanceOf(Normalization);
    expect(worstRelative(back.predict(x), want, 3).rel).toBeLessThan(1e-5);
  });
});

it('a Div that does not follow a Sub is refused, naming the node', async () => {
  const be = await createBackend('js');
  const m = new Sequential([new Normalization(F), new Dense(F, 2)], { backend: be }).compile();
  const model = decodeModel(toOnnx(m, { softmax: false }));
  model.graph!.node.splice(0, 1); // drop the Sub: the Div now reads the graph input
  model.graph!.node[0]!.input[0] = model.graph!.input[0]!.name;
  const bytes = toBinary(ModelProtoSchema, model);
  expect(() => fromOnnx(bytes, { backend: be })).toThrow(OnnxUnsupportedError);
  expect(() => fromOnnx(bytes, { backend: be })).toThrow(/node "normalization_0\.div" \(Div\): a Div is read only right after a Sub/);
});
