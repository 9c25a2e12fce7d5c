/**
 * Command-line flags of the normcore commands (`normcore train`, `eval`,
 * `experiment bn-paper`). One table of flags per command drives
 * node:util parseArgs, the value checks (a flag not given has the table's
 * default) and the --help lines. A mistake on the command line is a
 * UsageError: one line naming the command, the flag, what it expects and what
 * it got, and exit code 2 (`runCommand`).
 */
import { parseArgs } from 'node:util';

/** A bad command line: exit code 2 with this one-line message. */
export class UsageError extends Error {}

export interface Flag {
  type: 'string' | 'boolean';
  /** Value placeholder in --help. */
  value?: string;
  /** Shown in --help, and the value of a string flag that is not given. */
  default?: string;
  help: string;
}

/** Flags by name (without the dashes); `help` also answers to -h. */
export type Flags = Record<string, Flag>;

/** The --help lines of `flags`: name and value placeholder, then help and default, in two columns. */
export function flagLines(flags: Flags): string {
  const rows = Object.entries(flags).map(
    ([name, f]) => [`  ${name === 'help' ? '-h, ' : ''}--${name}${f.value ? ` ${f.value}` : ''}`, f.help + (f.default !== undefined ? ` (default: ${f.default})` : '')] as const,
  );
  const width = Math.max(...rows.map(([l]) => l.length)) + 2;
  return rows.map(([l, r]) => l.padEnd(width) + r).join('\n');
}

const INTEGER = /^\+?\d+$/;
const NUMBER = /^\+?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * Parses `args` against `flags` (strict: unknown flags, missing values and,
 * unless `positionals`, arguments that are not flags are UsageErrors).
 * `command` starts each message, e.g. "normcore train".
 */
export function parseFlags(command: string, args: string[], flags: Flags, options: { positionals?: boolean } = {}): CommandLine {
  const parseOptions = Object.fromEntries(
    Object.entries(flags).map(([name, f]) => [name, name === 'help' ? { type: f.type, short: 'h' } : { type: f.type }]),
  );
  // parseArgs takes "--lr -1" for two flags; a negative number after a flag that takes a value is its value.
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const next = args[i + 1];
    if (a.startsWith('--') && !a.includes('=') && flags[a.slice(2)]?.type === 'string' && next !== undefined && /^-(\d|\.\d)/.test(next)) {
      joined.push(`${a}=${next}`);
      i++;
    } else {
      joined.push(a);
    }
  }
  let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({ args: joined, options: parseOptions, strict: true, allowPositionals: options.positionals ?? false }) as typeof parsed;
  } catch (e) {
    const err = e as Error & { code?: string };
    const flag = /'(-[^' ]*)/.exec(err.message)?.[1];
    if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      const known = Object.keys(flags).map((n) => `--${n}`).join(', ');
      throw new UsageError(`${command}: unknown flag ${flag ?? err.message}; expected one of ${known}`);
    }
    if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      const f = flags[flag?.replace(/^-+/, '') ?? ''];
      if (f?.type === 'boolean') throw new UsageError(`${command}: ${flag} takes no value`);
      throw new UsageError(`${command}: ${flag} needs a value (${f?.value ?? 'a value'}), got none`);
    }
    if (err.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
      const arg = /'([^']*)'/.exec(err.message)?.[1];
      throw new UsageError(`${command}: unexpected argument ${JSON.stringify(arg ?? err.message)}; it takes flags only`);
    }
    throw new UsageError(`${command}: ${err.message.split('\n')[0]}`);
  }
  return new CommandLine(command, flags, parsed.values, parsed.positionals);
}

/** A parsed command line, and the value checks: each reads a flag (given, or its default) or throws a UsageError. */
export class CommandLine {
  constructor(
    readonly command: string,
    private readonly flags: Flags,
    private readonly values: Record<string, string | boolean | undefined>,
    readonly positionals: string[],
  ) {}

  /** Whether -h or --help was given. */
  get help(): boolean {
    return this.values.help === true;
  }

  /** Whether boolean flag `name` was given. */
  is(name: string): boolean {
    return this.values[name] === true;
  }

