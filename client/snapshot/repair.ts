/**
 * `repair` (docs/keys_plan.md §7): `check --read-data`'s detection (`check.ts`), then the bad
 * blobs it named sent to the server (`DropBlobs`), which drops those whose stored bytes really are
 * bad. Nothing is re-sent here: the next backup of the named files does it, since the server then
 * reports those blobs missing (a commit that reaches one is answered with it, and the backup
 * reads its files again).
 *
 * @module
 */
import type { BlobId } from "./blobs.ts";
import {
  type CheckOptions,
  type CheckProblem,
  type CheckReport,
  type CheckSession,
  checkSnapshots,
} from "./check.ts";

/** What `repair` needs of a session: `check`'s, and `dropBlobs`. */
export type RepairSession = CheckSession & {
  /** Tells the server these blobs are damaged (`SessionV3.dropBlobs`). */
  dropBlobs(ids: BlobId[]): Promise<void>;
};

/** What a repair did. */
export interface RepairReport {
  /** The check's report. */
  check: CheckReport;
  /** The bad blobs the server was told of and dropped (each once; trees and data). */
  dropped: BlobId[];
  /**
   * Bad blobs the server kept: its copy checked out when it read it again (the damage was on the
   * way, not in the store), so nothing needs sending again.
   */
  kept: BlobId[];
  /** The paths that need them, once per snapshot (what to back up again). */
  paths: string[];
}

/**
 * Checks the snapshots (every data blob read unless `options.readData` says otherwise), then
 * tells the server of the bad blobs found. Memory: the check's bounds, the bad ids (at most
 * `maxBadIds`) and the distinct paths that need them.
 *
 * @throws what `checkSnapshots` and the session throw.
 * @example
 * ```ts ignore
 * const { dropped, paths } = await repairSnapshots(session, { onProblem: console.log });
 * if (dropped.length > 0) console.log(`back up ${paths.join(", ")} again`);
 * ```
 */
export async function repairSnapshots(
  session: RepairSession,
  options: CheckOptions = {},
): Promise<RepairReport> {
  const bad = new Set<BlobId>();
  const paths = new Set<string>();
  const check = await checkSnapshots(session, {
    ...options,
    readData: options.readData ?? (() => true),
    onProblem: (problem: CheckProblem) => {
      bad.add(problem.blob);
      paths.add(problem.path);
      options.onProblem?.(problem);
    },
  });
  const told = [...bad];
  if (told.length === 0) return { check, dropped: [], kept: [], paths: [] };
  await session.dropBlobs(told);
  // The server drops only what it finds bad itself: what it dropped is what it now lacks.
  const missing = await session.missing(told);
  return {
    check,
    dropped: told.filter((_, i) => missing[i]),
    kept: told.filter((_, i) => !missing[i]),
    paths: [...paths],
  };
}
