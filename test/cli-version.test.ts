// normcore --version and normcore help <command> (issue 16), in-process through main(argv, io),
// and --version through the built bin as an installed package runs it.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { main } from '../src/cli.js';

const ROOT = join(import.meta.dirname, '..');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}

describe('normcore --version', () => {
  it('prints the package.json version on stdout and exits with 0, as -v too', async () => {
    for (const flag of ['--version', '-v']) expect(await run(flag)).toEqual({ code: 0, out: `normcore ${VERSION}\n`, err: '' });
  });

  it('works from the built bin (dist/cli.js reads the package.json one folder up)', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [join(ROOT, 'dist', 'cli.js'), '--version']);
    expect(stdout).toBe(`normcore ${VERSION}\n`);
  });

  it('is listed in the general help', async () => {
    expect((await run('--help')).out).toMatch(/normcore --version +the installed version/);
  });
});

describe('normcore help <command>', () => {
  it('prints the same text as <command> --help for each command', async () => {
    for (const command of ['train', 'eval', 'experiment']) {
      const a = await run('help', command);
      const b = await run(command, '--help');
      expect(a.code, command).toBe(0);
      expect(a.out.length, command).toBeGreaterThan(0);
      expect(a).toEqual(b);
    }
  });

  it('reports an unknown command as such (exit 2)', async () => {
    const r = await run('help', 'frobnicate');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/unknown command "frobnicate"/);
  });

  it('with no command is the general help', async () => {
    expect(await run('help')).toEqual(await run('--help'));
  });
});
