/**
 * `normcore train --checkpoint <file> --resume <file>`: a training run killed
 * with SIGKILL after its first epoch resumes from the checkpoint and writes
 * the model file an uninterrupted run writes, byte for byte.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli.js';
import { transpileSrc } from './fixtures/transpile.js';

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}

const FLAGS = ['--epochs', '3', '--train', '600', '--test', '200', '--hidden', '24', '--seed', '5', '--batch-size', '50'];

describe('normcore train --checkpoint / --resume', () => {
  let src: { dir: string; remove: () => void };
  let dir: string;
  beforeAll(() => {
    src = transpileSrc();
    dir = mkdtempSync(join(tmpdir(), 'normcore-cli-ckpt-'));
  });
  afterAll(() => {
    src?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a run killed after epoch 1 resumes and writes the model of an uninterrupted run', async () => {
    const whole = await run('train', ...FLAGS, '--out', join(dir, 'whole'));
    expect(whole.err).toBe('');
    expect(whole.code).toBe(0);

    // the same command in a child process, killed once epoch 1 is reported (its checkpoint is on disk by then)
    const ckpt = join(dir, 'run.ckpt');
    const killed = await new Promise<{ signal: NodeJS.Signals | null; out: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [join(src.dir, 'cli.js'), 'train', ...FLAGS, '--out', join(dir, 'killed'), '--checkpoint', ckpt], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (c: string) => {
        out += c;
        if (/^epoch 1\/3 /m.test(out)) child.kill('SIGKILL');
      });
      child.on('error', reject);
      child.on('close', (_code, signal) => resolve({ signal, out }));
    });
    expect(killed.signal).toBe('SIGKILL');
    expect(killed.out).not.toMatch(/^epoch 3\/3/m);

    const resumed = await run('train', ...FLAGS, '--out', join(dir, 'resumed'), '--checkpoint', ckpt, '--resume', ckpt);
    expect(resumed.err).toBe('');
    expect(resumed.code).toBe(0);
    expect(resumed.out).toMatch(/^resuming from .*run\.ckpt: [12] of 3 epochs done$/m);
    expect(resumed.out).toMatch(/^epoch 3\/3 /m);
    expect(readFileSync(join(dir, 'resumed', 'model.nc'))).toEqual(readFileSync(join(dir, 'whole', 'model.nc')));
  }, 60_000);

  it('refuses to resume with other flags, a missing checkpoint or an empty path', async () => {
    const ckpt = join(dir, 'other.ckpt');
    expect((await run('train', ...FLAGS, '--epochs', '1', '--out', join(dir, 'one'), '--checkpoint', ckpt)).code).toBe(0);
    const lr = await run('train', ...FLAGS, '--epochs', '1', '--lr', '0.01', '--out', join(dir, 'two'), '--resume', ckpt);
    expect(lr.code).toBe(1);
    expect(lr.err).toMatch(/^normcore train: fit: options\.resumeFrom was written with other compile options/);
    const batch = await run('train', ...FLAGS, '--epochs', '1', '--batch-size', '40', '--out', join(dir, 'two'), '--resume', ckpt);
    expect(batch.err).toMatch(/options\.batchSize = 50, this fit has 40/);
    const missing = await run('train', ...FLAGS, '--out', join(dir, 'two'), '--resume', join(dir, 'nope.ckpt'));
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/there is no checkpoint at .*nope\.ckpt/);
    const empty = await run('train', '--resume', '');
    expect(empty.code).toBe(2);
    expect(empty.err).toMatch(/^normcore train: --resume must be a file path, got ""$/m);
  }, 60_000);
});
