/**
 * The snapshot commands that only read: `snapshots`, `ls`, `find`, `diff` and `dump` (a folder as
 * a tar archive). The work is `client/snapshot/`'s; these pick snapshots as the flags say and
 * print.
 *
 * @module
 */
import { readSnapshotList } from "../client/snapshot/snapshot_session.ts";
import { filterSnapshots } from "../client/snapshot/snapshot_select.ts";
import { findInSnapshots, findMatcher } from "../client/snapshot/snapshot_find.ts";
import { resolvePath, walkTree } from "../client/snapshot/tree_walk.ts";
import { diffTrees } from "../client/snapshot/tree_diff.ts";
import { readFile } from "../client/snapshot/file_content.ts";
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
import { dumpTar } from "../client/snapshot/tar_dump.ts";
import { flagFilter, pickSnapshot, type SnapshotContext } from "./snapshot_context.ts";

/** `snapshots`: the list, filtered by `--host`, `--tag`, `--path`. */
export async function snapshots(context: SnapshotContext): Promise<number> {
  const { output, flags } = context;
  const list = filterSnapshots(await readSnapshotList(context.session), flagFilter(flags, false));
  if (output.json) console.log(JSON.stringify(list.map(snapshotJson)));
  else console.log(snapshotTable(list));
  return ExitCode.Ok;
}

/** `ls SNAPSHOT[:PATH] [PATH]`: the entries under a path of a snapshot. */
export async function ls(
  name: string,
  path: string | undefined,
  context: SnapshotContext,
): Promise<number> {
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

/** `find PATTERN`: the entries whose names match, newest snapshot first. */
export async function find(pattern: string, context: SnapshotContext): Promise<number> {
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

/** `diff A B`: what changed between two snapshots (or folders of them). */
export async function diff(a: string, b: string, context: SnapshotContext): Promise<number> {
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

/** `dump SNAPSHOT PATH`: a file's bytes, or a folder as a tar archive, on stdout. */
export async function dump(name: string, path: string, context: SnapshotContext): Promise<number> {
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
