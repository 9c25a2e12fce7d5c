import { rangeError } from '../errors.js';
import type { MemoryLike, Ptr } from './types.js';

const PAGE = 65536;
const ALIGN = 16;

/**
 * A first-fit allocator over a backend's linear memory. Blocks are 16-byte
 * aligned (one f32x4). Freed blocks are merged with free neighbours and
 * reused, so a model that is trained, disposed and rebuilt does not grow
 * memory. Memory only grows when no free block fits; views onto it must be
 * taken fresh after any `alloc` (growth detaches the old ones).
 */
export class Heap {
  private readonly memory: MemoryLike;
  private top: number;
  private readonly base: number;
  /** Free blocks, sorted by start: [start, size]. */
  private readonly freeList: Array<[number, number]> = [];
  private readonly used = new Map<number, number>();

  constructor(memory: MemoryLike, base: number) {
    this.memory = memory;
    this.base = alignUp(base);
    this.top = this.base;
  }

  /** Reserves `bytes` bytes (at least 1) and returns their byte offset. Contents are unspecified. */
  alloc(bytes: number): Ptr {
    if (!Number.isInteger(bytes) || bytes < 0) {
      throw rangeError(`alloc: bytes must be a non-negative integer, got ${String(bytes)}`);
    }
    const size = alignUp(Math.max(bytes, 1));
    for (let i = 0; i < this.freeList.length; i++) {
      const block = this.freeList[i]!;
      if (block[1] >= size) {
        const ptr = block[0];
        if (block[1] === size) this.freeList.splice(i, 1);
        else { block[0] += size; block[1] -= size; }
        this.used.set(ptr, size);
        return ptr;
      }
    }
    const ptr = this.top;
    this.ensure(ptr + size);
    this.top = ptr + size;
    this.used.set(ptr, size);
    return ptr;
  }

  /** Reserves room for n f32 (or i32) values. */
  allocF32(n: number): Ptr {
    return this.alloc(n * 4);
  }

  /** Returns a block to the heap. Freeing an unknown pointer throws. */
  free(ptr: Ptr): void {
    const size = this.used.get(ptr);
    if (size === undefined) throw rangeError(`free: ${ptr} is not an allocated block`);
    this.used.delete(ptr);
    if (ptr + size === this.top) {
      this.top = ptr;
      // the block now at the end of the free list may touch the new top
      const last = this.freeList[this.freeList.length - 1];
      if (last && last[0] + last[1] === this.top) {
        this.top = last[0];
        this.freeList.pop();
      }
      return;
    }
    let i = 0;
    while (i < this.freeList.length && this.freeList[i]![0] < ptr) i++;
    this.freeList.splice(i, 0, [ptr, size]);
    // merge with the next, then with the previous block
    const cur = this.freeList[i]!;
    const next = this.freeList[i + 1];
    if (next && cur[0] + cur[1] === next[0]) { cur[1] += next[1]; this.freeList.splice(i + 1, 1); }
    const prev = this.freeList[i - 1];
    if (prev && prev[0] + prev[1] === cur[0]) { prev[1] += cur[1]; this.freeList.splice(i, 1); }
  }

