/**
 * normcore/kernels: the checked pointer-level kernels and the typed-array API,
 * an entry of its own so that a page that trains models does not load their
 * checks. A backend from 'normcore' has neither; withKernels adds both in
 * place; this entry's createBackend returns such a backend.
 */
import { describe, expect, it } from 'vitest';
import * as core from '../src/index.js';
import * as node from '../src/node/index.js';
import { createBackend, createBackendSync, withKernels } from '../src/kernels.js';
import { NormcoreError } from '../src/errors.js';

describe('normcore/kernels', () => {
  it("a backend from 'normcore' runs models on unchecked kernels and has no checked ones", async () => {
    const be = await core.createBackend('wasm');
    expect('kernels' in be).toBe(false);
    expect('matmul' in be).toBe(false);
    expect(typeof be.unchecked.matmul).toBe('function');
    expect('withKernels' in core).toBe(false);
    expect('withKernels' in node).toBe(false);
  });

  for (const name of ['wasm', 'js'] as const) {
    it(`${name}: withKernels adds checked kernels and the typed API in place, once; a model on that backend trains`, async () => {
      const be = await core.createBackend(name);
      const k = withKernels(be);
      expect(k).toBe(be);
      const kernels = k.kernels;
      expect(withKernels(be).kernels).toBe(kernels); // a second call changes nothing
      // checked: a pointer outside memory is a RangeError naming the kernel and the argument, and writes nothing
      const bytes = be.heap.f32(0, 0).buffer.byteLength;
      expect(() => kernels.fill(bytes, 4, 1)).toThrow(RangeError);
      expect(() => kernels.fill(bytes, 4, 1)).toThrow(/fill: ptr must point to 4 values inside memory/);
      expect(Array.from(k.matmul(Float32Array.of(1, 2, 3, 4), Float32Array.of(5, 6), { m: 2, k: 2, n: 1 }))).toEqual([17, 39]);
      const model = new core.Sequential(core.mlp({ inputs: 3, hidden: [4], outputs: 2 }), { backend: k, seed: 1 });
      model.compile({ optimizer: { type: 'sgd', lr: 0.1 } });
      const h = await model.fit(new Float32Array(24).map((_, i) => Math.sin(i)), new Int32Array(8).map((_, i) => i % 2), { epochs: 1, batchSize: 4 });
      expect(Number.isFinite(h.loss[0])).toBe(true);
      model.dispose();
    });
  }

  it('createBackend and createBackendSync of this entry return backends with kernels (the same options as the core ones)', async () => {
    const a = await createBackend('wasm', { simd: 'baseline' });
    expect(a.build).toBe('release');
    expect(typeof a.kernels.matmulForward).toBe('function');
    const b = createBackendSync('wasm', { simd: 'baseline' });
    expect(typeof b.batchNormForward).toBe('function');
    await expect(createBackend('gpu' as 'wasm')).rejects.toThrow(/createBackend: name must be 'wasm' or 'js', got/);
  });

  it('withKernels refuses what createBackend did not make, naming the argument and the value', () => {
    for (const bad of [undefined, null, {}, { unchecked: {}, heap: {} }, 'wasm']) {
      const e: unknown = (() => { try { withKernels(bad as never); return undefined; } catch (err) { return err; } })();
      expect(e).toBeInstanceOf(TypeError);
      expect(e).toBeInstanceOf(NormcoreError);
      expect((e as Error).message).toMatch(/^withKernels: backend must be a Backend from createBackend, got /);
      expect((e as { argument?: string }).argument).toBe('backend');
    }
  });
});
