// The normcore command (issue 3, item 6), run in-process through main(argv, io).
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main, trainConfig, TRAIN_DEFAULTS } from '../src/cli.js';

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}

/** Exit code 2, nothing on stdout, one line on stderr. */
async function usageError(...argv: string[]): Promise<string> {
  const r = await run(...argv);
  expect(r.code, `normcore ${argv.join(' ')}`).toBe(2);
  expect(r.out).toBe('');
  expect(r.err.endsWith('\n')).toBe(true);
  expect(r.err.trimEnd().split('\n')).toHaveLength(1);
  return r.err.trimEnd();
}

const TRAIN_FLAGS = [
  '--hidden', '--activation', '--no-bn', '--optimizer', '--lr', '--weight-decay', '--schedule', '--epochs', '--batch-size',
  '--backend', '--seed', '--train', '--test', '--out', '--help',
];

describe('normcore --help', () => {
  it('documents every flag of train and eval, with its default', async () => {
    for (const argv of [['--help'], ['train', '--help'], ['train', '-h']]) {
      const r = await run(...argv);
      expect(r.code).toBe(0);
      expect(r.err).toBe('');
      for (const flag of TRAIN_FLAGS) expect(r.out, `${argv.join(' ')} lists ${flag}`).toContain(flag);
      for (const [flag, value] of Object.entries(TRAIN_DEFAULTS)) {
        const line = r.out.split('\n').find((l) => l.trimStart().startsWith(`--${flag} `));
        expect(line, `--${flag}`).toContain(`(default: ${value})`);
      }
    }
    const general = await run('--help');
    expect(general.out).toContain('normcore train');
    expect(general.out).toContain('normcore eval <model.nc>');
    const ev = await run('eval', '--help');
    expect(ev.code).toBe(0);
    for (const flag of ['--backend', '--seed', '--train', '--test', '--help']) expect(ev.out).toContain(flag);
  });

  it('without a command prints the usage on stderr and exits with 2', async () => {
    const r = await run();
    expect(r.code).toBe(2);
    expect(r.err).toContain('Usage:');
  });
});

describe('normcore flag errors exit with 2 and a one-line message naming the flag, expected and given', () => {
  it('rejects an unknown flag or command', async () => {
    expect(await usageError('train', '--bogus')).toMatch(/^normcore train: unknown flag --bogus; expected one of --hidden, .*--out/);
    expect(await usageError('train', '--lR', '0.1')).toMatch(/unknown flag --lR/);
    expect(await usageError('eval', 'm.nc', '--epochs', '3')).toMatch(/^normcore eval: unknown flag --epochs/);
    expect(await usageError('frobnicate')).toMatch(/unknown command "frobnicate"; expected train, eval, predict, experiment, export, import or --help/);
    expect(await usageError('experiment', 'bogus')).toMatch(/unknown experiment "bogus"; expected bn-paper/);
    expect(await usageError('experiment', 'bn-paper', '--steps', 'many')).toMatch(/--steps/);
    expect(await usageError('--epochs', '3')).toMatch(/unknown flag --epochs before the command/);
    expect(await usageError('train', 'extra')).toMatch(/unexpected argument "extra"/);
  });

  it('rejects bad values', async () => {
    const cases: [string[], RegExp][] = [
      [['--lr', 'abc'], /--lr must be a positive number, got "abc"/],
      [['--lr', '-1'], /--lr must be a positive number, got "-1"/],
      [['--lr', '0'], /--lr must be a positive number, got "0"/],
      [['--lr'], /--lr needs a value/],
      [['--hidden', '0'], /--hidden must be comma-separated layer widths .*, got "0"/],
      [['--hidden', '256,,64'], /--hidden must be .*, got "256,,64"/],
      [['--hidden', '12a'], /--hidden must be .*, got "12a"/],
      [['--activation', 'foo'], /--activation must be one of relu, sigmoid, tanh, leakyrelu, gelu, got "foo"/],
      [['--optimizer', 'adamx'], /--optimizer must be one of sgd, momentum, rmsprop, adam, adamw, got "adamx"/],
      [['--backend', 'gpu'], /--backend must be one of wasm, js, got "gpu"/],
      [['--schedule', 'step'], /--schedule must be one of cosine, none, got "step"/],
      [['--epochs', '1.5'], /--epochs must be an integer in \[1, 10000\], got "1.5"/],
      [['--epochs', '0'], /--epochs must be an integer/],
      [['--batch-size', 'x'], /--batch-size must be an integer/],
      [['--seed', '-1'], /--seed must be an integer in \[0, 4294967295\], got "-1"/],
      [['--weight-decay', '-0.1'], /--weight-decay must be a number ≥ 0, got "-0.1"/],
      [['--train', '9000'], /--train \+ --test must be ≤ 10000 \(the digits available\), got 9000 \+ 2000 = 11000/],
      [['--test', '0'], /--test must be an integer in \[1, 9999\], got "0"/],
      [['--no-bn=yes'], /--no-bn takes no value/],
      [['--out', ''], /--out must be a folder path/],
    ];
    for (const [argv, message] of cases) expect(await usageError('train', ...argv)).toMatch(message);
    expect(await usageError('eval')).toMatch(/normcore eval: expected one model file, got none/);
    expect(await usageError('eval', 'a.nc', 'b.nc')).toMatch(/expected one model file, got "a.nc" "b.nc"/);
    expect(await usageError('eval', 'a.nc', '--seed', 'one')).toMatch(/--seed must be an integer/);
  });

  it('reads the defaults and the flags into a config', () => {
    expect(trainConfig([])).toMatchObject({
      hidden: [256, 256], activation: 'relu', batchNorm: true, optimizer: 'adam', lr: 0.004, weightDecay: 0.001, schedule: 'cosine',
      epochs: 10, batchSize: 64, backend: 'wasm', seed: 1, train: 8000, test: 2000, out: 'out',
    });
    expect(trainConfig(['--hidden', '32', '--no-bn', '--activation', 'tanh', '--lr=1e-3', '--seed', '0', '--optimizer', 'sgd'])).toMatchObject({
      hidden: [32], batchNorm: false, activation: 'tanh', lr: 0.001, seed: 0, optimizer: 'sgd',
    });
  });
});

