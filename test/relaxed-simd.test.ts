// The relaxed-SIMD build (fused multiply-add in matmul) against the js twin.
// Node 20 validates relaxed SIMD only behind a V8 flag; this file's worker
// turns it on before the first compile, so the build the browser and newer
// Node pick by default is tested here too.
import v8 from 'node:v8';
import { describe, expect, it } from 'vitest';

v8.setFlagsFromString('--experimental-wasm-relaxed-simd');

const { Sequential, Dense, BatchNorm, ReLU } = await import('../src/index.js');
const { createBackend } = await import('../src/kernels.js');

function rand(n: number, seed: number): Float32Array {
  let s = seed;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 4294967296 - 0.5;
  }
  return out;
}

const { supportsRelaxedSimd, validatesBuild, RELAXED_SIMD_PROBE } = await import('../src/backend/wasm.js');

describe('relaxed-SIMD wasm build', () => {
  it('is detected by a 36-byte probe, which this engine (flag on) validates as it validates the build', async () => {
    expect(RELAXED_SIMD_PROBE.length).toBe(36);
    expect(await validatesBuild('relaxed')).toBe(true);
    expect(await supportsRelaxedSimd()).toBe(true);
    // The probe without its relaxed instruction (the swizzle replaced by a drop and a splat's v128 kept) is plain SIMD: the opcode is what needs the feature.
    const plain = RELAXED_SIMD_PROBE.slice();
    plain.set([0x1a, 0x01, 0x01], 32); // drop, nop, nop
    expect(WebAssembly.validate(plain)).toBe(true);
  });

  it('is picked by default when the engine validates it, and can be refused', async () => {
    expect((await createBackend('wasm')).build).toBe('relaxed');
    expect((await createBackend('wasm', { simd: 'baseline' })).build).toBe('release');
    await expect(createBackend('wasm', { simd: 'fast' as never })).rejects.toThrow(/options\.simd must be 'auto', 'baseline' or 'relaxed', got "fast"/);
  });

  it('matmul agrees with the js backend on every transpose and odd shapes (≤ 1e-4)', async () => {
    const w = await createBackend('wasm', { simd: 'relaxed' });
    const j = await createBackend('js');
    for (const [m, k, n] of [[1, 1, 1], [3, 5, 7], [17, 33, 9], [128, 784, 256], [70, 69, 71]] as const) {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          const a = rand(m * k, m + k), b = rand(k * n, k + n);
          const cw = w.matmul(a, b, { m, k, n, transA, transB });
          const cj = j.matmul(a, b, { m, k, n, transA, transB });
          let err = 0, mx = 1;
          cj.forEach((v, i) => { err = Math.max(err, Math.abs(v - cw[i]!)); mx = Math.max(mx, Math.abs(v)); });
          expect(err / mx, `${m}×${k}×${n} ${transA} ${transB}`).toBeLessThan(1e-4);
        }
      }
    }
  });

  it('trains to the same losses as the js backend', async () => {
    const x = rand(64 * 12, 3).map((v) => v * 4);
    const y = Uint8Array.from({ length: 64 }, (_, i) => (x[i * 12]! > 0 ? 1 : 0) + (x[i * 12 + 1]! > 0 ? 1 : 0));
    const losses = async (be: Awaited<ReturnType<typeof createBackend>>) => {
      const m = new Sequential([new Dense(12, 16), new BatchNorm(16), new ReLU(), new Dense(16, 3)], { backend: be, seed: 2 });
      m.compile({ optimizer: { type: 'adam', lr: 0.01 } });
      const out: number[] = [];
      await m.fit(x, y, { epochs: 3, batchSize: 16, onBatchEnd: (_b, l) => { out.push(l.loss); } });
      return out;
    };
    const a = await losses(await createBackend('wasm', { simd: 'relaxed' }));
    const b = await losses(await createBackend('js'));
    a.forEach((v, i) => expect(Math.abs(v - b[i]!) / Math.abs(b[i]!)).toBeLessThan(1e-3));
  });
});
