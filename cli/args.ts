/**
 * A small typed option parser for moe-lab's commands. Each command declares its options;
 * anything else (unknown flag, missing value, wrong type) is a `CliError`, which `cli/main.ts`
 * prints as one line before exiting non-zero.
 */
import { readFileSync } from "fs";

/** An error meant for the user of the command line: printed as one line, exit code 2. */
export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CliError";
  }
}

/** The kinds of option value. `list` is a comma-separated list of numbers; `strings` repeats. */
export type OptionKind = "int" | "number" | "string" | "boolean" | "numbers" | "strings";

export interface OptionSpec {
  kind: OptionKind;
  /** One line for `--help`. */
  help: string;
  /** Shown in `--help`; not applied by the parser (commands apply their own defaults). */
  default?: string | number | boolean;
}

export type OptionSpecs = Record<string, OptionSpec>;

export type OptionValue = string | number | boolean | number[] | string[];

export interface ParsedArgs {
  /** Option values by option name (`hot-experts`), only for options that were given. */
  options: Record<string, OptionValue>;
  /** Arguments that are not options, in order. */
  positionals: string[];
}

function parseNumber(flag: string, raw: string, integer: boolean): number {
  const x = raw.trim() === "" ? NaN : Number(raw);
  if (!Number.isFinite(x) || (integer && !Number.isSafeInteger(x))) {
    throw new CliError(`--${flag} must be ${integer ? "an integer" : "a number"}, got ${JSON.stringify(raw)}`);
  }
  return x;
}

/**
 * Parses `argv` against `specs`. Accepts `--name value`, `--name=value`, and bare `--flag` for
 * booleans. `--` ends options.
 * @throws {CliError} on an unknown option, a missing value or a value of the wrong type.
 */
export function parseArgs(argv: readonly string[], specs: OptionSpecs): ParsedArgs {
  const options: Record<string, OptionValue> = {};
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith("--") || arg === "-") {
      if (arg.startsWith("-") && arg !== "-" && !/^-\d/.test(arg)) {
        throw new CliError(`unknown option ${JSON.stringify(arg)} (options are --${Object.keys(specs).join(", --")})`);
      }
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    const spec = specs[name];
    if (!spec) {
      const known = Object.keys(specs);
      throw new CliError(`unknown option --${name}${known.length ? ` (options are --${known.join(", --")})` : ""}`);
    }
    let raw: string | undefined = eq === -1 ? undefined : arg.slice(eq + 1);
    if (spec.kind === "boolean") {
      if (raw === undefined) options[name] = true;
      else if (raw === "true" || raw === "false") options[name] = raw === "true";
      else throw new CliError(`--${name} takes no value or true/false, got ${JSON.stringify(raw)}`);
      continue;
    }
    if (raw === undefined) {
      if (i + 1 >= argv.length) throw new CliError(`--${name} needs a value`);
      raw = argv[++i];
    }
    switch (spec.kind) {
      case "int":
        options[name] = parseNumber(name, raw, true);
        break;
      case "number":
        options[name] = parseNumber(name, raw, false);
        break;
      case "string":
        options[name] = raw;
        break;
      case "numbers":
        options[name] = raw.split(",").map((s) => parseNumber(name, s, false));
        break;
      case "strings": {
        const prev = (options[name] as string[] | undefined) ?? [];
        options[name] = [...prev, raw];
        break;
      }
    }
  }
  return { options, positionals };
}

/** Renders the option list of a command for `--help`. */
export function formatHelp(usage: string, summary: string, specs: OptionSpecs): string {
  const lines = [`usage: ${usage}`, "", summary, ""];
  const width = Math.max(0, ...Object.keys(specs).map((k) => k.length)) + 4;
  for (const [name, spec] of Object.entries(specs)) {
    const def = spec.default === undefined ? "" : ` (default ${spec.default})`;
    lines.push(`  --${name.padEnd(width)}${spec.help}${def}`);
  }
  return lines.join("\n");
}

/** Options getters that keep command code short and typed. */
export function getNumber(args: ParsedArgs, name: string, fallback: number): number {
  const v = args.options[name];
  return v === undefined ? fallback : (v as number);
}

