/**
 * The snapshot commands of the client's command line (docs/snapshots_plan.md §6): `snapshots`,
 * `ls`, `find`, `diff`, `dump` here; `backup` (a snapshot) in `snapshot_backup.ts`, `restore
 * SNAPSHOT --target DIR` in `snapshot_restore.ts`, `forget` in `snapshot_forget.ts`, `check` in
 * `snapshot_check.ts`, `prune` in `snapshot_prune.ts`, `repair` in `snapshot_repair.ts`. The work is `client/snapshot/`'s; this module picks snapshots as the flags
 * say and prints.
 *
 * @module
 */
import { readSnapshotList } from "../client/snapshot/snapshot_session.ts";
import { filterSnapshots } from "../client/snapshot/snapshot_select.ts";
import { findInSnapshots, findMatcher } from "../client/snapshot/snapshot_find.ts";
import { diffTrees, readFile, resolvePath, walkTree } from "../client/snapshot/tree_walk.ts";
import { printable } from "../client/safe_paths.ts";
import { ExitCode, UsageError } from "./flags.ts";
import {
  entryJson,
  localTime,
  lsLine,
  shortId,
  snapshotJson,
  snapshotTable,
} from "./snapshot_render.ts";
import { snapshotBackup } from "./snapshot_backup.ts";
import { snapshotRestore } from "./snapshot_restore.ts";
import { snapshotForget } from "./snapshot_forget.ts";
import { snapshotCheck } from "./snapshot_check.ts";
import { snapshotPrune } from "./snapshot_prune.ts";
import { snapshotRepair } from "./snapshot_repair.ts";
import { dumpTar } from "../client/snapshot/tar_dump.ts";
import { initCommand, keyCommand, type KeyContext } from "./key_command.ts";
import { flagFilter, pickSnapshot, type SnapshotContext } from "./snapshot_context.ts";

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
      return await snapshotBackup(operands, context);
    case "restore":
      return await snapshotRestore(operands[0], context);
    case "snapshots":
      return await snapshots(context);
    case "ls":
      return await ls(operands[0], operands[1], context);
    case "find":
      return await find(operands[0], context);
    case "diff":
      return await diff(operands[0], operands[1], context);
    case "dump":
      return await dump(operands[0], operands[1], context);
    case "forget":
      return await snapshotForget(operands, context);
    case "check":
      return await snapshotCheck(context);
    case "prune":
      return await snapshotPrune(context);
    case "repair":
      return await snapshotRepair(context);
    case "init":
      return await initCommand(keyContext(context));
    case "key":
      return await keyCommand(operands, keyContext(context));
  }
  throw new UsageError(`${command} does not work on snapshots`);
}

/** `init` and `key` need the session's key slots. @throws {UsageError} if it has none. */
function keyContext(context: SnapshotContext): KeyContext {
  if (!context.keys) throw new UsageError("this session has no key slots (protocol v3 needed)");
  return { ...context, keys: context.keys };
}

async function snapshots(context: SnapshotContext): Promise<number> {
  const { output, flags } = context;
  const list = filterSnapshots(await readSnapshotList(context.session), flagFilter(flags, false));
  if (output.json) console.log(JSON.stringify(list.map(snapshotJson)));
  else console.log(snapshotTable(list));
  return ExitCode.Ok;
}

async function ls(name: string, path: string | undefined, context: SnapshotContext) {
  const { session, output, flags } = context;
  const picked = await pickSnapshot(name, context);
  const { snapshot } = picked;
  const at = await resolvePath(session, snapshot.record.tree, path ?? picked.path ?? "/");
  output.note(
    `snapshot ${shortId(snapshot.id)} of ${snapshot.record.paths.join(", ")} at ` +
      `${localTime(snapshot.record.timeMs)} on ${snapshot.record.host}:`,
  );
  const print = (p: string, entry: Parameters<typeof lsLine>[1]) =>
    output.json
      ? console.log(JSON.stringify(entryJson(p, entry)))
      : console.log(lsLine(p, entry, flags.long ?? false));
  if (at.entry) print(at.path, at.entry);
  if (at.tree !== undefined) {
    for await (const { path: p, entry } of walkTree(session, at.tree, at.path)) print(p, entry);
  }
  return ExitCode.Ok;
}

async function find(pattern: string, context: SnapshotContext): Promise<number> {
  const { session, output, flags } = context;
  const list = filterSnapshots(await readSnapshotList(session), flagFilter(flags, true))
    .reverse(); // newest first
  const match = findMatcher(pattern);
  let found = 0;
  let shown: string | undefined;
  for await (const hit of findInSnapshots(session, list, match)) {
    found++;
    if (output.json) {
      console.log(JSON.stringify({ snapshot: hit.snapshot.id, ...entryJson(hit.path, hit.entry) }));
      continue;
    }
    if (shown !== hit.snapshot.id) {
      shown = hit.snapshot.id;
      console.log(
        `${found > 1 ? "\n" : ""}Found matching entries in snapshot ${shortId(shown)} from ` +
          `${localTime(hit.snapshot.record.timeMs)}`,
      );
    }
    console.log(lsLine(hit.path, hit.entry, true));
  }
  if (found === 0) output.note(`no entry matches ${pattern} in ${list.length} snapshot(s)`);
  return ExitCode.Ok;
}

async function diff(a: string, b: string, context: SnapshotContext): Promise<number> {
  const { session, output } = context;
  const before = await pickSnapshot(a, context);
  const after = await pickSnapshot(b, context);
  const beforeAt = await resolvePath(session, before.snapshot.record.tree, before.path ?? "/");
  const afterAt = await resolvePath(session, after.snapshot.record.tree, after.path ?? "/");
  if (beforeAt.tree === undefined || afterAt.tree === undefined) {
    throw new UsageError("diff compares folders: give snapshots, or SNAPSHOT:PATH of a folder");
  }
  output.note(
    `comparing snapshot ${shortId(before.snapshot.id)} to ${shortId(after.snapshot.id)}:`,
  );
  const counts = { "+": 0, "-": 0, M: 0, T: 0, U: 0 };
  for await (const change of diffTrees(session, beforeAt.tree, afterAt.tree, "/")) {
    counts[change.change]++;
    if (output.json) {
      console.log(JSON.stringify({ change: change.change, path: change.path }));
    } else console.log(`${change.change.padEnd(5)}${printable(change.path)}`);
  }
  output.note(
    `${counts["+"]} added, ${counts["-"]} removed, ${counts.M} modified, ` +
      `${counts.T} changed type, ${counts.U} metadata only`,
  );
  return ExitCode.Ok;
}

async function dump(name: string, path: string, context: SnapshotContext): Promise<number> {
  const { session } = context;
  const { snapshot } = await pickSnapshot(name, context);
  const at = await resolvePath(session, snapshot.record.tree, path);
  const write = context.stdout ?? writeStdout;
  if (at.tree) await dumpTar(session, at.tree, at.path, at.entry, write); // a folder: as tar
  else if (at.entry?.type === "file") await readFile(session, at.entry, write);
  else throw new UsageError(`dump writes a file or a folder; ${at.path} is a link (see ls -l)`);
  return ExitCode.Ok;
}

async function writeStdout(bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await Deno.stdout.write(bytes.subarray(written));
}
