/**
 * What a backup run tells while it works: events the CLI draws (a progress line, `--json` lines)
 * and the counters the snapshot's summary is made of. The archiver only emits; rendering, rates and
 * time left are the CLI's.
 *
 * @module
 */
import type { SnapshotSummary } from "../../protocol/v3/snapshot.ts";

/** What went wrong with one path; the run goes on without it (or with what could be read). */
export type ProblemKind =
  /** It could not be listed, opened or read: left out of the snapshot. */
  | "unreadable"
  /** Its size changed while it was read: what was read is stored, flagged here. */
  | "changed"
  /** Its name or link target cannot be stored (see `protocol/v3/tree.ts`): left out. */
  | "unstorable";

/** One event of a run, in the order things happened. */
export type ArchiveEvent =
  /** How much the paths hold, counted by a scan beside the run (`complete` once it ended). */
  | { type: "totals"; files: number; dirs: number; bytes: number; complete: boolean }
  /** A file is being read (it is new or changed): the "current file". */
  | { type: "file"; path: string; size: number }
  /** Counters after a file or folder is done. */
  | { type: "progress"; filesDone: number; dirsDone: number; bytesDone: number; bytesSent: number }
  /** Left out on purpose and worth saying: a special file (device, FIFO, socket). */
  | { type: "warning"; path: string; reason: string }
  /** A path that could not be stored as it is (see `ProblemKind`); counted in `errors`. */
  | { type: "error"; path: string; kind: ProblemKind; reason: string }
  /** The run ended; `errors` paths were left out or stored as they changed. */
  | { type: "done"; summary: SnapshotSummary; errors: number; warnings: number };

/** Receives the run's events; it must not throw (an exception is reported and ignored). */
export type ArchiveListener = (event: ArchiveEvent) => void;

/**
 * The run's counters and its one emitter.
 *
 * @example
 * ```ts
 * import { Progress } from "./progress.ts";
 * import assert from "node:assert/strict";
 * const seen: string[] = [];
 * const progress = new Progress((event) => seen.push(event.type));
 * progress.fileDone(10, "new");
 * progress.error("/x", "unreadable", "permission denied");
 * assert.deepEqual(seen, ["progress", "error"]);
 * assert.equal(progress.summary(0).filesNew, 1);
 * ```
 */
export class Progress {
  files = 0;
  dirs = 0;
  bytes = 0;
  filesNew = 0;
  filesChanged = 0;
  filesUnmodified = 0;
  errors = 0;
  warnings = 0;
  /** Raw bytes of blobs sent so far (the pipeline updates it). */
  bytesSent = 0;
  readonly #listener?: ArchiveListener;

  /** @param listener where events go (none: counters only) */
  constructor(listener?: ArchiveListener) {
    this.#listener = listener;
  }

  /** Sends `event` to the listener, which must not break the run. */
  emit(event: ArchiveEvent): void {
    if (!this.#listener) return;
    try {
      this.#listener(event);
    } catch (error) {
      console.error("archive progress listener failed:", error);
    }
  }

  /** A file of `size` bytes is in the snapshot; `how` it compared with the parent. */
  fileDone(size: number, how: "new" | "changed" | "unmodified"): void {
    this.files++;
    this.bytes += size;
    if (how === "new") this.filesNew++;
    else if (how === "changed") this.filesChanged++;
    else this.filesUnmodified++;
    this.#progress();
  }

  /** A folder's tree is known. */
  dirDone(): void {
    this.dirs++;
    this.#progress();
  }

  /** A path left out with a warning (special files). */
  warning(path: string, reason: string): void {
    this.warnings++;
    this.emit({ type: "warning", path, reason });
  }

  /** A path that could not be stored as it is. */
  error(path: string, kind: ProblemKind, reason: string): void {
    this.errors++;
    this.emit({ type: "error", path, kind, reason });
  }

  /** The summary for the snapshot record; `bytesAdded` is what the pipeline sent of file data. */
  summary(bytesAdded: number): SnapshotSummary {
    return {
      files: this.files,
      dirs: this.dirs,
      bytes: this.bytes,
      filesNew: this.filesNew,
      filesChanged: this.filesChanged,
      filesUnmodified: this.filesUnmodified,
      bytesAdded,
    };
  }

  #progress(): void {
    this.emit({
      type: "progress",
      filesDone: this.files,
      dirsDone: this.dirs,
      bytesDone: this.bytes,
      bytesSent: this.bytesSent,
    });
  }
}

/** Why an operation failed, for an event: the error's message, with Deno's common ones named. */
export function reasonOf(error: unknown): string {
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (error instanceof Deno.errors.NotFound) return "no such file or folder";
  return error instanceof Error ? error.message : String(error);
}
