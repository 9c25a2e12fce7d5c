/**
 * Model files: `saveModel` writes `model.save()` bytes atomically (a temporary
 * file in the same folder, flushed to disk, then renamed over the target, so a
 * reader never sees half a model); `loadModel` reads them back with
 * `Sequential.load`.
 */
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { describe, expectOptions, typeError } from '../errors.js';
import { createBackend, type Backend, type BackendName } from '../index.js';
import { Sequential } from './sequential.js';

/** Writes `bytes` to `path` atomically: temp file in the same folder, fsync, rename. */
export async function writeFileAtomic(path: string, bytes: Uint8Array | string): Promise<void> {
  const target = resolve(path);
  const dir = dirname(target);
  const tmp = join(dir, `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
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

/** Saves `model.save()` to `path` (the folder must exist). */
export async function saveModel(model: Pick<Sequential, 'save'>, path: string): Promise<void> {
  if (typeof path !== 'string' || path === '') {
    throw typeError(`saveModel: path must be a non-empty string, got ${describe(path)}`);
  }
  if (model === null || typeof model !== 'object' || typeof model.save !== 'function') {
    throw typeError(`saveModel: model must be a Sequential, got ${describe(model)}`);
  }
  await writeFileAtomic(path, model.save());
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
    throw new Error(code === 'ENOENT' ? `${where}: there is no ${what} at ${path}` : `${where}: cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
}

export interface LoadModelOptions {
  /** A backend, or the name of one to create. Default 'wasm'. */
  backend?: Backend | BackendName;
}

/** Reads a file written by `saveModel` and rebuilds the model on `backend`. */
export async function loadModel(path: string, options?: LoadModelOptions): Promise<Sequential> {
  if (typeof path !== 'string' || path === '') {
    throw typeError(`loadModel: path must be a non-empty string, got ${describe(path)}`);
  }
  const o = expectOptions('loadModel', 'options', options, ['backend']);
  const backend = typeof o.backend === 'object' && o.backend !== null ? o.backend : await createBackend(o.backend ?? 'wasm');
  const bytes = await readFileExplained('loadModel', path);
  try {
    return await Sequential.load(bytes, { backend });
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    throw new Error(`loadModel: ${path}: ${message}`, { cause: e });
  }
}
