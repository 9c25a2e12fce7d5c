/**
 * Memory: 50 cycles of fit / predict / save / load on one backend do not
 * grow the backend's linear memory past its size after the first cycle, and
 * `dispose()` returns a model's arena (bytes in use back to the baseline).
 */
import { describe, expect, it } from 'vitest';
import { createBackend, Sequential } from '../src/index.js';
import { blobs, bnNet } from './fixtures/data.js';

const CYCLES = 50;

describe.each(['wasm', 'js'] as const)('memory on the %s backend', (name) => {
  it(`${CYCLES} cycles of fit / predict / save / load do not grow memory past the first cycle; dispose returns every arena`, async () => {
    const be = await createBackend(name);
    const heap = be.heap;
    const baseline = heap.bytesInUse;
    const { x, y } = blobs(300, 6, 3, 1);
    const val = blobs(50, 6, 3, 2);
    const m = bnNet(be, 6, 32);
    m.compile({ optimizer: { type: 'adam', lr: 0.01 } });
    let afterFirst = 0;
    const sizes: number[] = [];
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      // batch sizes vary (and leave partial last batches), as do the sizes of predict
      await m.fit(x, y, { epochs: 1, batchSize: 16 + (cycle % 5) * 8, validationData: [val.x, val.y] });
      expect(m.predict(x.subarray(0, 6 * (1 + (cycle % 7) * 40))).every(Number.isFinite)).toBe(true);
      const bytes = m.save();
      const loaded = await Sequential.load(bytes, { backend: be });
      expect(loaded.predict(x)).toEqual(m.predict(x));
      await loaded.fit(x, y, { epochs: 1, batchSize: 50 });
      loaded.dispose();
      // a model built and dropped each cycle too (of varying width, the widest in cycle 1)
      const other = bnNet(be, 6, 32 - (cycle % 5) * 4);
      other.compile();
      await other.fit(x, y, { epochs: 1, batchSize: 32 });
      other.dispose();
      if (cycle === 0) afterFirst = heap.memoryBytes;
      sizes.push(heap.memoryBytes);
    }
    const inUse = heap.bytesInUse;
    m.dispose();
    console.log(
      `memory (${name}): linear memory ${afterFirst} bytes after cycle 1, ${heap.memoryBytes} bytes after cycle ${CYCLES} ` +
      `(max ${Math.max(...sizes)}); bytes in use ${inUse} with the model alive, ${heap.bytesInUse} after dispose (baseline ${baseline})`,
    );
    expect(Math.max(...sizes)).toBe(afterFirst);
    expect(heap.bytesInUse).toBe(baseline);
    // the freed arena is reused: a new model of the same size does not grow memory
    const again = bnNet(be, 6, 32).compile();
    await again.fit(x, y, { epochs: 1 });
    expect(heap.memoryBytes).toBe(afterFirst);
    again.dispose();
    expect(heap.bytesInUse).toBe(baseline);
  });
});
