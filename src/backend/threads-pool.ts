/**
 * The threads' pool: workers (Node worker_threads, or Web Workers in a
 * cross-origin-isolated page) that instantiate the kernels' module on one
 * shared WebAssembly.Memory, and the calling thread's side of handing them
 * parts (src/backend/threads.ts decides the parts).
 *
 * Synchronization, per kernel call: the caller writes each worker's part
 * into that worker's 256-byte slot of a control block in the shared memory,
 * bumps the slot's sequence number (Atomics.store + Atomics.notify), runs
 * part 0, then for each slot: a part its worker has not claimed yet (a CAS
 * on the slot's claim word) is claimed back and run by the caller, so a
 * descheduled worker on a busy machine costs time, not a stall; a claimed
 * part is waited for. When a worker missed its part in a way that says the
 * machine is busy (`busyWhenTakenBack`), or was waited on longer than
 * the caller's own part took (the split lost against running it whole), the
 * next 8, 16, … 1024 calls run whole on the caller (`split`), so a machine
 * busier than the pool degrades to about one thread's speed instead of
 * waiting on descheduled workers. A waiting side spins on Atomics.load for about SPIN_MS,
 * then sleeps in Atomics.wait. A browser's main thread may not Atomics.wait:
 * there the caller only spins (the workers still sleep), so a training loop
 * is better run in a Worker.
 *
 * Memory growth: a shared memory grows in place; the workers' instances see
 * the new pages at once, and the control block, allocated first, stays
 * inside the views taken at start-up.
 */
import { normcoreError } from '../error-brand.js';
import type { Heap } from './heap.js';
import { WORKER_SOURCE, type WorkerStart } from './worker-main.js';
import type { Kernels, MemoryLike, Ptr } from './types.js';

/** The exports of the threaded builds: the kernels plus their range variants. */
export interface PartExports extends Kernels {
  matmulPart(c: Ptr, a: Ptr, b: Ptr, m: number, k: number, n: number, transA: number, transB: number, accumulate: number, i0: number, i1: number, j0: number, j1: number): void;
  matmulForwardPackedPart(out: Ptr, inp: Ptr, packed: Ptr, m: number, k: number, n: number, i0: number, i1: number, j0: number, j1: number): void;
  batchnormForwardPart(out: Ptr, mean: Ptr, variance: Ptr, invstd: Ptr, inp: Ptr, gamma: Ptr, beta: Ptr, runMean: Ptr, runVar: Ptr, rows: number, cols: number, eps: number, momentum: number, relu: number, cb: number, ce: number): void;
  batchnormInferencePart(out: Ptr, inp: Ptr, gamma: Ptr, beta: Ptr, runMean: Ptr, runVar: Ptr, rows: number, cols: number, eps: number, relu: number, cb: number, ce: number): void;
  batchnormBackwardPart(dinp: Ptr, dgamma: Ptr, dbeta: Ptr, dout: Ptr, out: Ptr, inp: Ptr, gamma: Ptr, mean: Ptr, invstd: Ptr, rows: number, cols: number, relu: number, cb: number, ce: number): void;
  maxPoolForwardPart(out: Ptr, argmax: Ptr, inp: Ptr, n: number, h: number, w: number, c: number, size: number, stride: number, outH: number, outW: number, b0: number, b1: number): void;
  maxPoolBackwardPart(dinp: Ptr, dout: Ptr, argmax: Ptr, n: number, h: number, w: number, c: number, size: number, stride: number, outH: number, outW: number, b0: number, b1: number): void;
  setScratch(ptr: number, bytes: number): void;
  scratchBytesNeeded(): number;
}

/** The functions a worker can be asked to run, by index in its slot's op word. */
const OPS = [
  'matmulPart', 'batchnormForwardPart', 'batchnormInferencePart', 'batchnormBackwardPart',
  'reluForward', 'reluBackward', 'sigmoidForward', 'sigmoidBackward', 'tanhForward', 'tanhBackward',
  'biasForward', 'fill', 'copy', 'gatherRows', 'sgdUpdate', 'rmspropUpdate', 'adamUpdate',
  'leakyReluForward', 'leakyReluBackward', 'geluForward', 'geluBackward', 'adamwUpdate',
  'noiseForward', 'noiseBackward', 'matmulForwardPackedPart', 'countNonFinite',
  'im2col', 'col2im', 'maxPoolForwardPart', 'maxPoolBackwardPart', 'avgPoolForward', 'avgPoolBackward',
  'globalAvgPoolForward', 'globalAvgPoolBackward', 'dropoutForward', 'dropoutBackward',
] as const;
export type Op = (typeof OPS)[number];
const OP = Object.fromEntries(OPS.map((o, i) => [o, i])) as Record<Op, number>;

