/**
 * normcore's errors for the modules loaded on first use (the thread pool, the
 * shared-memory rewrite, the release build's patch, the debug build's
 * loader): an Error with a `code` and the brand, which `instanceof
 * NormcoreError` recognises, as it does the tagged TypeError and RangeError
 * objects of errors.ts. They do not import the class itself: a module those
 * chunks and the page both imported would be a chunk of its own that every
 * page fetches (esbuild --splitting groups files by which entries reach them).
 */
import type { ErrorCode } from './error-class.js';

/** An error that is `instanceof NormcoreError`, with `code`; the brand is error-class.ts's registered symbol. */
export function normcoreError(message: string, code: ErrorCode, options?: { cause?: unknown }): Error & { readonly code: ErrorCode } {
  const e = Object.assign(new Error(message, options), { code });
  Object.defineProperty(e, Symbol.for('normcore.error'), { value: true });
  return e;
}
