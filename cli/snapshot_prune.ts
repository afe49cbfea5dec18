/**
 * `prune` (and `forget --prune`'s second half): asks the server to collect the user's garbage now
 * (`Prune`, docs/keys_plan.md §6) and prints what the user's usage dropped by: `freed N bytes
 * (1.2 MiB), M packs removed` (a JSON line with `--json`). Blobs of a backup still open and blobs
 * younger than the server's grace period stay until a later prune.
 *
 * @module
 */
import type { PruneResult } from "../client/session_v3.ts";
import { BackupError } from "../common/backup_error.ts";
import { ExitCode } from "./flags.ts";
import { formatBytes } from "./progress.ts";
import type { SnapshotContext } from "./snapshot_context.ts";

/** The session cannot prune (a session that is not a version 3 connection's). */
export class PruneUnavailableError extends BackupError {}

/** A session that can ask for a prune (`SessionV3`). */
interface PruneCapable {
  prune(): Promise<PruneResult>;
}

/**
 * Sends the prune and prints its outcome; resolves it.
 *
 * @throws {PruneUnavailableError} if the session cannot prune; what the session throws
 *   (`ServerRefusedError` code 3 for an append-only account, 8 when another server prunes now).
 */
export async function pruneAndReport(context: SnapshotContext): Promise<PruneResult> {
  const session = context.session as Partial<PruneCapable>;
  if (typeof session.prune !== "function") {
    throw new PruneUnavailableError("this session cannot ask the server to prune");
  }
  const result = await session.prune();
  const { bytesFreed, packsRemoved } = result;
  context.output.result(
    { ok: true, op: "prune", bytesFreed, packsRemoved },
    `freed ${bytesFreed} bytes (${formatBytes(bytesFreed)}), ${packsRemoved} pack` +
      `${packsRemoved === 1 ? "" : "s"} removed`,
  );
  return result;
}

/** Runs `prune`; resolves its exit code. */
export async function snapshotPrune(context: SnapshotContext): Promise<number> {
  await pruneAndReport(context);
  return ExitCode.Ok;
}
