/**
 * Model files: `saveModel` writes `model.save()` bytes atomically (a temporary
 * file in the same folder, flushed to disk, then renamed over the target, so a
 * reader never sees half a model); `loadModel` reads them back with
 * `Sequential.load`.
 */
import { describe, expectOptions, NormcoreError, typeError } from '../errors.js';
import { createBackend, ModelFormatError, type Backend, type BackendName } from '../index.js';
import { readFileExplained, removeStaleTemporaries, writeFileAtomic } from './fs.js';
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
  const bytes = model.save();
  await removeStaleTemporaries(path);
  await writeFileAtomic(path, bytes);
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
    const message = `loadModel: ${path}: ${e instanceof Error ? e.message : String(e)}`;
    if (e instanceof ModelFormatError) throw new ModelFormatError(message);
    throw new NormcoreError(message, e instanceof NormcoreError ? (e as NormcoreError).code : 'IO', { cause: e });
  }
}
