/**
 * The threaded backend's module, derived from the one-thread build: the same
 * code, with its own memory replaced by an imported shared one.
 *
 * The kernels use no atomics (the pool synchronizes in JavaScript), so the
 * only difference between the one-thread and the threaded build is where the
 * memory comes from. Rewriting the module's memory section as an import of
 * `env.memory` (shared, up to `maxPages`) here, instead of compiling two more
 * builds, keeps the package and a single-file bundle at two kernel builds.
 *
 * Binary format (WebAssembly core spec, 5.5 "Modules"): after the 8-byte
 * header, sections of (id byte, u32 LEB128 size, payload). Imports are
 * section 2, memories section 5. A memory import does not shift function
 * indices, so appending one to the imports leaves every other section valid.
 */
import { normcoreError } from '../error-brand.js';

const IMPORT_SECTION = 2;
const MEMORY_SECTION = 5;

interface Section { id: number; payload: Uint8Array }

function fail(why: string): never {
  throw normcoreError(`withSharedMemory: the kernel module cannot be given a shared memory: ${why}`, 'INTERNAL');
}

/** Reads an unsigned LEB128 at `pos`; returns [value, next position]. */
function readU32(b: Uint8Array, pos: number): [number, number] {
  let value = 0;
  for (let shift = 0; shift < 35; shift += 7) {
    if (pos >= b.length) fail('a number runs past the end');
    const byte = b[pos++]!;
    value += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) return [value, pos];
  }
  return fail('a number is longer than 5 bytes');
}

function u32(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return out;
}

function sections(b: Uint8Array): Section[] {
  const header = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  if (b.length < 8 || header.some((v, i) => b[i] !== v)) fail('not a WebAssembly 1.0 binary');
  const out: Section[] = [];
  let pos = 8;
  while (pos < b.length) {
    const id = b[pos++]!;
    const [size, start] = readU32(b, pos);
    if (start + size > b.length) fail(`section ${id} runs past the end`);
    out.push({ id, payload: b.subarray(start, start + size) });
    pos = start + size;
  }
  return out;
}

/**
 * `bytes` with its one defined memory turned into an import of `env.memory`:
 * shared, the same initial pages, at most `maxPages`. Throws if the module
 * imports a memory already or does not define exactly one.
 */
export function withSharedMemory(bytes: Uint8Array, maxPages: number): Uint8Array {
  const all = sections(bytes);
  const memory = all.find((s) => s.id === MEMORY_SECTION);
  if (!memory) fail('it defines no memory');
  const [count, p0] = readU32(memory.payload, 0);
  if (count !== 1) fail(`it defines ${count} memories`);
  const flags = memory.payload[p0];
  if (flags !== 0x00 && flags !== 0x01) fail(`its memory has limit flags ${flags} (expected an unshared 32-bit memory)`);
  const [initial] = readU32(memory.payload, p0 + 1);
  if (initial > maxPages) fail(`its memory starts at ${initial} pages, above the maximum ${maxPages}`);
  const name = (s: string) => [...u32(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
  const entry = [...name('env'), ...name('memory'), 0x02, 0x03, ...u32(initial), ...u32(maxPages)];

  const imports = all.find((s) => s.id === IMPORT_SECTION);
  let importPayload: number[];
  if (imports) {
    const [n, rest] = readU32(imports.payload, 0);
    importPayload = [...u32(n + 1), ...imports.payload.subarray(rest), ...entry];
  } else {
    importPayload = [...u32(1), ...entry];
  }
  // Known sections must stay in id order: put the imports before the first section with a higher id (custom sections, id 0, stay where they are).
  const out: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  let placed = false;
  const emit = (id: number, payload: ArrayLike<number>) => { out.push(id, ...u32(payload.length)); for (let i = 0; i < payload.length; i++) out.push(payload[i]!); };
  for (const s of all) {
    if (!placed && s.id > IMPORT_SECTION) { emit(IMPORT_SECTION, importPayload); placed = true; }
    if (s.id === IMPORT_SECTION || s.id === MEMORY_SECTION) continue;
    emit(s.id, s.payload);
  }
  if (!placed) emit(IMPORT_SECTION, importPayload);
  return new Uint8Array(out);
}
