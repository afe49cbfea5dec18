/**
 * One backup run as one snapshot (`backup PATH...` on a v3 session): pick the parent (restic's
 * rule, or the one named), open the upload, archive the paths (or standard input), make the
 * record, and commit it. A commit the server answers with missing blobs (garbage collection took
 * something the run was told it had, or a chunk reused from the parent is gone) is retried after a
 * run without a parent, which reads every file and asks for every id: at most twice.
 *
 * @module
 */
import { BackupError } from "../../common/backup_error.ts";
import { encodeSnapshot, type SnapshotRecord } from "../../protocol/v3/snapshot.ts";
import { archive, type ArchiveOptions, type ArchiveResult, archiveStdin } from "./archiver.ts";
import { readSnapshotList, type SnapshotSessionLike } from "./snapshot_session.ts";
import {
  absolutePaths,
  parentFor,
  parseSnapshotRef,
  selectSnapshot,
  type SnapshotInfo,
} from "./snapshot_select.ts";

/** Runs after a commit the server answered with missing blobs, at most. */
export const MAX_COMMIT_RETRIES = 2;

/** What a snapshot backup is told. */
export interface SnapshotBackupOptions {
  /** The machine (snapshots are per host). */
  host: string;
  /** Who runs the backup, for the record. */
  user: string;
  /** `--tag` values. */
  tags?: string[];
  /** The snapshot's time (`--time`), default now. */
  timeMs?: number;
  /** `--parent ID`: the parent by id or prefix, instead of restic's rule. */
  parent?: string;
  /** Standard input as one file of this name, instead of paths. */
  stdin?: { stream: ReadableStream<Uint8Array>; name: string };
  /** Excludes, progress listener, readers… (`parent` is set here). */
  archive?: Omit<ArchiveOptions, "parent">;
  /** Called once the parent is chosen and before anything is sent. */
  onParent?: (parent: SnapshotInfo | undefined) => void;
  /** Told right before the commit is sent: from then on, the snapshot may be made. */
  onCommitting?: () => void;
}

/** What a snapshot backup made. */
export interface SnapshotBackupResult {
  /** The new snapshot's id. */
  id: string;
  record: SnapshotRecord;
  /** The last archiver run's result (errors, warnings, stats). */
  result: ArchiveResult;
  parent?: SnapshotInfo;
  /** Raw bytes of blobs sent over all runs. */
  bytesSent: number;
}

/** The server kept answering a commit with missing blobs. */
export class SnapshotCommitError extends BackupError {}

/**
 * Makes one snapshot of `paths` (or of `options.stdin`) on `session`.
 *
 * @throws {SnapshotSelectError} for a `--parent` that names no snapshot; {ArchiveError};
 *   {SnapshotCommitError}; what the session throws.
 */
export async function backupSnapshot(
  session: SnapshotSessionLike,
  paths: string[],
  options: SnapshotBackupOptions,
): Promise<SnapshotBackupResult> {
  const cwd = options.archive?.cwd ?? Deno.cwd();
  const recordPaths = options.stdin ? [`/${options.stdin.name}`] : absolutePaths(paths, cwd);
  const list = await readSnapshotList(session);
  const parent = options.parent !== undefined
    ? selectSnapshot(list, parseSnapshotRef(options.parent))
    : options.stdin
    ? undefined
    : parentFor(list, options.host, recordPaths);
  options.onParent?.(parent);
  const timeMs = options.timeMs ?? Date.now();
  await session.openSnapshot();
  let bytesSent = 0;
  for (let attempt = 0;; attempt++) {
    const parentTree = attempt === 0 ? parent?.record.tree : undefined;
    const result = options.stdin
      ? await archiveStdin(options.stdin.stream, options.stdin.name, {
        ...options.archive,
        nowMs: timeMs,
      }, session)
      : await archive(paths, { ...options.archive, parent: parentTree }, session, session);
    bytesSent += result.stats.dataBytesPut + result.stats.treeBytesPut;
    const record: SnapshotRecord = {
      timeMs,
      tree: result.tree,
      paths: recordPaths,
      host: options.host,
      user: options.user,
      tags: options.tags ?? [],
      // A run again without the parent (the server lacked blobs) did not start from it.
      parent: attempt === 0 ? parent?.id : undefined,
      summary: result.summary,
    };
    options.onCommitting?.();
    const outcome = await session.commitSnapshot(encodeSnapshot(record), result.tree);
    if (outcome.committed) return { id: outcome.id, record, result, parent, bytesSent };
    // Standard input cannot be read twice; paths can, without a parent's reused chunk lists.
    if (options.stdin || attempt >= MAX_COMMIT_RETRIES) {
      throw new SnapshotCommitError(
        `the server still lacks ${outcome.missing.length} blob(s) the snapshot names ` +
          `(${outcome.missing[0]?.slice(0, 16)}…): nothing was committed; run the backup again`,
      );
    }
  }
}

/**
 * This machine's name: `Deno.hostname()` where allowed, else `/etc/hostname`, else `localhost`.
 */
export function defaultHost(): string {
  try {
    return Deno.hostname();
  } catch {
    try {
      const text = Deno.readTextFileSync("/etc/hostname").trim();
      if (text) return text;
    } catch {
      // no such file, or not allowed: the fallback below
    }
    return "localhost";
  }
}

/** Who runs this: `$USER` where allowed, else the name of the process's uid, else `""`. */
export function currentUser(): string {
  try {
    const name = Deno.env.get("USER");
    if (name) return name;
  } catch {
    // not allowed to read the environment: try the uid
  }
  try {
    const uid = Deno.uid();
    for (const line of Deno.readTextFileSync("/etc/passwd").split("\n")) {
      const fields = line.split(":");
      if (fields.length > 2 && Number(fields[2]) === uid) return fields[0];
    }
  } catch {
    // no uid or no /etc/passwd here
  }
  return "";
}
