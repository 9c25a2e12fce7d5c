/**
 * The typed-array API, written once over any backend's kernels and heap:
 * validate, copy in, run one kernel, copy out, free.
 */
import { expectF32, expectInt, expectNumber, expectOptions, typeError, rangeError } from '../errors.js';
import type { Heap } from './heap.js';
import type {
  BatchNormBackwardOptions, BatchNormBackwardResult, BatchNormForwardOptions, BatchNormForwardResult,
  Kernels, MatmulOptions, TypedApi,
} from './types.js';

export function typedApi(kernels: Kernels, heap: Heap): TypedApi {
  /** Runs body with temporary blocks, freeing them whatever happens. */
  function scoped<T>(body: (alloc: (data: Float32Array | number) => number) => T): T {
    const blocks: number[] = [];
    const alloc = (data: Float32Array | number): number => {
      const ptr = typeof data === 'number' ? heap.allocF32(data) : heap.allocF32(data.length);
      blocks.push(ptr);
      if (typeof data !== 'number') heap.write(ptr, data);
      return ptr;
    };
    try {
      return body(alloc);
    } finally {
      for (const p of blocks.reverse()) heap.free(p);
    }
  }

  return {
    matmul(a, b, options: MatmulOptions): Float32Array {
      const o = expectOptions('matmul', 'options', options, ['m', 'k', 'n', 'transA', 'transB']);
      const m = expectInt('matmul', 'options.m', o.m);
      const k = expectInt('matmul', 'options.k', o.k);
      const n = expectInt('matmul', 'options.n', o.n);
      const transA = o.transA ?? false, transB = o.transB ?? false;
      if (typeof transA !== 'boolean') throw typeError(`matmul: options.transA must be a boolean, got ${typeof transA}`);
      if (typeof transB !== 'boolean') throw typeError(`matmul: options.transB must be a boolean, got ${typeof transB}`);
      expectF32('matmul', 'a', a, m * k, transA ? `k·m = ${k}·${m}, stored k×m` : `m·k = ${m}·${k}`);
      expectF32('matmul', 'b', b, k * n, transB ? `n·k = ${n}·${k}, stored n×k` : `k·n = ${k}·${n}`);
      return scoped((alloc) => {
        const pa = alloc(a), pb = alloc(b), pc = alloc(m * n);
        kernels.matmul(pc, pa, pb, m, k, n, transA ? 1 : 0, transB ? 1 : 0, 0);
        return heap.readF32(pc, m * n);
      });
    },

    batchNormForward(x, gamma, beta, options: BatchNormForwardOptions): BatchNormForwardResult {
      const where = 'batchNormForward';
      const o = expectOptions(where, 'options', options, ['rows', 'cols', 'eps']);
      const rows = expectInt(where, 'options.rows', o.rows);
      const cols = expectInt(where, 'options.cols', o.cols);
      if (rows < 2) {
        throw rangeError(`${where}: options.rows must be ≥ 2 in training mode (the batch variance of one row is undefined), got ${rows}`);
      }
      const eps = expectNumber(where, 'options.eps', o.eps ?? 1e-5, 0, Infinity, true);
      expectF32(where, 'x', x, rows * cols, `rows·cols = ${rows}·${cols}`);
      expectF32(where, 'gamma', gamma, cols, 'cols');
      expectF32(where, 'beta', beta, cols, 'cols');
      return scoped((alloc) => {
        const px = alloc(x), pg = alloc(gamma), pb = alloc(beta);
        const py = alloc(rows * cols), pm = alloc(cols), pv = alloc(cols), pi = alloc(cols);
        kernels.batchnormForward(py, pm, pv, pi, px, pg, pb, pm, pv, rows, cols, eps, 0);
        return { y: heap.readF32(py, rows * cols), mean: heap.readF32(pm, cols), variance: heap.readF32(pv, cols), invStd: heap.readF32(pi, cols) };
      });
    },

    batchNormBackward(dy, x, gamma, mean, invStd, options: BatchNormBackwardOptions): BatchNormBackwardResult {
      const where = 'batchNormBackward';
      const o = expectOptions(where, 'options', options, ['rows', 'cols']);
      const rows = expectInt(where, 'options.rows', o.rows);
      const cols = expectInt(where, 'options.cols', o.cols);
      expectF32(where, 'dy', dy, rows * cols, `rows·cols = ${rows}·${cols}`);
      expectF32(where, 'x', x, rows * cols, `rows·cols = ${rows}·${cols}`);
      expectF32(where, 'gamma', gamma, cols, 'cols');
      expectF32(where, 'mean', mean, cols, 'cols');
      expectF32(where, 'invStd', invStd, cols, 'cols');
      return scoped((alloc) => {
        const pdy = alloc(dy), px = alloc(x), pg = alloc(gamma), pm = alloc(mean), pi = alloc(invStd);
        const pdx = alloc(rows * cols), pdg = alloc(cols), pdb = alloc(cols);
        kernels.fill(pdg, cols, 0);
        kernels.fill(pdb, cols, 0);
        kernels.batchnormBackward(pdx, pdg, pdb, pdy, px, pg, pm, pi, rows, cols);
        return { dx: heap.readF32(pdx, rows * cols), dGamma: heap.readF32(pdg, cols), dBeta: heap.readF32(pdb, cols) };
      });
    },
  };
}
