// A 2 GB CSV through loadCsv, streamed: writes a file of ~2 GB (numeric columns, one
// non-numeric cell near the end), reads it with loadCsv, and reports the error (line and
// column) and the process's peak RSS. What it shows: the file is streamed (memory bounded by
// the output arrays, not the text) and a bad cell after 2 GB is still named exactly.
//   node bench/csv-2gb.mjs [--gb 2] [--keep]
import { createWriteStream, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { loadCsv } from 'normcore/node';

const args = process.argv.slice(2);
const gb = args.includes('--gb') ? Number(args[args.indexOf('--gb') + 1]) : 2;
const path = join(tmpdir(), `normcore-${gb}gb.csv`);
const out = createWriteStream(path);
const row = (i) => `${(i % 997) / 7},${(i % 113) * 0.5},${(i * 31) % 1009},${i % 3}\n`;
out.write('a,b,c,label\n');
let bytes = 0, rows = 0;
const target = gb * 1024 ** 3;
let chunk = '';
while (bytes < target) {
  chunk += row(rows++);
  if (chunk.length > 1 << 20) {
    bytes += chunk.length;
    if (!out.write(chunk)) await once(out, 'drain');
    chunk = '';
  }
}
out.write(chunk + `1,2,oops,1\n` + row(rows + 1));
out.end();
await once(out, 'finish');
const size = statSync(path).size;
const badLine = rows + 2 + Math.ceil(0); // header is line 1; rows+1 data lines before the bad one
let peak = 0;
const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 50);
const t0 = performance.now();
try {
  await loadCsv(path, { target: 'label' });
  console.log('no error?');
} catch (e) {
  console.log(`${(size / 1024 ** 3).toFixed(2)} GB, ${rows + 2} data rows; error after ${((performance.now() - t0) / 1000).toFixed(0)} s: ${e.message}`);
  console.log(`expected line ${badLine}, column "c"`);
} finally {
  clearInterval(timer);
  console.log(`peak RSS ${(peak / 2 ** 20).toFixed(0)} MB`);
  if (!args.includes('--keep')) rmSync(path, { force: true });
}
