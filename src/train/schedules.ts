/**
 * Learning-rate schedules as records: the options each takes and the rate it
 * gives at a step. A new schedule is one entry in SCHEDULES.
 */
import { describe, expectF32Number, expectInt, expectOptions, mustBe, typeError } from '../errors.js';

export type LrSchedule = { type: 'constant' } | { type: 'cosine'; minLr?: number } | { type: 'step'; every: number; factor: number };
type Of<T extends LrSchedule['type']> = Extract<LrSchedule, { type: T }>;

interface Schedule<S extends LrSchedule> {
  resolve(s: S): S;
  /** The rate at `epoch`, at `step` of the fit's `steps` (numbers, so a step allocates nothing). */
  lr(base: number, s: S, epoch: number, step: number, steps: number): number;
}

const SCHEDULES: { [T in LrSchedule['type']]: Schedule<Of<T>> } = {
  constant: {
    resolve: (s) => (expectOptions('compile', 'options.lrSchedule', s, ['type']), { type: 'constant' }),
    lr: (base) => base,
  },
  /** From lr down to minLr over the steps of each fit (half a cosine). */
  cosine: {
    resolve: (s) => {
      const c = expectOptions('compile', 'options.lrSchedule', s, ['type', 'minLr']);
      return { type: 'cosine', minLr: expectF32Number('compile', 'options.lrSchedule.minLr', c.minLr ?? 0, 0) };
    },
    lr: (base, s, _epoch, step, steps) => {
      const min = s.minLr ?? 0;
      return min + (base - min) * 0.5 * (1 + Math.cos((Math.PI * step) / Math.max(1, steps)));
    },
  },
  /** lr · factor^⌊epoch / every⌋. */
  step: {
    resolve: (s) => {
      const c = expectOptions('compile', 'options.lrSchedule', s, ['type', 'every', 'factor']);
      return { type: 'step', every: expectInt('compile', 'options.lrSchedule.every', c.every), factor: expectF32Number('compile', 'options.lrSchedule.factor', c.factor, 0, 1, true) };
    },
    lr: (base, s, epoch) => base * Math.pow(s.factor, Math.floor(epoch / s.every)),
  },
};

export function resolveSchedule(s: unknown): LrSchedule {
  if (!s || typeof s !== 'object') throw mustBe('compile', 'options.lrSchedule', 'an object', s);
  const t = (s as { type?: unknown }).type;
  if (typeof t !== 'string' || !Object.hasOwn(SCHEDULES, t)) {
    throw typeError(`compile: options.lrSchedule.type must be 'constant', 'cosine' or 'step', got ${describe(t)}`, { argument: 'options.lrSchedule.type', expected: 'constant | cosine | step', received: describe(t) });
  }
  return (SCHEDULES[t as LrSchedule['type']] as Schedule<LrSchedule>).resolve(s as LrSchedule);
}

/** The learning rate of schedule `s` over base rate `base` at `epoch`, at `step` of the fit's `steps`. */
export function scheduledLr(base: number, s: LrSchedule, epoch: number, step: number, steps: number): number {
  return (SCHEDULES[s.type] as Schedule<LrSchedule>).lr(base, s, epoch, step, steps);
}
