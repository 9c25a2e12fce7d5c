/**
 * The house rules of src/ (issue 10), checked on every run:
 * - dependency-cruiser (.dependency-cruiser.cjs): no import circle, imports
 *   one way (backend ← model ← train ← io ← faces), no Node built-in below the Node face;
 * - no file over 600 lines, no class over 300 lines (TypeScript's own parser);
 * - no test of a layer's class or of a buffer name outside the layer's own file.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return sources(p);
    // generated code (embedded wasm, protoc-gen-es output under src/io/onnx-proto/) is not held to the house's sizes
    return p.endsWith('.ts') && !p.endsWith('.generated.ts') && !p.includes('/onnx-proto/') ? [p] : [];
  });
}

const files = sources(join(root, 'src'));

describe('the house (src/)', () => {
  it('has no import circle and imports run one way (dependency-cruiser)', () => {
    const r = spawnSync(process.execPath, [join(root, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs'), 'src', '--config', '.dependency-cruiser.cjs', '--output-type', 'json'], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
    expect(r.status, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as { summary: { violations: Array<{ rule: { name: string }; from: string; to: string }>; totalCruised: number } };
    expect(result.summary.totalCruised).toBeGreaterThan(40);
    expect(result.summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`)).toEqual([]);
  });

  it('has no file over 600 lines and no class over 300 lines', () => {
    const long: string[] = [];
    for (const f of files) {
      const text = readFileSync(f, 'utf8');
      const lines = text.split('\n').length;
      if (lines > 600) long.push(`${relative(root, f)}: ${lines} lines`);
      const sf = ts.createSourceFile(f, text, ts.ScriptTarget.Latest, true);
      const visit = (n: ts.Node): void => {
        if (ts.isClassDeclaration(n)) {
          const start = sf.getLineAndCharacterOfPosition(n.getStart(sf)).line;
          const end = sf.getLineAndCharacterOfPosition(n.getEnd()).line;
          if (end - start + 1 > 300) long.push(`${relative(root, f)}: class ${n.name?.text} ${end - start + 1} lines`);
        }
        ts.forEachChild(n, visit);
      };
      visit(sf);
    }
    expect(files.length).toBeGreaterThan(40);
    expect(long).toEqual([]);
  });

  it("tests no layer's class or buffer name outside the layer's own file", () => {
    const layerFiles: Record<string, string[]> = {
      'src/model/dense.ts': ['Dense'],
      'src/model/batchnorm.ts': ['BatchNorm'],
      'src/model/activation.ts': ['Activation', 'ReLU', 'Sigmoid', 'Tanh', 'LeakyReLU', 'GELU'],
    };
    const classes = Object.values(layerFiles).flat();
    const buffers = ['runningMean', 'runningVar', 'numBatchesTracked', 'gamma', 'beta', 'weight', 'bias', 'ones', 'zeros', 'invstd'];
    const found: string[] = [];
    for (const f of files) {
      const rel = relative(root, f);
      const own = layerFiles[rel] ?? [];
      readFileSync(f, 'utf8').split('\n').forEach((line, i) => {
        for (const c of classes) if (!own.includes(c) && new RegExp(`instanceof ${c}\\b`).test(line)) found.push(`${rel}:${i + 1}: instanceof ${c}`);
        if (!own.length && /\.type === '(dense|batchnorm|relu|sigmoid|tanh|leakyrelu|gelu)'/.test(line)) found.push(`${rel}:${i + 1}: tests a layer type`);
        for (const b of buffers) if (!own.length && new RegExp(`\\.name === '${b}'`).test(line)) found.push(`${rel}:${i + 1}: tests buffer ${b}`);
      });
    }
    expect(found).toEqual([]);
  });
});
