/**
 * `check`, as restic's, from the client (docs/keys_plan.md §7), in two passes over an injected
 * session:
 *
 * 1. Every snapshot's trees are read, each tree once across all snapshots (a `BoundedIdSet` of
 *    tree ids seen), depth first with a few reads in flight; each tree is checked against its id
 *    as it is read (the session's `get`) and decoded strictly. Every data blob a tree names is
 *    asked about once (a second `BoundedIdSet`) with `missing`, in batches; with `readData`, the
 *    data blobs it selects that the server has are fetched, each once, and checked against their
 *    ids the same way (a blob that is not the one asked for, or does not decode, is a bad blob).
 * 2. Only if something was bad: every snapshot is walked again with paths, and each file that
 *    needs a bad blob (and each folder whose tree is bad) is named, once per snapshot. A subtree
 *    found clean is remembered (bounded too) and not read again.
 *
 * Memory is bounded by the options, not by the repository: the id sets (64 bytes an id at most,
 * grown as needed), the bad ids (`maxBadIds`), the blobs in flight (`readAhead` × 8 MiB), the stack
 * of folders still to read (at most the entries of the trees on one path), and in pass 2 one tree
 * per folder on the current path. A full id set costs only time (a tree read or a blob asked
 * again), never a result.
 *
 * @module
 */
import { BlobUnavailableError } from "./blobs.ts";
import type { BlobId, BlobSink, BlobSource } from "./blobs.ts";
import { CorruptTreeError, decodeTree, type Tree } from "../../protocol/v3/tree.ts";
import { ServerRefusedError } from "../client_errors.ts";
import { readSnapshotList, type SnapshotSessionLike } from "./snapshot_session.ts";
import { filterSnapshots, type SnapshotFilter, type SnapshotInfo } from "./snapshot_select.ts";
import { BoundedIdSet } from "./check_ids.ts";
import { UnsafeSnapshotError } from "./restore_errors.ts";

/** What `check` needs of a session: the snapshot list, `missing`, and checked blobs. */
export type CheckSession =
  & BlobSource
  & Pick<BlobSink, "missing">
  & Pick<SnapshotSessionLike, "listSnapshots">;

/** Bad blobs (and damaged folders) remembered for naming, by default. */
export const DEFAULT_MAX_BAD_IDS = 100_000;

/** Settings of a check; each has a default. */
export interface CheckOptions {
  /** Which snapshots (default: all). */
  filter?: SnapshotFilter;
  /** Fetch and check the data blobs this accepts (`subsetOf`); absent: structure only. */
  readData?: (id: BlobId) => boolean;
  /** Tree ids remembered (default 1,048,576: at most 64 MiB). */
  maxTreeIds?: number;
  /** Data blob ids remembered (default 2,097,152: at most 128 MiB). */
  maxDataIds?: number;
  /** Bad blobs remembered for naming the files (default 100,000); more are counted only. */
  maxBadIds?: number;
  /** Trees read at once (default 8). */
  treesAhead?: number;
  /** Data blobs read at once (default 8). */
  readAhead?: number;
  /** Folders nested at most this deep (default 1024). */
  maxDepth?: number;
  /** Folders one snapshot's naming pass enters at most (default 100,000,000, as `walkTree`'s). */
  maxVisits?: number;
  /** Called after each step with the counts so far (the caller throttles what it draws). */
  onProgress?: (counts: CheckCounts) => void;
  /** Called for each file (or folder) of a snapshot that needs a bad blob. */
  onProblem?: (problem: CheckProblem) => void;
}

/** What a check got through. */
export interface CheckCounts {
  /** Snapshots checked. */
  snapshots: number;
  /** Trees read and checked (each once, unless the set of those seen was full). */
  trees: number;
  /** Data blobs asked about (each once, unless the set of those seen was full). */
  blobs: number;
  /** Data blobs fetched and checked. */
  blobsRead: number;
  /** Their raw bytes. */
  bytesRead: number;
  /** Bad blobs: missing, unreadable, or not what their id says. */
  errors: number;
}

/** A path of a snapshot that needs a bad blob. */
export interface CheckProblem {
  snapshot: SnapshotInfo;
  /** The file's path, or the folder's for a bad tree (`/` for the root). */
  path: string;
  /** The (first) bad blob it needs, and what is wrong with it. */
  blob: BlobId;
  kind: "data" | "tree";
  reason: string;
}

