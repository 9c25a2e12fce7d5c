/**
 * Calling pointer-level kernels with arrays: a Scope allocates blocks on a
 * backend's heap (`be.heap.put` / `be.heap.allocF32`), the test calls
 * `be.kernels.X(...)` with their pointers, reads results back with
 * `be.heap.readF32`, and the scope frees every block at the end.
 */
import { type BackendName, type Ptr } from '../../src/index.js';
import { createBackend, type KernelBackend as Backend } from '../../src/kernels.js';

/** Both backends; every suite runs over each. */
export const BACKENDS: readonly BackendName[] = ['wasm', 'js'];

const cache = new Map<BackendName, Promise<Backend>>();

/** One backend per name per test file (each has its own memory). */
export function getBackend(name: BackendName): Promise<Backend> {
  let p = cache.get(name);
  if (!p) {
    p = createBackend(name);
    cache.set(name, p);
  }
  return p;
}

export class Scope {
  private readonly blocks: Ptr[] = [];
  constructor(private readonly be: Backend) {}

  /** A block holding a copy of data (f32). */
  f32(data: ArrayLike<number>): Ptr {
    return this.keep(this.be.heap.put(Float32Array.from(data)));
  }

  /** A block holding a copy of data (i32), e.g. labels or row indices. */
  i32(data: ArrayLike<number>): Ptr {
    return this.keep(this.be.heap.put(Int32Array.from(data)));
  }

  /**
   * An output block of n f32, filled with NaN so that any element a kernel
   * fails to write shows up in the comparison.
   */
  out(n: number): Ptr {
    const p = this.keep(this.be.heap.allocF32(n));
    this.be.heap.f32(p, n).fill(NaN);
    return p;
  }

  /** A block of n f32 set to value (for accumulated gradients, state, etc.). */
  filled(n: number, value: number): Ptr {
    const p = this.keep(this.be.heap.allocF32(n));
    this.be.heap.f32(p, n).fill(value);
    return p;
  }

  /** A copy of n f32 at ptr. */
  read(ptr: Ptr, n: number): Float32Array {
    return this.be.heap.readF32(ptr, n);
  }

  /** A copy of n i32 at ptr. */
  readI32(ptr: Ptr, n: number): Int32Array {
    return this.be.heap.i32(ptr, n).slice();
  }

  /** Frees every block of this scope. */
  free(): void {
    for (const p of this.blocks.splice(0).reverse()) this.be.heap.free(p);
  }

  private keep(p: Ptr): Ptr {
    this.blocks.push(p);
    return p;
  }
}

/** Runs body with a fresh Scope on be and frees its blocks afterwards, whatever happens. */
export function scoped<T>(be: Backend, body: (s: Scope) => T): T {
  const s = new Scope(be);
  try {
    return body(s);
  } finally {
    s.free();
  }
}
