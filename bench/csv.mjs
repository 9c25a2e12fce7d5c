// node bench/csv.mjs [--rows 200000]: loadCsv throughput on a generated
// numeric CSV (10 features, a 3-class target), against csv-parse alone with
// the same options (the parser's share of the time), with tinybench.
// Imports normcore from dist/ (npm run build first).
import { createReadStream, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse';
import { Bench } from 'tinybench';
import { loadCsv } from '../dist/node/index.js';

const args = process.argv.slice(2);
const i = args.indexOf('--rows');
const rows = i >= 0 ? Number(args[i + 1]) : 200_000;
const cols = 10;
const dir = mkdtempSync(join(os.tmpdir(), 'normcore-csv-bench-'));
const path = join(dir, 'data.csv');
const lines = ['y,' + Array.from({ length: cols }, (_, c) => `f${c}`).join(',')];
for (let r = 0; r < rows; r++) {
  const cells = [String(r % 3)];
  for (let c = 0; c < cols; c++) cells.push((((r * 31 + c * 17) % 1000) / 7).toFixed(4));
  lines.push(cells.join(','));
}
writeFileSync(path, lines.join('\n') + '\n');
const mb = statSync(path).size / 1e6;

const bench = new Bench({ iterations: 5, warmupIterations: 1, time: 0 });
bench.add('csv-parse alone (same options)', async () => {
  const parser = createReadStream(path).pipe(parse({ bom: true, trim: true, skip_empty_lines: true, relax_column_count: true, info: true }));
  for await (const _ of parser);
});
bench.add('loadCsv', async () => {
  await loadCsv(path, { target: 'y' });
});
await bench.run();
console.log(`${rows} rows × ${cols} features, ${mb.toFixed(1)} MB, ${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}, load average ${os.loadavg()[0].toFixed(1)}`);
console.log('| task | median ms | MB/s | rows/s |');
console.log('| --- | ---: | ---: | ---: |');
for (const t of bench.tasks) {
  const ms = t.result.latency?.p50 ?? t.result.median ?? NaN;
  console.log(`| ${t.name} | ${ms.toFixed(0)} | ${(mb / (ms / 1000)).toFixed(1)} | ${Math.round(rows / (ms / 1000))} |`);
}
rmSync(dir, { recursive: true, force: true });
