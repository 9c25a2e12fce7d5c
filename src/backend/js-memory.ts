/**
 * The js backend's linear memory and the views its kernels read it through
 * (see js-kernels.ts).
 */
import type { MemoryLike } from './types.js';

/** Views onto a linear memory, re-derived whenever it has grown, and reusable temporaries. */
export class JsView {
  protected readonly memory: MemoryLike;
  protected f = new Float32Array(0);
  protected i = new Int32Array(0);
  private temps: ColTemps = colTemps(0);

  constructor(memory: MemoryLike) {
    this.memory = memory;
  }

  /** Views onto memory, taken fresh whenever it has grown. */
  protected views(): Float32Array {
    if (this.f.buffer !== this.memory.buffer) {
      this.f = new Float32Array(this.memory.buffer);
      this.i = new Int32Array(this.memory.buffer);
    }
    return this.f;
  }

  /** Per-column temporaries of the batch-norm kernels, grown on demand and kept between calls. */
  protected colTemps(cols: number): ColTemps {
    if (this.temps.cols < cols) this.temps = colTemps(cols);
    return this.temps;
  }

}

/** Per-column scratch of the batch-norm kernels (f32 as the wasm kernels keep it, f64 where the twin sums in doubles). */
export interface ColTemps {
  cols: number;
  f32a: Float32Array; f32b: Float32Array; f32c: Float32Array; f32d: Float32Array;
  f64a: Float64Array; f64b: Float64Array; f64c: Float64Array; f64d: Float64Array; f64e: Float64Array;
}

function colTemps(cols: number): ColTemps {
  const f32 = () => new Float32Array(cols);
  const f64 = () => new Float64Array(cols);
  return { cols, f32a: f32(), f32b: f32(), f32c: f32(), f32d: f32(), f64a: f64(), f64b: f64(), f64c: f64(), f64d: f64(), f64e: f64() };
}

/** Growable linear memory for the js backend: the same contract as WebAssembly.Memory. */
export class JsMemory implements MemoryLike {
  buffer = new ArrayBuffer(0);

  grow(pages: number): number {
    const old = this.buffer;
    const next = new ArrayBuffer(old.byteLength + pages * 65536);
    new Uint8Array(next).set(new Uint8Array(old));
    this.buffer = next;
    return old.byteLength / 65536;
  }
}
