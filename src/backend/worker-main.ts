/**
 * The program of a threads' pool worker (src/backend/threads-pool.ts).
 *
 * It reaches the worker as source text, `WORKER_SOURCE`: from a Blob URL in
 * a browser, `eval` in Node, so that no bundler or test runner has to find a
 * worker file. The source is these functions' own text (Function.toString),
 * so a bundler minifies them as it minifies the rest of the library. That
 * is why they are self-contained: they use their arguments and the engine's
 * globals only, never a name from this module or another, and everything
 * the pool's layout needs comes in the start message. (A tool that injects
 * code into function bodies, such as coverage instrumentation or a
 * transpiler's helpers, would break that; the threads tests run it from the
 * TypeScript source, the browser tests from a Vite bundle.)
 */
import type { MemoryLike } from './types.js';

/** The start message: the module and memory to instantiate, the worker's slot of the control block and its layout. */
export interface WorkerStart {
  /** A WebAssembly.Module and the WebAssembly.Memory it imports (typed by their use, so that declarations need no DOM lib). */
  module: object;
  memory: MemoryLike;
  scratch: number;
  scratchBytes: number;
  /** The control block's address, the slot's index and size in bytes. */
  ctl: number;
  slot: number;
  slotBytes: number;
  /** Where the slot's f64 arguments start, how many; the part's result follows them. */
  argsOffset: number;
  nargs: number;
  /** The export names by op index, and the op that stops the worker. */
  ops: readonly string[];
  stop: number;
  /** The shortest and longest spin before Atomics.wait, ms. */
  spinMs: number;
  spinMaxMs: number;
}

type Part = (...args: number[]) => unknown;
type Wasm = { Instance: new (m: object, imports: object) => { exports: object } };

/**
 * Instantiates the kernels on the shared memory, says 'ready', then runs the
 * parts posted to its slot until the stop op: i32 words seq, done, op, error,
 * claim, asleep; f64 arguments from `argsOffset`.
 */
function workerMain(d: WorkerStart, post: (m: unknown) => void): void {
  const inst = new (WebAssembly as unknown as Wasm).Instance(d.module, { env: { memory: d.memory, pow: Math.pow, abort() { throw new Error('wasm abort'); } } });
  const ex = inst.exports as Record<string, Part> & { setScratch(ptr: number, bytes: number): void };
  ex.setScratch(d.scratch, d.scratchBytes);
  const fns = d.ops.map((n) => ex[n]!);
  const base = d.ctl + d.slot * d.slotBytes;
  const w = new Int32Array(d.memory.buffer, base, 6);
  const a = new Float64Array(d.memory.buffer, base + d.argsOffset, d.nargs + 1);
  post('ready');
  let last = 0;
  // spin at least as long as the last part took: the caller's part is as long, and a caller that finishes
  // later (a slower core, a bigger part) then finds this thread still awake for the next call
  let spin = d.spinMs;
  for (;;) {
    let s = Atomics.load(w, 0);
    if (s === last) {
      const t0 = performance.now();
      let i = 0;
      while ((s = Atomics.load(w, 0)) === last) {
        if ((++i & 255) === 0 && performance.now() - t0 > spin) {
          Atomics.store(w, 5, 1); // asleep: a part the caller takes back from now on is wake-up latency, not contention
          Atomics.wait(w, 0, last);
          Atomics.store(w, 5, 0);
        }
      }
    }
    last = s;
    // claim job s unless the caller took it back (it runs unclaimed parts itself)
    const c = Atomics.load(w, 4);
    if (c === s || Atomics.compareExchange(w, 4, c, s) !== c) continue;
    const op = w[2]!;
    if (op === d.stop) { Atomics.store(w, 1, s); Atomics.notify(w, 1); return; }
    const started = performance.now();
    try {
      const r = fns[op]!(a[0]!, a[1]!, a[2]!, a[3]!, a[4]!, a[5]!, a[6]!, a[7]!, a[8]!, a[9]!, a[10]!, a[11]!, a[12]!, a[13]!, a[14]!, a[15]!);
      a[d.nargs] = typeof r === 'number' ? r : 0;
    } catch {
      w[3] = 1;
    }
    spin = Math.max(d.spinMs, Math.min(d.spinMaxMs, performance.now() - started));
    Atomics.store(w, 1, s);
    Atomics.notify(w, 1);
  }
}

/** Waits for the start message (Node's parentPort, or a Web Worker's onmessage) and runs `start` with it. */
function workerBoot(start: typeof workerMain): void {
  const g = globalThis as unknown as {
    process?: { versions?: { node?: string }; getBuiltinModule(id: string): { parentPort: { once(e: 'message', f: (d: WorkerStart) => void): void; postMessage(m: unknown): void } } };
    onmessage: ((e: { data: WorkerStart }) => void) | null;
    postMessage(m: unknown): void;
  };
  if (g.process?.versions?.node) {
    // getBuiltinModule (Node ≥ 20.16) works whether the eval'd source runs as CommonJS or, under --input-type=module, as ESM
    const { parentPort } = g.process.getBuiltinModule('node:worker_threads');
    parentPort.once('message', (d) => start(d, (m) => parentPort.postMessage(m)));
  } else {
    g.onmessage = (e) => { g.onmessage = null; start(e.data, (m) => g.postMessage(m)); };
  }
}

/** The worker's whole program, as source. */
export const WORKER_SOURCE = `'use strict';(${workerBoot.toString()})(${workerMain.toString()});`;
