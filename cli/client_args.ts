/**
 * The client's command line words: the commands, which flags go with which, and the small
 * rewrites and readers the flags need.
 *
 * @module
 */
import { UsageError } from "./flags.ts";

/** The commands. */
export const COMMANDS = [
  "backup",
  "restore",
  "delete",
  "list",
  "versions",
  "run",
  "keygen",
] as const;
export type Command = typeof COMMANDS[number];

/** Operands each command takes: at least, at most, and how to say it. */
const OPERANDS: Record<Command, [number, number, string]> = {
  backup: [1, Infinity, "at least one PATH"],
  restore: [1, 1, "one NAME"],
  delete: [1, 1, "one NAME"],
  list: [0, 1, "at most one PREFIX"],
  run: [0, 0, "nothing"],
  keygen: [0, 0, "nothing"],
  versions: [1, 1, "one NAME"],
};

export function checkOperands(
  command: Command,
  operands: string[],
  values: {
    as?: string;
    into?: string;
    base?: string;
    output?: string;
    force?: boolean;
    checksum?: boolean;
    at?: string;
    "version-id"?: string;
    "dry-run"?: boolean;
    encrypt?: boolean;
    "encrypt-names"?: boolean;
    "allow-unsealed-links"?: boolean;
    encryption?: boolean;
    exclude?: string[];
    "exclude-from"?: string;
    delete?: boolean;
  },
): void {
  const [least, most, what] = OPERANDS[command];
  if (operands.length < least || operands.length > most) {
    throw new UsageError(
      most === 0
        ? `${command} takes no arguments, got "${operands[0]}"`
        : operands.length > most
        ? `${command} takes ${what}, got also "${operands[most]}"`
        : `${command} needs ${what}`,
    );
  }
  if (values.as !== undefined && (command !== "backup" || operands.length !== 1)) {
    throw new UsageError("--as goes with backup of exactly one PATH");
  }
  if (values.into !== undefined && (command !== "backup" || operands.length !== 1)) {
    throw new UsageError("--into goes with backup of exactly one PATH");
  }
  if ([values.as, values.into, values.base].filter((v) => v !== undefined).length > 1) {
    throw new UsageError("--as, --into and --base do not go together");
  }
  if (values.base !== undefined && command !== "backup") {
    throw new UsageError("--base goes with backup");
  }
  if (values.output !== undefined && command !== "restore") {
    throw new UsageError("-o goes with restore");
  }
  if (values.force && !["restore", "backup"].includes(command)) {
    throw new UsageError("--force goes with restore and backup");
  }
  if ((values.at !== undefined || values["version-id"] !== undefined) && command !== "restore") {
    throw new UsageError("--at and --version N go with restore");
  }
  if (values.at !== undefined && values["version-id"] !== undefined) {
    throw new UsageError("--at and --version do not go together");
  }
  if (values.checksum && command !== "backup") throw new UsageError("--checksum goes with backup");
  if (values.checksum && values.encrypt) {
    throw new UsageError(
      "--checksum cannot compare sealed files: the server holds their sealed bytes",
    );
  }
  if (values.encrypt && !["backup", "restore"].includes(command)) {
    throw new UsageError("--encrypt goes with backup and restore");
  }
  if (values["allow-unsealed-links"] && (command !== "restore" || !values.encrypt)) {
    throw new UsageError("--allow-unsealed-links goes with restore --encrypt");
  }
  if (values["encrypt-names"] && ["run", "keygen"].includes(command)) {
    throw new UsageError("--encrypt-names goes with backup, restore, list, delete and versions");
  }
  if (values.encryption && command !== "keygen") {
    throw new UsageError("--encryption goes with keygen");
  }
  const backupOnly = values.exclude !== undefined || values["exclude-from"] !== undefined ||
    values.delete;
  if (backupOnly && command !== "backup") {
    throw new UsageError("--exclude, --exclude-from and --delete go with backup");
  }
  if (values["dry-run"] && !["backup", "restore", "delete"].includes(command)) {
    throw new UsageError("--dry-run goes with backup, restore and delete");
  }
}

/**
 * `--version N` asks for a file's version, `--version` alone for the program's: a value after
 * `--version` (anything not a flag) is passed on as `--version-id VALUE`, checked with restore's
 * other flags, so that `restore X --version abc` is a usage error, not the program's version.
 */
export function versionAsId(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const inline = /^--version=(.*)$/s.exec(args[i]);
    if (inline) out.push(`--version-id=${inline[1]}`);
    else if (args[i] === "--version" && i + 1 < args.length && !args[i + 1].startsWith("-")) {
      out.push("--version-id", args[++i]);
    } else out.push(args[i]);
  }
  return out;
}

/**
 * The program's version is asked for only by `--version` with no command; with a command it needs
 * a version number. @throws {UsageError}
 */
export function checkProgramVersion(command: string | undefined, versionFlag: boolean): void {
  if (versionFlag && command !== undefined) {
    throw new UsageError(
      `--version needs a version number with ${command} (see versions); ` +
        `alone, backup-client --version prints the program's version`,
    );
  }
}

/** Patterns from an `--exclude-from` file: one per line; blank lines and `#` comments skipped. */
export async function readPatterns(path: string): Promise<string[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new UsageError(`cannot read --exclude-from ${path}: ${(error as Error).message}`);
  }
  return text.split(/\r?\n/).map((line) => line.trim()).filter((line) =>
    line && !line.startsWith("#")
  );
}
