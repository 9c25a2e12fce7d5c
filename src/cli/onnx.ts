/**
 * `normcore export MODEL.nc --onnx OUT.onnx` and `normcore import IN.onnx --out MODEL.nc`
 * (src/io/onnx.ts does the mapping). Hooked into src/cli.ts.
 */
import { createBackend } from '../backend/index.js';
import { onnxToLayers, toOnnx, MIN_OPSET, MAX_OPSET } from '../io/onnx.js';
import { fromOnnx } from '../node/onnx.js';
import { readFile } from 'node:fs/promises';
import { saveModel, writeFileAtomic } from '../node/model-file.js';
import { flagLines, parseFlags, type Flags } from '../node/flags.js';
import { decodeModel, type ValueInfoProto } from '../io/onnx-pb.js';

interface Out {
  out(text: string): void;
}

const EXPORT_FLAGS: Flags = {
  onnx: { type: 'string', value: '<file>', help: 'the ONNX file to write' },
  opset: { type: 'string', value: '<n>', default: '15', help: `ONNX opset, ${MIN_OPSET}…${MAX_OPSET} (a model with GELU needs ≥ 20)` },
  'no-softmax': { type: 'boolean', help: 'leave the logits: no final Softmax even when the model is compiled with softmaxCrossEntropy' },
  'input-name': { type: 'string', value: '<name>', default: 'input', help: 'name of the graph input, shaped [N, features]' },
  help: { type: 'boolean', help: 'show this help' },
};

const IMPORT_FLAGS: Flags = {
  out: { type: 'string', value: '<file>', help: 'the normcore model file to write' },
  backend: { type: 'string', value: 'wasm|js', default: 'wasm', help: 'backend used to check the model loads' },
  help: { type: 'boolean', help: 'show this help' },
};

export const EXPORT_HELP = `normcore export <model.nc> --onnx <out.onnx> [flags]
  Writes a saved model as ONNX for ONNX Runtime and other engines: Dense → Gemm (MatMul without bias),
  BatchNorm → BatchNormalization (inference), activations, and a final Softmax for softmaxCrossEntropy models.

${flagLines(EXPORT_FLAGS)}
`;

export const IMPORT_HELP = `normcore import <in.onnx> --out <model.nc> [flags]
  Reads an ONNX chain (the Gemm/MatMul+Add, BatchNormalization, Relu/Sigmoid/Tanh… graphs PyTorch and tf2onnx
  write for MLPs) into an uncompiled normcore model file. A final Softmax is dropped: compile with
  softmaxCrossEntropy and predict returns probabilities.

${flagLines(IMPORT_FLAGS)}
`;

function onePositional(positionals: string[], what: string, fail: (m: string) => never): string {
  if (positionals.length !== 1) fail(`expected one ${what}, got ${positionals.length === 0 ? 'none' : positionals.map((p) => JSON.stringify(p)).join(' ')}`);
  return positionals[0]!;
}

/** The bytes at `path`; the command's runner prefixes the message with the command's name. */
async function read(path: string, what: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? `there is no ${what} at ${path}` : `cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
}

export async function exportCommand(args: string[], io: Out): Promise<number> {
  const f = parseFlags('normcore export', args, EXPORT_FLAGS, { positionals: true });
  if (f.help) {
    io.out(EXPORT_HELP);
    return 0;
  }
  const input = onePositional(f.positionals, 'model file', (m) => f.fail(m));
  if (f.given('onnx') === undefined) f.fail('--onnx <file> is required (where to write the ONNX model)');
  const out = f.path('onnx', 'a file path');
  const opset = f.int('opset', MIN_OPSET, MAX_OPSET);
  const inputName = f.string('input-name');
  if (inputName.trim() === '' || inputName === 'output') f.bad('input-name', "a name other than 'output'", inputName);
  const bytes = await read(input, 'model file');
  const onnx = toOnnx(bytes, { opset, softmax: !f.is('no-softmax'), inputName });
  await writeFileAtomic(out, onnx);
  const graph = decodeModel(onnx).graph!;
  io.out(`${out}: ONNX opset ${opset}, ${onnx.length} bytes: ${graph.node.map((n) => n.opType).join(' → ')}; input ${JSON.stringify(inputName)} [N, ${dimOf(graph.input[0])}]\n`);
  return 0;
}

function dimOf(v: ValueInfoProto | undefined): string {
  const t = v?.type?.value;
  return t?.case === 'tensorType' ? String(t.value.shape?.dim[1]?.value.value ?? '?') : '?';
}

export async function importCommand(args: string[], io: Out): Promise<number> {
  const f = parseFlags('normcore import', args, IMPORT_FLAGS, { positionals: true });
  if (f.help) {
    io.out(IMPORT_HELP);
    return 0;
  }
  const input = onePositional(f.positionals, 'ONNX file', (m) => f.fail(m));
  if (f.given('out') === undefined) f.fail('--out <file> is required (where to write the normcore model)');
  const out = f.path('out', 'a file path');
  const backend = f.choice('backend', ['wasm', 'js'] as const);
  const bytes = await read(input, 'ONNX file');
  const { softmaxDropped } = onnxToLayers(bytes);
  const model = fromOnnx(bytes, { backend: await createBackend(backend) });
  try {
    await saveModel(model, out);
    io.out(`${out}: ${model.layers.map((l) => l.type).join(' → ')} (${model.inFeatures} → ${model.outFeatures}, ${model.parameterCount} parameters), not compiled\n`);
    if (softmaxDropped) io.out('the final Softmax was dropped: compile with loss softmaxCrossEntropy and predict returns probabilities\n');
  } finally {
    model.dispose();
  }
  return 0;
}
