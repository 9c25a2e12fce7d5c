/**
 * Argument checks shared by every public entry point. Each throws a
 * TypeError (wrong kind of value) or RangeError (wrong size or value) whose
 * message names the call, the argument, what was expected and what was given.
 *
 * Errors normcore raises on purpose carry a `code` (see ErrorCode) and, for
 * argument errors, `argument` / `expected` / `received`. They stay plain
 * TypeError and RangeError objects (so `instanceof RangeError` and exact
 * constructor checks keep working); `instanceof NormcoreError` recognises all
 * of them, as well as ModelFormatError, DivergenceError and the state errors.
 */
import { BRAND, NormcoreError, type ErrorCode } from './error-class.js';

export type { ErrorCode } from './error-class.js';

/** Optional details of an argument error. */
export interface ErrorDetails {
  code?: ErrorCode;
  /** The argument's name as the caller wrote it, e.g. "options.batchSize". */
  argument?: string;
  /** What was expected, in words. */
  expected?: string;
  /** What was given, described briefly. */
  received?: string;
}

function tag<E extends Error>(e: E, details: ErrorDetails, fallback: ErrorCode, skip: Function): E {
  Object.defineProperty(e, BRAND, { value: true });
  Object.assign(e, { code: details.code ?? fallback });
  if (details.argument !== undefined) Object.assign(e, { argument: details.argument });
  if (details.expected !== undefined) Object.assign(e, { expected: details.expected });
  if (details.received !== undefined) Object.assign(e, { received: details.received });
  // keep the factory out of the stack trace where the engine allows it (V8)
  (Error as { captureStackTrace?: (o: object, f: Function) => void }).captureStackTrace?.(e, skip);
  return e;
}

/** An error normcore raised on purpose, with its `code`. */
export interface TaggedError extends Error {
  code: ErrorCode;
  argument?: string;
  expected?: string;
  received?: string;
}

/**
 * A number option that a kernel reads as f32: as expectNumber, and also
 * representable in f32 (|v| ≤ 3.4e38, and not flushed to 0 when 0 is excluded).
 */
export function expectF32Number(where: string, name: string, value: unknown, lo = -Infinity, hi = Infinity, loOpen = false): number {
  const v = expectNumber(where, name, value, lo, hi, loOpen);
  const f = Math.fround(v);
  if (!Number.isFinite(f) || (v !== 0 && f === 0)) {
    throw rangeError(`${where}: ${name} must be representable as a 32-bit float (magnitude at most 3.4e38, and not so small that it rounds to 0), got ${describe(value)}`, {
      argument: name, expected: 'a number within the f32 range', received: describe(value),
    });
  }
  return v;
}

export { NormcoreError } from './error-class.js';

/** The call does not fit the object's state: a disposed model, an uncompiled one, a fit already running. */
export class StateError extends NormcoreError {
  override name = 'StateError';
  constructor(message: string) {
    super(message, 'INVALID_STATE');
  }
}

/** A TypeError tagged with a code (default 'INVALID_ARGUMENT'). */
export function typeError(message: string, details: ErrorDetails = {}): TypeError & TaggedError {
  return tag(new TypeError(message), details, 'INVALID_ARGUMENT', typeError) as TypeError & TaggedError;
}

/** A RangeError tagged with a code (default 'OUT_OF_RANGE'). */
export function rangeError(message: string, details: ErrorDetails = {}): RangeError & TaggedError {
  return tag(new RangeError(message), details, 'OUT_OF_RANGE', rangeError) as RangeError & TaggedError;
}

/**
 * The error for an argument that is not what was expected: the message
 * "<where>: <argument> must be <expected>, got <describe(value)>", with
 * argument, expected and received as details; a TypeError, or a RangeError
 * when `range` (a value of the right type outside its range).
 */
export function mustBe(where: string, argument: string, expected: string, value: unknown, range = false): (TypeError | RangeError) & TaggedError {
  const received = describe(value);
  const message = `${where}: ${argument} must be ${expected}, got ${received}`;
  const details = { argument, expected, received };
  return (range ? tag(new RangeError(message), details, 'OUT_OF_RANGE', mustBe) : tag(new TypeError(message), details, 'INVALID_ARGUMENT', mustBe)) as (TypeError | RangeError) & TaggedError;
}

/** Describes a value briefly for an error message. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v);
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${(v as unknown as ArrayLike<number>).length})`;
  if (Array.isArray(v)) return `Array(${v.length})`;
  return typeof v === 'object' ? (v.constructor?.name ?? 'object') : typeof v;
}

/** A positive (or ≥ min) integer. */
export function expectInt(where: string, name: string, value: unknown, min = 1, max = Infinity): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const make = typeof value === 'number' ? rangeError : typeError;
    const range = max === Infinity ? `≥ ${min}` : `in [${min}, ${max}]`;
    throw make(`${where}: ${name} must be an integer ${range}, got ${describe(value)}`, { argument: name, expected: `an integer ${range}`, received: describe(value) });
  }
  return value;
}

/** Seeds are 32-bit: a larger one would be cut silently, so it is refused. */
export const MAX_SEED = 0xffffffff;

/** A finite number, optionally within [lo, hi]. */
export function expectNumber(where: string, name: string, value: unknown, lo = -Infinity, hi = Infinity, loOpen = false): number {
  if (typeof value !== 'number') throw mustBe(where, name, 'a number', value);
  if (!Number.isFinite(value) || value < lo || value > hi || (loOpen && value === lo)) {
    const range = loOpen ? `in (${lo}, ${hi}]` : `in [${lo}, ${hi}]`;
    throw mustBe(where, name, `a finite number ${range}`, value, true);
  }
  return value;
}

/** A Float32Array of exactly `length` values (`what` explains the length, e.g. "m·k = 2·3"). */
export function expectF32(where: string, name: string, value: unknown, length: number, what?: string): Float32Array {
  if (!(value instanceof Float32Array)) {
    throw mustBe(where, name, 'a Float32Array', value);
  }
  if (value.length !== length) {
    throw rangeError(`${where}: ${name} must have length ${length}${what ? ` (${what})` : ''}, got length ${value.length}`, {
      code: 'SHAPE_MISMATCH', argument: name, expected: `length ${length}`, received: `length ${value.length}`,
    });
  }
  return value;
}

/** Rejects option names that the call does not know (a misspelled option is an error, not ignored). */
export function expectKnownKeys(where: string, name: string, value: object, known: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw typeError(`${where}: unknown option ${name}.${key}; expected one of ${known.join(', ')}`, {
        code: 'UNKNOWN_OPTION', argument: `${name}.${key}`, expected: `one of ${known.join(', ')}`, received: key,
      });
    }
  }
}

/** A plain options object (or undefined, giving {}). */
export function expectOptions<T extends object>(where: string, name: string, value: T | undefined, known: readonly string[]): Partial<T> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw mustBe(where, name, 'an object', value);
  }
  expectKnownKeys(where, name, value, known);
  return value;
}
