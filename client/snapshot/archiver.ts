/**
 * The backup side of snapshots (docs/snapshots_plan.md §4): walks the paths given, builds each
 * folder's tree bottom-up and sends it as soon as its entries are known, reuses the parent
 * snapshot's chunk list for every file whose metadata is unchanged (without reading it), and cuts,
 * hashes and sends the rest through a pipelined, windowed `BlobPipeline`. The caller makes the
 * snapshot record from the result and commits it.
 *
 * Memory is bounded by buffers and the current path, never by the number of files: the walk is
 * depth first and one path at a time; up to `readers` files are read at once (each through one
 * reused buffer); a folder keeps its entries only until its tree is sent, and a folder whose walk
 * has ended waits only for files still being read, so at most `readers` × depth such folders are
 * open; the pipeline holds at most a window of bytes; the parent snapshot is read a folder at a
 * time along the current path.
 *
 * @module
 */
import { MAX_ENTRY_NAME_BYTES } from "../../protocol/v3/tree.ts";
import type { BlobSink, BlobSource } from "./blobs.ts";
import type { ArchiveOptions, ArchiveResult } from "./archive_options.ts";
import { streamReader } from "./file_chunks.ts";
import { Run } from "./run.ts";
import { scanTotals, targetTree } from "./targets.ts";
import { ArchiveError } from "./tree_writer.ts";
import type { Metadata } from "./walk.ts";

export * from "./archive_options.ts";
export type { ArchiveEvent, ArchiveListener, ProblemKind } from "./progress.ts";
export { ArchiveError };

/**
 * Archives `paths` into blobs sent to `sink`; `source` reads the parent's trees.
 *
 * @throws {ArchiveError} if no path given can be read, or a folder's tree is too large.
 * @throws what `sink` throws (the run stops at its first failure).
 * @example
 * ```ts ignore
 * const { tree, summary } = await archive(["/home/u/docs"], { parent }, session, session);
 * ```
 */
export async function archive(
  paths: string[],
  options: ArchiveOptions,
  sink: BlobSink,
  source?: BlobSource,
): Promise<ArchiveResult> {
  const run = new Run(options, sink, source);
  const root = targetTree(paths, options.cwd ?? Deno.cwd());
  const stop = { stopped: false };
  const scan = options.scan === false
    ? Promise.resolve()
    : scanTotals(root, run.rules, stop, (event) => run.progress.emit(event));
  try {
    await run.start(options.ownerNames ?? true);
    const tree = await run.root(root, options.parent);
    return await run.finish(tree);
  } finally {
    stop.stopped = true;
    await Promise.all([scan, run.idle()]);
  }
}

/**
 * Archives `stream` as one file named `name` in the root tree (`backup --stdin --stdin-filename`):
 * mode 0644, owned by the user running (where Deno may tell), times of now.
 *
 * @throws {ArchiveError} if `name` is not one path component.
 */
export async function archiveStdin(
  stream: ReadableStream<Uint8Array>,
  name: string,
  options: ArchiveOptions & { nowMs?: number },
  sink: BlobSink,
): Promise<ArchiveResult> {
  const bytes = new TextEncoder().encode(name).length;
  if (
    bytes === 0 || bytes > MAX_ENTRY_NAME_BYTES || name === "." || name === ".." ||
    name.includes("/") || name.includes("\0") || !name.isWellFormed()
  ) {
    throw new ArchiveError(`${JSON.stringify(name)} is not a file name (one path component)`);
  }
  const run = new Run(options, sink);
  const nowMs = options.nowMs ?? Date.now();
  const reader = streamReader(stream);
  const { content, size } = await run.readers.chunk(reader).catch((error) => {
    reader.cancel();
    throw error;
  });
  const meta: Metadata = {
    name,
    mode: 0o644,
    mtimeMs: nowMs,
    atimeMs: nowMs,
    uid: processId(() => Deno.uid()),
    gid: processId(() => Deno.gid()),
    inode: 0,
    device: 0,
    links: 1,
  };
  run.progress.fileDone(size, "new");
  const tree = await run.writer.save([{ ...meta, type: "file", size, content }], "standard input");
  return await run.finish(tree);
}

function processId(read: () => number | null): number {
  try {
    return read() ?? 0;
  } catch {
    return 0; // no --allow-sys: root's id is as good a guess as any, and restic's is the same
  }
}
