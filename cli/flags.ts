import { BackupError } from "../common/backup_error.ts";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { parseByteSizeText } from "../server/byte_size.ts";

/** A command line that cannot be run as given: exit code 2. */
export class UsageError extends BackupError {
  /** @param message what is wrong, in one line */
  constructor(message: string) {
    super(message);
  }
}

/** Exit codes shared by both programs. */
export const ExitCode = {
  Ok: 0,
  /** Client: the server answered with an error status. Server: could not start. */
  Failure: 1,
  Usage: 2,
  /** Client: cannot connect, TLS failed, or the connection was lost. */
  Connection: 3,
  /** Client: the command went through, but some files could not be backed up or restored. */
  Partial: 4,
} as const;

/**
 * `parseArgs` from `node:util` in strict mode, with its errors turned into one-line `UsageError`s.
 */
export function parseFlags<T extends NonNullable<ParseArgsConfig["options"]>>(
  args: string[],
  options: T,
  allowPositionals: boolean,
) {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (error) {
    const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
    throw new UsageError(message.replace(/\. To specify a positional argument.*$/, ""));
  }
}

/** Parses a whole number flag within a range. @throws {UsageError} */
export function parseInteger(flag: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`--${flag} must be a whole number from ${min} to ${max}, got "${text}"`);
  }
  return value;
}

/** Parses a byte size such as `4096`, `512K`, `100M` or `2G` (powers of 1024). @throws {UsageError} */
export function parseByteSize(flag: string, text: string, max: number): number {
  const value = parseByteSizeText(text);
  if (value === undefined || value > max) {
    throw new UsageError(
      `--${flag} must be a size like 4096, 512K, 100M or 2G, at most ${max} bytes; got "${text}"`,
    );
  }
  return value;
}

/** Parses a duration in seconds (decimals allowed) into milliseconds. @throws {UsageError} */
export function parseSeconds(flag: string, text: string): number {
  const seconds = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || !Number.isFinite(seconds)) {
    throw new UsageError(`--${flag} must be a number of seconds, got "${text}"`);
  }
  return Math.round(seconds * 1000);
}

/**
 * Parses a time: ISO 8601 (`2026-11-20T10:00:00Z`), or `YYYY-MM-DD HH:MM[:SS]` in local time.
 *
 * @throws {UsageError}
 */
export function parseTime(flag: string, text: string): number {
  const local = /^\d{4}-\d{2}-\d{2}( \d{2}:\d{2}(:\d{2})?)?$/.test(text.trim());
  const ms = local ? new Date(text.trim().replace(" ", "T")).getTime() : Date.parse(text);
  if (!Number.isFinite(ms)) {
    throw new UsageError(`--${flag} must be a time like "2026-11-20 10:00", got "${text}"`);
  }
  return ms;
}

/** Parses `HOST:PORT` (or `[IPv6]:PORT`). @throws {UsageError} */
export function parseAddress(flag: string, text: string): { hostname: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d+)$/.exec(text.trim());
  if (!match) throw new UsageError(`--${flag} must be HOST:PORT, got "${text}"`);
  return { hostname: match[1] ?? match[2], port: parseInteger(flag, match[3], 1, 65535) };
}

/** Drops a leading `--`, which `deno task NAME -- ARGS` passes through to the program. */
export function withoutLeadingDashDash(args: string[]): string[] {
  return args[0] === "--" ? args.slice(1) : args;
}

/** An error as the one line a command prints: a missing Deno permission says so, else its message. */
export function oneLine(error: unknown): string {
  if (error instanceof Deno.errors.NotCapable) {
    return `missing Deno permission: ${error.message.split("\n")[0]}`;
  }
  return error instanceof Error ? error.message : String(error);
}

/**
 * The command line of a task (`bench`, `soak`, `fuzz`, `compile`): `--help` prints `usage` and
 * exits 0; an unknown flag or a missing value is one line on stderr and exit 2.
 */
export function taskArgs<T extends NonNullable<ParseArgsConfig["options"]>>(
  name: string,
  usage: string,
  options: T,
  allowPositionals = false,
) {
  const args = withoutLeadingDashDash(Deno.args);
  if (args.includes("--help") || args.includes("-h")) {
    console.log(usage);
    Deno.exit(ExitCode.Ok);
  }
  try {
    return parseFlags(args, options, allowPositionals);
  } catch (error) {
    console.error(`${name}: ${(error as Error).message} (see --help)`);
    Deno.exit(ExitCode.Usage);
  }
}
