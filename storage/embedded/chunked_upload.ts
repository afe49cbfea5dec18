/**
 * An upload of a large file into the repository: its bytes are hashed whole (the version's SHA-256,
 * with the chunks' ids, by the same hasher) and cut into chunks as they arrive; chunks the user
 * already has are pinned and not stored again, new ones go into packs (`ChunkedWriter`). The commit indexes the chunk list and the packs with
 * the version, in one transaction; an upload dropped or refused removes the packs it wrote.
 *
 * @module
 */
import type { ObjectStore } from "../../objects/object_store.ts";
import { encodeBlob } from "../../repository/blob_codec.ts";
import { ChunkedWriter } from "../../repository/chunked_writer.ts";
import { type ChunkHasher, INLINE_HASHER } from "../../repository/chunk_hasher.ts";
import { PackWriter, type WrittenPack } from "../../repository/pack_writer.ts";
import type { Upload } from "../storage.ts";
import { checkedDigest, expectFilled, expectRoom } from "../upload_checks.ts";
import type { ChunkCatalog } from "./chunk_catalog.ts";
import { releaseOnce, type UploadEnds } from "./uploads.ts";

/**
 * Uploads smaller than this hash on the event loop: a file of a few chunks does not start the
 * hashing worker (an isolate of its own: docs/performance.md) on a server that only ever gets small
 * files.
 */
export const INLINE_HASH_BELOW = 1024 * 1024;

/** What a chunked upload works with, given by the engine. */
export interface ChunkedUploadContext {
  userId: number;
  /** Where packs go. */
  store: ObjectStore;
  /** Which chunks the user has; pins what it finds. */
  catalog: ChunkCatalog;
  /** Packs are cut at this size. */
  packTargetBytes: number;
  /** Hashes chunks off the event loop. */
  hasher: ChunkHasher;
  /** Awaited once the packs are durable, before the commit. */
  onDataDurable(): void | Promise<void>;
}

/** An upload of `size` bytes into chunks and packs; see the module comment. */
export function chunkedUpload(
  size: number,
  ends: UploadEnds,
  context: ChunkedUploadContext,
): Upload {
  const { userId, catalog, store } = context;
  const pinned: string[] = [];
  const writer = new ChunkedWriter({
    size,
    packs: new PackWriter(store, { targetBytes: context.packTargetBytes }),
    holds: (id) => catalog.holds(userId, id, pinned),
    encode: encodeBlob,
    hasher: size < INLINE_HASH_BELOW ? INLINE_HASHER : context.hasher,
    sha256: true, // hashed with the chunks, off the event loop
  });
  let written = 0;
  const finish = releaseOnce(ends);
  const drop = async () => {
    await writer.abort();
    catalog.pins.unpin(pinned.splice(0));
  };
  /** Removes the packs the index does not have (a commit refused, or failed before its change). */
  const dropUnindexed = async (packs: readonly WrittenPack[]) => {
    const unindexed = packs.filter((pack) => !catalog.indexed(pack.name));
    await Promise.all(unindexed.map((pack) => store.delete(pack.name).catch(() => {})));
  };
  return {
    write: async (chunk) => {
      expectRoom(written, chunk.length, size);
      written += chunk.length;
      await writer.write(chunk);
    },
    commit: async (options) => {
      if (!finish()) throw new Error("upload already finished");
      let file;
      try {
        expectFilled(written, size);
        file = await writer.finish();
        const sha256 = checkedDigest(file.sha256!, options, ends.fileName);
        await context.onDataDurable();
        return await ends.commit(sha256, { chunks: file });
      } catch (error) {
        if (file) await dropUnindexed(file.packs);
        else await writer.abort();
        throw error;
      } finally {
        catalog.pins.unpin(pinned.splice(0));
      }
    },
    abort: async () => {
      if (finish()) await drop();
    },
  };
}