/** The outcome: the counts, the paths named, and whether an id set filled up. */
export interface CheckReport extends CheckCounts {
  /** Paths named (each file or folder once per snapshot). */
  problems: number;
  /** Snapshots with at least one path named. */
  damagedSnapshots: number;
  /** A set of ids seen was full: some work was done twice. */
  seenFull: boolean;
}

const MISSING_BATCH = 8192;

/**
 * Checks the snapshots `options.filter` lets through; see the module comment.
 *
 * @throws {UnsafeSnapshotError} for folders nested deeper than `maxDepth`; what the session
 *   throws for anything but a bad blob (a lost connection, a broken protocol).
 * @example
 * ```ts ignore
 * const report = await checkSnapshots(session, { readData: subsetOf("1/5"), onProblem: console.log });
 * if (report.errors > 0) Deno.exit(1);
 * ```
 */
export async function checkSnapshots(
  session: CheckSession,
  options: CheckOptions = {},
): Promise<CheckReport> {
  const snapshots = filterSnapshots(await readSnapshotList(session), options.filter ?? {});
  const state = new CheckState(options);
  state.counts.snapshots = snapshots.length;
  await scan(session, snapshots, state, options);
  const report: CheckReport = {
    ...state.counts,
    problems: 0,
    damagedSnapshots: 0,
    seenFull: false,
  };
  report.seenFull = state.trees.full || state.data.full;
  if (state.counts.errors === 0) return report;
  state.releaseSeen();
  const clean = new BoundedIdSet(options.maxTreeIds ?? 1 << 20);
  for (const snapshot of snapshots) {
    const named = await nameProblems(session, snapshot, state, clean, options);
    report.problems += named;
    if (named > 0) report.damagedSnapshots++;
  }
  return report;
}

/** Whether `error`, met fetching a blob, is that blob's fault (the check goes on). */
function isBlobFailure(error: unknown): boolean {
  return error instanceof BlobUnavailableError || error instanceof CorruptTreeError ||
    error instanceof ServerRefusedError;
}

/** What a check holds while it runs. */
class CheckState {
  counts: CheckCounts = { snapshots: 0, trees: 0, blobs: 0, blobsRead: 0, bytesRead: 0, errors: 0 };
  trees: BoundedIdSet;
  data: BoundedIdSet;
  readonly bad = new Map<BlobId, string>();
  readonly #maxBad: number;
  #fatal: { error: unknown } | undefined;

  constructor(options: CheckOptions) {
    this.trees = new BoundedIdSet(options.maxTreeIds ?? 1 << 20);
    this.data = new BoundedIdSet(options.maxDataIds ?? 1 << 21);
    this.#maxBad = options.maxBadIds ?? DEFAULT_MAX_BAD_IDS;
  }

