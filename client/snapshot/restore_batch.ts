/**
 * One batch of the restorer's file writer (`restore_files.ts`): its spans (files, or parts of a
 * large one) taken in order, each distinct chunk fetched once in the order of its first use
 * (`OrderedFetch`), written into its file, and a chunk used again copied from where the batch first
 * wrote it. A small file in a folder the restore made, whose chunks the batch uses nowhere else, is
 * held whole and given to the file workers (`FilePool`) instead. What comes out says which files
 * are complete (to be given their metadata and closed by the caller), which went to the workers and
 * which failed (each with its reason; the caller removes them once the batch is over: until then a
 * later file may copy a chunk from them).
 *
 * @module
 */
import { MAX_DATA_BLOB_BYTES } from "../../protocol/v3/constants.ts";
import type { BlobId, BlobSource } from "./blobs.ts";
import { isPathFailure } from "./restore_errors.ts";
import { type FetchWindow, OrderedFetch, OversizeChunkError } from "./restore_fetch.ts";
import type { FilePool } from "./restore_file_pool.ts";
import { ALL_MODE_BITS, type MetadataOptions, UNPRIVILEGED_MODE_BITS } from "./restore_metadata.ts";
import { create, type OpenFile, readAt, wholeEntry, writeAt } from "./restore_open_file.ts";

/**
 * A file at most this large, in a folder the restore made, whose chunks the batch uses nowhere
 * else, is held whole and written by a file worker (`FilePool`), if the batcher has one.
 */
export const WHOLE_FILE_MAX_BYTES = 1024 * 1024;

/** Chunk references `from` to `to` of `open`'s file; `last`: the file ends in this span. */
export interface Span {
  open: OpenFile;
  from: number;
  to: number;
  last: boolean;
}

/** What one batch needs of the batcher's settings. */
export interface BatchSettings {
  source: BlobSource;
  metadata: MetadataOptions;
  /** Gets in flight or held, and their expected bytes (see `OrderedFetch`). */
  window: FetchWindow;
  /** Called after each write of `bytes` into `open`. */
  onBytes(open: OpenFile, bytes: number): void;
  /** Stops the batch between two chunks. */
  signal?: AbortSignal;
  /** Workers for small files; none: all are written here. */
  pool?: FilePool;
  /** Permission bits a file was seen to keep when made with them (shared across batches). */
  modeBits: { kept: number };
}

/** How one batch's files ended (see the module comment). */
export interface BatchOutcome {
  /** Written here and checked against their sizes: metadata, close and rename still to do. */
  complete: OpenFile[];
  /** Given to the file workers, in order (settled through `FilePool.drain`). */
  offloaded: OpenFile[];
  /** Failed (`open.failed` says why): to be removed and reported. */
  failed: OpenFile[];
  /** Chunks fetched and their bytes (also when the batch stopped). */
  fetched: { chunks: number; bytes: number };
  /** Chunks written from an earlier place in the batch instead of fetched again. */
  copied: number;
}

interface Place {
  open: OpenFile;
  offset: number;
  length: number;
}

/**
 * Writes the chunks of `spans`; see the module comment. `outcome` is filled as it goes (so that
 * the caller sees what was fetched even when this throws).
 *
 * @throws what stops the restore (see `isPathFailure`), after the gets in flight settled: the
 *   batch's files not yet in place are the caller's to discard.
 */
