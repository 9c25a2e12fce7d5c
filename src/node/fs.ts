/**
 * Files, knowing nothing of models: atomic writes (temporary file in the same
 * folder, fsync, rename, fsync of the folder), reads with errors that say
 * what went wrong, and the sweep of temporaries a killed writer left behind.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { NormcoreError } from '../errors.js';

/** File names are at most 255 bytes; the temporary's name adds 25 (".", ".<pid>.<8 hex>.tmp"). */
const MAX_TEMP_STEM = 255 - 25;

/** The part of a target's name its temporaries carry: the name, cut to MAX_TEMP_STEM bytes of UTF-8 (never inside a character). */
function tempStem(name: string): string {
  let stem = name;
  while (Buffer.byteLength(stem) > MAX_TEMP_STEM) stem = stem.slice(0, -1);
  if (/[\uD800-\uDBFF]$/.test(stem)) stem = stem.slice(0, -1);
  return stem;
}

/** Writes `bytes` to `path` atomically: temp file in the same folder, fsync, rename. */
export async function writeFileAtomic(path: string, bytes: Uint8Array | string): Promise<void> {
  const target = resolve(path);
  const dir = dirname(target);
  const tmp = join(dir, `.${tempStem(basename(target))}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const file = await open(tmp, 'wx');
  try {
    try {
      await file.writeFile(bytes);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(tmp, target);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  // Make the rename itself durable; some file systems do not allow syncing a folder.
  try {
    const folder = await open(dir, 'r');
    try {
      await folder.sync();
    } finally {
      await folder.close();
    }
  } catch {
    /* best effort */
  }
}

/**
 * The bytes of the file at `path`, or an Error that says what went wrong,
 * prefixed by `where`: "<where>: there is no <what> at <path>" for a missing
 * file, "<where>: cannot read <path>: <reason>" otherwise (the cause attached).
 */
export async function readFileExplained(where: string, path: string, what = 'file'): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new NormcoreError(code === 'ENOENT' ? `${where}: there is no ${what} at ${path}` : `${where}: cannot read ${path}: ${(e as Error).message}`, 'IO', { cause: e });
  }
}

/**
 * Removes the temporary files `writeFileAtomic` left next to `path` when a
 * process died mid-write (named `.<name>.<pid>.<8 hex>.tmp`, the name cut to
 * fit 255 bytes), if that process
 * no longer runs. Best effort.
 */
export async function removeStaleTemporaries(path: string): Promise<void> {
  const target = resolve(path);
  const dir = dirname(target);
  const name = tempStem(basename(target)).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const pattern = new RegExp(`^\\.${name}\\.(\\d+)\\.[0-9a-f]{8}\\.tmp$`);
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch {
    return;
  }
  for (const entry of entries) {
    const m = pattern.exec(entry);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || (await running(pid))) continue;
    await rm(resolve(dir, entry), { force: true }).catch(() => undefined);
  }
}

/** Whether process `pid` still runs (a zombie, killed but not yet reaped, does not). */
async function running(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  // Linux: /proc/<pid>/stat is "pid (name) state …"
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const end = stat.lastIndexOf(')');
  return end < 0 || stat[end + 2] !== 'Z';
}

/**
 * Makes sure `path` is a folder normcore can write to, creating it (and its
 * missing parents) if needed, and writing and removing a probe file. Throws
 * a NormcoreError (code IO) naming `argument` and the reason. Folders are made
 * one level at a time: Node's recursive mkdir can spin forever on some paths
 * (e.g. under /proc).
 */
export async function ensureWritableFolder(where: string, argument: string, path: string): Promise<string> {
  const target = resolve(path);
  const fail = (why: string, cause?: unknown): never => {
    throw Object.assign(new NormcoreError(`${where}: ${argument} ${path} ${why}`, 'IO', { cause }), { argument, expected: 'a writable folder', received: path });
  };
  const missing: string[] = [];
  for (let p = target; ; p = dirname(p)) {
    try {
      if (!(await stat(p)).isDirectory()) fail(missing.length ? `cannot be made: ${p} is a file, not a folder` : 'is a file, not a folder');
      break;
    } catch (e) {
      if (e instanceof NormcoreError) throw e;
      const code = (e as NodeJS.ErrnoException).code;
      if ((code !== 'ENOENT' && code !== 'ENOTDIR') || dirname(p) === p) fail(`cannot be used: ${(e as Error).message}`, e);
      missing.unshift(p);
    }
  }
  for (const p of missing) {
    try {
      await mkdir(p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') fail(`cannot be made: ${(e as Error).message}`, e);
    }
  }
  const probe = join(target, `.normcore-write-test.${process.pid}.${randomBytes(4).toString('hex')}`);
  try {
    await writeFile(probe, '');
  } catch (e) {
    fail(`is not writable: ${(e as Error).message}`, e);
  } finally {
    await rm(probe, { force: true }).catch(() => undefined);
  }
  return target;
}
