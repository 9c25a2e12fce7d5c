/**
 * The heap: a first-fit allocator over a backend's linear memory. Freed
 * blocks are merged and reused, so repeated alloc/free of the same sizes
 * does not grow memory; memory grows only when no free block fits, and
 * views taken after growth see the data written before it.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createBackend, type KernelBackend as Backend } from '../src/kernels.js';
import { expectAllClose } from './helpers/compare.js';
import { BACKENDS } from './helpers/kernels.js';
import { mulberry32, normal, uniform } from './helpers/prng.js';

describe.each(BACKENDS)('heap on the %s backend', (name) => {
  let be: Backend;
  beforeAll(async () => { be = await createBackend(name); }); // a fresh memory for these tests

  it('blocks are 16-byte aligned, disjoint, and at least the requested size', () => {
    const sizes = [1, 3, 4, 15, 16, 17, 100, 0];
    const ptrs = sizes.map((b) => be.heap.alloc(b));
    for (const p of ptrs) expect(p % 16).toBe(0);
    const spans = ptrs.map((p, i) => [p, p + Math.max(sizes[i]!, 1)] as const).sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![1]);
    expect(ptrs.every((p) => p > 0)).toBe(true); // pointer 0 is never handed out
    for (const p of ptrs) be.heap.free(p);
  });

  it('allocating and freeing the same sizes repeatedly does not grow memory', () => {
    const sizes = [4000, 12, 70000, 256, 1, 33333];
    const round = () => {
      const ptrs = sizes.map((b) => be.heap.alloc(b));
      for (const p of ptrs.slice().reverse()) be.heap.free(p);
      return ptrs;
    };
    const inUse = be.heap.bytesInUse;
    const first = round();
    const bytes = be.heap.memoryBytes;
    for (let i = 0; i < 50; i++) expect(round()).toEqual(first);
    expect(be.heap.memoryBytes).toBe(bytes);
    expect(be.heap.bytesInUse).toBe(inUse);
  });

  it('freeing in any order merges neighbours, so a bigger block fits where smaller ones were', () => {
    const keep = be.heap.alloc(16); // something before, so the blocks below are not at the very start
    const a = be.heap.alloc(1024), b = be.heap.alloc(1024), c = be.heap.alloc(1024);
    const guard = be.heap.alloc(16); // keeps a, b, c from merging into the top
    const bytes = be.heap.memoryBytes;
    be.heap.free(a);
    be.heap.free(c);
    be.heap.free(b); // b joins a and c into one 3072-byte block
    const big = be.heap.alloc(3072);
    expect(big).toBe(a);
    expect(be.heap.memoryBytes).toBe(bytes);
    for (const p of [big, guard, keep]) be.heap.free(p);
  });

  it('typed-API calls and kernel scopes leave nothing allocated and stop growing memory', () => {
    const rng = mulberry32(1);
    const inUse = be.heap.bytesInUse;
    const work = () => {
      be.matmul(uniform(rng, 40 * 30), uniform(rng, 30 * 20), { m: 40, k: 30, n: 20, transB: false });
      const f = be.batchNormForward(normal(rng, 32 * 10), new Float32Array(10).fill(1), new Float32Array(10), { rows: 32, cols: 10 });
      be.batchNormBackward(normal(rng, 320), normal(rng, 320), new Float32Array(10).fill(1), f.mean, f.invStd, { rows: 32, cols: 10 });
    };
    work();
    const bytes = be.heap.memoryBytes;
    for (let i = 0; i < 20; i++) work();
    expect(be.heap.memoryBytes).toBe(bytes);
    expect(be.heap.bytesInUse).toBe(inUse);
  });

  it('data survives growth: views taken afterwards and kernels see it', () => {
    const data = normal(mulberry32(2), 37);
    const p = be.heap.put(data);
    const before = be.heap.memoryBytes;
    const big = be.heap.alloc(before + 3 * 65536); // cannot fit: memory must grow
    expect(be.heap.memoryBytes).toBeGreaterThan(before);
    const view = be.heap.f32(p, 37);
    expect(view.buffer.byteLength).toBe(be.heap.memoryBytes); // a fresh view is over the grown memory
    expect(Array.from(view)).toEqual(Array.from(data));
    expect(Array.from(be.heap.readF32(p, 37))).toEqual(Array.from(data));
    // kernels run on the grown memory, reading the old block and writing the new one
    be.kernels.copy(big, p, 37);
    be.kernels.reluForward(big, big, 37);
    expectAllClose(be.heap.readF32(big, 37), Array.from(data, (v) => Math.max(v, 0)), 0, 0);
    // and a block at the far end of the grown memory is usable
    const last = big + before + 3 * 65536 - 16;
    be.kernels.fill(last, 4, 9);
    expect(Array.from(be.heap.readF32(last, 4))).toEqual([9, 9, 9, 9]);
    be.heap.free(big);
    be.heap.free(p);
  });

  it('write, put and i32 round-trip f32 and i32 data', () => {
    const f = new Float32Array([1.5, -2, 3.25]), i = new Int32Array([7, -8, 2 ** 31 - 1]);
    const pf = be.heap.put(f), pi = be.heap.put(i);
    expect(Array.from(be.heap.readF32(pf, 3))).toEqual([1.5, -2, 3.25]);
    expect(Array.from(be.heap.i32(pi, 3))).toEqual([7, -8, 2 ** 31 - 1]);
    be.heap.write(pf, new Float32Array([4, 5]));
    expect(Array.from(be.heap.readF32(pf, 3))).toEqual([4, 5, 3.25]);
    be.heap.free(pi);
    be.heap.free(pf);
  });

  it('rejects bad sizes and freeing a pointer that is not an allocated block', () => {
    expect(() => be.heap.alloc(-1)).toThrow(RangeError);
    expect(() => be.heap.alloc(-1)).toThrow(/^alloc: bytes must be a non-negative integer, got -1$/);
    expect(() => be.heap.alloc(1.5)).toThrow(/^alloc: bytes must be a non-negative integer, got 1\.5$/);
    const p = be.heap.alloc(64);
    expect(() => be.heap.free(p + 16)).toThrow(RangeError);
    expect(() => be.heap.free(p + 16)).toThrow(new RegExp(`^free: ${p + 16} is not an allocated block$`));
    be.heap.free(p);
    expect(() => be.heap.free(p)).toThrow(/is not an allocated block/); // double free
  });
});

describe('heap: each backend has its own memory', () => {
  it('two wasm backends do not share memory', async () => {
    const one = await createBackend('wasm'), other = await createBackend('wasm');
    const p = one.heap.alloc(32), q = other.heap.alloc(32);
    expect(q).toBe(p); // the same offset, in two memories
    one.kernels.fill(p, 8, 1);
    other.kernels.fill(q, 8, 2);
    expect(Array.from(one.heap.readF32(p, 8))).toEqual(new Array(8).fill(1));
    expect(Array.from(other.heap.readF32(q, 8))).toEqual(new Array(8).fill(2));
  });
});

describe.each(BACKENDS)('heap.realloc on the %s backend', (name) => {
  it('grows in place at the top or into a free neighbour, shrinks in place, and otherwise moves keeping the first bytes', async () => {
    const be = await createBackend(name);
    const heap = be.heap;
    const a = heap.alloc(64);
    heap.f32(a, 16).set(Float32Array.from({ length: 16 }, (_, i) => i + 1));
    // a is the top block: grows in place
    expect(heap.realloc(a, 4096, 64)).toBe(a);
    expect(Array.from(heap.f32(a, 16))).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
    // shrinking keeps the place and returns the tail
    const inUse = heap.bytesInUse;
    expect(heap.realloc(a, 128, 64)).toBe(a);
    expect(heap.bytesInUse).toBe(inUse - (4096 - 128));
    // a free neighbour is taken over
    const b = heap.alloc(256);
    const c = heap.alloc(16);
    heap.free(b);
    expect(heap.realloc(a, 128 + 256, 128)).toBe(a);
    // no room after it: the block moves, its first `keep` bytes with it
    const moved = heap.realloc(a, 8192, 64);
    expect(moved).not.toBe(a);
    expect(Array.from(heap.f32(moved, 16))).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
    heap.free(c);
    heap.free(moved);
    expect(() => heap.realloc(12345, 16, 0)).toThrow(/^realloc: 12345 is not an allocated block$/);
  });
});
