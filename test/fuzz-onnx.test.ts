/**
 * ONNX files from untrusted sources (issue 14). Seeded fuzzing (fast-check)
 * mutates the fixtures and an exported model, byte by byte and message by
 * message (dims, raw data, wiring, op types, attributes): every fromOnnx
 * either gives a model that predicts or throws a coded NormcoreError
 * (MODEL_FORMAT for broken files, ONNX_UNSUPPORTED for graphs that do not
 * map), nothing else, and the backend's memory does not grow.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { clone, toBinary } from '@bufbuild/protobuf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackend, mlp, NormcoreError, Sequential, type Backend } from '../src/index.js';
import { fromOnnx, toOnnx } from '../src/onnx.js';
import { decodeModel } from '../src/io/onnx-pb.js';
import { ModelProtoSchema, type ModelProto } from '../src/io/onnx-proto/onnx/onnx_pb.generated.js';

let be: Backend;
const files: Record<string, Uint8Array> = {};
const stats: Record<string, { loaded: number; format: number; unsupported: number }> = {};

beforeAll(async () => {
  be = await createBackend('wasm');
  for (const f of ['pytorch-opset15-gemm-bn.onnx', 'pytorch-opset9-flatten-bn.onnx', 'tf2onnx-matmul-add.onnx', 'pytorch-reshape-matmul-add.onnx']) {
    files[f] = new Uint8Array(readFileSync(new URL(`./fixtures/onnx/${f}`, import.meta.url)));
  }
  const m = new Sequential(mlp({ inputs: 6, hidden: [5], outputs: 3 }), { backend: be });
  m.compile({});
  files['exported'] = toOnnx(m);
  m.dispose();
});

afterAll(() => {
  console.log('fromOnnx fuzzing outcomes:', JSON.stringify(stats));
});

/** fromOnnx on bytes: 'loaded' (and the model predicts), or the code of the NormcoreError it threw; any other error fails the test. */
function attempt(bytes: Uint8Array, label: string): void {
  const s = (stats[label] ??= { loaded: 0, format: 0, unsupported: 0 });
  let m: Sequential;
  try {
    m = fromOnnx(bytes, { backend: be });
  } catch (e) {
    if (!(e instanceof NormcoreError) || (e.code !== 'MODEL_FORMAT' && e.code !== 'ONNX_UNSUPPORTED')) throw e;
    expect(e.message).toMatch(/^fromOnnx: /);
    if (e.code === 'MODEL_FORMAT') s.format++;
    else s.unsupported++;
    return;
  }
  try {
    const out = m.predict(new Float32Array(2 * m.inFeatures).fill(0.5));
    expect(out.length).toBe(2 * m.outFeatures);
    s.loaded++;
  } finally {
    m.dispose();
  }
}

function noGrowth(fn: () => void): void {
  fromOnnx(files['exported']!, { backend: be }).dispose();
  const mem = be.heap.memoryBytes, used = be.heap.bytesInUse;
  fn();
  expect(be.heap.memoryBytes).toBe(mem);
  expect(be.heap.bytesInUse).toBe(used);
}

const byteMutation = (len: number) => fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(len - 1), bit: fc.nat(7) }),
  fc.record({ op: fc.constant('set' as const), at: fc.nat(len - 1), value: fc.constantFrom(0, 1, 0x7f, 0x80, 0xff, 0x0a, 0x12) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat(len) }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(len - 1), n: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(len), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
);
type ByteMutation = { op: 'flip'; at: number; bit: number } | { op: 'set'; at: number; value: number } | { op: 'truncate'; at: number }
  | { op: 'delete'; at: number; n: number } | { op: 'insert'; at: number; bytes: Uint8Array };

function applyBytes(file: Uint8Array, ms: ByteMutation[]): Uint8Array {
  let b = file.slice();
  for (const m of ms) {
    const at = Math.min(m.at, b.length);
    if (m.op === 'flip' && at < b.length) b[at]! ^= 1 << m.bit;
    else if (m.op === 'set' && at < b.length) b[at] = m.value;
    else if (m.op === 'truncate') b = b.slice(0, at);
    else if (m.op === 'delete') b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + m.n)]);
    else if (m.op === 'insert') b = Uint8Array.from([...b.subarray(0, at), ...m.bytes, ...b.subarray(at)]);
  }
  return b;
}

