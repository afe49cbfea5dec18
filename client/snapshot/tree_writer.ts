/**
 * A folder's tree, once its entries are known: encoded canonically, hashed, and handed to the
 * pipeline with its refs. Counts the folders open at once (walked, tree not yet sent), which the
 * archiver's design bounds by readers × depth, not by the number of files.
 *
 * @module
 */
import { BackupError } from "../../common/backup_error.ts";
import { CorruptTreeError, encodeTree, type TreeEntry, treeRefs } from "../../protocol/v3/tree.ts";
import type { BlobId } from "./blobs.ts";
import type { BlobPipeline } from "./blob_pipeline.ts";
import { blobIdOf } from "./file_chunks.ts";

/** A run that cannot make a snapshot (no path could be read, a folder too large for a tree). */
export class ArchiveError extends BackupError {}

/** See the module comment. */
export class TreeWriter {
  readonly #pipeline: BlobPipeline;
  readonly #blobId: (raw: Uint8Array) => BlobId;
  #open = 0;
  /** The most folders open at once. */
  peakOpen = 0;

  /**
   * @param pipeline where trees go
   * @param blobId names a tree's bytes (the repository's ids)
   */
  constructor(pipeline: BlobPipeline, blobId: (raw: Uint8Array) => BlobId = blobIdOf) {
    this.#pipeline = pipeline;
    this.#blobId = blobId;
  }

  /** A folder's walk started. */
  opened(): void {
    this.#open++;
    this.peakOpen = Math.max(this.peakOpen, this.#open);
  }

  /** A walked folder's tree was sent. */
  closed(): void {
    this.#open--;
  }

  /**
   * Sends the tree of `entries` (those left out are `undefined`) and returns its id.
   *
   * @throws {ArchiveError} naming `path` if the folder cannot be one tree (too many entries).
   */
  async save(entries: (TreeEntry | undefined)[], path: string): Promise<BlobId> {
    const tree = { entries: entries.filter((entry) => entry !== undefined) };
    let raw: Uint8Array;
    try {
      raw = encodeTree(tree);
    } catch (error) {
      if (!(error instanceof CorruptTreeError)) throw error;
      throw new ArchiveError(`${path}: cannot be stored as one folder: ${error.message}`);
    }
    const id = this.#blobId(raw);
    await this.#pipeline.add({ id, kind: "tree", raw, refs: treeRefs(tree) });
    return id;
  }
}