  /** The value given to string flag `name`, or undefined. */
  given(name: string): string | undefined {
    const v = this.values[name];
    return typeof v === 'string' ? v : undefined;
  }

  /** The value of string flag `name`: the one given, else the table's default. */
  string(name: string): string {
    const v = this.given(name) ?? this.flags[name]?.default;
    if (v === undefined) throw new Error(`${this.command}: --${name} has no value and no default`);
    return v;
  }

  /** `read(name)` if flag `name` was given, else undefined (for flags without a usable default). */
  optional<T>(name: string, read: (name: string) => T): T | undefined {
    return this.given(name) === undefined ? undefined : read(name);
  }

  /** Throws a UsageError `<command>: <message>`. */
  fail(message: string): never {
    throw new UsageError(`${this.command}: ${message}`);
  }

  /** Throws a UsageError naming flag `name`, what it expects and the value it got. */
  bad(name: string, expected: string, got: string): never {
    this.fail(`--${name} must be ${expected}, got ${JSON.stringify(got)}`);
  }

  /** An integer in [min, max]. */
  int(name: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
    const raw = this.string(name);
    const n = INTEGER.test(raw.trim()) ? Number(raw) : NaN;
    if (!(n >= min && n <= max)) this.bad(name, max === Number.MAX_SAFE_INTEGER ? `an integer ≥ ${min}` : `an integer in [${min}, ${max}]`, raw);
    return n;
  }

  /** A finite number > 0. */
  positiveNumber(name: string): number {
    const raw = this.string(name);
    const n = NUMBER.test(raw.trim()) ? Number(raw) : NaN;
    if (!(n > 0 && Number.isFinite(n))) this.bad(name, 'a positive number', raw);
    return n;
  }

  /** A finite number ≥ 0. */
  nonNegativeNumber(name: string): number {
    const raw = this.string(name);
    const n = NUMBER.test(raw.trim()) ? Number(raw) : NaN;
    if (!(n >= 0 && Number.isFinite(n))) this.bad(name, 'a number ≥ 0', raw);
    return n;
  }

  /** One of `choices`. */
  choice<T extends string>(name: string, choices: readonly T[]): T {
    const raw = this.string(name);
    if (!(choices as readonly string[]).includes(raw)) this.bad(name, `one of ${choices.join(', ')}`, raw);
    return raw as T;
  }

  /** A path that is not blank; `expected` says what it names, e.g. "a folder path". */
  path(name: string, expected: string): string {
    const raw = this.string(name);
    if (raw.trim() === '') this.bad(name, expected, raw);
    return raw;
  }
}

/**
 * Runs a command and turns what it throws into the exit code: a UsageError is
 * its one-line message on `err` and 2; any other error is "<command>: <message>"
 * on `err` and 1.
 */
export async function runCommand(command: string, err: (text: string) => void, run: () => Promise<number>): Promise<number> {
  try {
    return await run();
  } catch (e) {
    if (e instanceof UsageError) {
      err(e.message + '\n');
      return 2;
    }
    err(`${command}: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}

/**
 * Dispatches `argv` to one of `commands` by its first word, as `runCommand`
 * does: no word prints `help` on `err` (exit 2); help, -h or --help prints it
 * on `out` (exit 0); an unknown word is the UsageError `unknown(word)`.
 * `name` prefixes the messages, e.g. "normcore".
 */
export async function dispatch(
  name: string,
  argv: string[],
  spec: {
    help: string;
    commands: Record<string, (args: string[]) => Promise<number>>;
    unknown: (word: string) => string;
    out: (text: string) => void;
    err: (text: string) => void;
  },
): Promise<number> {
  const [word, ...rest] = argv;
  return runCommand(`${name} ${word}`, spec.err, async () => {
    if (word === undefined) {
      spec.err(spec.help);
      return 2;
    }
    if (word === '--help' || word === '-h' || word === 'help') {
      spec.out(spec.help);
      return 0;
    }
    const command = Object.hasOwn(spec.commands, word) ? spec.commands[word] : undefined;
    if (command) return command(rest);
    throw new UsageError(spec.unknown(word));
  });
}
