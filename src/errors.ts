/**
 * Argument checks shared by every public entry point. Each throws a
 * TypeError (wrong kind of value) or RangeError (wrong size or value) whose
 * message names the call, the argument, what was expected and what was given.
 */

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
export function expectInt(where: string, name: string, value: unknown, min = 1): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    const E = typeof value === 'number' ? RangeError : TypeError;
    throw new E(`${where}: ${name} must be an integer ≥ ${min}, got ${describe(value)}`);
  }
  return value;
}

/** A finite number, optionally within [lo, hi]. */
export function expectNumber(where: string, name: string, value: unknown, lo = -Infinity, hi = Infinity, loOpen = false): number {
  if (typeof value !== 'number') throw new TypeError(`${where}: ${name} must be a number, got ${describe(value)}`);
  if (!Number.isFinite(value) || value < lo || value > hi || (loOpen && value === lo)) {
    const range = loOpen ? `in (${lo}, ${hi}]` : `in [${lo}, ${hi}]`;
    throw new RangeError(`${where}: ${name} must be a finite number ${range}, got ${describe(value)}`);
  }
  return value;
}

/** A Float32Array of exactly `length` values (`what` explains the length, e.g. "m·k = 2·3"). */
export function expectF32(where: string, name: string, value: unknown, length: number, what?: string): Float32Array {
  if (!(value instanceof Float32Array)) {
    throw new TypeError(`${where}: ${name} must be a Float32Array, got ${describe(value)}`);
  }
  if (value.length !== length) {
    throw new RangeError(`${where}: ${name} must have length ${length}${what ? ` (${what})` : ''}, got length ${value.length}`);
  }
  return value;
}

/** Rejects option names that the call does not know (a misspelled option is an error, not ignored). */
export function expectKnownKeys(where: string, name: string, value: object, known: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw new TypeError(`${where}: unknown option ${name}.${key}; expected one of ${known.join(', ')}`);
    }
  }
}

/** A plain options object (or undefined, giving {}). */
export function expectOptions<T extends object>(where: string, name: string, value: T | undefined, known: readonly string[]): Partial<T> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`${where}: ${name} must be an object, got ${describe(value)}`);
  }
  expectKnownKeys(where, name, value, known);
  return value;
}
