/**
 * Bad input is rejected before any kernel runs, with a TypeError (wrong kind
 * of value) or RangeError (wrong size or value) whose message names the
 * call, the argument, what was expected and what was given.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { NormcoreError } from '../src/index.js';
import { createBackend, createBackendSync, type KernelBackend as Backend } from '../src/kernels.js';
import { BACKENDS, getBackend, scoped } from './helpers/kernels.js';

type Ctor = typeof TypeError | typeof RangeError;

/** Asserts fn throws an error of exactly class E whose message matches re. */
function expectThrow(fn: () => unknown, E: Ctor, re: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected ${E.name} matching ${re}`).toBeInstanceOf(E);
  expect((caught as Error).constructor).toBe(E);
  expect((caught as Error).message).toMatch(re);
}

const f32 = (n: number) => new Float32Array(n).fill(0.5);

describe.each(BACKENDS)('bad input on the %s backend', (name) => {
  let be: Backend;
  beforeAll(async () => { be = await getBackend(name); });

  describe('typed API: matmul', () => {
    const a = f32(6), b = f32(12); // m=2, k=3, n=4

    it('rejects a or b of the wrong length, naming the expected shape', () => {
      expectThrow(() => be.matmul(f32(5), b, { m: 2, k: 3, n: 4 }), RangeError, /^matmul: a must have length 6 \(m·k = 2·3\), got length 5$/);
      expectThrow(() => be.matmul(a, f32(13), { m: 2, k: 3, n: 4 }), RangeError, /^matmul: b must have length 12 \(k·n = 3·4\), got length 13$/);
      expectThrow(() => be.matmul(f32(7), b, { m: 2, k: 3, n: 4, transA: true }), RangeError, /^matmul: a must have length 6 \(k·m = 3·2, stored k×m\), got length 7$/);
      expectThrow(() => be.matmul(a, f32(0), { m: 2, k: 3, n: 4, transB: true }), RangeError, /^matmul: b must have length 12 \(n·k = 4·3, stored n×k\), got length 0$/);
    });

    it('rejects data that is not a Float32Array', () => {
      expectThrow(() => be.matmul([0, 1, 2, 3, 4, 5] as unknown as Float32Array, b, { m: 2, k: 3, n: 4 }), TypeError, /^matmul: a must be a Float32Array, got Array\(6\)$/);
      expectThrow(() => be.matmul(a, new Float64Array(12) as unknown as Float32Array, { m: 2, k: 3, n: 4 }), TypeError, /^matmul: b must be a Float32Array, got Float64Array\(12\)$/);
      expectThrow(() => be.matmul(new Int32Array(6) as unknown as Float32Array, b, { m: 2, k: 3, n: 4 }), TypeError, /^matmul: a must be a Float32Array, got Int32Array\(6\)$/);
      expectThrow(() => be.matmul(null as unknown as Float32Array, b, { m: 2, k: 3, n: 4 }), TypeError, /^matmul: a must be a Float32Array, got null$/);
      expectThrow(() => be.matmul(a, undefined as unknown as Float32Array, { m: 2, k: 3, n: 4 }), TypeError, /^matmul: b must be a Float32Array, got undefined$/);
    });

    it.each([
      ['m', 0], ['m', -1], ['k', 2.5], ['n', NaN], ['n', Infinity], ['k', -0.5],
    ] as const)('rejects options.%s = %s with a RangeError', (key, value) => {
      const o = { m: 2, k: 3, n: 4, [key]: value };
      expectThrow(() => be.matmul(a, b, o), RangeError, new RegExp(`^matmul: options\\.${key} must be an integer ≥ 1, got ${String(value)}$`));
    });

    it('rejects sizes that are not numbers with a TypeError', () => {
      expectThrow(() => be.matmul(a, b, { m: '2', k: 3, n: 4 } as unknown as { m: number; k: number; n: number }), TypeError, /^matmul: options\.m must be an integer ≥ 1, got "2"$/);
      expectThrow(() => be.matmul(a, b, { m: 2, n: 4 } as unknown as { m: number; k: number; n: number }), TypeError, /^matmul: options\.k must be an integer ≥ 1, got undefined$/);
    });

    it('rejects unknown option names, non-boolean flags and a missing options object', () => {
      expectThrow(() => be.matmul(a, b, { m: 2, k: 3, n: 4, transpose: true } as unknown as { m: number; k: number; n: number }), TypeError,
        /^matmul: unknown option options\.transpose; expected one of m, k, n, transA, transB$/);
      expectThrow(() => be.matmul(a, b, { m: 2, k: 3, n: 4, transa: true } as unknown as { m: number; k: number; n: number }), TypeError, /unknown option options\.transa/);
      expectThrow(() => be.matmul(a, b, { m: 2, k: 3, n: 4, transA: 1 } as unknown as { m: number; k: number; n: number }), TypeError, /^matmul: options\.transA must be a boolean, got number$/);
      expectThrow(() => be.matmul(a, b, { m: 2, k: 3, n: 4, transB: 'yes' } as unknown as { m: number; k: number; n: number }), TypeError, /^matmul: options\.transB must be a boolean, got string$/);
      expectThrow(() => be.matmul(a, b, undefined as unknown as { m: number; k: number; n: number }), TypeError, /^matmul: options\.m must be an integer ≥ 1, got undefined$/);
      expectThrow(() => be.matmul(a, b, [2, 3, 4] as unknown as { m: number; k: number; n: number }), TypeError, /^matmul: options must be an object, got Array\(3\)$/);
    });
  });

  describe('typed API: batchNormForward', () => {
    const x = f32(6), g = f32(2), bt = f32(2); // rows=3, cols=2

    it('rejects a training-mode batch of one row (the batch variance is undefined)', () => {
      expectThrow(() => be.batchNormForward(f32(2), g, bt, { rows: 1, cols: 2 }), RangeError,
        /^batchNormForward: options\.rows must be ≥ 2 in training mode \(the batch variance of one row is undefined\), got 1$/);
    });

    it('rejects arrays of the wrong length, naming the expected shape', () => {
      expectThrow(() => be.batchNormForward(f32(5), g, bt, { rows: 3, cols: 2 }), RangeError, /^batchNormForward: x must have length 6 \(rows·cols = 3·2\), got length 5$/);
      expectThrow(() => be.batchNormForward(x, f32(3), bt, { rows: 3, cols: 2 }), RangeError, /^batchNormForward: gamma must have length 2 \(cols\), got length 3$/);
      expectThrow(() => be.batchNormForward(x, g, f32(1), { rows: 3, cols: 2 }), RangeError, /^batchNormForward: beta must have length 2 \(cols\), got length 1$/);
    });

    it('rejects data that is not a Float32Array', () => {
      expectThrow(() => be.batchNormForward([1, 2, 3, 4, 5, 6] as unknown as Float32Array, g, bt, { rows: 3, cols: 2 }), TypeError, /^batchNormForward: x must be a Float32Array, got Array\(6\)$/);
      expectThrow(() => be.batchNormForward(x, new Float64Array(2) as unknown as Float32Array, bt, { rows: 3, cols: 2 }), TypeError, /^batchNormForward: gamma must be a Float32Array, got Float64Array\(2\)$/);
      expectThrow(() => be.batchNormForward(x, g, {} as unknown as Float32Array, { rows: 3, cols: 2 }), TypeError, /^batchNormForward: beta must be a Float32Array, got Object$/);
    });

    it.each([['rows', 0], ['rows', 2.5], ['cols', 0], ['cols', -3], ['cols', 1.5]] as const)('rejects options.%s = %s', (key, value) => {
      const o = { rows: 3, cols: 2, [key]: value };
      expectThrow(() => be.batchNormForward(x, g, bt, o), RangeError, new RegExp(`^batchNormForward: options\\.${key} must be an integer ≥ 1, got ${value}$`));
    });

    it('rejects a bad eps and unknown options', () => {
      expectThrow(() => be.batchNormForward(x, g, bt, { rows: 3, cols: 2, eps: 0 }), RangeError, /^batchNormForward: options\.eps must be a finite number in \(0, Infinity\], got 0$/);
      expectThrow(() => be.batchNormForward(x, g, bt, { rows: 3, cols: 2, eps: -1e-5 }), RangeError, /options\.eps .*got -0\.00001$/);
      expectThrow(() => be.batchNormForward(x, g, bt, { rows: 3, cols: 2, eps: NaN }), RangeError, /options\.eps .*got NaN$/);
      expectThrow(() => be.batchNormForward(x, g, bt, { rows: 3, cols: 2, eps: '1e-5' } as unknown as { rows: number; cols: number }), TypeError, /^batchNormForward: options\.eps must be a number, got "1e-5"$/);
      expectThrow(() => be.batchNormForward(x, g, bt, { rows: 3, cols: 2, momentum: 0.1 } as unknown as { rows: number; cols: number }), TypeError,
        /^batchNormForward: unknown option options\.momentum; expected one of rows, cols, eps$/);
    });
  });

  describe('typed API: batchNormBackward', () => {
    const dy = f32(6), x = f32(6), g = f32(2), mean = f32(2), inv = f32(2); // rows=3, cols=2

    it('rejects each array of the wrong length', () => {
      const args = () => [dy, x, g, mean, inv] as Float32Array[];
      const names = ['dy', 'x', 'gamma', 'mean', 'invStd'];
      const expected = ['6 \\(rows·cols = 3·2\\)', '6 \\(rows·cols = 3·2\\)', '2 \\(cols\\)', '2 \\(cols\\)', '2 \\(cols\\)'];
      names.forEach((nm, i) => {
        const a = args();
        a[i] = f32(a[i]!.length + 1);
        expectThrow(() => be.batchNormBackward(a[0]!, a[1]!, a[2]!, a[3]!, a[4]!, { rows: 3, cols: 2 }), RangeError,
          new RegExp(`^batchNormBackward: ${nm} must have length ${expected[i]}, got length ${a[i]!.length}$`));
      });
    });

    it('rejects each argument that is not a Float32Array', () => {
      const names = ['dy', 'x', 'gamma', 'mean', 'invStd'];
      names.forEach((nm, i) => {
        const a: unknown[] = [dy, x, g, mean, inv];
        a[i] = Array.from(a[i] as Float32Array);
        expectThrow(() => be.batchNormBackward(...(a as [Float32Array, Float32Array, Float32Array, Float32Array, Float32Array]), { rows: 3, cols: 2 }), TypeError,
          new RegExp(`^batchNormBackward: ${nm} must be a Float32Array, got Array\\(\\d+\\)$`));
      });
    });

    it('rejects bad sizes and unknown options', () => {
      expectThrow(() => be.batchNormBackward(dy, x, g, mean, inv, { rows: 0, cols: 2 }), RangeError, /^batchNormBackward: options\.rows must be an integer ≥ 1, got 0$/);
      expectThrow(() => be.batchNormBackward(dy, x, g, mean, inv, { rows: 3, cols: 2.5 }), RangeError, /^batchNormBackward: options\.cols must be an integer ≥ 1, got 2\.5$/);
      expectThrow(() => be.batchNormBackward(dy, x, g, mean, inv, { rows: 3, cols: 2, eps: 1e-5 } as unknown as { rows: number; cols: number }), TypeError,
        /^batchNormBackward: unknown option options\.eps; expected one of rows, cols$/);
    });
  });

  it('a rejected call leaves the heap as it was', () => {
    const before = be.heap.bytesInUse;
    expect(() => be.matmul(f32(5), f32(12), { m: 2, k: 3, n: 4 })).toThrow(RangeError);
    expect(() => be.batchNormForward(f32(2), f32(2), f32(2), { rows: 1, cols: 2 })).toThrow(RangeError);
    expect(be.heap.bytesInUse).toBe(before);
  });

  describe('kernels', () => {
    it('reject a pointer outside memory, naming the argument, the need and the pointer', () => {
      scoped(be, (s) => {
        const a = s.filled(6, 1), c = s.out(4); // allocate first: a fresh js backend has 0 bytes of memory
        const end = be.heap.memoryBytes;
        expect(end).toBeGreaterThan(0);
        expectThrow(() => be.kernels.fill(end, 4, 0), RangeError,
          new RegExp(`^fill: ptr must point to 4 values inside memory \\(${end} bytes\\), got pointer ${end} whose end is ${end + 16}$`));
        // a block that starts inside memory and runs past its end
        expectThrow(() => be.kernels.fill(end - 8, 4, 0), RangeError, new RegExp(`^fill: ptr must point to 4 values inside memory \\(${end} bytes\\), got pointer ${end - 8}`));
        expectThrow(() => be.kernels.matmul(c, a, end, 2, 3, 2, 0, 0, 0), RangeError, /^matmul: b must point to 6 values inside memory/);
        expectThrow(() => be.kernels.softmaxCrossEntropy(c, a, end + 64, 2, 2), RangeError, /^softmaxCrossEntropy: labels must point to 2 values inside memory/);
      });
    });

    it('reject negative, unaligned and non-integer pointers', () => {
      expectThrow(() => be.kernels.fill(-4, 1, 0), RangeError, /^fill: ptr must be a 4-byte aligned pointer, got -4$/);
      expectThrow(() => be.kernels.fill(18, 1, 0), RangeError, /^fill: ptr must be a 4-byte aligned pointer, got 18$/);
      expectThrow(() => be.kernels.copy(16.5, 32, 1), RangeError, /^copy: dst must be a 4-byte aligned pointer, got 16\.5$/);
    });

    it('reject size 0 and non-integer sizes', () => {
      scoped(be, (s) => {
        const p = s.filled(16, 1);
        expectThrow(() => be.kernels.fill(p, 0, 0), RangeError, /^fill: n must be an integer ≥ 1, got 0$/);
        expectThrow(() => be.kernels.matmul(p, p, p, 2, 0, 2, 0, 0, 0), RangeError, /^matmul: k must be an integer ≥ 1, got 0$/);
        expectThrow(() => be.kernels.reluForward(p, p, 2.5), RangeError, /^reluForward: n must be an integer ≥ 1, got 2\.5$/);
        expectThrow(() => be.kernels.biasBackward(p, p, 2, -1), RangeError, /^biasBackward: cols must be an integer ≥ 1, got -1$/);
        expectThrow(() => be.kernels.adamUpdate(p, p, p, p, 4, 0.01, 0.9, 0.999, 1e-8, 0, 0), RangeError, /^adamUpdate: t must be an integer ≥ 1, got 0$/);
      });
    });

    it('reject a training-mode batchnormForward with rows = 1, aliasing out and inp, and bad eps or momentum', () => {
      scoped(be, (s) => {
        const x = s.filled(8, 1), y = s.out(8), c = () => s.filled(4, 1);
        const [m, v, i, g, b, rm, rv] = [c(), c(), c(), c(), c(), c(), c()];
        expectThrow(() => be.kernels.batchnormForward(y, m, v, i, x, g, b, rm, rv, 1, 4, 1e-5, 0.1), RangeError, /^batchnormForward: rows must be an integer ≥ 2, got 1$/);
        expectThrow(() => be.kernels.batchnormForward(x, m, v, i, x, g, b, rm, rv, 2, 4, 1e-5, 0.1), RangeError, /^batchnormForward: out must not alias inp$/);
        expectThrow(() => be.kernels.batchnormForward(y, m, v, i, x, g, b, rm, rv, 2, 4, 0, 0.1), RangeError, /^batchnormForward: eps must be > 0, got 0$/);
        expectThrow(() => be.kernels.batchnormForward(y, m, v, i, x, g, b, rm, rv, 2, 4, NaN, 0.1), RangeError, /^batchnormForward: eps must be a finite number, got NaN$/);
        expectThrow(() => be.kernels.batchnormForward(y, m, v, i, x, g, b, rm, rv, 2, 4, 1e-5, 1.5), RangeError, /^batchnormForward: momentum must be in \[0, 1\], got 1\.5$/);
      });
    });

    it('reject a flag that is not 0 or 1', () => {
      scoped(be, (s) => {
        const p = s.filled(16, 1);
        expectThrow(() => be.kernels.matmul(p, p, p, 2, 2, 2, 2, 0, 0), RangeError, /^matmul: transA must be 0 or 1, got 2$/);
        expectThrow(() => be.kernels.matmul(p, p, p, 2, 2, 2, 0, -1, 0), RangeError, /^matmul: transB must be 0 or 1, got -1$/);
        expectThrow(() => be.kernels.matmul(p, p, p, 2, 2, 2, 0, 0, 0.5), RangeError, /^matmul: accumulate must be 0 or 1, got 0\.5$/);
        expectThrow(() => be.kernels.matmulBackward(p, p, p, p, p, 2, 2, 2, 3), RangeError, /^matmulBackward: needDinp must be 0 or 1, got 3$/);
      });
    });

    it('reject non-finite optimizer scalars and a wrong argument count', () => {
      scoped(be, (s) => {
        const p = s.filled(4, 1);
        expectThrow(() => be.kernels.sgdUpdate(p, p, p, 4, NaN, 0, 0), RangeError, /^sgdUpdate: lr must be a finite number, got NaN$/);
        expectThrow(() => be.kernels.rmspropUpdate(p, p, p, 4, 0.01, 0.9, Infinity, 0), RangeError, /^rmspropUpdate: eps must be a finite number, got Infinity$/);
        const fill = be.kernels.fill as unknown as (...a: number[]) => void;
        expectThrow(() => fill(p, 4), TypeError, /^fill: expected 3 arguments \(ptr, n, value\), got 2$/);
      });
    });

    it('reject labels outside [0, cols) and row indices outside memory, naming the first bad entry', () => {
      scoped(be, (s) => {
        const logits = s.filled(6, 0.5), d = s.out(6);
        expectThrow(() => be.kernels.softmaxCrossEntropy(d, logits, s.i32([0, 3]), 2, 3), RangeError,
          /^softmaxCrossEntropy: labels\[1\] must be a class index in \[0, 2\], got 3$/);
        expectThrow(() => be.kernels.countCorrect(logits, s.i32([-1, 0]), 2, 3), RangeError,
          /^countCorrect: labels\[0\] must be a class index in \[0, 2\], got -1$/);
        const src = s.filled(4, 1), out = s.out(4);
        const rowsInMemory = Math.floor((be.heap.memoryBytes - src) / 8);
        expectThrow(() => be.kernels.gatherRows(out, src, s.i32([1, rowsInMemory]), 2, 2), RangeError,
          new RegExp(`^gatherRows: indices\\[1\\] must be a row of src inside memory \\(0 … ${rowsInMemory - 1}\\), got ${rowsInMemory}$`));
        expectThrow(() => be.kernels.gatherRows(out, src, s.i32([-2, 0]), 2, 2), RangeError, /^gatherRows: indices\[0\] must be a row of src inside memory/);
      });
    });

    it('a rejected call writes nothing', () => {
      scoped(be, (s) => {
        const p = s.filled(8, 3);
        expect(() => be.kernels.fill(p, 9999999, 0)).toThrow(RangeError);
        expect(Array.from(s.read(p, 8))).toEqual(new Array(8).fill(3));
      });
    });
  });
});

describe('error codes below the model API', () => {
  it('backend, typed-API and kernel errors carry a code and are NormcoreErrors', async () => {
    const be = await createBackend('js');
    const caught = async (f: () => unknown) => { try { await f(); } catch (e) { return e as Error & { code?: string }; } throw new Error('no error'); };
    const cases: Array<[() => unknown, string]> = [
      [() => createBackend('gpu' as 'wasm'), 'INVALID_ARGUMENT'],
      [() => be.matmul(new Float32Array(2), new Float32Array(2), { m: 1, k: 2, n: 1, transA: 1 as unknown as boolean }), 'INVALID_ARGUMENT'],
      [() => be.batchNormForward(new Float32Array(3), new Float32Array(3), new Float32Array(3), { rows: 1, cols: 3 }), 'OUT_OF_RANGE'],
      [() => be.kernels.fill(-4, 1, 0), 'OUT_OF_RANGE'],
      [() => be.heap.free(12345), 'OUT_OF_RANGE'],
    ];
    for (const [f, code] of cases) {
      const e = await caught(f);
      expect(e, e.message).toBeInstanceOf(NormcoreError);
      expect(e.code, e.message).toBe(code);
    }
  });
});

describe('createBackend', () => {
  it('rejects an unknown backend name with a TypeError naming the choices and the value', async () => {
    await expect(createBackend('gpu' as 'wasm')).rejects.toThrow(TypeError);
    await expect(createBackend('gpu' as 'wasm')).rejects.toThrow(/^createBackend: name must be 'wasm' or 'js', got "gpu"$/);
    await expect(createBackend(42 as unknown as 'wasm')).rejects.toThrow(/^createBackend: name must be 'wasm' or 'js', got 42$/);
    expectThrow(() => createBackendSync('WASM' as 'wasm'), TypeError, /^createBackendSync: name must be 'wasm' or 'js', got "WASM"$/);
  });

  it('rejects unknown options', async () => {
    await expect(createBackend('js', { debg: true } as unknown as { debug: boolean })).rejects.toThrow(TypeError);
    await expect(createBackend('js', { debg: true } as unknown as { debug: boolean })).rejects.toThrow(/^createBackend: unknown option options\.debg; expected one of debug, simd, threads$/);
  });

  it('returns a backend of the requested name', async () => {
    for (const n of BACKENDS) expect((await createBackend(n)).name).toBe(n);
  });
});
