/**
 * `dump` of a folder: the folder and everything below it as a tar archive (`tar_stream.ts`), as
 * restic's `dump` writes one. Paths are the snapshot's without the leading `/`
 * (`home/u/work/a.txt`); files are written whole, chunk by chunk (a hard link's every name holds
 * its bytes); memory: one tree per folder on the current path and `readFile`'s read-ahead.
 *
 * @module
 */
import type { TreeEntry } from "../../protocol/v3/tree.ts";
import type { BlobId, BlobSource } from "./blobs.ts";
import { tarEnd, type TarEntry, tarHeader, tarPadding } from "./tar_stream.ts";
import { walkTree } from "./tree_walk.ts";
import { readFile } from "./file_content.ts";

/**
 * Writes the folder `tree` at `path` (`/` for the snapshot's root; `entry` its own entry, absent
 * for the root) and everything below it to `write` as a tar archive.
 *
 * @returns entries written
 * @throws what `walkTree` and `readFile` throw (the archive is then cut short: no end blocks).
 */
export async function dumpTar(
  source: BlobSource,
  tree: BlobId,
  path: string,
  entry: TreeEntry | undefined,
  write: (bytes: Uint8Array) => Promise<void>,
): Promise<number> {
  let written = 0;
  if (entry) {
    await write(tarHeader(tarEntryOf(path, entry)));
    written++;
  }
  for await (const met of walkTree(source, tree, path)) {
    await write(tarHeader(tarEntryOf(met.path, met.entry)));
    if (met.entry.type === "file") {
      const size = await readFile(source, met.entry, write);
      await write(tarPadding(size));
    }
    written++;
  }
  await write(tarEnd());
  return written;
}

function tarEntryOf(path: string, entry: TreeEntry): TarEntry {
  return {
    path: path.replace(/^\/+/, ""),
    type: entry.type,
    mode: entry.mode,
    size: entry.type === "file" ? entry.size : 0,
    mtimeMs: entry.mtimeMs,
    uid: entry.uid,
    gid: entry.gid,
    user: entry.user,
    group: entry.group,
    target: entry.type === "symlink" ? entry.target : undefined,
  };
}
