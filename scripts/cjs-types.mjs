// CommonJS view of the declarations, for TypeScript projects that compile to
// CommonJS (`module: node16` or `nodenext` with "type": "commonjs").
//
// normcore is one ES module build. Node ≥ 20.19 (package.json `engines`)
// loads it with require() too (require(esm): no top-level await anywhere in
// it, which test/package.test.ts checks), so `require('normcore')` needs no
// second copy of the code. TypeScript's node16 mode, though, rejects a
// require() of declarations that sit in an ES module scope (TS1479). So the
// `require` condition of package.json `exports` points its `types` at this
// copy of the same .d.ts files, in dist/cjs/ under a package.json that says
// "type": "commonjs". The declarations are identical; only their scope differs.
import { copyFileSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const out = join(dist, 'cjs');
/** The declarations of what the package exports: not the CLI's, nor the debug kernels' (not shipped). */
const skip = (rel) => rel === 'cjs' || rel === 'experiment' || rel === 'cli.d.ts' || rel.startsWith('wasm/debug.');

rmSync(out, { recursive: true, force: true });
const copy = (dir) => {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const src = join(dir, e.name);
    const rel = relative(dist, src);
    if (skip(rel)) continue;
    if (e.isDirectory()) copy(src);
    else if (e.name.endsWith('.d.ts')) {
      mkdirSync(dirname(join(out, rel)), { recursive: true });
      copyFileSync(src, join(out, rel));
    }
  }
};
copy(dist);
writeFileSync(join(out, 'package.json'), '{\n  "type": "commonjs"\n}\n');
