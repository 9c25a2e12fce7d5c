// `normcore train --model cnn` (issue 12): its defaults, its flags, and a short run that eval reads back.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CNN_DEFAULTS, main, trainConfig, TRAIN_DEFAULTS } from '../src/cli.js';

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}

describe('normcore train --model cnn', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'normcore-cnn-cli-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('has its own defaults for the flags not given; the MLP keeps its', () => {
    expect(trainConfig([])).toMatchObject({ model: 'mlp', epochs: Number(TRAIN_DEFAULTS.epochs), lr: Number(TRAIN_DEFAULTS.lr) });
    expect(trainConfig(['--model', 'cnn'])).toMatchObject({
      model: 'cnn', epochs: Number(CNN_DEFAULTS.epochs), lr: Number(CNN_DEFAULTS.lr), weightDecay: Number(CNN_DEFAULTS['weight-decay']), batchSize: 64, schedule: 'cosine',
    });
    expect(trainConfig(['--model', 'cnn', '--epochs', '2', '--lr=0.01'])).toMatchObject({ model: 'cnn', epochs: 2, lr: 0.01 });
  });

  it('refuses the MLP-only flags and an unknown model (exit 2, one line)', async () => {
    for (const [argv, message] of [
      [['--model', 'cnn', '--hidden', '32'], /--hidden applies to --model mlp only/],
      [['--model', 'rnn'], /--model must be one of mlp, cnn, got "rnn"/],
    ] as const) {
      const r = await run('train', ...argv);
      expect(r.code).toBe(2);
      expect(r.out).toBe('');
      expect(r.err).toMatch(message);
    }
  });

  it('trains the CNN briefly, saves it with its input shape, and eval reads it back', async () => {
    const out = join(dir, 'run');
    const t = await run('train', '--model', 'cnn', '--epochs', '1', '--train', '512', '--test', '200', '--out', out, '--seed', '3');
    expect(t.err).toBe('');
    expect(t.code).toBe(0);
    expect(t.out).toMatch(/CNN 28×28×1 → conv32 → pool → conv64 → pool → 128 → 10 \(batch norm, relu\), adam lr 0.003 cosine, weight decay 0.001, batch 64 × 1 epoch/);
    const acc = /^test accuracy (\d+\.\d{2})% \((\d+)\/200 digits\)/m.exec(t.out);
    expect(acc).not.toBeNull();
    // 8 steps on 512 digits: far better than chance (10%)
    expect(Number(acc![1])).toBeGreaterThan(50);
    const e = await run('eval', join(out, 'model.nc'), '--train', '512', '--test', '200', '--seed', '3');
    expect(e.code).toBe(0);
    expect(e.out).toContain(`${acc![1]}%`);
  });
});
