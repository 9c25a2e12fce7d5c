/**
 * Reads a WebAssembly binary's exported functions and, from its "name"
 * custom section (AssemblyScript writes one in debug builds), their parameter
 * names: enough to check that the kernels' AssemblyScript signatures use the
 * same argument names and order as their specs. Only the export and name
 * sections are decoded; every other section is skipped by its size.
 */

/**
 * Exported function name → the names of its locals in index order, parameters
 * first (so the first `arity` are the parameters); [] if the binary has no
 * local names.
 */
export function exportedLocalNames(bytes: Uint8Array): Map<string, string[]> {
  const r = new Reader(bytes);
  if (r.u32le() !== 0x6d736100) throw new Error('not a WebAssembly binary');
  r.u32le(); // version
  const exportIndex = new Map<string, number>();
  const localNames = new Map<number, Map<number, string>>();
  while (!r.done()) {
    const id = r.byte();
    const size = r.leb();
    const end = r.pos + size;
    if (id === 7) {
      for (let i = 0, n = r.leb(); i < n; i++) {
        const name = r.name();
        const kind = r.byte();
        const index = r.leb();
        if (kind === 0) exportIndex.set(name, index);
      }
    } else if (id === 0 && r.name() === 'name') {
      while (r.pos < end) {
        const sub = r.byte();
        const subEnd = r.leb() + r.pos;
        if (sub === 2) {
          for (let i = 0, n = r.leb(); i < n; i++) {
            const fn = r.leb();
            const names = new Map<number, string>();
            for (let j = 0, m = r.leb(); j < m; j++) {
              const local = r.leb();
              names.set(local, r.name());
            }
            localNames.set(fn, names);
          }
        }
        r.pos = subEnd;
      }
    }
    r.pos = end;
  }
  const out = new Map<string, string[]>();
  for (const [name, index] of exportIndex) {
    const locals = localNames.get(index);
    const names: string[] = [];
    for (let i = 0; locals?.has(i); i++) names.push(locals.get(i)!);
    out.set(name, names);
  }
  return out;
}

class Reader {
  pos = 0;
  constructor(private readonly b: Uint8Array) {}
  done(): boolean { return this.pos >= this.b.length; }
  byte(): number {
    if (this.pos >= this.b.length) throw new Error('unexpected end of the WebAssembly binary');
    return this.b[this.pos++]!;
  }
  u32le(): number {
    const v = new DataView(this.b.buffer, this.b.byteOffset + this.pos, 4).getUint32(0, true);
    this.pos += 4;
    return v;
  }
  /** Unsigned LEB128 (u32). */
  leb(): number {
    let v = 0, shift = 0, byte: number;
    do {
      byte = this.byte();
      v += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    } while (byte & 0x80);
    return v;
  }
  name(): string {
    const n = this.leb();
    const s = new TextDecoder().decode(this.b.subarray(this.pos, this.pos + n));
    this.pos += n;
    return s;
  }
}