/** Bytes per worker slot: i32 words seq, done, op, error, claim (the seq a thread took), asleep, then f64 arguments from byte 24, then the part's f64 result. */
const SLOT_BYTES = 256;
const ARGS_OFFSET = 24;
const NARGS = 16;
const STOP = -1;
/** How long a waiting side spins before it sleeps in Atomics.wait. */
const SPIN_MS = 0.25;
/** A worker spins at least as long as its last part took, up to this. */
const SPIN_MAX_MS = 2;
/** How long a worker woken earlier in a busy stretch may take to claim a part before the machine counts as busy. */
const WAKE_MS = 0.1;
/** Calls run whole on the caller after a worker missed its part (see `join`; doubling up to the maximum while it recurs). */
const BACKOFF_MIN = 8;
const BACKOFF_MAX = 1024;


/**
 * Whether a part the caller took back (its worker had not claimed it when the
 * caller came to join, `sincePost` ms after posting it) says the machine is
 * busier than the pool. Yes when the worker was awake: it was descheduled.
 * When it was asleep, yes if it fell asleep again in a busy stretch (the last
 * join ended `sinceLastJoin` < SPIN_MS before this call) after it had run a
 * part of it (`ranInStretch`: so it was awake and spinning, and lost its core)
 * and it is still asleep WAKE_MS after the post. A worker that has not run a
 * part since the stretch began is waking from an idle sleep (or a back-off):
 * its wake-up may take long on a virtual machine and does not count; nor does
 * a part joined within WAKE_MS (a short part outruns any wake-up).
 */
export function busyWhenTakenBack(asleep: boolean, sincePost: number, sinceLastJoin: number, ranInStretch: boolean): boolean {
  return !asleep || (ranInStretch && sincePost > WAKE_MS && sinceLastJoin < SPIN_MS);
}

/** The part of node:worker_threads' Worker used here (declared, so the browser-safe core names no Node module). */
interface NodeWorker {
  postMessage(message: unknown): void;
  once(event: 'message', f: (m: unknown) => void): void;
  once(event: 'error', f: (e: Error) => void): void;
  once(event: 'exit', f: (code: number) => void): void;
  unref(): void;
  terminate(): Promise<number>;
}
type NodeWorkerClass = new (source: string, options: { eval: true }) => NodeWorker;

/** What a started worker needs: postMessage, a way to wait for its first message, terminate. */
interface WorkerHandle {
  post(message: unknown): void;
  ready: Promise<void>;
  terminate(): void;
}


async function startWorker(): Promise<WorkerHandle> {
  const g = globalThis as { process?: { versions?: { node?: string } } };
  if (g.process?.versions?.node) {
    const spec = 'node:worker_threads';
    const { Worker } = await import(/* @vite-ignore */ spec) as { Worker: NodeWorkerClass };
    const w = new Worker(WORKER_SOURCE, { eval: true });
    w.unref(); // an idle pool does not keep the process alive
    const ready = new Promise<void>((resolve, reject) => {
      w.once('message', () => resolve());
      w.once('error', reject);
      w.once('exit', (code) => reject(new Error(`worker exited with code ${code} before it was ready`)));
    });
    return { post: (m) => w.postMessage(m), ready, terminate: () => { void w.terminate(); } };
  }
  const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: 'text/javascript' }));
  const w = new Worker(url);
  const ready = new Promise<void>((resolve, reject) => {
    w.onmessage = () => { URL.revokeObjectURL(url); resolve(); };
    w.onerror = (e) => reject(new Error(`worker failed to start: ${e.message}`));
  });
  return { post: (m) => w.postMessage(m), ready, terminate: () => w.terminate() };
}

/**
 * A pool of `threads − 1` workers plus the calling thread, over one shared
 * memory. `run` hands out one call's parts; the kernels below decide them.
 */
export class Pool {
  /** Threads that take part in a call, the caller included. */
  readonly threads: number;
  private readonly words: Int32Array;
  private readonly args: Float64Array;
  private readonly ctl: Ptr;
  private seq = 0;
  private readonly canWait: boolean;
  private closed = false;

