/**
 * Model files from untrusted sources. The format (src/model/format.ts)
 * carries a magic number, a version, sizes checked against the file's own
 * length, and a CRC-32. Loading a truncated file, flipped bits, a wrong
 * version, a header declaring huge sizes, or a crafted file whose checksum is
 * valid but whose topology is hostile throws ModelFormatError, quickly and
 * without growing memory. Seeded fuzzing (fast-check) mutates valid model and
 * checkpoint files thousands of times: every load either gives a valid model
 * (finite weights, predict runs) or throws ModelFormatError, nothing else.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BatchNorm, crc32, createBackend, decodeModelFile, Dense, encodeModelFile, ModelFormatError, ReLU, Sequential, type Backend,
} from '../src/index.js';
import { blobs } from './fixtures/data.js';

let be: Backend;
let model: Uint8Array;
let checkpoint: Uint8Array;
const stats: Record<string, { rejected: number; loaded: number; loadedOverflowing: number }> = {};

beforeAll(async () => {
  be = await createBackend('wasm');
  const { x, y } = blobs(60, 6, 3, 4);
  const m = new Sequential([new Dense(6, 12), new BatchNorm(12), new ReLU(), new Dense(12, 8), new BatchNorm(8, { affine: false, momentum: null }), new ReLU(), new Dense(8, 3)], { backend: be, seed: 2 });
  m.compile({ optimizer: { type: 'adam', lr: 0.01 } });
  await m.fit(x, y, { epochs: 2, batchSize: 16, checkpoint: { save: (b, info) => { if (info.epochsDone === 2) checkpoint = b; } } });
  model = m.save();
  m.dispose();
});

/** The header JSON and the weights of a valid file. */
function parts(bytes: Uint8Array): { header: Record<string, unknown>; weights: Float32Array } {
  const d = decodeModelFile(bytes);
  return { header: d.header as Record<string, unknown>, weights: d.weights };
}

/** Recomputes the CRC of (mutated) bytes, so that the checks behind it are reached. */
function reseal(bytes: Uint8Array): Uint8Array {
  const out = bytes.slice();
  if (out.length >= 4) new DataView(out.buffer).setUint32(out.length - 4, crc32(out, 0, out.length - 4), true);
  return out;
}

/** A raw file with the given fixed fields around `body` (no consistency implied). */
function rawFile(version: number, headerLength: number, weightCount: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(20 + body.length + 4);
  out.set(new TextEncoder().encode('NORMCORE'));
  const dv = new DataView(out.buffer);
  dv.setUint32(8, version, true);
  dv.setUint32(12, headerLength, true);
  dv.setUint32(16, weightCount, true);
  out.set(body, 20);
  return reseal(out);
}

type Outcome = 'rejected' | 'loaded' | 'loadedOverflowing';

/**
 * Loads bytes: a ModelFormatError is a rejection; a model must have finite
 * weights and predict must run (its output is finite unless the weights are
 * so large that f32 overflows, which a valid file may hold). Any other error
 * fails the test. Memory must not grow past what a valid model needs.
 */
async function attempt(bytes: Uint8Array): Promise<Outcome> {
  let m: Sequential;
  try {
    m = await Sequential.load(bytes, { backend: be });
  } catch (e) {
    if (!(e instanceof ModelFormatError)) throw new Error(`load threw ${(e as Error)?.name}: ${(e as Error)?.message}, not a ModelFormatError`, { cause: e });
    expect(e.code).toBe('MODEL_FORMAT');
    return 'rejected';
  }
  try {
    const weights = decodeModelFile(m.save()).weights;
    expect(weights.every(Number.isFinite)).toBe(true);
    const out = m.predict(new Float32Array(4 * m.inFeatures).map((_, i) => Math.sin(i)));
    if (out.every(Number.isFinite)) return 'loaded';
    expect(weights.some((w) => Math.abs(w) > 1e15)).toBe(true);
    return 'loadedOverflowing';
  } finally {
    m.dispose();
  }
}

function count(label: string, o: Outcome): void {
  const s = (stats[label] ??= { rejected: 0, loaded: 0, loadedOverflowing: 0 });
  s[o]++;
}

/** Runs fn and checks that backend memory neither grows nor leaks meanwhile. */
async function noGrowth(fn: () => void | Promise<void>): Promise<void> {
  // one valid load first, so the arena a valid model needs is already part of memory
  (await Sequential.load(model, { backend: be })).dispose();
  const mem = be.heap.memoryBytes, used = be.heap.bytesInUse;
  await fn();
  expect(be.heap.memoryBytes).toBe(mem);
  expect(be.heap.bytesInUse).toBe(used);
}

