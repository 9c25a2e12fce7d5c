// The relaxed-SIMD probe against the build it stands for, in whatever engine
// runs this file (Node 20 without the V8 flag rejects both; a worker where
// test/relaxed-simd.test.ts turned the flag on accepts both): they must agree,
// or `createBackend()` would pick a build the engine cannot compile.
import { describe, expect, it } from 'vitest';
import { supportsRelaxedSimd, validatesBuild } from '../src/backend/wasm.js';

describe('relaxed-SIMD probe', () => {
  it('agrees with validating the relaxed build itself, and the release build always validates', async () => {
    expect(await supportsRelaxedSimd()).toBe(await validatesBuild('relaxed'));
    expect(await validatesBuild('release')).toBe(true);
  });
});
