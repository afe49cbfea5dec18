/**
 * The client's command line words: the commands, which flags go with which, and the small
 * rewrites and readers the flags need.
 *
 * @module
 */
import { parseSnapshotRef, SnapshotRefError } from "../client/snapshot/snapshot_select.ts";
import { UsageError } from "./flags.ts";
import { FORGET_FLAG_NAMES } from "./forget_flags.ts";
import { CHECK_FLAG_NAMES, type CheckFlags, readDataChoice } from "./check_flags.ts";

/** The commands. */
export const COMMANDS = [
  "backup",
  "restore",
  "delete",
  "list",
  "versions",
  "run",
  "keygen",
  "snapshots",
  "ls",
  "find",
  "diff",
  "dump",
  "forget",
  "check",
  "prune",
  "repair",
  "init",
  "key",
  "profile",
] as const;
export type Command = typeof COMMANDS[number];

/** Operands each command takes: at least, at most, and how to say it. */
const OPERANDS: Record<Command, [number, number, string]> = {
  // `backup --stdin` takes none; checked below.
  backup: [0, Infinity, "at least one PATH"],
  restore: [1, 1, "one NAME (or SNAPSHOT[:PATH] with --target)"],
  delete: [1, 1, "one NAME"],
  list: [0, 1, "at most one PREFIX"],
  run: [0, 0, "nothing"],
  keygen: [0, 0, "nothing"],
  versions: [1, 1, "one NAME"],
  snapshots: [0, 0, "nothing"],
  ls: [1, 2, "SNAPSHOT and at most one PATH"],
  find: [1, 1, "one PATTERN"],
  diff: [2, 2, "two SNAPSHOTs"],
  dump: [2, 2, "SNAPSHOT and PATH"],
  forget: [0, Infinity, "SNAPSHOTs or --keep-* flags"],
  check: [0, 0, "nothing"],
  prune: [0, 0, "nothing"],
  repair: [0, 0, "nothing"],
  init: [0, 0, "nothing"],
  key: [1, 2, "list, add, remove ID or passwd"],
  // Its actions' operands are checked by profile_command.ts.
  profile: [1, Infinity, "list, show, set, unset or remove"],
};

/** The commands that pick snapshots by host, tag and path. */
const FILTERED = ["snapshots", "ls", "find", "diff", "dump", "forget", "check", "repair"];

/** The flags of snapshots only, and the commands each goes with. */
const SNAPSHOT_FLAGS: Array<[string, string[]]> = [
  ["host", ["backup", "restore", ...FILTERED]],
  ["path", ["restore", ...FILTERED]],
  ["tag", ["backup", "restore", ...FILTERED]],
  ["one-file-system", ["backup"]],
  ["exclude-caches", ["backup"]],
  ["exclude-if-present", ["backup"]],
  ["time", ["backup"]],
  ["parent", ["backup"]],
  ["stdin", ["backup"]],
  ["stdin-filename", ["backup"]],
  ["long", ["ls"]],
  ["target", ["restore"]],
  ["include", ["restore"]],
  ["new-password-file", ["key"]],
  ["new-repository-key-file", ["key"]],
  ["kdf-cost", ["init", "key"]],
  ...FORGET_FLAG_NAMES.map((flag): [string, string[]] => [flag, ["forget"]]),
  ...CHECK_FLAG_NAMES.map((flag): [string, string[]] => [
    flag,
    flag === "read-data-subset" ? ["check", "repair"] : ["check"],
  ]),
];

/** Flags of today's per-file backup and restore, which a snapshot does not take. */
const FILE_FLAGS = ["as", "into", "base", "delete", "checksum", "dry-run", "encrypt", "jobs"]
  .concat(["encrypt-names", "output", "at", "version-id", "allow-unsealed-links", "force"]);

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
    files?: boolean;
    stdin?: boolean;
    "stdin-filename"?: string;
    target?: string;
    [flag: string]: unknown;
  },
): void {
  const [least, most, what] = OPERANDS[command];
  if (command === "backup" && !values.stdin && operands.length === 0) {
    throw new UsageError(`backup needs ${what}`);
  }
  if (command === "backup" && values.stdin && operands.length > 0) {
    throw new UsageError("backup --stdin takes no PATH (name the file with --stdin-filename)");
  }
  // A snapshot's name is checked before anything connects.
  const named = ["ls", "dump"].includes(command)
    ? operands.slice(0, 1)
    : command === "diff" || (command === "restore" && values.target !== undefined)
    ? operands
    : [];
  for (const name of named) {
    try {
      parseSnapshotRef(name);
    } catch (error) {
      if (error instanceof SnapshotRefError) throw new UsageError(error.message);
      throw error;
    }
  }
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
  if (values.force && !["restore", "backup", "key"].includes(command)) {
    throw new UsageError("--force goes with restore, backup and key remove");
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
  const backupOnly = values["exclude-from"] !== undefined || values.delete;
  if (backupOnly && command !== "backup") {
    throw new UsageError("--exclude-from and --delete go with backup");
  }
  if (values.exclude !== undefined && command !== "backup" && values.target === undefined) {
    throw new UsageError("--exclude goes with backup and restore --target");
  }
  checkSnapshotFlags(command, values);
  if (command === "check" || command === "repair") readDataChoice(values as CheckFlags);
  if (values["dry-run"] && !["backup", "restore", "delete", "forget"].includes(command)) {
    throw new UsageError("--dry-run goes with backup, restore, delete and forget");
  }
}

/** The snapshot flags go with their commands, and not with today's per-file ones. */
function checkSnapshotFlags(command: Command, values: Record<string, unknown>): void {
  for (const [flag, commands] of SNAPSHOT_FLAGS) {
    if (values[flag] !== undefined && !commands.includes(command)) {
      throw new UsageError(`--${flag} goes with ${commands.join(", ")}`);
    }
  }
  if (values.files && command !== "backup") throw new UsageError("--files goes with backup");
  const snapshotFlag =
    SNAPSHOT_FLAGS.find(([flag]) =>
      values[flag] !== undefined && !["host", "tag", "path"].includes(flag)
    )?.[0] ?? (["host", "tag"].find((flag) => values[flag] !== undefined));
  const fileFlag = FILE_FLAGS.find((flag) => values[flag] !== undefined && values[flag] !== false);
  const snapshotCommand = ["snapshots", "ls", "find", "diff", "dump", "check", "prune", "repair"]
    .concat(["init", "key"]).includes(command);
  if (values.files && snapshotFlag) {
    throw new UsageError(`--${snapshotFlag} makes a snapshot; --files backs up file by file`);
  }
  if (snapshotFlag && fileFlag && (command === "backup" || command === "restore")) {
    throw new UsageError(
      `--${fileFlag === "version-id" ? "version" : fileFlag} is for files stored one by one; ` +
        `--${snapshotFlag} for snapshots: they do not go together`,
    );
  }
  if (snapshotCommand && fileFlag && !(command === "key" && fileFlag === "force")) {
    throw new UsageError(`--${fileFlag} does not go with ${command}`);
  }
  if (values["stdin-filename"] !== undefined && !values.stdin) {
    throw new UsageError("--stdin-filename goes with --stdin");
  }
  const restoreFlag = ["host", "path", "tag", "include"].find((flag) => values[flag] !== undefined);
  if (command === "restore" && values.target === undefined && restoreFlag) {
    throw new UsageError(`--${restoreFlag} goes with restore SNAPSHOT --target DIR`);
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
