/**
 * The kernel table agrees everywhere it is written down. `kernelSpecs`
 * (src/backend/checked.ts) is typed Record<KernelName, Spec>, so the compiler
 * already gives every member of the `Kernels` interface a spec; these tests
 * check the rest, so that a kernel missing from the AssemblyScript exports
 * fails here, not in a user's `createBackend`:
 *  - every wasm build (release, relaxed where the engine validates it, debug)
 *    exports each kernel as a function with the spec's arity, and exports no
 *    function that is neither a kernel nor one of the host's helpers;
 *  - the debug build's parameter names (from its name section), the JS twin's
 *    and the `Kernels` interface's are the spec's argument names, in order.
 */
import v8 from 'node:v8';
import { readFileSync } from 'node:fs';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';
import { kernelSpecs } from '../src/backend/checked.js';
import { JsKernels } from '../src/backend/js-kernels.js';
import type { KernelName } from '../src/backend/types.js';
import { withSharedMemory } from '../src/backend/shared-module.js';
import { inflateEmbedded } from '../src/backend/wasm.js';
import { wasmDeflated as debugDeflated } from '../src/wasm/debug.generated.js';
import { wasmDeflated as relaxedDeflated } from '../src/wasm/kernels.generated.js';
import { releaseFromRelaxed } from '../src/backend/release-build.js';
import { exportedLocalNames } from './helpers/wasm-names.js';

// Node 20 validates relaxed SIMD only behind this flag (newer engines by default).
v8.setFlagsFromString('--experimental-wasm-relaxed-simd');

/** Function exports that are not kernels: src/backend/wasm.ts calls them once at start-up (setWideTile: tests and benchmarks). */
const HOST_EXPORTS = ['setScratch', 'heapBase', 'scratchBytesNeeded', 'setWideTile'];
/** The range entry points the threaded backend hands to its workers (src/backend/threads.ts), exported by every build. */
const PART_EXPORTS = ['matmulPart', 'matmulForwardPackedPart', 'batchnormForwardPart', 'batchnormInferencePart', 'batchnormBackwardPart', 'maxPoolForwardPart', 'maxPoolBackwardPart'];
/** Methods of JsKernels that are not kernels: its constructor and private helpers. */
const JS_HELPERS = ['constructor', 'views', 'colTemps'];

const KERNELS = Object.keys(kernelSpecs) as KernelName[];
const arity = (name: KernelName) => kernelSpecs[name].args.length;

const relaxed = await inflateEmbedded(relaxedDeflated);
const release = releaseFromRelaxed(relaxed);
const FLAVORS = [
  ['release', release],
  ['relaxed', relaxed],
  ['debug', await inflateEmbedded(debugDeflated)],
  // the threaded backend's modules, derived from the two above
  ['release-mt', withSharedMemory(release, 32768)],
  ['relaxed-mt', withSharedMemory(relaxed, 32768)],
] as const;

