/**
 * The browser half of the package, checked without a browser: the 'normcore'
 * entry reaches no Node built-in (in the TypeScript source and in the built
 * dist/index.js, bundled for the browser by Vite), the demo's digits asset is
 * exactly the split of loadMnist(), and the drawing pad's MNIST preprocessing.
 */
import { existsSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { build, type Plugin } from 'vite';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../scripts/browser.mjs';
import { decodeDigits } from '../demo/src/digits.js';
import { toMnist } from '../demo/src/draw.js';
import { loadMnist } from '../src/node/mnist.js';

const isBuiltin = (spec: string) => spec.startsWith('node:') || builtinModules.includes(spec) || builtinModules.includes(spec.split('/')[0]!);

/** Every module specifier in a JS/TS source: static imports and re-exports, side-effect imports, dynamic import() of a literal. */
function specifiers(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const out: string[] = [];
  for (const re of [/\b(?:import|export)\s[^'"]*?\sfrom\s*['"]([^'"]+)['"]/g, /\bimport\s*['"]([^'"]+)['"]/g, /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g, /\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)/g]) {
    for (const m of code.matchAll(re)) out.push(m[1]!);
  }
  return out;
}

/** The folder of an installed package, found as Node does: node_modules/<name> in the importer's folder or above. */
function packageDir(name: string, from: string): string {
  for (let dir = dirname(from); ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(dir) === dir) throw new Error(`${relative(ROOT, from)}: cannot find the package "${name}"`);
  }
}

/** The ESM (browser, else import, else default) entry file of an installed package. */
function packageEntry(name: string, from: string): string {
  const dir = packageDir(name, from);
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { exports?: unknown; module?: string; main?: string };
  const pick = (e: unknown): string | undefined => {
    if (typeof e === 'string') return e;
    if (e && typeof e === 'object') {
      const o = e as Record<string, unknown>;
      return pick(o['.']) ?? pick(o.browser) ?? pick(o.import) ?? pick(o.default);
    }
    return undefined;
  };
  return withExtension(join(dir, pick(pkg.exports) ?? pkg.module ?? pkg.main ?? 'index.js'));
}

/** The file a relative specifier names: as is, or with a JS extension or /index.js added. */
function withExtension(path: string): string {
  for (const p of [path, `${path}.js`, `${path}.mjs`, `${path}.cjs`, join(path, 'index.js')]) {
    if (existsSync(p) && !p.endsWith('/')) {
      try {
        readFileSync(p);
        return p;
      } catch { /* a folder */ }
    }
  }
  throw new Error(`cannot resolve ${relative(ROOT, path)}`);
}

/**
 * Walks the import graph from `entry` (TypeScript source or built JS), returning each file and the Node built-ins it
 * imports; into installed packages too unless `followPackages` is false (the regex scan is meant for readable ES modules).
 */
function importGraph(entry: string, followPackages = true): Map<string, string[]> {
  const seen = new Map<string, string[]>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    const builtins: string[] = [];
    seen.set(file, builtins);
    for (const spec of specifiers(readFileSync(file, 'utf8'))) {
      if (isBuiltin(spec)) builtins.push(spec);
      else if (spec.startsWith('.')) {
        const target = resolve(dirname(file), spec);
        const ts = target.replace(/\.js$/, '.ts');
        visit(file.endsWith('.ts') && existsSync(ts) ? ts : withExtension(target));
      } else if (followPackages) {
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
        visit(packageEntry(name, file));
      }
    }
  };
  visit(entry);
  return seen;
}

const offenders = (graph: Map<string, string[]>) =>
  [...graph].filter(([, b]) => b.length > 0).map(([f, b]) => `${relative(ROOT, f)} imports ${b.join(', ')}`);

/** Bundles `entry` for the browser with Vite; any Node built-in in the graph is a build error. */
async function bundleForBrowser(entry: string): Promise<string> {
  const guard: Plugin = {
    name: 'no-node-builtins',
    enforce: 'pre',
    resolveId(id, importer) {
      if (isBuiltin(id)) this.error(`${importer ? relative(ROOT, importer) : '?'} imports the Node built-in "${id}"`);
      return null;
    },
  };
  const out = await build({
    configFile: false,
    logLevel: 'silent',
    root: ROOT,
    plugins: [guard],
    build: { write: false, minify: false, target: 'es2022', lib: { entry, formats: ['es'], fileName: 'bundle' } },
  });
  const outputs = (Array.isArray(out) ? out : [out]) as Array<{ output: Array<{ type: string; code?: string }> }>;
  return outputs.flatMap((o) => o.output).map((c) => c.code ?? '').join('\n');
}

