/**
 * Opening a stored version for reading: from the read cache, from the index (small files), from its
 * chunks, or from its data file (written before schema 5), looking again if a replace removed the
 * file in between.
 *
 * @module
 */
import { NoSuchFileError } from "../errors.ts";
import { AdaptiveFile, DEFAULT_POLICY } from "../../io/adaptive_file.ts";
import { bytesSource } from "../../io/byte_stream.ts";
import type { ObjectStore } from "../../objects/object_store.ts";
import { chunkedSource } from "../../repository/chunked_source.ts";
import type { ChunkHasher } from "../../repository/chunk_hasher.ts";
import type { FileMetadata, StoredFile } from "../storage.ts";
import { type DataFiles, MissingDataFileError } from "./data_files.ts";
import type { SmallFileCache } from "./small_file_cache.ts";
import type { VersionIndex } from "./version_index.ts";

const encoder = new TextEncoder();

/** What opening a version works with. */
export interface ReadContext {
  index: VersionIndex;
  dataFiles: DataFiles;
  /** Where the packs of chunked versions are. */
  store: ObjectStore;
  /** Checks chunks against their ids off the event loop. */
  hasher: ChunkHasher;
  cache: SmallFileCache;
  /** Told when a file's calls turn slow and move to the thread pool. */
  countSlowDiskFile: () => void;
}

/**
 * Opens the current version of `name`, or version `versionId` (current or past).
 *
 * @throws {NoSuchFileError} if there is no such file or version.
 */
export async function openVersion(
  ctx: ReadContext,
  target: { userId: number; name: string; versionId?: number },
): Promise<StoredFile> {
  const { userId, name, versionId } = target;
  const current = versionId === undefined;
  const cached = current ? ctx.cache.get(userId, name) : undefined;
  if (cached) return inMemory(cached.bytes, cached.metadata);
  const key = encoder.encode(name);
  for (let attempt = 1;; attempt++) {
    const found = current
      ? ctx.index.find(userId, key)
      : ctx.index.findVersion(userId, key, versionId);
    if (!found) throw new NoSuchFileError(name);
    const { metadata, content } = found;
    if ("bytes" in content) {
      if (current) ctx.cache.offer(userId, name, { metadata, bytes: content.bytes });
      return inMemory(content.bytes, metadata);
    }
    if ("chunkCount" in content) {
      // Counted in before any await: a removal of the version from now on keeps its list for us.
      const { chunks } = ctx.index;
      const end = chunks.reads.begin(metadata.versionId);
      const source = chunkedSource(
        ctx.store,
        content.chunkCount,
        (fromSeq, limit) => chunks.placements(userId, metadata.versionId, fromSeq, limit),
        ctx.hasher,
      );
      const done = () => {
        source.close(); // its read buffers back to the pool, if the answer stopped part-way
        end();
      };
      try {
        await source.ready(); // a missing, unsafe or damaged first run is refused before the answer
      } catch (error) {
        done();
        throw error;
      }
      return { source, metadata, [Symbol.dispose]: done };
    }
    if (!("dataFile" in content)) throw new Error("an upload's content is not a stored version's");
    let file: Deno.FsFile;
    try {
      file = await ctx.dataFiles.open(content.dataFile, metadata.size);
    } catch (error) {
      // A replace committed while the open was under way may have removed the file: look again.
      if (error instanceof MissingDataFileError && attempt < 3) continue;
      throw error;
    }
    return {
      source: new AdaptiveFile(file, DEFAULT_POLICY, ctx.countSlowDiskFile),
      metadata,
      [Symbol.dispose]: () => file.close(),
    };
  }
}

function inMemory(bytes: Uint8Array, metadata: FileMetadata): StoredFile {
  return { source: bytesSource(bytes), metadata, [Symbol.dispose]: () => {} };
}