describe('normcore train and eval', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'normcore-cli-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('trains a small model, writes model.nc and training.svg, and eval reads it back', async () => {
    const out = join(dir, 'run');
    const t = await run('train', '--epochs', '1', '--train', '500', '--test', '200', '--hidden', '32', '--out', out, '--seed', '3');
    expect(t.err).toBe('');
    expect(t.code).toBe(0);
    expect(t.out).toMatch(/784-32-10 \(batch norm, relu\)/);
    expect(t.out).toMatch(/^epoch 1\/1 {2}loss \d+\.\d{4} {2}train acc \d+\.\d{2}% {2}test acc \d+\.\d{2}% {2}\d+\.\d{2} s {2}\d+ samples\/s$/m);
    const acc = /^test accuracy (\d+\.\d{2})% \((\d+)\/200 digits\)/m.exec(t.out);
    expect(acc).not.toBeNull();
    expect(Number(acc![1])).toBeGreaterThan(50);
    expect(t.out).toContain(`model: ${join(out, 'model.nc')}`);
    expect(t.out).toContain(`chart: ${join(out, 'training.svg')}`);
    expect((await stat(join(out, 'model.nc'))).size).toBeGreaterThan(784 * 32 * 4);
    const svg = await readFile(join(out, 'training.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('Loss');
    expect(svg).toContain('Accuracy');

    // Same split flags: eval reports the accuracy train printed.
    const e = await run('eval', join(out, 'model.nc'), '--train', '500', '--test', '200', '--seed', '3', '--backend', 'js');
    expect(e.err).toBe('');
    expect(e.code).toBe(0);
    expect(e.out).toMatch(new RegExp(`accuracy ${acc![1]!.replace('.', '\\.')}% \\(${acc![2]}/200 digits, seed 3, js backend\\)`));
  });

  it('eval of a missing or non-model file exits with 1 and says why', async () => {
    const missing = await run('eval', join(dir, 'nope.nc'));
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/there is no file at .*nope\.nc/);
    const notModel = await run('eval', join(dir, 'run', 'training.svg'));
    expect(notModel.code).toBe(1);
    expect(notModel.err).toMatch(/training\.svg: .*not a valid normcore model file/);
  });
});
