/**
 * A file's bytes in a snapshot, for `dump`: its chunks fetched a few at once through a
 * `BlobSource` and written in order, checked against the size its entry gives.
 *
 * @module
 */
import type { TreeEntry } from "../../protocol/v3/tree.ts";
import type { BlobSource } from "./blobs.ts";
import { SnapshotPathError } from "./tree_walk.ts";

/** Chunks fetched ahead of the one being written, by default. */
export const DEFAULT_READ_AHEAD = 4;

/**
 * Writes a file's bytes in order to `write`, fetching up to `readAhead` chunks at once (memory:
 * that many chunks, 8 MiB each at most).
 *
 * @throws {SnapshotPathError} if the chunks do not add up to the entry's size (nothing more is
 *   written after the chunk that breaks it); what the source throws.
 */
export async function readFile(
  source: BlobSource,
  entry: TreeEntry,
  write: (bytes: Uint8Array) => Promise<void>,
  readAhead = DEFAULT_READ_AHEAD,
): Promise<number> {
  if (entry.type !== "file") {
    throw new SnapshotPathError(`${entry.name}: a ${entry.type === "dir" ? "folder" : "link"}`);
  }
  const pending: Promise<Uint8Array>[] = [];
  let next = 0;
  let written = 0;
  const fill = () => {
    while (next < entry.content.length && pending.length < readAhead) {
      const got = source.get(entry.content[next++], "data");
      got.catch(() => {}); // awaited in order below; a later failure must not go unhandled
      pending.push(got);
    }
  };
  fill();
  while (pending.length > 0) {
    const bytes = await pending.shift()!;
    fill();
    written += bytes.length;
    if (written > entry.size) break;
    await write(bytes);
  }
  if (written !== entry.size) {
    throw new SnapshotPathError(
      `${entry.name}: its chunks hold ${written > entry.size ? "more" : written} bytes, ` +
        `not the ${entry.size} its entry says`,
    );
  }
  return written;
}
