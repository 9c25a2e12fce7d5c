// Same-run comparison of this tree's training step with another commit's:
//
//   npm run bench:compare -- [REV] [--rounds 15] [--threads 2] [--predict] [--dense]   (REV defaults to HEAD~1)
//
// Builds REV in a temporary git worktree (sharing this node_modules), loads
// both builds' dist/ into this process, and times the 784-256-256-10 BN
// training step (batch 128, Adam, relaxed SIMD, wasm backend; 10 steps per
// fit) alternating old and new call by call, so a shared, noisy machine slows
// both alike. Prints each median, the ratio and the spread of the rounds.
// --threads n: both on the threaded backend; --predict: also predict of 128
// rows and of 1 row with the trained models, alternating the same way;
// --dense: inputs of uniform noise in (0, 1) instead of the digits, which are
// 81% zeros (matmul skips all-zero depth steps: this measures the plain loop).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import { noZeros } from './lib/inputs.mjs';

v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
const args = process.argv.slice(2);
const rounds = args.includes('--rounds') ? Number(args[args.indexOf('--rounds') + 1]) : 15;
const rev = args.find((a, i) => !a.startsWith('--') && args[i - 1] !== '--rounds' && args[i - 1] !== '--threads') ?? 'HEAD~1';
const threads = args.includes('--threads') ? Number(args[args.indexOf('--threads') + 1]) : 1;
const predict = args.includes('--predict');
const dense = args.includes('--dense');
const here = resolve(import.meta.dirname, '..');
const log = (s) => process.stderr.write(`${s}\n`);

const tree = mkdtempSync(join(tmpdir(), 'normcore-compare-'));
try {
  log(`building ${rev} in ${tree} …`);
  execFileSync('git', ['worktree', 'add', '--detach', tree, rev], { cwd: here, stdio: 'ignore' });
  symlinkSync(join(here, 'node_modules'), join(tree, 'node_modules'));
  execFileSync('npm', ['run', 'build'], { cwd: tree, stdio: 'ignore' });
  const load = async (dir) => {
    const nc = await import(pathToFileURL(join(dir, 'dist/index.js')).href);
    const node = await import(pathToFileURL(join(dir, 'dist/node/index.js')).href);
    return { nc, node };
  };
  const builds = { old: await load(tree), new: await load(here) };
  const { nc } = builds.new;
  const d = builds.new.node.loadMnist({ train: 1280, test: 100, seed: 1 });
  const y = d.trainLabels;
  const x = dense ? noZeros(d.trainImages) : d.trainImages;
  const fits = {}, predicts = {};
  for (const [name, { nc: m }] of Object.entries(builds)) {
    const be = await m.createBackend('wasm', threads > 1 ? { threads } : {});
    const model = new m.Sequential([
      new m.Dense(784, 256), new m.BatchNorm(256), new m.ReLU(), new m.Dense(256, 256), new m.BatchNorm(256), new m.ReLU(), new m.Dense(256, 10),
    ], { backend: be, seed: 1 }).compile({ loss: 'softmaxCrossEntropy', optimizer: { type: 'adam', lr: 1e-3 } });
    fits[name] = () => model.fit(x, y, { epochs: 1, batchSize: 128, shuffle: false, checkInputs: false });
    predicts[name] = (rows) => model.predict(x.subarray(0, rows * 784), { checkInputs: false });
  }
  void nc;
  const samples = { old: [], new: [] };
  for (const f of Object.values(fits)) for (let i = 0; i < 3; i++) await f(); // warm-up
  for (let r = 0; r < rounds; r++) {
    for (const name of r % 2 ? ['new', 'old'] : ['old', 'new']) {
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        await fits[name]();
        samples[name].push((performance.now() - t0) / 10);
      }
    }
  }
  const median = (a) => [...a].sort((p, q) => p - q)[a.length >> 1];
  const mo = median(samples.old), mn = median(samples.new);
  console.log(`training step, 784-256-256-10 BN, batch 128, Adam, wasm (relaxed SIMD, ${threads} thread${threads > 1 ? 's' : ''}), ${dense ? 'dense noise inputs' : 'the digits'}, ${samples.old.length} fits of 10 steps each, alternating`);
  console.log(`  ${rev.padEnd(10)} ${mo.toFixed(3)} ms`);
  console.log(`  ${'this tree'.padEnd(10)} ${mn.toFixed(3)} ms`);
  console.log(`  new / old  ${(mn / mo).toFixed(3)}`);
  if (predict) {
    for (const [rows, reps] of [[128, 20], [1, 400]]) {
      const ps = { old: [], new: [] };
      for (let r = 0; r < rounds; r++) {
        for (const name of r % 2 ? ['new', 'old'] : ['old', 'new']) {
          for (let i = 0; i < 5; i++) {
            const t0 = performance.now();
            for (let j = 0; j < reps; j++) predicts[name](rows);
            ps[name].push((performance.now() - t0) / reps);
          }
        }
      }
      const po = median(ps.old), pn = median(ps.new), unit = rows === 1 ? 1000 : 1;
      console.log(`predict of ${rows} row${rows > 1 ? 's' : ''} (trained model above), ${ps.old.length} samples of ${reps} calls each, alternating`);
      console.log(`  ${rev.padEnd(10)} ${(po * unit).toFixed(3)} ${rows === 1 ? 'µs' : 'ms'}`);
      console.log(`  ${'this tree'.padEnd(10)} ${(pn * unit).toFixed(3)} ${rows === 1 ? 'µs' : 'ms'}`);
      console.log(`  new / old  ${(pn / po).toFixed(3)}`);
    }
  }
} finally {
  try { execFileSync('git', ['worktree', 'remove', '--force', tree], { cwd: here, stdio: 'ignore' }); } catch { /* best effort */ }
  if (existsSync(tree)) rmSync(tree, { recursive: true, force: true });
}
