// normcore export / normcore import (issue 14), run in-process through main(argv, io).
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli.js';
import { createBackend, loadModel, mlp, saveModel, Sequential } from '../src/node/index.js';
import { encodeModel, floatTensor, floatValueInfo, node } from '../src/io/onnx-pb.js';
import { runOrt, worstRelative } from './helpers/onnx.js';
import { blobs } from './fixtures/data.js';

let dir: string;
let modelPath: string;
let model: Sequential;
const { x, y } = blobs(64, 6, 3, 8);

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '', err = '';
  const code = await main(argv, { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'normcore-onnx-'));
  await createBackend('wasm');
  model = new Sequential(mlp({ inputs: 6, hidden: [8], outputs: 3 }), { seed: 2 });
  model.compile({ optimizer: { type: 'adam', lr: 0.02 } });
  await model.fit(x, y, { epochs: 2, batchSize: 16 });
  modelPath = join(dir, 'model.nc');
  await saveModel(model, modelPath);
});

afterAll(async () => {
  model.dispose();
  await rm(dir, { recursive: true, force: true });
});

describe('normcore export', () => {
  it('writes an ONNX file that ONNX Runtime runs to the model’s predictions', async () => {
    const out = join(dir, 'model.onnx');
    const r = await run('export', modelPath, '--onnx', out);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toBe(`${out}: ONNX opset 15, ${(await readFile(out)).length} bytes: MatMul → BatchNormalization → Relu → Gemm → Softmax; input "input" [N, 6]\n`);
    const got = await runOrt(new Uint8Array(await readFile(out)), x, 64);
    expect(worstRelative(got, model.predict(x), 3).rel).toBeLessThanOrEqual(1e-5);
  });

  it('--opset, --no-softmax and --input-name', async () => {
    const out = join(dir, 'logits.onnx');
    const r = await run('export', modelPath, '--onnx', out, '--opset', '9', '--no-softmax', '--input-name', 'features');
    expect(r.code).toBe(0);
    expect(r.out).toContain('ONNX opset 9');
    expect(r.out).toContain('MatMul → BatchNormalization → Relu → Gemm; input "features"');
  });

  it('usage errors: no --onnx, no model, a bad opset; a missing file fails with its path', async () => {
    expect(await run('export', modelPath)).toMatchObject({ code: 2, err: 'normcore export: --onnx <file> is required (where to write the ONNX model)\n' });
    expect(await run('export', '--onnx', 'x.onnx')).toMatchObject({ code: 2, err: 'normcore export: expected one model file, got none\n' });
    expect(await run('export', modelPath, '--onnx', 'x.onnx', '--opset', '30')).toMatchObject({ code: 2, err: 'normcore export: --opset must be an integer in [9, 21], got "30"\n' });
    const missing = join(dir, 'nope.nc');
    expect(await run('export', missing, '--onnx', 'x.onnx')).toMatchObject({ code: 1, err: `normcore export: there is no model file at ${missing}\n` });
  });
});

describe('normcore import', () => {
  it('reads a PyTorch-shaped fixture into a model file that predicts what ONNX Runtime computes', async () => {
    const src = new URL('./fixtures/onnx/pytorch-opset15-gemm-bn.onnx', import.meta.url).pathname;
    const out = join(dir, 'imported.nc');
    const r = await run('import', src, '--out', out, '--backend', 'js');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toBe(`${out}: dense → batchnorm → relu → dense (20 → 10, 538 parameters), not compiled\n` +
      'the final Softmax was dropped: compile with loss softmaxCrossEntropy and predict returns probabilities\n');
    const m = await loadModel(out, { backend: 'js' });
    const xs = Float32Array.from({ length: 20 * 8 }, (_, i) => Math.sin(i));
    m.compile({ loss: 'softmaxCrossEntropy' });
    const expected = await runOrt(new Uint8Array(await readFile(src)), xs, 8);
    expect(worstRelative(m.predict(xs), expected, 10).rel).toBeLessThanOrEqual(1e-5);
    m.dispose();
  });

  it('an unmappable graph fails (exit 1) naming the node and its op type; no --out is a usage error', async () => {
    const bad = join(dir, 'conv.onnx');
    await writeFile(bad, encodeModel({
      irVersion: 8, opset: 15, producerVersion: 't', docString: '', graphName: 'g',
      nodes: [node('ConvTranspose', '/up1/ConvTranspose', ['x', 'w'], ['y'])], initializers: [floatTensor('w', [1, 1, 1, 1], Float32Array.from([1]))],
      inputs: [floatValueInfo('x', ['N', 4])], outputs: [floatValueInfo('y', ['N', 4])],
    }));
    const r = await run('import', bad, '--out', join(dir, 'never.nc'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^normcore import: fromOnnx: node "\/up1\/ConvTranspose" \(ConvTranspose\): op ConvTranspose has no normcore layer/);
    expect(await run('import', bad)).toMatchObject({ code: 2, err: 'normcore import: --out <file> is required (where to write the normcore model)\n' });
  });
});

describe('normcore --help', () => {
  it('lists export and import and their flags', async () => {
    const r = await run('--help');
    for (const s of ['normcore export <model.nc> --onnx', 'normcore import <in.onnx> --out', '--opset', '--no-softmax', '--input-name']) expect(r.out).toContain(s);
    expect((await run('export', '--help')).out).toContain('--onnx <file>');
  });
});
