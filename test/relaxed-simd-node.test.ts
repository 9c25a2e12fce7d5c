// Plain `node` (no V8 flags): createBackend('wasm') turns on relaxed SIMD
// itself on Node 20–21 (v8.setFlagsFromString before its first compile) and
// picks the relaxed build, as newer Node and browsers do by default;
// NORMCORE_SIMD=baseline keeps the baseline build. Run in child processes,
// since a V8 flag is set once per process. Uses the built package (dist/).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const entry = fileURLToPath(new URL('../dist/index.js', import.meta.url));

function buildIn(env: Record<string, string | undefined>, options = '{}'): { build: string; threads: number } {
  const script = `import { createBackend } from ${JSON.stringify(entry)};
const be = await createBackend('wasm', ${options});
console.log(JSON.stringify({ build: be.build, threads: be.info.threads }));
be.dispose();`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, NODE_OPTIONS: '', ...env }, encoding: 'utf8',
  });
  return JSON.parse(out.trim().split('\n').pop()!) as { build: string; threads: number };
}

describe.skipIf(!existsSync(entry))('relaxed SIMD for library users on plain node (needs `npm run build` for dist/)', () => {
  it('createBackend picks the relaxed build without flags', () => {
    expect(process.execArgv.join(' ')).not.toMatch(/relaxed-simd/);
    expect(buildIn({ NORMCORE_SIMD: undefined })).toEqual({ build: 'relaxed', threads: 1 });
  });

  it('and the relaxed threaded build for threads: 2', () => {
    expect(buildIn({ NORMCORE_SIMD: undefined }, '{ threads: 2 }')).toEqual({ build: 'relaxed-mt', threads: 2 });
  });

  it('NORMCORE_SIMD=baseline keeps the baseline build on Node < 22', () => {
    const major = Number(process.versions.node.split('.')[0]);
    expect(buildIn({ NORMCORE_SIMD: 'baseline' }).build).toBe(major < 22 ? 'release' : 'relaxed');
  });
});
