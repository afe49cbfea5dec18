/**
 * The restorer: a snapshot's tree (or a path in it) written into a target folder, faithfully, from
 * a `BlobSource` (docs/snapshots_plan.md §4). Two passes over the trees, as restic's restorer: the
 * first counts what will be restored (files and bytes, for progress) and keeps the trees it read
 * (up to `treeCacheBytes`); the second makes folders, links and files, files in batches
 * (`restore_files.ts`: each chunk fetched once per batch, many gets in flight), hard links once
 * their first name is in place, and gives each folder its mode, owner and times once everything in
 * it is done. A path that cannot be restored (a blob missing or damaged, a file-system error) is
 * reported (`onError`, `RestoreReport.failed` and `errors`) and the restore goes on, as restic's.
 *
 * Nothing is written outside the target or through a link: names come from `decodeTree` (one path
 * component each, no duplicates), every folder is made or checked with `lstat` (a link or file in
 * the way is replaced by a real folder, never followed), and files, links and hard links are made
 * new (never through a link): under their names in a folder the restore made (empty, and private
 * until its contents are in place), else under a temporary name and renamed into place.
 *
 * @module
 */
import type { FileEntry } from "../../protocol/v3/tree.ts";
import type { BlobId, BlobSource } from "./blobs.ts";
import { FilePool } from "./restore_file_pool.ts";
import { FileBatcher, WHOLE_FILE_MAX_BYTES } from "./restore_files.ts";
import { PathFilter } from "./restore_filter.ts";
import type { MetadataOptions } from "./restore_metadata.ts";
import { creatorUid, OwnerResolver } from "./restore_owners.ts";
import {
  restoreLimits,
  type RestoreOptions,
  type RestoreProgress,
  type RestoreReport,
} from "./restore_options.ts";
import { resolveRoot, TreeLoader, walkTree } from "./restore_trees.ts";
import { counter, type Folder, Writer } from "./restore_writer.ts";

export type { RestoreOptions, RestoreProgress, RestoreReport } from "./restore_options.ts";
export { RestoreError, UnsafeSnapshotError } from "./restore_errors.ts";

/**
 * Restores the tree `rootTree` (or `options.subPath` in it) into `options.target`.
 *
 * Paths that cannot be restored (a blob missing or not matching, a size that does not add up, a
 * folder in the way, a file-system error) do not stop it: each is counted in `failed` (the first
 * ones kept in `errors`) and given to `options.onError`; nothing half-written is left of them.
 *
 * @throws {RestoreError} if the snapshot's root or `subPath` cannot be read or found;
 *   {UnsafeSnapshotError} for a loop or a limit passed; what the source throws for a lost
 *   connection; the signal's reason. Files already in place stay; no half-written file is left
 *   under a final name.
 * @example
 * ```ts
 * import { restore } from "./restorer.ts";
 * import { encodeTree } from "../../protocol/v3/tree.ts";
 * import { createHash } from "node:crypto";
 * import assert from "node:assert/strict";
 * const blobs = new Map<string, Uint8Array>();
 * const put = (bytes: Uint8Array) => {
 *   const id = createHash("sha256").update(bytes).digest("hex");
 *   blobs.set(id, bytes);
 *   return id;
 * };
 * const meta = { mode: 0o640, mtimeMs: 1e12, atimeMs: 1e12, uid: 0, gid: 0, inode: 1, device: 1, links: 1 };
 * const hello = put(new TextEncoder().encode("hello"));
 * const root = put(encodeTree({ entries: [{ ...meta, name: "a.txt", type: "file", size: 5, content: [hello] }] }));
 * const source = { get: (id: string) => Promise.resolve(blobs.get(id)!) };
 * const target = await Deno.makeTempDir();
 * const report = await restore(source, root, { target });
 * assert.equal(report.files, 1);
 * assert.equal(await Deno.readTextFile(`${target}/a.txt`), "hello");
 * await Deno.remove(target, { recursive: true });
 * ```
 */
export async function restore(
  source: BlobSource,
  rootTree: BlobId,
  options: RestoreOptions,
): Promise<RestoreReport> {
  const limits = restoreLimits(options);
  await Deno.mkdir(options.target, { recursive: true });
  const target = await Deno.realPath(options.target);
  const asRoot = options.asRoot ?? (await creatorUid(target)) === 0;
  const metadata: MetadataOptions = {
    asRoot,
    owners: asRoot ? options.owners ?? await OwnerResolver.load() : undefined,
  };
  const filter = new PathFilter(options);
  const loader = new TreeLoader(source, limits.treeCacheBytes, limits.treeConcurrency);
  const report: RestoreReport = {
    files: 0,
    dirs: 0,
    symlinks: 0,
    hardLinks: 0,
    bytes: 0,
    skipped: 0,
    warnings: [],
    failed: 0,
    errors: [],
    chunksFetched: 0,
    chunksCopied: 0,
    bytesFetched: 0,
    treesFetched: 0,
    batches: 0,
  };
  const progress: RestoreProgress = {
    phase: "scanning",
    filesDone: 0,
    filesTotal: 0,
    bytesDone: 0,
    bytesTotal: 0,
  };
  const emit = (currentFile?: string) => options.onProgress?.({ ...progress, currentFile });
  const pool = limits.fileWorkers > 0
    ? new FilePool({
      workers: limits.fileWorkers,
      maxBytes: limits.fileWorkerBytes,
      transfer: options.transferChunks,
    })
    : undefined;
  const files = new FileBatcher({
    pool,
    source,
    metadata,
    maxBatchRefs: limits.maxBatchRefs,
    maxBatchFiles: limits.maxBatchFiles,
    signal: options.signal,
    window: { gets: limits.concurrency, bytes: limits.fetchAheadBytes },
    onBytes: (file, bytes) => {
      progress.bytesDone += bytes;
      emit(file.shown);
    },
  });
  try {
    const root = await resolveRoot(loader, rootTree, options.subPath ?? "/");
    const walk = { ...limits, loader, filter, signal: options.signal };
    emit();
    // A tree that cannot be read is reported by the writing pass, which meets it again.
    // The file workers start at the first small file counted: their start (loading modules)
    // overlaps the reading of the trees instead of holding up the first files.
    const onFile = (entry: FileEntry) => {
      if (entry.size <= WHOLE_FILE_MAX_BYTES) pool?.start();
    };
    await walkTree(root, counter(progress, onFile), {
      ...walk,
      keep: true,
      onTreeError: () => {},
    });
    progress.phase = "restoring";
    emit();
    const top: Folder = {
      path: target,
      shown: ".",
      pending: 0,
      walked: false,
      made: true,
      created: false,
      finished: false,
    };
    const writer = new Writer(top, root.path.length, {
      options,
      limits,
      metadata,
      files,
      report,
      progress,
      emit,
    });
    await walkTree(root, writer, {
      ...walk,
      keep: false,
      onTreeError: (error) => writer.fail(error),
    });
    await files.finish();
    top.walked = true;
    await writer.finish(top);
    progress.phase = "done";
    emit();
    return report;
  } catch (error) {
    await files.discard();
    throw error;
  } finally {
    await pool?.close();
    await loader.settle();
    report.treesFetched = loader.fetched;
    Object.assign(report, {
      chunksFetched: files.stats.chunksFetched,
      chunksCopied: files.stats.chunksCopied,
      bytesFetched: files.stats.bytesFetched,
      batches: files.stats.batches,
    });
  }
}
