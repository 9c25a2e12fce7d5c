/**
 * `normcore export MODEL.nc --onnx OUT.onnx` and `normcore import IN.onnx --out MODEL.nc`
 * (src/io/onnx.ts does the mapping). Hooked into src/cli.ts.
 */
import { createBackend } from '../backend/index.js';
import { onnxToLayers, toOnnx, MIN_OPSET, MAX_OPSET } from '../io/onnx.js';
import { fromOnnx } from '../node/onnx.js';
import { readFile } from 'node:fs/promises';
import { saveModel, writeFileAtomic } from '../node/model-file.js';
import { parseFlags } from '../node/flags.js';
import { EXPORT_FLAGS, EXPORT_HELP, IMPORT_FLAGS, IMPORT_HELP } from './onnx-flags.js';
import { decodeModel, type ValueInfoProto } from '../io/onnx-pb.js';

interface Out {
  out(text: string): void;
}



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
