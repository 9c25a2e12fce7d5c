/**
 * Crash safety: a child process trains with a checkpoint every epoch
 * (test/fixtures/checkpoint-child.mjs, on a transpiled copy of src/) and is
 * killed with SIGKILL at seeded random moments: during start-up, during a
 * training step, and right after it announces a checkpoint write. After every
 * kill the checkpoint on disk must load, and the next run resumes from it.
 * The run that finally completes must end with exactly the bytes of an
 * uninterrupted run.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackend, Sequential, type Backend } from '../src/index.js';
import { rng } from './fixtures/data.js';
import { ROOT, transpileSrc } from './fixtures/transpile.js';

const CHILD = join(ROOT, 'test', 'fixtures', 'checkpoint-child.mjs');
const EPOCHS = 200;
const KILLS = 24;

interface Outcome {
  pid: number;
  /** 'SIGKILL' when we killed it, else null. */
  signal: NodeJS.Signals | null;
  code: number | null;
  lines: string[];
  stderr: string;
}

/**
 * Runs the child. `killAt` decides when to kill: `ms` milliseconds after the
 * spawn, after the "start" marker (`afterStart`), or after the n-th "writing"
 * marker (`onWrite`; `ms` 0 kills at once).
 */
function runChild(src: string, work: string, mode: 'reference' | 'resume', killAt?: { ms: number; afterStart?: boolean; onWrite?: number }): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, src, work, mode], { env: { ...process.env, EPOCHS: String(EPOCHS) }, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    let stderr = '';
    let buffer = '';
    let writes = 0;
    const kill = () => child.kill('SIGKILL');
    const later = (ms: number) => (ms === 0 ? kill() : setTimeout(kill, ms));
    if (killAt && killAt.onWrite === undefined && !killAt.afterStart) later(killAt.ms);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      buffer += chunk;
      const parts = buffer.split('\n');
      buffer = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        if (killAt?.afterStart && line.startsWith('start ')) later(killAt.ms);
        if (killAt?.onWrite !== undefined && line.startsWith('writing ') && ++writes === killAt.onWrite) later(killAt.ms);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c; });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ pid: child.pid!, code, signal, lines, stderr }));
  });
}

describe('checkpoints survive SIGKILL', () => {
  let src: { dir: string; remove: () => void };
  let work: string;
  let be: Backend;
  beforeAll(async () => {
    src = transpileSrc();
    work = mkdtempSync(join(tmpdir(), 'normcore-crash-'));
    be = await createBackend('wasm');
  });
  afterAll(() => {
    src?.remove();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it(`is always loadable after ${KILLS} kills, and resuming ends with the weights of an uninterrupted run`, async () => {
    const reference = await runChild(src.dir, work, 'reference');
    expect(reference.code, reference.stderr).toBe(0);
    const want = readFileSync(join(work, 'reference-final.nc'));

    const ckpt = join(work, 'ckpt.nc');
    const final = join(work, 'resume-final.nc');
    const u = rng(2024);
    let kills = 0, killedInWrite = 0, tempLeft = 0, loadsChecked = 0, noCheckpointYet = 0, completed = 0;
    let lastDone = 0;
    for (let i = 0; kills < KILLS; i++) {
      // a third of the kills at a random time after spawn (start-up or training), a third at a random
      // time after training started (a step or a write), a third right after a "writing" marker
      const kind = i % 3;
      const killAt = kind === 0 ? { ms: Math.floor(u() * 300) }
        : kind === 1 ? { ms: Math.floor(u() * 60), afterStart: true }
        : { ms: u() < 0.5 ? 0 : Math.floor(u() * 3), onWrite: 1 + Math.floor(u() * 3) };
      const out = await runChild(src.dir, work, 'resume', killAt);
      if (out.signal !== 'SIGKILL') {
        // it finished before the kill (a fast machine): check it, then start the campaign over
        expect(out.code, out.stderr).toBe(0);
        expect(Buffer.compare(readFileSync(final), want)).toBe(0);
        completed++;
        rmSync(ckpt);
        rmSync(final);
        lastDone = 0;
        continue;
      }
      kills++;
      const last = out.lines.at(-1) ?? '';
      if (last.startsWith('writing ')) killedInWrite++;
      // writeFileAtomic names its temporary file .ckpt.nc.<pid>.<random>.tmp
      if (readdirSync(work).some((f) => f.startsWith(`.ckpt.nc.${out.pid}.`) && f.endsWith('.tmp'))) tempLeft++;
      if (!existsSync(ckpt)) {
        noCheckpointYet++;
        continue;
      }
      // the file on disk is a complete checkpoint: it loads, and it never goes backwards
      const bytes = new Uint8Array(readFileSync(ckpt));
      const info = await Sequential.checkpointInfo(bytes);
      expect(info.epochsDone).toBeGreaterThanOrEqual(lastDone);
      lastDone = info.epochsDone;
      const model = await Sequential.load(bytes, { backend: be });
      expect(model.predict(new Float32Array(16).fill(0.5)).every(Number.isFinite)).toBe(true);
      model.dispose();
      loadsChecked++;
    }
    const last = await runChild(src.dir, work, 'resume');
    expect(last.code, last.stderr).toBe(0);
    expect(last.lines.at(-1)).toBe('done');
    expect(Buffer.compare(readFileSync(final), want)).toBe(0);

    console.log(
      `crash test: ${kills} SIGKILLs survived (${killedInWrite} between "writing" and "written", ${tempLeft} left a half-written temporary file), ` +
      `checkpoint loaded after ${loadsChecked} kills (${noCheckpointYet} before the first checkpoint), last checkpoint before the final run at epoch ${lastDone} of ${EPOCHS}; ` +
      `${completed + 1} resumed runs completed, final weights identical to the uninterrupted run`,
    );
    expect(kills).toBeGreaterThanOrEqual(20);
    expect(killedInWrite).toBeGreaterThan(0);
  }, 90_000);
});
