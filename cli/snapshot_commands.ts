/**
 * The snapshot commands of the client's command line (docs/snapshots_plan.md §6): which commands
 * run on snapshots, and the dispatch to each: `snapshots`, `ls`, `find`, `diff`, `dump` in
 * `snapshot_browse.ts`; `backup` (a snapshot) in `snapshot_backup.ts`, `restore SNAPSHOT --target
 * DIR` in `snapshot_restore.ts`, `forget` in `snapshot_forget.ts`, `check` in `snapshot_check.ts`,
 * `prune` in `snapshot_prune.ts`, `repair` in `snapshot_repair.ts`, `init` and `key` in
 * `key_command.ts`. Each is imported only when it runs: a command loads its own modules, not every
 * command's (start-up time; `deno compile` still includes them, the specifiers being literals).
 *
 * @module
 */
import { UsageError } from "./flags.ts";
import type { KeyContext } from "./key_command.ts";
import type { SnapshotContext } from "./snapshot_context.ts";

export type { SnapshotContext, SnapshotFlags } from "./snapshot_context.ts";

/** The commands that work on snapshots only (protocol version 3). */
export const SNAPSHOT_COMMANDS = [
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
] as const;

/**
 * Whether `command` with `flags` runs on snapshots: `always` (a snapshot command, `restore
 * --target`, a backup with a snapshot-only flag), `never` (`--files`, a per-file flag, no key), or
 * `if-spoken` (a plain `backup` with a key: a snapshot if the server speaks version 3).
 */
export function snapshotMode(
  command: string,
  flags: Record<string, unknown>,
  hasKey: boolean,
): "always" | "never" | "if-spoken" {
  if ((SNAPSHOT_COMMANDS as readonly string[]).includes(command)) return "always";
  if (command === "restore") return flags.target !== undefined ? "always" : "never";
  if (command !== "backup" || flags.files) return "never";
  const snapshotOnly = ["host", "tag", "one-file-system", "exclude-caches", "exclude-if-present"]
    .concat(["time", "parent", "stdin", "stdin-filename"]).some((f) => flags[f] !== undefined);
  if (snapshotOnly) return "always";
  const filesOnly = ["as", "into", "base", "delete", "checksum", "encrypt", "encrypt-names"]
    .concat(["dry-run", "force", "jobs"]).some((f) => flags[f] !== undefined);
  if (filesOnly || !hasKey) return "never";
  return "if-spoken";
}

/** Runs one snapshot command on `context.session`; resolves its exit code. */
export async function runSnapshotCommand(
  command: string,
  operands: string[],
  context: SnapshotContext,
): Promise<number> {
  switch (command) {
    case "backup":
      return await (await import("./snapshot_backup.ts")).snapshotBackup(operands, context);
    case "restore":
      return await (await import("./snapshot_restore.ts")).snapshotRestore(operands[0], context);
    case "snapshots":
      return await (await import("./snapshot_browse.ts")).snapshots(context);
    case "ls":
      return await (await import("./snapshot_browse.ts")).ls(operands[0], operands[1], context);
    case "find":
      return await (await import("./snapshot_browse.ts")).find(operands[0], context);
    case "diff":
      return await (await import("./snapshot_browse.ts")).diff(operands[0], operands[1], context);
    case "dump":
      return await (await import("./snapshot_browse.ts")).dump(operands[0], operands[1], context);
    case "forget":
      return await (await import("./snapshot_forget.ts")).snapshotForget(operands, context);
    case "check":
      return await (await import("./snapshot_check.ts")).snapshotCheck(context);
    case "prune":
      return await (await import("./snapshot_prune.ts")).snapshotPrune(context);
    case "repair":
      return await (await import("./snapshot_repair.ts")).snapshotRepair(context);
    case "init": {
      const { initCommand } = await import("./key_command.ts");
      return await initCommand(keyContext(context));
    }
    case "key": {
      const { keyCommand } = await import("./key_command.ts");
      return await keyCommand(operands, keyContext(context));
    }
  }
  throw new UsageError(`${command} does not work on snapshots`);
}

/** `init` and `key` need the session's key slots. @throws {UsageError} if it has none. */
function keyContext(context: SnapshotContext): KeyContext {
  if (!context.keys) throw new UsageError("this session has no key slots (protocol v3 needed)");
  return { ...context, keys: context.keys };
}