export async function writeBatch(
  spans: Span[],
  settings: BatchSettings,
  outcome: BatchOutcome,
): Promise<void> {
  const { signal, source, pool } = settings;
  const chunks = batchChunks(spans);
  const fetches = new OrderedFetch(source, chunks.order, chunks.sizes, settings.window);
  const places = new Map<BlobId, Place>();
  /** Chunks whose get failed, and chunks taken for a file that had failed (not placed). */
  const lost = new Map<BlobId, unknown>();
  const unplaced = new Set<BlobId>();
  const fail = (open: OpenFile, error: unknown) => {
    if (!isPathFailure(error, signal)) throw error;
    open.failed = error;
    outcome.failed.push(open);
  };
  try {
    for (const { open, from, to, last } of spans) {
      const { entry } = open.file;
      if (
        pool && open.inPlace && from === 0 && last && entry.size <= WHOLE_FILE_MAX_BYTES &&
        !entry.content.some((id) => chunks.repeated.has(id))
      ) {
        open.whole = [];
      } else if (open.failed === undefined && open.fd === undefined) {
        try {
          open.fd = create(open, settings.metadata, settings.modeBits, {
            read: !(from === 0 && last) || entry.content.some((id) => chunks.repeated.has(id)),
          });
        } catch (error) {
          fail(open, error);
        }
      }
      for (let i = from; i < to; i++) {
        signal?.throwIfAborted();
        const id = entry.content[i];
        const place = places.get(id);
        if (open.failed !== undefined) {
          // Its first uses are still taken, in order, for the files after it.
          if (!place && !lost.has(id) && !unplaced.has(id)) {
            unplaced.add(id);
            await fetches.next(id).catch((error) => {
              if (!isPathFailure(error, signal)) throw error;
              // Too large for the file that expected it: another file may still fetch it.
              if (!(error instanceof OversizeChunkError)) lost.set(id, error);
            });
          }
          continue;
        }
        let taken = false;
        try {
          let bytes: Uint8Array;
          if (place) {
            bytes = readAt(place.open, place.offset, place.length);
            outcome.copied++;
          } else if (lost.has(id)) {
            throw lost.get(id);
          } else if (unplaced.has(id)) {
            // First used by a file that had failed: fetched again, once.
            unplaced.delete(id);
            bytes = await source.get(id, "data").catch((error) => {
              lost.set(id, error);
              throw error;
            });
            taken = true;
            outcome.fetched.chunks++;
            outcome.fetched.bytes += bytes.length;
          } else {
            bytes = await fetches.next(id).catch((error) => {
              if (error instanceof OversizeChunkError) unplaced.add(id);
              else lost.set(id, error);
              throw error;
            });
            taken = true;
          }
          if (open.written + bytes.length > entry.size) {
            throw new Error(`its chunks hold more than its declared size of ${entry.size} bytes`);
          }
          if (open.whole) open.whole.push(bytes);
          else {
            writeAt(open, open.written, bytes);
            if (!place) places.set(id, { open, offset: open.written, length: bytes.length });
          }
          open.written += bytes.length;
          settings.onBytes(open, bytes.length);
        } catch (error) {
          // Taken but not written: a later file needing it fetches it again.
          if (taken && !places.has(id)) unplaced.add(id);
          fail(open, error);
        }
      }
      if (last && open.failed === undefined) {
        if (open.written !== entry.size) {
          fail(
            open,
            new Error(`its chunks hold ${open.written} bytes; its declared size is ${entry.size}`),
          );
        } else if (open.whole) {
          outcome.offloaded.push(open);
          const { metadata } = settings;
          pool!.submit({
            dir: open.file.dir,
            entry: wholeEntry(entry, metadata),
            chunks: open.whole,
            asRoot: metadata.asRoot,
            mode: entry.mode & (metadata.asRoot ? ALL_MODE_BITS : UNPRIVILEGED_MODE_BITS),
          });
          open.whole = undefined;
        } else outcome.complete.push(open);
      }
    }
  } catch (error) {
    await fetches.settle();
    throw error;
  } finally {
    outcome.fetched.chunks += fetches.fetched;
    outcome.fetched.bytes += fetches.bytes;
  }
}

/**
 * The distinct chunk ids of `spans` in the order of their first use, each one's expected size (a
 * file of one chunk gives its size; else it may be as large as a chunk may be), and the ids used
 * more than once (read back from where they were first written).
 */
function batchChunks(
  spans: Span[],
): { order: BlobId[]; sizes: number[]; repeated: Set<BlobId> } {
  const seen = new Set<BlobId>();
  const repeated = new Set<BlobId>();
  const order: BlobId[] = [];
  const sizes: number[] = [];
  for (const { open, from, to } of spans) {
    const { content, size } = open.file.entry;
    for (let i = from; i < to; i++) {
      const id = content[i];
      if (seen.has(id)) repeated.add(id);
      else {
        seen.add(id);
        order.push(id);
        sizes.push(
          content.length === 1 ? Math.min(size, MAX_DATA_BLOB_BYTES) : MAX_DATA_BLOB_BYTES,
        );
      }
    }
  }
  return { order, sizes, repeated };
}
