// Packs normcore and installs the tarball into an empty temporary project
// without the network: npm reads every package from its cache, which
// `npm ci` in this repository filled. A new project has no lockfile, and
// npm resolves versions from registry metadata that `npm ci` never fetched;
// so the project gets a lockfile whose entries (version, integrity) are
// copied from this repository's package-lock.json: the closure of the
// tarball's dependencies, exactly as `npm ci` installed them here.
//
// Used by test/package.test.ts and, on its own, to measure what an install
// adds: node scripts/pack-install.mjs [--optional] [--ignore-scripts] [--keep]
//   --optional  also install the optional peer dependencies (the chart renderer)
//   --ignore-scripts  pack without `prepare` (dist/ is known to be fresh)
//   --keep      print the project's path and leave it on disk
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/**
 * Runs `npm pack` in the repository; returns the tarball's path (in `dir`) and npm's report.
 * `ignoreScripts` skips `prepare` (the incremental build) when the caller knows dist/ is fresh.
 */
export function pack(dir, { ignoreScripts = false } = {}) {
  const out = execFileSync(npm, ['pack', '--json', '--pack-destination', dir, ...(ignoreScripts ? ['--ignore-scripts'] : [])], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const [report] = JSON.parse(out.slice(out.indexOf('[')));
  return { tarball: join(dir, report.filename), report };
}

/**
 * The lockfile entries that `npm ci` here installed for `deps` (name → range),
 * with everything they depend on. Paths keep their nesting (node_modules/a/node_modules/b).
 */
export function closure(deps) {
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')).packages;
  const picked = {};
  const visit = (from, name, isOptional) => {
    // Node's lookup: from's own node_modules, then each parent's, then the top.
    let at = from;
    for (;;) {
      const path = (at ? `${at}/` : '') + `node_modules/${name}`;
      if (lock[path]) {
        if (picked[path]) {
          if (!isOptional) delete picked[path].optional;
          return;
        }
        const { dev, devOptional, peer, optional: _o, ...entry } = lock[path];
        picked[path] = isOptional ? { ...entry, optional: true } : entry;
        for (const d of Object.keys(entry.dependencies ?? {})) visit(path, d, isOptional);
        for (const d of Object.keys(entry.optionalDependencies ?? {})) visit(path, d, true);
        return;
      }
      if (!at) throw new Error(`pack-install: ${name} (needed by ${from || 'the package'}) is not in package-lock.json`);
      const i = at.lastIndexOf('/node_modules/');
      at = i < 0 ? '' : at.slice(0, i);
    }
  };
  for (const name of Object.keys(deps)) visit('', name, false);
  return picked;
}

/** Bytes under a node_modules directory, and the packages in it (nested node_modules included). */
export function measure(dir) {
  let bytes = 0, packages = 0;
  const walk = (d, inModules) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        if (inModules && !e.name.startsWith('@') && !e.name.startsWith('.')) packages++;
        walk(p, e.name === 'node_modules' || (inModules && e.name.startsWith('@')));
      } else if (e.isFile()) bytes += statSync(p).size;
    }
  };
  walk(dir, true);
  return { bytes, packages };
}

/**
 * Packs the repository and installs the tarball into a new temporary project,
 * offline. Returns the project's directory, the tarball's npm report and the
 * size of node_modules.
 */
export function packAndInstall({ optional = false, ignoreScripts = false, dir = mkdtempSync(join(tmpdir(), 'normcore-consumer-')) } = {}) {
  const { tarball, report } = pack(dir, { ignoreScripts });
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const file = `file:${report.filename}`;
  const integrity = 'sha512-' + createHash('sha512').update(readFileSync(tarball)).digest('base64');
  // The optional peers (vega, vega-lite) are the consumer's own dependencies when it wants charts, at the versions installed here.
  const lockPackages = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')).packages;
  const peers = optional ? Object.fromEntries(Object.keys(manifest.peerDependencies ?? {}).map((n) => [n, lockPackages[`node_modules/${n}`].version])) : {};
  const rootDeps = { normcore: file, ...peers };
  const lock = {
    name: 'normcore-consumer',
    version: '1.0.0',
    lockfileVersion: 3,
    requires: true,
    packages: {
      '': { name: 'normcore-consumer', version: '1.0.0', dependencies: rootDeps },
      'node_modules/normcore': {
        version: manifest.version,
        resolved: file,
        integrity,
        license: manifest.license,
        ...(manifest.dependencies ? { dependencies: manifest.dependencies } : {}),
        ...(manifest.peerDependencies ? { peerDependencies: manifest.peerDependencies, peerDependenciesMeta: manifest.peerDependenciesMeta } : {}),
        ...(manifest.bin ? { bin: manifest.bin } : {}),
      },
      ...closure({ ...manifest.dependencies, ...peers }),
    },
  };
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'normcore-consumer', version: '1.0.0', private: true, dependencies: rootDeps }, null, 2));
  writeFileSync(join(dir, 'package-lock.json'), JSON.stringify(lock, null, 2));
  execFileSync(npm, ['ci', '--offline', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  return { dir, tarball, report, installed: measure(join(dir, 'node_modules')) };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const t0 = performance.now();
  const r = packAndInstall({ optional: process.argv.includes('--optional'), ignoreScripts: process.argv.includes('--ignore-scripts') });
  const mb = (n) => (n / 1e6).toFixed(2) + ' MB';
  console.log(`tarball: ${r.report.filename}, ${r.report.entryCount} files, ${mb(r.report.size)} packed, ${mb(r.report.unpackedSize)} unpacked`);
  console.log(`installed: ${r.installed.packages} packages, ${mb(r.installed.bytes)} in node_modules (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  if (process.argv.includes('--keep')) console.log(r.dir);
  else rmSync(r.dir, { recursive: true, force: true });
}
