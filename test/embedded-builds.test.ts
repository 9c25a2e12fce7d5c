/**
 * The embedded kernel builds are the compiler's output, byte for byte, and the
 * modules derived from them at run time are what they claim to be:
 *  - src/wasm/kernels.generated.ts decodes to build/relaxed.wasm;
 *  - the release build, embedded as a patch to the relaxed build
 *    (scripts/embed-wasm.mjs), rebuilds to build/release.wasm;
 *  - the threaded backend's modules (src/backend/shared-module.ts) import one
 *    shared memory and otherwise keep every section of the build they come from.
 */
import { readFileSync } from 'node:fs';
import v8 from 'node:v8';
import { describe, expect, it } from 'vitest';
import { withSharedMemory } from '../src/backend/shared-module.js';
import { applyPatch } from '../src/backend/wasm-patch.js';
import { NormcoreError } from '../src/errors.js';
import { inflateEmbedded } from '../src/backend/wasm.js';
import { wasmDeflated } from '../src/wasm/kernels.generated.js';
import { releasePatch } from '../src/wasm/release-patch.generated.js';
import { releaseFromRelaxed } from '../src/backend/release-build.js';

v8.setFlagsFromString('--experimental-wasm-relaxed-simd');

const built = (name: string) => new Uint8Array(readFileSync(new URL(`../build/${name}.wasm`, import.meta.url)));
const relaxed = await inflateEmbedded(wasmDeflated);

/** What `f` throws (it must throw). */
function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

/** The (id, payload) sections of a module. */
function sections(b: Uint8Array): { id: number; payload: Uint8Array }[] {
  const out: { id: number; payload: Uint8Array }[] = [];
  let pos = 8;
  while (pos < b.length) {
    const id = b[pos++]!;
    let size = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = b[pos++]!;
      size |= (byte & 0x7f) << shift;
      if (!(byte & 0x80)) break;
    }
    out.push({ id, payload: b.subarray(pos, pos + size) });
    pos += size;
  }
  return out;
}

describe('the embedded kernel builds', () => {
  it('the embedded module is build/relaxed.wasm, byte for byte', () => {
    expect(Buffer.from(relaxed).equals(Buffer.from(built('relaxed')))).toBe(true);
  });

  it('the release patch rebuilds build/release.wasm, byte for byte, from a patch far smaller than the build', () => {
    const release = releaseFromRelaxed(relaxed);
    expect(Buffer.from(release).equals(Buffer.from(built('release')))).toBe(true);
    expect(Buffer.from(applyPatch(relaxed, releasePatch)).equals(Buffer.from(release))).toBe(true);
    expect(releasePatch.inserts.length + releasePatch.ops.length).toBeLessThan(release.length / 10);
  });

  it('the relaxed module is stored deflated: its base64 text is well under the module it inflates to', () => {
    expect(wasmDeflated.length * 0.75).toBeLessThan(relaxed.length * 0.5);
  });

  it('an engine without DecompressionStream gets an UNSUPPORTED error that says what is missing', async () => {
    const saved = globalThis.DecompressionStream;
    try {
      (globalThis as { DecompressionStream?: unknown }).DecompressionStream = undefined;
      const e = await inflateEmbedded(wasmDeflated).then(() => undefined, (err: unknown) => err);
      expect(e).toBeInstanceOf(NormcoreError);
      expect((e as NormcoreError).code).toBe('UNSUPPORTED');
      expect((e as Error).message).toMatch(/no DecompressionStream, which unpacks the embedded kernels/);
    } finally {
      globalThis.DecompressionStream = saved;
    }
    expect((await inflateEmbedded(wasmDeflated)).length).toBe(relaxed.length);
  });

  it('a patch that does not fit its base is refused (INTERNAL), not applied', () => {
    const wrong = () => applyPatch(relaxed.subarray(0, 1000), releasePatch);
    expect(wrong).toThrow(NormcoreError);
    expect(wrong).toThrow(/does not fit its base build/);
    // a branded error (src/error-brand.ts: the lazily loaded modules do not import the class), with its code
    expect(thrown(wrong)).toMatchObject({ code: 'INTERNAL' });
  });
});

describe('withSharedMemory: the threaded modules', () => {
  for (const [name, bytes] of [['release', releaseFromRelaxed(relaxed)], ['relaxed', relaxed]] as const) {
    it(`${name}: imports env.memory (shared, max 32768 pages), defines none, keeps the other sections and the exports`, () => {
      const shared = withSharedMemory(bytes, 32768);
      const mod = new WebAssembly.Module(shared as BufferSource);
      expect(WebAssembly.Module.imports(mod)).toEqual([
        { module: 'env', name: 'pow', kind: 'function' },
        { module: 'env', name: 'memory', kind: 'memory' },
      ]);
      expect(WebAssembly.Module.exports(mod)).toEqual(WebAssembly.Module.exports(new WebAssembly.Module(bytes as BufferSource)));
      const before = sections(bytes).filter((s) => s.id !== 2 && s.id !== 5);
      const after = sections(shared).filter((s) => s.id !== 2);
      expect(after.map((s) => s.id)).toEqual(before.map((s) => s.id));
      expect(after.every((s, i) => Buffer.from(s.payload).equals(Buffer.from(before[i]!.payload)))).toBe(true);
      // instantiates on a shared memory and runs a kernel there
      const memory = new WebAssembly.Memory({ initial: 1, maximum: 32768, shared: true });
      const ex = new WebAssembly.Instance(mod, { env: { memory, pow: Math.pow } }).exports as { memory: WebAssembly.Memory; heapBase(): number };
      expect(ex.memory.buffer).toBe(memory.buffer);
      expect(ex.heapBase()).toBeGreaterThan(0);
      // an unshared memory is refused by the engine: the import really is shared
      expect(() => new WebAssembly.Instance(mod, { env: { memory: new WebAssembly.Memory({ initial: 1, maximum: 32768 }), pow: Math.pow } })).toThrow();
    });
  }

  it('refuses what it cannot convert, with a NormcoreError saying why', () => {
    expect(() => withSharedMemory(new Uint8Array([1, 2, 3]), 10)).toThrow(/not a WebAssembly 1.0 binary/);
    const e = thrown(() => withSharedMemory(new Uint8Array([1, 2, 3]), 10));
    expect(e).toBeInstanceOf(NormcoreError);
    expect(e).toMatchObject({ code: 'INTERNAL' });
    const shared = withSharedMemory(relaxed, 32768);
    expect(() => withSharedMemory(shared, 32768)).toThrow(/defines no memory/);
    expect(() => withSharedMemory(relaxed.subarray(0, relaxed.length - 5), 32768)).toThrow(/runs past the end/);
  });
});