describe('the browser entry (normcore) has no Node built-ins', () => {
  it('in the import graph of src/index.ts (TypeScript source)', () => {
    const graph = importGraph(join(ROOT, 'src', 'index.ts'));
    expect(graph.size).toBeGreaterThan(5);
    expect([...graph.keys()].map((f) => relative(ROOT, f))).toContain(join('src', 'model', 'sequential.ts'));
    expect(offenders(graph)).toEqual([]);
  });

  it('the scan does see the Node-only entry src/node/index.ts import built-ins (a control)', () => {
    expect(offenders(importGraph(join(ROOT, 'src', 'node', 'index.ts'), false)).join('\n')).toMatch(/node:fs/);
  });

  const dist = join(ROOT, 'dist', 'index.js');
  it('dist/index.js (npm run build) bundles for the browser with Vite, wasm bytes inlined', async () => {
    expect(existsSync(dist), 'dist/index.js is missing: run `npm run build` (npm test runs it first)').toBe(true);
    expect(offenders(importGraph(dist))).toEqual([]);
    const code = await bundleForBrowser(dist);
    expect(code).toContain('wasmDeflated');
    expect(code).not.toMatch(/\bfrom\s*['"]node:/);
  }, 30_000);

  it('dist/node/index.js does not bundle for the browser (a control for the check above)', async () => {
    await expect(bundleForBrowser(join(ROOT, 'dist', 'node', 'index.js'))).rejects.toThrow(/Node built-in/);
  }, 30_000);
});

describe('the demo digits asset', () => {
  const file = join(ROOT, 'demo', 'public', 'digits.bin');

  it('holds exactly the default split of loadMnist(), bit for bit, in ~1.6 MB', async () => {
    expect(existsSync(file), 'demo/public/digits.bin is missing: run `npm run build`').toBe(true);
    const bytes = new Uint8Array(readFileSync(file));
    expect(bytes.length).toBeLessThan(2.5e6);
    const d = await decodeDigits(bytes);
    const m = loadMnist();
    const same = (a: ArrayBufferView, b: ArrayBufferView) =>
      Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
    expect(d.trainLabels.length).toBe(8000);
    expect(d.testLabels.length).toBe(2000);
    expect(same(d.trainLabels, m.trainLabels)).toBe(true);
    expect(same(d.testLabels, m.testLabels)).toBe(true);
    expect(same(d.trainImages, m.trainImages)).toBe(true);
    expect(same(d.testImages, m.testImages)).toBe(true);
  }, 30_000);

  it('rejects bytes that are not a digits file with a clear error', async () => {
    await expect(decodeDigits(new TextEncoder().encode('<!doctype html><html>'))).rejects.toThrow(/not a normcore digits file/);
  });
});

describe('toMnist: the drawing pad preprocessing', () => {
  /** A side×side drawing with a filled rectangle [x0, x1) × [y0, y1). */
  function rect(side: number, x0: number, x1: number, y0: number, y1: number): Float32Array {
    const g = new Float32Array(side * side);
    for (let y = y0; y < y1; y++) g.fill(1, y * side + x0, y * side + x1);
    return g;
  }
  const box = (img: Float32Array) => {
    let x0 = 28, x1 = -1, y0 = 28, y1 = -1, mass = 0, mx = 0, my = 0;
    for (let y = 0; y < 28; y++) {
      for (let x = 0; x < 28; x++) {
        const v = img[y * 28 + x]!;
        if (v > 0) { x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y); }
        mass += v; mx += v * (x + 0.5); my += v * (y + 0.5);
      }
    }
    return { w: x1 - x0 + 1, h: y1 - y0 + 1, cx: mx / mass, cy: my / mass };
  };

  it('returns undefined for an empty drawing', () => {
    expect(toMnist(new Float32Array(280 * 280), 280)).toBeUndefined();
  });

  it('fits the longer side to 20 pixels, keeps the aspect ratio, and centres the mass at (14, 14)', () => {
    // A tall bar in the top-left corner: 40 wide, 200 high.
    const img = toMnist(rect(280, 10, 50, 5, 205), 280)!;
    expect(img).toHaveLength(784);
    const b = box(img);
    expect(b.h).toBe(20);
    expect(b.w).toBe(4);
    expect(Math.abs(b.cx - 14)).toBeLessThanOrEqual(0.5);
    expect(Math.abs(b.cy - 14)).toBeLessThanOrEqual(0.5);
    for (const v of img) expect(v >= 0 && v <= 1).toBe(true);
  });

  it('keeps the grey level of full ink at 1 and of a half-covered cell in between', () => {
    const img = toMnist(rect(280, 100, 200, 100, 200), 280)!; // a 100×100 square → 20×20 of ink 1
    expect(Math.max(...img)).toBeCloseTo(1, 5);
    expect(img.filter((v) => v > 0.999).length).toBe(400);
  });
});