/** Message-level mutations: each picks its targets by index modulo what the graph has. */
const HOSTILE_DIMS = [0n, 1n, 2n, 3n, 7n, -1n, 1n << 31n, 1n << 40n, (1n << 63n) - 1n];
const OPS = ['Gemm', 'MatMul', 'Add', 'Relu', 'BatchNormalization', 'Softmax', 'Flatten', 'Identity', 'Reshape', 'Conv', 'Constant', 'Tanh'];
const messageMutation = fc.oneof(
  fc.record({ op: fc.constant('dim' as const), t: fc.nat(), d: fc.nat(), value: fc.constantFrom(...HOSTILE_DIMS) }),
  fc.record({ op: fc.constant('addDim' as const), t: fc.nat(), value: fc.constantFrom(...HOSTILE_DIMS) }),
  fc.record({ op: fc.constant('cutRaw' as const), t: fc.nat(), keep: fc.nat(64) }),
  fc.record({ op: fc.constant('dataType' as const), t: fc.nat(), value: fc.integer({ min: 0, max: 25 }) }),
  fc.record({ op: fc.constant('rewireInput' as const), n: fc.nat(), slot: fc.nat(5), to: fc.nat() }),
  fc.record({ op: fc.constant('rewireOutput' as const), n: fc.nat(), to: fc.nat() }),
  fc.record({ op: fc.constant('opType' as const), n: fc.nat(), value: fc.constantFrom(...OPS) }),
  fc.record({ op: fc.constant('attrInt' as const), n: fc.nat(), a: fc.nat(), value: fc.constantFrom(-1n, 0n, 1n, 2n, 1n << 40n) }),
  fc.record({ op: fc.constant('attrFloat' as const), n: fc.nat(), a: fc.nat(), value: fc.constantFrom(0, 1, -1, NaN, Infinity, 1e-30, 0.5) }),
  fc.record({ op: fc.constant('dropNode' as const), n: fc.nat() }),
  fc.record({ op: fc.constant('dupNode' as const), n: fc.nat() }),
  fc.record({ op: fc.constant('dropInitializer' as const), t: fc.nat() }),
  fc.record({ op: fc.constant('inputDim' as const), d: fc.nat(), value: fc.constantFrom(...HOSTILE_DIMS) }),
);
type MessageMutation = typeof messageMutation extends fc.Arbitrary<infer T> ? T : never;

function applyMessage(model: ModelProto, ms: MessageMutation[]): Uint8Array {
  const m = clone(ModelProtoSchema, model);
  const g = m.graph!;
  const names = [...new Set([...g.node.flatMap((n) => [...n.input, ...n.output]), ...g.initializer.map((t) => t.name), ...g.input.map((v) => v.name)])];
  for (const mu of ms) {
    const t = 't' in mu && g.initializer.length > 0 ? g.initializer[mu.t % g.initializer.length]! : undefined;
    const n = 'n' in mu && g.node.length > 0 ? g.node[mu.n % g.node.length]! : undefined;
    switch (mu.op) {
      case 'dim': if (t && t.dims.length > 0) t.dims[mu.d % t.dims.length] = mu.value; break;
      case 'addDim': if (t) t.dims.push(mu.value); break;
      case 'cutRaw': if (t && t.rawData.length > 0) t.rawData = t.rawData.subarray(0, Math.min(mu.keep, t.rawData.length)); break;
      case 'dataType': if (t) t.dataType = mu.value; break;
      case 'rewireInput': if (n && names.length > 0) n.input[mu.slot % Math.max(1, n.input.length)] = names[mu.to % names.length]!; break;
      case 'rewireOutput': if (n && names.length > 0) n.output[0] = names[mu.to % names.length]!; break;
      case 'opType': if (n) n.opType = mu.value; break;
      case 'attrInt': if (n && n.attribute.length > 0) n.attribute[mu.a % n.attribute.length]!.i = mu.value; break;
      case 'attrFloat': if (n && n.attribute.length > 0) n.attribute[mu.a % n.attribute.length]!.f = mu.value; break;
      case 'dropNode': if (n) g.node.splice(g.node.indexOf(n), 1); break;
      case 'dupNode': if (n) g.node.push(clone(ModelProtoSchema, m).graph!.node[g.node.indexOf(n)]!); break;
      case 'dropInitializer': if (t) g.initializer.splice(g.initializer.indexOf(t), 1); break;
      case 'inputDim': {
        const tt = g.input[0]?.type?.value;
        if (tt?.case === 'tensorType' && tt.value.shape && tt.value.shape.dim.length > 0) {
          tt.value.shape.dim[mu.d % tt.value.shape.dim.length]!.value = { case: 'dimValue', value: mu.value };
        }
        break;
      }
    }
  }
  return toBinary(ModelProtoSchema, m);
}

describe('hostile ONNX files', () => {
  it('the unmutated files load', () => {
    for (const [label, f] of Object.entries(files)) attempt(f, `${label} (as is)`);
    expect(Object.values(stats).every((s) => s.loaded === 1)).toBe(true);
  });

  for (const label of ['pytorch-opset15-gemm-bn.onnx', 'pytorch-opset9-flatten-bn.onnx', 'tf2onnx-matmul-add.onnx', 'pytorch-reshape-matmul-add.onnx', 'exported']) {
    it(`${label}: 600 byte-mutated files each load or throw a coded error`, () => {
      noGrowth(() => {
        fc.assert(
          fc.property(fc.array(byteMutation(files[label]!.length), { minLength: 1, maxLength: 3 }), (ms) => {
            attempt(applyBytes(files[label]!, ms as ByteMutation[]), `${label} bytes`);
          }),
          { seed: 20261129, numRuns: 600 },
        );
      });
    });

    it(`${label}: 600 message-mutated graphs (dims, data, wiring, ops, attributes) each load or throw a coded error`, () => {
      const model = decodeModel(files[label]!);
      noGrowth(() => {
        fc.assert(
          fc.property(fc.array(messageMutation, { minLength: 1, maxLength: 3 }), (ms) => {
            attempt(applyMessage(model, ms), `${label} messages`);
          }),
          { seed: 14, numRuns: 600 },
        );
      });
    });
  }
});