  /** Records a bad blob; rethrows (later, through `rethrow`) an error that is not one. */
  failed(id: BlobId, error: unknown): void {
    if (!isBlobFailure(error)) {
      this.#fatal ??= { error };
      return;
    }
    if (this.bad.has(id)) return;
    this.counts.errors++;
    if (this.bad.size < this.#maxBad) this.bad.set(id, (error as Error).message);
  }

  /** Throws the first error that was not a bad blob's. */
  rethrow(): void {
    if (this.#fatal) throw this.#fatal.error;
  }

  /** Lets go of pass 1's sets (pass 2 keeps its own). */
  releaseSeen(): void {
    this.trees = new BoundedIdSet(1);
    this.data = new BoundedIdSet(1);
  }
}

/** Pass 1: every tree once, every data blob asked about once, the selected ones read. */
async function scan(
  session: CheckSession,
  snapshots: SnapshotInfo[],
  state: CheckState,
  options: CheckOptions,
): Promise<void> {
  const treesAhead = options.treesAhead ?? 8;
  const readAhead = options.readAhead ?? 8;
  const progress = () => options.onProgress?.({ ...state.counts });
  const reads = new Set<Promise<void>>();
  let asking: BlobId[] = [];

  const read = async (id: BlobId) => {
    while (reads.size >= readAhead) await Promise.race(reads);
    state.rethrow();
    const done: Promise<void> = session.get(id, "data").then((raw) => {
      state.counts.blobsRead++;
      state.counts.bytesRead += raw.length;
    }, (error) => state.failed(id, error)).finally(() => {
      reads.delete(done);
      progress();
    });
    reads.add(done);
  };
  const ask = async () => {
    const batch = asking;
    asking = [];
    if (batch.length === 0) return;
    const missing = await session.missing(batch);
    for (const [i, id] of batch.entries()) {
      if (missing[i]) state.failed(id, new BlobUnavailableError(id, "the server has no such blob"));
      else if (options.readData?.(id)) await read(id);
    }
    progress();
  };

  const stack: BlobId[] = [];
  for (const snapshot of snapshots) {
    if (state.trees.add(snapshot.record.tree)) stack.push(snapshot.record.tree);
  }
  while (stack.length > 0) {
    const wave = stack.splice(Math.max(0, stack.length - treesAhead));
    const got = await Promise.allSettled(wave.map((id) => session.get(id, "tree")));
    for (const [i, result] of got.entries()) {
      const tree = decoded(wave[i], result, state);
      if (!tree) continue;
      state.counts.trees++;
      for (const entry of tree.entries) {
        if (entry.type === "dir") {
          if (state.trees.add(entry.subtree)) stack.push(entry.subtree);
        } else if (entry.type === "file") {
          for (const id of entry.content) {
            if (!state.data.add(id)) continue;
            state.counts.blobs++;
            asking.push(id);
            if (asking.length >= MISSING_BATCH) await ask();
          }
        }
      }
    }
    state.rethrow();
    progress();
  }
  await ask();
  await Promise.all(reads);
  state.rethrow();
}

/** The tree a settled read gave, or `undefined` after recording why not. */
function decoded(
  id: BlobId,
  result: PromiseSettledResult<Uint8Array>,
  state: CheckState,
): Tree | undefined {
  if (result.status === "rejected") {
    state.failed(id, result.reason);
    return undefined;
  }
  try {
    return decodeTree(result.value);
  } catch (error) {
    state.failed(id, error);
    return undefined;
  }
}

/** Pass 2 for one snapshot: names each path that needs a bad blob; resolves how many. */
async function nameProblems(
  session: CheckSession,
  snapshot: SnapshotInfo,
  state: CheckState,
  clean: BoundedIdSet,
  options: CheckOptions,
): Promise<number> {
  const maxDepth = options.maxDepth ?? 1024;
  const maxVisits = options.maxVisits ?? 100_000_000;
  let named = 0;
  let visits = 0;
  // Damaged folders met already, with where: another path to one is named once, not entered
  // (folders shared by many paths would otherwise be walked once per path: 2^depth).
  const damaged = new Map<BlobId, string>();
  const report = (path: string, blob: BlobId, kind: "data" | "tree", reason?: string) => {
    named++;
    reason ??= state.bad.get(blob) ?? "unreadable";
    options.onProblem?.({ snapshot, path, blob, kind, reason });
  };
  // Resolves whether anything below `id` is bad. Trees are hashed: no folder contains itself.
  const visit = async (id: BlobId, path: string, depth: number): Promise<boolean> => {
    if (state.bad.has(id)) {
      report(path, id, "tree");
      return true;
    }
    if (clean.has(id)) return false;
    const first = damaged.get(id);
    if (first !== undefined) {
      report(path, id, "tree", `the same folder as ${first}, named above`);
      return true;
    }
    if (depth > maxDepth) {
      throw new UnsafeSnapshotError(path, `folders nested deeper than ${maxDepth}`);
    }
    if (++visits > maxVisits) {
      throw new UnsafeSnapshotError(path, `more than ${maxVisits} folders to look through`);
    }
    let tree: Tree;
    try {
      tree = decodeTree(await session.get(id, "tree"));
    } catch (error) {
      // Read well in pass 1 (or its failure was not kept): bad now.
      state.failed(id, error);
      state.rethrow();
      report(path, id, "tree");
      return true;
    }
    let bad = false;
    for (const entry of tree.entries) {
      const at = path.endsWith("/") ? `${path}${entry.name}` : `${path}/${entry.name}`;
      if (entry.type === "file") {
        const hit = entry.content.find((blob) => state.bad.has(blob));
        if (hit !== undefined) {
          report(at, hit, "data");
          bad = true;
        }
      } else if (entry.type === "dir" && await visit(entry.subtree, at, depth + 1)) bad = true;
    }
    if (!bad) clean.add(id);
    else if (damaged.size < (options.maxBadIds ?? DEFAULT_MAX_BAD_IDS)) damaged.set(id, path);
    return bad;
  };
  await visit(snapshot.record.tree, "/", 0);
  return named;
}