describe.each(FLAVORS)('the %s wasm build', (flavor, wasm) => {
  const bytes = wasm as BufferSource & Uint8Array;
  const valid = WebAssembly.validate(bytes);
  // only the relaxed-SIMD build may be refused, by an engine without relaxed SIMD
  const skip = flavor.startsWith('relaxed') && !valid;
  let exports: WebAssembly.Exports;

  beforeAll(() => {
    if (skip) return;
    const mod = new WebAssembly.Module(bytes);
    const imports: Record<string, Record<string, WebAssembly.ImportValue>> = {};
    for (const imp of WebAssembly.Module.imports(mod)) {
      if (imp.kind === 'memory' && flavor.endsWith('-mt')) {
        (imports[imp.module] ??= {})[imp.name] = new WebAssembly.Memory({ initial: 1, maximum: 32768, shared: true });
        continue;
      }
      if (imp.kind !== 'function') throw new Error(`unexpected ${imp.kind} import ${imp.module}.${imp.name}`);
      (imports[imp.module] ??= {})[imp.name] = () => { throw new Error(`import ${imp.module}.${imp.name} called`); };
    }
    exports = new WebAssembly.Instance(mod, imports).exports;
  });

  if (!flavor.startsWith('relaxed')) {
    it('validates on this engine', () => {
      expect(valid).toBe(true);
    });
  }

  it.skipIf(skip)(`exports every kernel of kernelSpecs as a function with the spec's arity${skip ? ' (skipped: this engine does not validate relaxed SIMD)' : ''}`, () => {
    const missing = KERNELS.filter((k) => typeof exports[k] !== 'function');
    expect(missing, 'kernels the module does not export').toEqual([]);
    const wrong = KERNELS
      .map((k) => [k, (exports[k] as (...a: number[]) => unknown).length, arity(k)] as const)
      .filter(([, got, want]) => got !== want);
    expect(wrong, '[kernel, wasm arity, spec arity]').toEqual([]);
  });

  it.skipIf(skip)(`exports no function that is neither a kernel nor a host helper${skip ? ' (skipped: this engine does not validate relaxed SIMD)' : ''}`, () => {
    const functions = Object.keys(exports).filter((k) => typeof exports[k] === 'function');
    const known = new Set<string>([...KERNELS, ...HOST_EXPORTS, ...PART_EXPORTS]);
    expect(functions.filter((k) => !known.has(k)), 'function exports missing from kernelSpecs').toEqual([]);
    expect(HOST_EXPORTS.filter((k) => typeof exports[k] !== 'function'), 'host helpers missing').toEqual([]);
    expect(PART_EXPORTS.filter((k) => typeof exports[k] !== 'function'), 'range entry points the threaded backend calls, missing').toEqual([]);
    expect(exports.memory).toBeInstanceOf(WebAssembly.Memory);
  });

  if (flavor === 'debug') {
    it('names each kernel\'s parameters as the spec does, in the same order', () => {
      const names = exportedLocalNames(bytes);
      expect(names.get('matmul')?.length, 'the debug build has a name section with local names').toBeGreaterThan(0);
      const wrong = KERNELS
        .map((k) => [k, names.get(k)?.slice(0, arity(k)), kernelSpecs[k].args] as const)
        .filter(([, got, want]) => JSON.stringify(got) !== JSON.stringify(want));
      expect(wrong, '[kernel, AssemblyScript parameters, spec args]').toEqual([]);
    });
  }
});

describe('the JS twin (JsKernels)', () => {
  const proto = JsKernels.prototype as unknown as Record<string, unknown>;
  const methods = Object.getOwnPropertyNames(proto).filter((k) => typeof proto[k] === 'function');

  it('has every kernel of kernelSpecs as a method with the spec\'s arity and argument names', () => {
    expect(KERNELS.filter((k) => typeof proto[k] !== 'function'), 'kernels JsKernels lacks').toEqual([]);
    const params = (k: KernelName) => /^[^(]*\(([^)]*)\)/.exec(String(proto[k]))?.[1]?.split(',').map((s) => s.trim());
    const wrong = KERNELS
      .map((k) => [k, (proto[k] as (...a: number[]) => unknown).length, params(k), kernelSpecs[k].args] as const)
      .filter(([k, len, names, args]) => len !== arity(k) || JSON.stringify(names) !== JSON.stringify(args));
    expect(wrong, '[kernel, arity, parameters, spec args]').toEqual([]);
  });

  it('has no public method that is not a kernel', () => {
    const known = new Set<string>([...KERNELS, ...JS_HELPERS]);
    expect(methods.filter((k) => !known.has(k)), 'methods missing from kernelSpecs').toEqual([]);
  });
});

describe('the Kernels interface (src/backend/types.ts)', () => {
  it('declares each kernel with the spec\'s argument names, in the same order', () => {
    const path = new URL('../src/backend/types.ts', import.meta.url);
    const file = ts.createSourceFile('types.ts', readFileSync(path, 'utf8'), ts.ScriptTarget.Latest);
    const iface = file.statements.find((s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === 'Kernels');
    expect(iface, 'interface Kernels').toBeDefined();
    const declared = new Map<string, string[]>();
    for (const m of iface!.members) {
      if (ts.isMethodSignature(m) && ts.isIdentifier(m.name)) declared.set(m.name.text, m.parameters.map((p) => p.name.getText(file)));
    }
    expect([...declared.keys()].sort()).toEqual([...KERNELS].sort());
    const wrong = KERNELS
      .map((k) => [k, declared.get(k), kernelSpecs[k].args] as const)
      .filter(([, got, want]) => JSON.stringify(got) !== JSON.stringify(want));
    expect(wrong, '[kernel, interface parameters, spec args]').toEqual([]);
  });
});
