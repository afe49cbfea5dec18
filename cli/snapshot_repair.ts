/**
 * `repair [--read-data-subset n/t|N%] [--host H] [--tag T] [--path P] [--json]`: `check
 * --read-data`'s detection (`client/snapshot/repair.ts`), each path that needs a bad blob printed
 * as `check` prints it, then the bad blobs sent to the server, which drops those whose bytes really
 * are bad. The next backup of those paths sends them again (the server then reports them missing):
 * `repair` says so. Exit 0 once the server was told (or nothing was bad).
 *
 * @module
 */
import { type RepairSession, repairSnapshots } from "../client/snapshot/repair.ts";
import { printable } from "../client/safe_paths.ts";
import { BackupError } from "../common/backup_error.ts";
import { ExitCode } from "./flags.ts";
import { flagFilter, type SnapshotContext } from "./snapshot_context.ts";
import { shortId } from "./snapshot_render.ts";
import { type CheckFlags, readDataChoice } from "./snapshot_check.ts";

/** The session cannot drop blobs (a session that is not a version 3 connection's). */
export class RepairUnavailableError extends BackupError {}

/** Runs `repair`; resolves its exit code. */
export async function snapshotRepair(context: SnapshotContext): Promise<number> {
  const { output, flags } = context;
  const session = context.session as unknown as Partial<RepairSession>;
  if (typeof session.dropBlobs !== "function") {
    throw new RepairUnavailableError("this session cannot tell the server of damaged blobs");
  }
  const subset = (flags as CheckFlags)["read-data-subset"];
  const readData = readDataChoice(
    subset === undefined ? { "read-data": true } : { "read-data-subset": subset },
  );
  const report = await repairSnapshots(session as RepairSession, {
    filter: flagFilter(flags, false),
    readData,
    onProblem: ({ snapshot, path, blob, kind, reason }) => {
      if (output.json) {
        console.log(
          JSON.stringify({ op: "repair", snapshot: snapshot.id, path, blob, kind, reason }),
        );
      } else console.log(`snapshot ${shortId(snapshot.id)}: ${printable(path)}: ${reason}`);
    },
  });
  const { check, dropped, kept, paths } = report;
  const bad = dropped.length;
  if (kept.length > 0) {
    output.warn(
      `the server read ${kept.length} of the blobs found bad again and kept them: its copies ` +
        `check out (damaged on the way here?); run check --read-data again`,
    );
  }
  output.result(
    { ok: true, op: "repair", checked: check.snapshots, dropped, kept, paths },
    bad === 0
      ? `${check.snapshots} snapshots checked: nothing dropped`
      : `the server dropped ${bad} bad blob${bad === 1 ? "" : "s"}; run backup of the named ` +
        `files to heal (the next backup sends ${bad === 1 ? "it" : "them"} again)`,
  );
  return ExitCode.Ok;
}
