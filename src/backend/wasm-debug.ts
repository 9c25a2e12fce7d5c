/**
 * The debug build of the kernels (AssemblyScript asserts on), for this
 * repository's tests: its loader and the `abort` it imports. wasm.ts imports
 * this module for the first debug backend, so no page loads it.
 */
import { normcoreError } from '../error-brand.js';

/**
 * The debug build is imported through a variable, which bundlers leave
 * alone, so no page carries it; and the published package leaves the file
 * out (package.json `files`).
 */
const DEBUG_BUILD = '../wasm/debug.generated.js';

export async function importDebugBuild(): Promise<{ wasmDeflated: string }> {
  try {
    return (await import(/* @vite-ignore */ DEBUG_BUILD)) as { wasmDeflated: string };
  } catch (cause) {
    throw normcoreError(
      "createBackend: options.debug needs the debug build of the kernels (AssemblyScript asserts on), which only a clone of the normcore repository has (`npm run build` writes it); the published package ships the release builds only",
      'UNAVAILABLE',
      { cause },
    );
  }
}

/** `env` with the debug build's `abort` added: an AssemblyScript assertion, thrown as an Error with its message and place. */
export function debugImports(env: Record<string, unknown>): { imports: WebAssembly.Imports; bind(memory: WebAssembly.Memory): void } {
  let mem: WebAssembly.Memory | undefined;
  const text = (ptr: number): string => {
    if (!mem || ptr === 0) return '';
    const length = new Uint32Array(mem.buffer, ptr - 4, 1)[0]! >>> 1; // AssemblyScript strings: UTF-16, byte length before the data
    return String.fromCharCode(...new Uint16Array(mem.buffer, ptr, length));
  };
  const abort = (msg: number, file: number, line: number, column: number): never => {
    throw new Error(`wasm abort: ${text(msg)} in ${text(file)}(${line}:${column})`);
  };
  return { imports: { env: { ...env, abort } }, bind: (m) => { mem = m; } };
}