  private constructor(
    threads: number,
    memory: WebAssembly.Memory,
    ctl: Ptr,
    private readonly workers: WorkerHandle[],
    private readonly heap: Heap,
    private readonly scratch: Ptr[],
    private readonly ex: PartExports,
  ) {
    this.threads = threads;
    this.ranInStretch = new Uint8Array(threads);
    this.ctl = ctl;
    this.words = new Int32Array(memory.buffer, ctl, (threads * SLOT_BYTES) / 4);
    this.args = new Float64Array(memory.buffer, ctl, (threads * SLOT_BYTES) / 8);
    // Atomics.wait throws on a browser's main thread (a Window); Node's main thread and workers may wait.
    const g = globalThis as { window?: unknown; process?: { versions?: { node?: string } } };
    this.canWait = !!g.process?.versions?.node || typeof g.window === 'undefined';
  }

  /**
   * Starts `threads − 1` workers on `module` (a WebAssembly.Module) and
   * `memory` (its shared WebAssembly.Memory); each gets its own scratch region
   * from `heap`. Typed by contract, so the declarations need no DOM lib.
   */
  static async start(threads: number, module: object, memory: MemoryLike, heap: Heap, scratchBytes: number, ex: PartExports): Promise<Pool> {
    const ctl = heap.alloc(threads * SLOT_BYTES);
    new Int32Array(memory.buffer, ctl, (threads * SLOT_BYTES) / 4).fill(0);
    const scratch: Ptr[] = [];
    const workers: WorkerHandle[] = [];
    try {
      for (let w = 1; w < threads; w++) {
        const s = heap.alloc(scratchBytes);
        scratch.push(s);
        const h = await startWorker();
        workers.push(h);
        const start: WorkerStart = {
          module, memory, scratch: s, scratchBytes, ctl, slot: w,
          slotBytes: SLOT_BYTES, argsOffset: ARGS_OFFSET, nargs: NARGS, ops: OPS, stop: STOP, spinMs: SPIN_MS, spinMaxMs: SPIN_MAX_MS,
        };
        h.post(start);
      }
      await Promise.all(workers.map((h) => h.ready));
    } catch (e) {
      for (const h of workers) h.terminate();
      throw normcoreError(`createBackend: could not start the worker threads (${e instanceof Error ? e.message : String(e)})`, 'UNSUPPORTED', { cause: e });
    }
    return new Pool(threads, memory as unknown as WebAssembly.Memory, ctl, workers, heap, scratch, ex);
  }

  /** Posts part `op(args…)` to worker w (1 ≤ w < threads); `join` waits for it. */
  post(w: number, op: Op, ...args: number[]): void {
    this.posted++;
    const a = (w * SLOT_BYTES + ARGS_OFFSET) / 8;
    for (let i = 0; i < args.length; i++) this.args[a + i] = args[i]!;
    const i = (w * SLOT_BYTES) / 4;
    this.words[i + 2] = OP[op];
    Atomics.store(this.words, i, this.seq);
    Atomics.notify(this.words, i, 1);
  }

  /** Starts a new call: the sequence number its posts carry. */
  begin(): void {
    this.seq = (this.seq + 1) | 0 || 1;
    this.started = performance.now();
  }

  /**
   * Waits until the parts of workers 1…upTo−1 are done; throws if one failed.
   * A part its worker has not claimed yet (descheduled, or asleep and slow to
   * wake on a busy machine) is claimed back and run here: a part gives the
   * same bits on any thread, so this costs time, never determinism.
   */
  join(upTo: number, name: string): void {
    const seq = this.seq;
    const joinStart = performance.now();
    if (this.started - this.ended >= SPIN_MS) this.ranInStretch.fill(0); // a new busy stretch
    // A worker's part is as large as the caller's. Only when the caller waits for it longer than its own part took
    // did the split lose against running the call whole here (the worker was descheduled, or its core is shared):
    // a worker merely slower than the caller (a vCPU with steal time, a part with more non-zero steps) still saves time.
    const patience = Math.max(0.1, joinStart - this.started);
    // Every part is waited for (or run here) before a failure is thrown: no part may outlive its call.
    let trapped: unknown;
    for (let w = 1; w < upTo; w++) {
      const i = (w * SLOT_BYTES) / 4;
      if (Atomics.load(this.words, i + 1) === seq) {
        this.ranInStretch[w] = 1;
        trapped ??= this.failure(i, name); // done before the caller got here: its error flag still counts
        continue;
      }
      const c = Atomics.load(this.words, i + 4);
      if (c !== seq && Atomics.compareExchange(this.words, i + 4, c, seq) === c) {
        this.stolen++;
        // Then run the next calls whole here for a while rather than post parts the caller ends up
        // running anyway while the waking worker competes with it for a core.
        if (busyWhenTakenBack(Atomics.load(this.words, i + 5) !== 0, joinStart - this.started, this.started - this.ended, this.ranInStretch[w] === 1)) this.contended();
        try {
          this.runHere(w);
        } catch (e) {
          trapped ??= e;
        }
        continue;
      }
      const t0 = performance.now();
      let n = 0;
      while (Atomics.load(this.words, i + 1) !== seq) {
        if (this.canWait && (++n & 255) === 0 && performance.now() - t0 > SPIN_MS) {
          Atomics.wait(this.words, i + 1, Atomics.load(this.words, i + 1), 1000);
        }
      }
      this.ranInStretch[w] = 1;
      if (performance.now() - joinStart > patience) this.contended();
      else this.penalty >>= 1;
      trapped ??= this.failure(i, name);
    }
    this.ended = performance.now();
    if (trapped !== undefined) throw trapped;
  }

