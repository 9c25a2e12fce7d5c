/**
 * Checkpoints in files (Node). The training loop itself knows no files: a
 * checkpoint is bytes handed to `FitOptions.checkpoint.save`, and resuming
 * takes bytes in `FitOptions.resumeFrom`. This module gives both a path:
 *
 *   await model.fit(x, y, {
 *     epochs: 10,
 *     checkpoint: checkpointFile('run.ckpt'),                 // every epoch, atomically
 *     resumeFrom: existsSync('run.ckpt') ? await readCheckpoint('run.ckpt') : undefined,
 *   });
 *
 * Each write goes to a temporary file in the same folder, is flushed to disk,
 * renamed over the checkpoint and the folder flushed (`writeFileAtomic`), so
 * the file at `path` is always a complete checkpoint, old or new, whenever the
 * process dies. A checkpoint file is also a model file: `loadModel` reads it.
 */
import { describe, expectInt, expectOptions, typeError } from '../errors.js';
import { ModelFormatError, Sequential, type CheckpointInfo, type CheckpointOptions } from '../index.js';
import { readFileExplained, removeStaleTemporaries, writeFileAtomic } from './fs.js';

export interface CheckpointFileOptions {
  /** Write after every this many epochs (default 1); the last epoch is always written. */
  everyEpochs?: number;
  /** Called after each checkpoint is on disk. */
  onSaved?: (info: CheckpointInfo) => void | Promise<void>;
}

/** A `FitOptions.checkpoint` that writes each checkpoint to `path` atomically. The folder must exist. */
export function checkpointFile(path: string, options?: CheckpointFileOptions): Required<Pick<CheckpointOptions, 'everyEpochs' | 'save'>> {
  if (typeof path !== 'string' || path === '') throw typeError(`checkpointFile: path must be a non-empty string, got ${describe(path)}`, { argument: 'path' });
  const o = expectOptions('checkpointFile', 'options', options, ['everyEpochs', 'onSaved']);
  const everyEpochs = o.everyEpochs === undefined ? 1 : expectInt('checkpointFile', 'options.everyEpochs', o.everyEpochs);
  if (o.onSaved !== undefined && typeof o.onSaved !== 'function') throw typeError(`checkpointFile: options.onSaved must be a function, got ${describe(o.onSaved)}`);
  let swept = false;
  return {
    everyEpochs,
    save: async (bytes, info) => {
      if (!swept) {
        swept = true;
        await removeStaleTemporaries(path);
      }
      await writeFileAtomic(path, bytes);
      if (o.onSaved) await o.onSaved(info);
    },
  };
}

/**
 * Reads a checkpoint file for `FitOptions.resumeFrom`, checking that it is a
 * valid checkpoint (ModelFormatError otherwise; an Error for a missing file).
 */
export async function readCheckpoint(path: string): Promise<Uint8Array> {
  if (typeof path !== 'string' || path === '') throw typeError(`readCheckpoint: path must be a non-empty string, got ${describe(path)}`, { argument: 'path' });
  const bytes = await readFileExplained('readCheckpoint', path, 'checkpoint');
  try {
    await Sequential.checkpointInfo(bytes);
  } catch (e) {
    if (e instanceof ModelFormatError) throw new ModelFormatError(`readCheckpoint: ${path}: ${e.message.replace(/^checkpointInfo: /, '')}`);
    throw e;
  }
  return bytes;
}

