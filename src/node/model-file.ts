/**
 * Model files: `saveModel` writes `model.save()` bytes atomically (a temporary
 * file in the same folder, flushed to disk, then renamed over the target, so a
 * reader never sees half a model); `loadModel` reads them back with
 * `Sequential.load`.
 */
import { describe, expectOptions, typeError } from '../errors.js';
import { createBackend, type Backend, type BackendName } from '../index.js';
import { readFileExplained, writeFileAtomic } from './fs.js';
import { Sequential } from './sequential.js';

export { writeFileAtomic } from './fs.js';

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