  /**
   * Resizes a block to `bytes`, keeping its first `keep` bytes. Grows in
   * place when the block ends at the top of the heap or a large enough free
   * block follows it, so a model's arena can grow without holding two copies;
   * a block at the top that memory cannot grow for slides down over the free
   * space before it; otherwise allocates, copies `keep` bytes and frees the old block.
   * On failure (out of memory) the old block is left as it was.
   */
  realloc(ptr: Ptr, bytes: number, keep: number): Ptr {
    const size = this.used.get(ptr);
    if (size === undefined) throw rangeError(`realloc: ${ptr} is not an allocated block`);
    if (!Number.isInteger(bytes) || bytes < 0) throw rangeError(`realloc: bytes must be a non-negative integer, got ${String(bytes)}`);
    const want = alignUp(Math.max(bytes, 1));
    if (want <= size) {
      if (want < size) {
        this.used.set(ptr, want);
        this.used.set(ptr + want, size - want);
        this.free(ptr + want);
      }
      return ptr;
    }
    if (ptr + size === this.top) {
      try {
        this.ensure(ptr + want);
        this.top = ptr + want;
        this.used.set(ptr, want);
        return ptr;
      } catch (outOfMemory) {
        // Memory cannot grow that far: slide the block down over the free space before it
        // (a disposed model's arena), which needs less growth or none.
        const j = this.freeList.length - 1;
        const prev = this.freeList[j];
        if (!prev || prev[0] + prev[1] !== ptr) throw outOfMemory;
        const start = prev[0];
        this.ensure(start + want);
        new Uint8Array(this.memory.buffer).copyWithin(start, ptr, ptr + Math.min(keep, size));
        this.freeList.splice(j, 1);
        this.used.delete(ptr);
        this.used.set(start, want);
        this.top = start + want;
        return start;
      }
    }
    const i = this.freeList.findIndex((b) => b[0] === ptr + size);
    const next = this.freeList[i];
    if (next && size + next[1] >= want) {
      const take = want - size;
      if (next[1] === take) this.freeList.splice(i, 1);
      else { next[0] += take; next[1] -= take; }
      this.used.set(ptr, want);
      return ptr;
    }
    const moved = this.alloc(want);
    const n = Math.min(keep, size);
    new Uint8Array(this.memory.buffer).copyWithin(moved, ptr, ptr + n);
    this.free(ptr);
    return moved;
  }

  /** Makes sure memory spans at least `end` bytes. */
  private ensure(end: number): void {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    const pages = Math.ceil((end - have) / PAGE);
    try {
      this.memory.grow(pages);
    } catch (e) {
      throw rangeError(`out of memory: could not grow linear memory by ${pages} pages to ${end} bytes (${(e as Error).message})`);
    }
  }

  /** A fresh Float32Array view of n values at ptr. Do not keep it across an alloc. */
  f32(ptr: Ptr, n: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr, n);
  }

  /** A fresh Int32Array view of n values at ptr. Do not keep it across an alloc. */
  i32(ptr: Ptr, n: number): Int32Array {
    return new Int32Array(this.memory.buffer, ptr, n);
  }

  /** The i32 at ptr, read through a cached view of all of memory (no allocation while memory does not grow). */
  getI32(ptr: Ptr): number {
    return this.words()[ptr >>> 2]!;
  }

  /** Sets the i32 at ptr (see getI32). */
  setI32(ptr: Ptr, value: number): void {
    this.words()[ptr >>> 2] = value;
  }

  private wordView: Int32Array | undefined;

  private words(): Int32Array {
    const buffer = this.memory.buffer;
    if (this.wordView === undefined || this.wordView.buffer !== buffer) this.wordView = new Int32Array(buffer);
    return this.wordView;
  }

  /** Copies data into memory at ptr. */
  write(ptr: Ptr, data: Float32Array | Int32Array): void {
    if (data instanceof Float32Array) this.f32(ptr, data.length).set(data);
    else this.i32(ptr, data.length).set(data);
  }

  /** Allocates a block and copies data into it. */
  put(data: Float32Array | Int32Array): Ptr {
    const ptr = this.alloc(data.length * 4);
    this.write(ptr, data);
    return ptr;
  }

  /** A copy of n f32 values at ptr. */
  readF32(ptr: Ptr, n: number): Float32Array {
    return this.f32(ptr, n).slice();
  }

  /** Bytes of linear memory in total (grows, never shrinks). */
  get memoryBytes(): number {
    return this.memory.buffer.byteLength;
  }

  /** Bytes currently allocated. */
  get bytesInUse(): number {
    let s = 0;
    for (const v of this.used.values()) s += v;
    return s;
  }
}

function alignUp(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}
