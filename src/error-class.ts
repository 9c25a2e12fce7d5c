/**
 * NormcoreError, the base class of normcore's own errors, with the codes it
 * carries and the brand that makes `instanceof NormcoreError` recognise the
 * tagged TypeError and RangeError objects of errors.ts as well.
 *
 * The parts loaded on first use (the thread pool, the shared-memory rewrite,
 * the release patch, the debug loader) import neither this module nor
 * errors.ts: they throw branded errors (error-brand.ts), which `instanceof
 * NormcoreError` recognises. A module they and the page both imported would
 * be a chunk of its own (esbuild --splitting groups files by which entries
 * reach them) that every page fetches beside its entry. errors.ts re-exports
 * NormcoreError and ErrorCode.
 */

/** What went wrong, for programs that react to errors. */
export type ErrorCode =
  /** TypeError: a value of the wrong kind (not a Float32Array, not a number, not an object…). */
  | 'INVALID_ARGUMENT'
  /** TypeError: an option name the call does not know (a misspelling). */
  | 'UNKNOWN_OPTION'
  /** RangeError: a number outside its allowed range (batchSize 0, lr -1, label 12 of 10 classes…). */
  | 'OUT_OF_RANGE'
  /** RangeError: a length or width that does not match (x not rows × features, layer widths…). */
  | 'SHAPE_MISMATCH'
  /** RangeError: NaN or ±Infinity in input data. */
  | 'NOT_FINITE'
  /** The call does not fit the object's state (disposed, not compiled, already training). */
  | 'INVALID_STATE'
  /** ModelFormatError: bytes that are not a valid model or checkpoint file. */
  | 'MODEL_FORMAT'
  /** resumeFrom: a valid checkpoint of another model, optimizer, data or fit options. */
  | 'CHECKPOINT_MISMATCH'
  /** DivergenceError: the training loss became NaN or infinite. */
  | 'DIVERGED'
  /** The engine lacks a feature the call asks for (relaxed SIMD; shared memory and workers for options.threads). */
  | 'UNSUPPORTED'
  /** A file could not be read or written (missing, unwritable, not a folder…); `cause` holds the system error. */
  | 'IO'
  /** DataError: a data file or raw records that cannot be read as a table (empty, ragged rows, text in a numeric column, an unseen category). */
  | 'DATA_FORMAT'
  /** OnnxUnsupportedError: a valid ONNX model with a node or pattern fromOnnx cannot map onto layers. */
  | 'ONNX_UNSUPPORTED'
  /** An optional part is not installed: the chart renderer (vega, vega-lite), or the debug kernels outside this repository. */
  | 'UNAVAILABLE'
  /** A broken invariant inside normcore itself (e.g. a kernel build it cannot load): a bug to report, not bad input. */
  | 'INTERNAL';

/** Marks normcore's errors (a registered symbol: the same in every copy of the package). */
export const BRAND = Symbol.for('normcore.error');

/**
 * Base class of normcore's own errors (ModelFormatError, DivergenceError, …).
 * `e instanceof NormcoreError` is also true for the TypeError and RangeError
 * objects normcore throws for bad arguments (they carry a `code`).
 */
export class NormcoreError extends Error {
  readonly code: ErrorCode;
  constructor(message: string, code: ErrorCode, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    Object.defineProperty(this, BRAND, { value: true });
  }

  static override [Symbol.hasInstance](v: unknown): boolean {
    if (this !== NormcoreError) return Function.prototype[Symbol.hasInstance].call(this, v);
    return typeof v === 'object' && v !== null && (v as Record<symbol, unknown>)[BRAND] === true;
  }
}