describe('hostile model files', () => {
  it('the valid files load (a model file and a checkpoint)', async () => {
    expect(await attempt(model)).toBe('loaded');
    expect(await attempt(checkpoint)).toBe('loaded');
  });

  it('every truncation is rejected', async () => {
    await noGrowth(async () => {
      for (const file of [model, checkpoint]) {
        for (let n = 0; n < file.length; n++) {
          await expect(Sequential.load(file.subarray(0, n), { backend: be })).rejects.toThrow(ModelFormatError);
        }
      }
    });
    await expect(Sequential.load(model.subarray(0, 10), { backend: be })).rejects.toThrow(/^load: not a valid normcore model file: 10 bytes is shorter than the smallest model file \(24 bytes\)$/);
    await expect(Sequential.load(model.subarray(0, model.length - 1), { backend: be })).rejects.toThrow(/the header declares \d+ bytes .* but the file has \d+/);
  });

  it('every single-bit flip is rejected (the CRC-32 catches what the other checks do not)', async () => {
    let flips = 0;
    await noGrowth(async () => {
      for (let i = 0; i < model.length; i++) {
        for (let bit = 0; bit < 8; bit++) {
          const b = model.slice();
          b[i]! ^= 1 << bit;
          await expect(Sequential.load(b, { backend: be })).rejects.toThrow(ModelFormatError);
          flips++;
        }
      }
    });
    expect(flips).toBe(model.length * 8);
    const b = model.slice();
    b[40]! ^= 0x10;
    await expect(Sequential.load(b, { backend: be })).rejects.toThrow(/checksum mismatch \(stored 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}\): the file is corrupt or truncated/);
  });

  it('a wrong magic or version is rejected, naming it', async () => {
    const v2 = model.slice();
    new DataView(v2.buffer).setUint32(8, 2, true);
    await expect(Sequential.load(reseal(v2), { backend: be })).rejects.toThrow(/^load: not a valid normcore model file: format version 2 is not supported \(this normcore reads version 1\)$/);
    const png = reseal(Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...model.subarray(8)]));
    await expect(Sequential.load(png, { backend: be })).rejects.toThrow(/does not start with the magic "NORMCORE"/);
  });

  it('a header declaring huge sizes is rejected at once, allocating nothing of that size', async () => {
    const body = new Uint8Array(64).fill(0x20);
    const cases = [
      rawFile(1, 0xfffffffc, 0xffffffff, body), // 4 GiB header, 16 GiB of weights, in 88 bytes
      rawFile(1, 64, 0xffffffff, body),
      rawFile(1, 64, 2 ** 28, body),
      rawFile(1, 1 << 20, 0, body),
      rawFile(1, 2 ** 21, 0, body), // over the 1 MiB header limit
      rawFile(1, 63, 0, body), // not a multiple of 4
    ];
    const ab = process.memoryUsage().arrayBuffers;
    const t0 = performance.now();
    await noGrowth(async () => {
      for (const f of cases) await expect(Sequential.load(f, { backend: be })).rejects.toThrow(ModelFormatError);
    });
    expect(performance.now() - t0).toBeLessThan(500);
    expect(process.memoryUsage().arrayBuffers - ab).toBeLessThan(1 << 20);
    await expect(Sequential.load(cases[0]!, { backend: be })).rejects.toThrow(/header length 4294967292 is invalid/);
    await expect(Sequential.load(cases[1]!, { backend: be })).rejects.toThrow(/the header declares 17179869268 bytes \(header 64, 4294967295 weights\) but the file has 88/);
  });

  describe('a valid checksum over a hostile header is rejected before any large allocation', () => {
    const hostile: Array<[string, (h: Record<string, unknown>, w: Float32Array) => [unknown, Float32Array], RegExp]> = [
      ['negative sizes', (h, w) => [{ ...h, layers: [{ type: 'dense', inFeatures: -6, outFeatures: 12, bias: false, init: 'auto' }] }, w], /inFeatures must be an integer ≥ 1, got -6/],
      ['1e9 features (Dense)', (h, w) => [{ ...h, layers: [{ type: 'dense', inFeatures: 1e9, outFeatures: 1e9, bias: true, init: 'auto' }] }, w], /the topology needs 1000000001000000000 weights, the file has \d+/],
      ['1e9 features (BatchNorm)', (h, w) => [{ ...h, layers: [{ type: 'batchnorm', features: 1e9, eps: 1e-5, momentum: 0.1, affine: true, numBatchesTracked: 0 }] }, w], /the topology needs 4000000000 weights/],
      ['2^53 features', (h, w) => [{ ...h, layers: [{ type: 'dense', inFeatures: 2 ** 53, outFeatures: 2 ** 53, bias: true, init: 'auto' }] }, w], /the topology needs/],
      ['features 1e308', (h, w) => [{ ...h, layers: [{ type: 'batchnorm', features: 1e308, eps: 1e-5, momentum: 0.1, affine: true, numBatchesTracked: 0 }] }, w], /the topology needs/],
      ['features as a string', (h, w) => [{ ...h, layers: [{ type: 'batchnorm', features: '12', eps: 1e-5, momentum: 0.1, affine: true, numBatchesTracked: 0 }] }, w], /features must be an integer ≥ 1, got "12"/],
      ['an unknown layer type', (h, w) => [{ ...h, layers: [{ type: 'conv3d', filters: 64 }] }, w], /unknown layer type "conv3d"/],
      ['a layer that is null', (h, w) => [{ ...h, layers: [null] }, w], /a layer in the header is invalid/],
      ['Dense without a bias flag', (h, w) => [{ ...h, layers: [{ type: 'dense', inFeatures: 6, outFeatures: 3, init: 'auto' }] }, w], /layers\[0\]\.bias must be a boolean, got undefined/],
      ['a bad BatchNorm eps', (h, w) => [{ ...h, layers: (h.layers as Array<Record<string, unknown>>).map((l) => (l.type === 'batchnorm' ? { ...l, eps: -1 } : l)) }, w], /options\.eps must be a finite number/],
      ['a bad init', (h, w) => [{ ...h, layers: (h.layers as Array<Record<string, unknown>>).map((l) => (l.type === 'dense' ? { ...l, init: { type: 'normal', std: 'x' } } : l)) }, w], /options\.init\.std must be a number/],
      ['one weight too many', (h, w) => [h, Float32Array.of(...w, 0)], /the topology needs \d+ weights, the file has \d+/],
      ['one weight too few', (h, w) => [h, w.subarray(1)], /the topology needs \d+ weights, the file has \d+/],
      ['no weights at all', (h) => [h, new Float32Array(0)], /the topology needs \d+ weights, the file has 0/],
      ['layer widths that do not chain', (h) => [{ ...h, layers: [{ type: 'dense', inFeatures: 4, outFeatures: 8, bias: true, init: 'auto' }, { type: 'dense', inFeatures: 7, outFeatures: 2, bias: true, init: 'auto' }] }, new Float32Array(4 * 8 + 8 + 7 * 2 + 2)], /the layers do not form a valid model \(.*expects 7 input features/],
      ['an activation first', (h) => [{ ...h, layers: [{ type: 'relu', features: 100000 }] }, new Float32Array(0)], /the first layer must be Dense or BatchNorm/],
      ['10001 layers', (h, w) => [{ ...h, layers: new Array(10001).fill({ type: 'relu', features: 1 }) }, w], /the header has no valid layer list/],
      ['layers not a list', (h, w) => [{ ...h, layers: { 0: 'dense' } }, w], /the header has no valid layer list/],
      ['another kind of file', (h, w) => [{ ...h, kind: 'keras' }, w], /the header is not a normcore Sequential model or checkpoint/],
      ['a header that is an array', (_h, w) => [[1, 2, 3], w], /the header is not a normcore Sequential model or checkpoint/],
      ['a NaN weight', (h, w) => [h, w.map((v, i) => (i === 3 ? NaN : v))], /weight 3 is NaN/],
      ['an infinite weight', (h, w) => [h, w.map((v, i) => (i === 0 ? -Infinity : v))], /weight 0 is -Infinity/],
      ['a negative running variance', (h, w) => { const v = w.slice(); v[6 * 12 + 24 + 12]! = -1; return [h, v]; }, /a BatchNorm running variance is negative/],
      ['compile options that are not valid', (h, w) => [{ ...h, compile: { loss: 'mse', optimizer: { type: 'adamx' } } }, w], /the saved compile options are invalid \(.*'adamw', got "adamx"\)/],
      ['compile options that are a string', (h, w) => [{ ...h, compile: 'adam' }, w], /the compile options are not an object/],
      ['a __proto__ key', (h, w) => [JSON.parse(JSON.stringify(h).replace('{', '{"__proto__":{"kind":"normcore-sequential"},')), w], /./],
    ];

    it.each(hostile)('%s', async (_label, mutate, re) => {
      const { header, weights } = parts(model);
      const [h, w] = mutate(header, weights);
      const bytes = encodeModelFile(h, w);
      const t0 = performance.now();
      await noGrowth(async () => {
        if (_label === 'a __proto__ key') {
          // JSON.parse makes "__proto__" an own property; the file is otherwise valid and loads like the original
          const m = await Sequential.load(bytes, { backend: be });
          expect(Object.getPrototypeOf(decodeModelFile(bytes).header)).toBe(Object.prototype);
          m.dispose();
          return;
        }
        let e: unknown;
        try { await Sequential.load(bytes, { backend: be }); } catch (err) { e = err; }
        expect(e).toBeInstanceOf(ModelFormatError);
        expect((e as Error).message).toMatch(/^load: not a valid normcore model file: /);
        expect((e as Error).message).toMatch(re);
      });
      expect(performance.now() - t0).toBeLessThan(1000);
    });

    it.each([
      ['arrays', '['.repeat(200000) + ']'.repeat(200000)],
      ['objects', '{"a":'.repeat(100000) + '1' + '}'.repeat(100000)],
      ['layers', '{"kind":"normcore-sequential","layers":[' + '['.repeat(100000) + ']'.repeat(100000) + ']}'],
    ])('deeply nested JSON (%s, within the 1 MiB header limit)', async (_label, text) => {
      const padded = text + ' '.repeat((4 - (text.length % 4)) % 4);
      const bytes = rawFile(1, padded.length, 0, new TextEncoder().encode(padded));
      const t0 = performance.now();
      await noGrowth(async () => await expect(Sequential.load(bytes, { backend: be })).rejects.toThrow(/the header is not a normcore Sequential model or checkpoint|a layer in the header is invalid|not valid JSON/));
      expect(performance.now() - t0).toBeLessThan(1000);
    });

    it.each([
      ['a checkpoint without optimizer state', (h: Record<string, unknown>) => ({ ...h, optimizerState: undefined }), /no valid optimizerState/],
      ['optimizer slots that do not fit the optimizer', (h: Record<string, unknown>) => ({ ...h, optimizerState: { step: 3, slots: 1 } }), /holds 1 optimizer slots, which does not fit its optimizer "adam"/],
      ['a negative step', (h: Record<string, unknown>) => ({ ...h, optimizerState: { step: -1, slots: 2 } }), /no valid optimizerState/],
      ['epochs done beyond the epochs', (h: Record<string, unknown>) => ({ ...h, fit: { ...(h.fit as object), epochsDone: 99 } }), /no valid fit record/],
      ['a fit record without data fingerprint', (h: Record<string, unknown>) => ({ ...h, fit: { ...(h.fit as object), data: 7 } }), /no valid fit record/],
    ])('%s', async (_label, mutate, re) => {
      const { header, weights } = parts(checkpoint);
      await noGrowth(async () => await expect(Sequential.load(encodeModelFile(mutate(header), weights), { backend: be })).rejects.toThrow(re));
    });
  });

  describe('seeded fuzzing', () => {
    /** Byte-level mutations of a file. */
    const mutation = (len: number) => fc.oneof(
      fc.record({ op: fc.constant('flip' as const), at: fc.nat(len - 1), bit: fc.nat(7) }),
      fc.record({ op: fc.constant('set' as const), at: fc.nat(len - 1), value: fc.nat(255) }),
      fc.record({ op: fc.constant('truncate' as const), at: fc.nat(len) }),
      fc.record({ op: fc.constant('append' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }) }),
      fc.record({ op: fc.constant('delete' as const), at: fc.nat(len - 1), n: fc.integer({ min: 1, max: 32 }) }),
      fc.record({ op: fc.constant('insert' as const), at: fc.nat(len), bytes: fc.uint8Array({ minLength: 1, maxLength: 32 }) }),
      fc.record({ op: fc.constant('u32' as const), field: fc.constantFrom(8, 12, 16), value: fc.oneof(fc.nat(), fc.constantFrom(0, 1, 2, 0xffffffff, 0x7fffffff, 1 << 20, 1 << 28)) }),
    );
    type Mutation = { op: 'flip'; at: number; bit: number } | { op: 'set'; at: number; value: number } | { op: 'truncate'; at: number } | { op: 'append'; bytes: Uint8Array }
      | { op: 'delete'; at: number; n: number } | { op: 'insert'; at: number; bytes: Uint8Array } | { op: 'u32'; field: number; value: number };

    function apply(file: Uint8Array, ms: Mutation[]): Uint8Array {
      let b = file.slice();
      for (const m of ms) {
        const at = 'at' in m ? Math.min(m.at, b.length) : 0;
        if (m.op === 'flip' && at < b.length) b[at]! ^= 1 << m.bit;
        else if (m.op === 'set' && at < b.length) b[at] = m.value;
        else if (m.op === 'truncate') b = b.slice(0, at);
        else if (m.op === 'append') b = Uint8Array.from([...b, ...m.bytes]);
        else if (m.op === 'delete') b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + m.n)]);
        else if (m.op === 'insert') b = Uint8Array.from([...b.subarray(0, at), ...m.bytes, ...b.subarray(at)]);
        else if (m.op === 'u32' && b.length >= m.field + 4) new DataView(b.buffer).setUint32(m.field, m.value >>> 0, true);
      }
      return b;
    }

    for (const [label, file, resealed] of [
      ['model file', () => model, false], ['checkpoint', () => checkpoint, false],
      ['model file, CRC recomputed', () => model, true], ['checkpoint, CRC recomputed', () => checkpoint, true],
    ] as const) {
      it(`${label}: 1500 mutated files each load to a valid model or throw ModelFormatError`, async () => {
        await noGrowth(async () => {
          await fc.assert(
            fc.asyncProperty(fc.array(mutation(file().length), { minLength: 1, maxLength: 4 }), async (ms) => {
              const bytes = apply(file(), ms as Mutation[]);
              const outcome = await attempt(resealed ? reseal(bytes) : bytes);
              // without a recomputed CRC, only a mutation that changed nothing can load
              if (!resealed && outcome !== 'rejected') expect(bytes).toEqual(file());
              count(label, outcome);
            }),
            { seed: 20240601, numRuns: 1500 },
          );
        });
      });
    }

    it('header JSON mutated at random, CRC valid: 1500 files each load to a valid model or throw ModelFormatError', async () => {
      const { header, weights } = parts(model);
      const hostileValue = fc.oneof(
        fc.jsonValue({ maxDepth: 3 }),
        fc.constantFrom(-1, 0, 1.5, 1e9, 2 ** 32, 2 ** 53, 1e308, -1e308, '', 'relu', 'dense', 'batchnorm', null, true, [], {}),
      );
      // a path into the header: layer index and key, or a top-level key
      const edit = fc.oneof(
        fc.record({ layer: fc.nat(7), key: fc.constantFrom('type', 'inFeatures', 'outFeatures', 'features', 'bias', 'init', 'eps', 'momentum', 'affine', 'numBatchesTracked', 'extra'), value: hostileValue }),
        fc.record({ top: fc.constantFrom('kind', 'layers', 'seed', 'compile', 'optimizerState', 'fit'), value: hostileValue }),
        fc.record({ compileKey: fc.constantFrom('loss', 'optimizer', 'lrSchedule'), value: hostileValue }),
      );
      await noGrowth(async () => {
        await fc.assert(
          fc.asyncProperty(fc.array(edit, { minLength: 1, maxLength: 3 }), async (edits) => {
            const h = JSON.parse(JSON.stringify(header)) as Record<string, unknown>;
            const objectAt = (v: unknown) => (v && typeof v === 'object' ? (v as Record<string, unknown>) : undefined);
            for (const e of edits) {
              if ('layer' in e) {
                const layers = Array.isArray(h.layers) ? (h.layers as unknown[]) : [];
                const l = objectAt(layers[e.layer % Math.max(1, layers.length)]);
                if (l) l[e.key] = e.value;
              } else if ('top' in e) {
                h[e.top] = e.value;
              } else {
                const c = objectAt(h.compile);
                if (c) c[e.compileKey] = e.value;
              }
            }
            count('header JSON', await attempt(encodeModelFile(h, weights)));
          }),
          { seed: 7, numRuns: 1500 },
        );
      });
    });
  });
});

afterAll(() => {
  const rows = Object.entries(stats).map(([k, s]) => `${k}: ${s.rejected} rejected, ${s.loaded} loaded${s.loadedOverflowing ? ` (+${s.loadedOverflowing} loaded with weights so large that predict overflows)` : ''}`);
  if (rows.length) console.log(`fuzz: ${rows.join('; ')}`);
});