  /** The error of the worker at control word i if it trapped in its part (its flag is cleared), else undefined. */
  private failure(i: number, name: string): Error | undefined {
    if (this.words[i + 3] === 0) return undefined;
    this.words[i + 3] = 0;
    return normcoreError(`${name}: a worker thread failed (out-of-bounds memory access or a trap in the kernel)`, 'INVALID_STATE');
  }

  /** Parts handed to workers so far. */
  posted = 0;
  /** Calls left to run whole on the caller (see `join`), and the current length of such a stretch. */
  private backoff = 0;
  private penalty = 0;

  /** A worker missed its part or was descheduled in it: run the next calls whole here, twice as many as last time. */
  private contended(): void {
    this.penalty = Math.min(Math.max(this.penalty * 2, BACKOFF_MIN), BACKOFF_MAX);
    this.backoff = this.penalty;
  }

  /** When the current call's parts were posted (the caller's own part starts then), and when the last join ended. */
  private started = 0;
  private ended = -Infinity;
  /** Per worker: 1 if it ran a part of its own in the current busy stretch (see `busyWhenTakenBack`). */
  private readonly ranInStretch: Uint8Array;

  /** How many parts a call may use now: `parts`, or 1 while backing off after a missed part. */
  split(parts: number): number {
    if (parts > 1 && this.backoff > 0) {
      this.backoff--;
      return 1;
    }
    return parts;
  }
  /** Of those, parts run by the caller because their worker had not claimed them in time (a measure of contention). */
  stolen = 0;

  /** Runs worker w's posted part on this thread. */
  private runHere(w: number): void {
    const op = OPS[this.words[(w * SLOT_BYTES) / 4 + 2]!]!;
    const a = this.args, o = (w * SLOT_BYTES + ARGS_OFFSET) / 8;
    const r = (this.ex[op] as (...x: number[]) => unknown)(a[o]!, a[o + 1]!, a[o + 2]!, a[o + 3]!, a[o + 4]!, a[o + 5]!, a[o + 6]!, a[o + 7]!,
      a[o + 8]!, a[o + 9]!, a[o + 10]!, a[o + 11]!, a[o + 12]!, a[o + 13]!, a[o + 14]!, a[o + 15]!);
    a[o + NARGS] = typeof r === 'number' ? r : 0;
  }

  /** What worker w's part of the last call returned (after `join`). */
  result(w: number): number {
    return this.args[(w * SLOT_BYTES + ARGS_OFFSET) / 8 + NARGS]!;
  }

  /** Stops the workers and frees the control block and their scratch. The backend must not be used afterwards. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.begin();
    for (let w = 1; w < this.threads; w++) {
      const i = (w * SLOT_BYTES) / 4;
      this.words[i + 2] = STOP;
      Atomics.store(this.words, i, this.seq);
      Atomics.notify(this.words, i, 1);
    }
    // each worker acknowledges STOP before its scratch and slot go back to the heap (a lingering one would write there)
    const deadline = performance.now() + 1000;
    let acknowledged = true;
    for (let w = 1; w < this.threads; w++) {
      const i = (w * SLOT_BYTES) / 4;
      while (Atomics.load(this.words, i + 1) !== this.seq) {
        if (performance.now() > deadline) { acknowledged = false; break; }
        if (this.canWait) Atomics.wait(this.words, i + 1, Atomics.load(this.words, i + 1), 10);
      }
    }
    for (const h of this.workers) h.terminate();
    if (!acknowledged) return; // leave the blocks allocated rather than risk a late write into reused memory
    for (const s of this.scratch) this.heap.free(s);
    this.heap.free(this.ctl);
  }
}
