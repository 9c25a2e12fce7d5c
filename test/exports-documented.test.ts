/**
 * Every runtime export of every package entry is in the README's "Every export"
 * list, under its entry (or named there as a re-export), and the list names
 * nothing the entries do not export (issue 16: documentation for every export).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const ENTRIES: Record<string, string> = {
  normcore: '../src/index.js',
  'normcore/cnn': '../src/cnn.js',
  'normcore/data': '../src/data.js',
  'normcore/kernels': '../src/kernels.js',
  'normcore/onnx': '../src/onnx.js',
  'normcore/node': '../src/node/index.js',
};

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const section = readme.slice(readme.indexOf('### Every export'), readme.indexOf('## ONNX: serve with ONNX Runtime'));

/** Per entry: the names in its table, and the names its heading line says it re-exports. */
function listed(): Map<string, { table: Set<string>; heading: string }> {
  const out = new Map<string, { table: Set<string>; heading: string }>();
  let current: { table: Set<string>; heading: string } | undefined;
  for (const line of section.split('\n')) {
    const head = /^\*\*`([^`]+)`\*\*(.*)$/.exec(line);
    if (head) out.set(head[1]!, (current = { table: new Set(), heading: head[2]! }));
    const row = /^\| `([A-Za-z_0-9]+)` \|/.exec(line);
    if (row && current) current.table.add(row[1]!);
  }
  return out;
}

describe("the README's list of every export", () => {
  const lists = listed();

  it('has a table for each entry', () => {
    expect([...lists.keys()]).toEqual(Object.keys(ENTRIES));
  });

  for (const [entry, path] of Object.entries(ENTRIES)) {
    it(`${entry}: every runtime export is listed, and every listed name is exported`, async () => {
      const names = Object.keys(await import(path));
      const { table, heading } = lists.get(entry)!;
      // re-exports named in the heading line: inline names, or whole entries ("everything in `normcore`, …")
      const inherited = new Set<string>([...heading.matchAll(/`([A-Za-z_0-9]+)`/g)].map((m) => m[1]!));
      for (const [other, otherPath] of Object.entries(ENTRIES)) {
        if (other !== entry && heading.includes(`\`${other}\``)) for (const n of Object.keys(await import(otherPath))) inherited.add(n);
      }
      const missing = names.filter((n) => !table.has(n) && !inherited.has(n));
      expect(missing, `${entry} exports these, but the README does not list them`).toEqual([]);
      const stale = [...table].filter((n) => !names.includes(n));
      expect(stale, `the README lists these under ${entry}, which does not export them`).toEqual([]);
    });
  }
});