export function getString(args: ParsedArgs, name: string, fallback: string): string;
export function getString(args: ParsedArgs, name: string): string | undefined;
export function getString(args: ParsedArgs, name: string, fallback?: string): string | undefined {
  const v = args.options[name];
  return v === undefined ? fallback : (v as string);
}

export function getFlag(args: ParsedArgs, name: string): boolean {
  return args.options[name] === true;
}

/** A command of the `moe-lab` CLI. `run` returns the exit code. */
export interface Command {
  summary: string;
  run(argv: string[], io: CommandIO): Promise<number> | number;
}

/** How a command introduces itself to `startCommand`. */
export interface CommandHelp {
  /** The usage line, e.g. "moe-lab labnote [options]". */
  usage: string;
  /** One line saying what the command does. */
  summary: string;
  /** Text printed after the option list (e.g. a file format). */
  extra?: string;
  /** Whether positional arguments are allowed (default false: the first one is refused). */
  positionals?: boolean;
}

/**
 * The start every command shares: parses `argv` against `specs`; with `--help`, prints the usage,
 * summary, options and `extra` and returns null (the command then exits 0); refuses positional
 * arguments unless `help.positionals`.
 * @throws {CliError} for unknown options, bad values or an unexpected argument.
 */
export function startCommand(argv: readonly string[], specs: OptionSpecs, io: CommandIO, help: CommandHelp): ParsedArgs | null {
  const args = parseArgs(argv, specs);
  if (getFlag(args, "help")) {
    io.out(formatHelp(help.usage, help.summary, specs) + "\n" + (help.extra ? help.extra + "\n" : ""));
    return null;
  }
  if (!help.positionals && args.positionals.length) throw new CliError(`unexpected argument ${JSON.stringify(args.positionals[0])}`);
  return args;
}

/** Why a file the user named cannot be read, in words, by the file system's error code. */
const READ_REASONS: Record<string, (file: string, kind: string) => string> = {
  ENOENT: (file) => `${file} does not exist`,
  EISDIR: (file, kind) => `${file} is a directory, not ${kind}`,
  ENOTDIR: (file) => `${file} does not exist (a part of its path is not a directory)`,
  EACCES: (file) => `${file} cannot be read: permission denied`,
  EPERM: (file) => `${file} cannot be read: permission denied`,
};

/**
 * Reads a file the user named on the command line (UTF-8). A path that is missing, a directory
 * or unreadable is a `CliError` naming the path as given (`data is a directory, not a JSON file`),
 * so it prints as one line and exits 2 like any other bad input.
 * @param file the path as the user typed it
 * @param kind what the file should be, for the directory case ("a JSON file")
 * @throws {CliError} when the file cannot be read; the file system's error for anything else.
 */
export function readUserFile(file: string, kind: string): string {
  if (typeof file !== "string" || file === "") throw new CliError(`expected a file path, got ${JSON.stringify(file)}`);
  try {
    return readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException | null)?.code;
    const reason = typeof code === "string" ? READ_REASONS[code] : undefined;
    if (reason) throw new CliError(reason(file, kind));
    throw e;
  }
}

/**
 * `--capture FILE` and `--timestamp` of a command that writes capture records, checked: the file
 * (undefined without --capture) and the capture's optional `timestamp` (only with --timestamp).
 * @throws {CliError} for an empty --capture, or --timestamp without --capture.
 */
export function captureTarget(args: ParsedArgs): { file: string | undefined; stamp: { timestamp?: string } } {
  const file = getString(args, "capture");
  if (file === "") throw new CliError('--capture must be a file path, got ""');
  const timestamp = getFlag(args, "timestamp");
  if (file === undefined && timestamp) throw new CliError("--timestamp needs --capture FILE (it records when a capture was taken)");
  return { file, stamp: timestamp ? { timestamp: new Date().toISOString() } : {} };
}

/** Where a command writes; tests pass buffers, `main` passes the process streams. */
export interface CommandIO {
  out(text: string): void;
  err(text: string): void;
}
