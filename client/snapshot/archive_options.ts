/**
 * The options and the result of an archiver run (`archiver.ts`).
 *
 * @module
 */
import type { SnapshotSummary } from "../../protocol/v3/snapshot.ts";
import type { BlobId } from "./blobs.ts";
import type { BlobPipelineOptions, PipelineStats } from "./blob_pipeline.ts";
import type { ByteReader } from "./file_chunks.ts";
import type { ArchiveListener } from "./progress.ts";
import type { ExcludeOptions } from "./walk.ts";

/** Files read at once by default. */
export const DEFAULT_READERS = 4;
/** A file opened for reading: what the archiver needs of a `Deno.FsFile`. */
export interface OpenedFile extends ByteReader {
  close(): void;
}

/** How a run goes; every field is optional. */
export interface ArchiveOptions extends ExcludeOptions {
  /** The parent snapshot's root tree: files unchanged since it are not read. */
  parent?: BlobId;
  /** Receives progress events (see `ArchiveEvent`). */
  onEvent?: ArchiveListener;
  /** Count totals with a scan beside the run (default true; `totals` events). */
  scan?: boolean;
  /** Files read at once (default `DEFAULT_READERS`). */
  readers?: number;
  /** Bytes asked per read (default `READ_BYTES`). */
  readBytes?: number;
  /** The send window and batches (see `BlobPipeline`). */
  pipeline?: BlobPipelineOptions;
  /** Store owner and group names from `/etc/passwd` and `/etc/group` (default true). */
  ownerNames?: boolean;
  /** Opens a file to read (default `Deno.open`; tests count reads with it). */
  openFile?: (path: string) => Promise<OpenedFile>;
  /** Resolves relative paths (default `Deno.cwd()`). */
  cwd?: string;
}

/** What a run made. */
export interface ArchiveResult {
  /** The root tree's id: the snapshot record's `tree`. */
  tree: BlobId;
  summary: SnapshotSummary;
  /** Paths left out, unreadable, or stored as they changed (each was an `error` event). */
  errors: number;
  /** Special files left out (each was a `warning` event). */
  warnings: number;
  /** What crossed, and the peaks of what was held (bounded; see the module comment). */
  stats: PipelineStats & { peakOpenDirs: number };
}
