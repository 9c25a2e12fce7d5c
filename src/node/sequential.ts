/**
 * Sequential for Node: the same model, whose `fit` also takes checkpoints as
 * file paths. `checkpoint: { path, everyEpochs }` writes a checkpoint file
 * atomically (temporary file, fsync, rename) every `everyEpochs` epochs, and
 * `resumeFrom: path` continues the run saved there, ending with the weights
 * an uninterrupted run would have. The browser-safe core takes the same
 * options as bytes and a save function; this class only turns paths into them.
 */
import { describe, expectInt, expectOptions, typeError } from '../errors.js';
import { Sequential as CoreSequential, type CheckpointOptions, type FitOptions, type History, type Labels, type Features, type Batch } from '../index.js';
import { checkpointFile, readCheckpoint } from './checkpoint.js';

/** A checkpoint file: written after every `everyEpochs` epochs (default 1) and after the last. */
export interface CheckpointPathOptions {
  path: string;
  everyEpochs?: number;
}

export interface NodeFitOptions extends Omit<FitOptions, 'checkpoint' | 'resumeFrom'> {
  /** A checkpoint file ({ path, everyEpochs }), or the core form ({ everyEpochs, save }). */
  checkpoint?: CheckpointPathOptions | CheckpointOptions;
  /** The path of a checkpoint file, or its bytes. */
  resumeFrom?: string | Uint8Array;
}

export class Sequential extends CoreSequential {
  /** As the core `fit`, with checkpoint paths (see NodeFitOptions). */
  override async fit(x: Features, y: Labels, options?: NodeFitOptions): Promise<History>;
  override async fit(source: AsyncIterable<Batch> | Iterable<Batch>, y?: undefined, options?: NodeFitOptions): Promise<History>;
  override async fit(x: Features | AsyncIterable<Batch> | Iterable<Batch>, y?: Labels, options?: NodeFitOptions): Promise<History> {
    const fit = super.fit as (x: unknown, y: unknown, o: FitOptions | undefined) => Promise<History>;
    if (options === undefined || options === null || typeof options !== 'object') return fit.call(this, x, y, options as FitOptions | undefined);
    const { checkpoint, resumeFrom, ...rest } = options;
    const core: FitOptions = { ...rest };
    if (checkpoint !== undefined) {
      if (checkpoint && typeof checkpoint === 'object' && 'path' in checkpoint) {
        const c = expectOptions('fit', 'options.checkpoint', checkpoint, ['path', 'everyEpochs']);
        if (typeof c.path !== 'string' || c.path === '') {
          throw typeError(`fit: options.checkpoint.path must be a non-empty string, got ${describe(c.path)}`, { argument: 'options.checkpoint.path' });
        }
        const everyEpochs = c.everyEpochs === undefined ? 1 : expectInt('fit', 'options.checkpoint.everyEpochs', c.everyEpochs);
        core.checkpoint = checkpointFile(c.path, { everyEpochs });
      } else {
        core.checkpoint = checkpoint as CheckpointOptions;
      }
    }
    if (resumeFrom !== undefined) core.resumeFrom = typeof resumeFrom === 'string' ? await readCheckpoint(resumeFrom) : resumeFrom;
    return fit.call(this, x, y, core);
  }
}
