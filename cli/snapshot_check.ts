/**
 * `check [--read-data | --read-data-subset n/t|N%] [--host H] [--json]`: the repository's
 * snapshots checked from the client (`client/snapshot/check.ts`), as restic's `check`: each path
 * that needs a missing or damaged blob is printed (`snapshot 1a2b3c4d: /home/u/a.txt: REASON`; a
 * JSON line with `--json`) as it is found, then a summary; the exit code is 0 only if nothing was
 * wrong, else 1 ("check found errors"). A count of trees and blobs shows on a terminal meanwhile.
 *
 * @module
 */
import { type CheckCounts, type CheckReport, checkSnapshots } from "../client/snapshot/check.ts";
import { printable } from "../client/safe_paths.ts";
import { ExitCode } from "./flags.ts";
import { formatBytes } from "./progress.ts";
import { flagFilter, type SnapshotContext } from "./snapshot_context.ts";
import { MIN_REDRAW_MS, progressMode } from "./snapshot_progress.ts";
import { shortId } from "./snapshot_render.ts";
import { type CheckFlags, readDataChoice } from "./check_flags.ts";

export { CHECK_FLAG_NAMES, CHECK_FLAGS, type CheckFlags, readDataChoice } from "./check_flags.ts";

/** Runs `check`; resolves its exit code. */
export async function snapshotCheck(context: SnapshotContext): Promise<number> {
  const { session, output, flags } = context;
  const readData = readDataChoice(flags as CheckFlags);
  const draw = drawer(progressMode(flags) === "line");
  const report = await checkSnapshots(session, {
    filter: flagFilter(flags, false),
    readData,
    onProgress: draw.counts,
    onProblem: ({ snapshot, path, blob, kind, reason }) => {
      draw.clear();
      if (output.json) {
        console.log(
          JSON.stringify({ op: "check", snapshot: snapshot.id, path, blob, kind, reason }),
        );
      } else console.log(`snapshot ${shortId(snapshot.id)}: ${printable(path)}: ${reason}`);
    },
  });
  draw.clear();
  if (report.seenFull) {
    output.note("note: more ids than check keeps in memory: some trees or blobs were read twice");
  }
  const ok = report.errors === 0;
  output.result(
    { ok, op: "check", readData: readData !== undefined, ...report },
    `${report.snapshots} snapshots, ${report.trees} trees, ${report.blobs} data blobs checked` +
      (readData ? `, ${report.blobsRead} read (${formatBytes(report.bytesRead)})` : "") +
      `: ${ok ? "no errors" : damage(report)}`,
  );
  if (ok) return ExitCode.Ok;
  output.warn("check found errors");
  return ExitCode.Failure;
}

/** `2 bad blobs, 3 paths in 2 snapshots need them`. */
function damage(report: CheckReport): string {
  const count = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;
  return `${count(report.errors, "bad blob")}, ${count(report.problems, "path")} in ` +
    `${count(report.damagedSnapshots, "snapshot")} need${report.problems === 1 ? "s" : ""} ` +
    (report.errors === 1 ? "it" : "them");
}

/** A count redrawn on a terminal at most 10 times a second; nothing elsewhere. */
function drawer(line: boolean) {
  const encoder = new TextEncoder();
  let last = -Infinity;
  let drawn = false;
  const write = (text: string) => Deno.stderr.writeSync(encoder.encode(text));
  return {
    counts(counts: CheckCounts): void {
      if (!line) return;
      const now = performance.now();
      if (now - last < MIN_REDRAW_MS) return;
      last = now;
      write(
        `\r\x1b[K${counts.trees} trees, ${counts.blobs} blobs checked, ${counts.blobsRead} read ` +
          `(${formatBytes(counts.bytesRead)}), ${counts.errors} errors`,
      );
      drawn = true;
    },
    clear(): void {
      if (drawn) write("\r\x1b[K");
      drawn = false;
    },
  };
}
