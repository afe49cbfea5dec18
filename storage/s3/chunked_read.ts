/**
 * Reads a chunked file back from S3 by its `c` record's list (no index): chunks that lie one after
 * the other in one pack are read together, one ranged GET per run of at most 16 MiB, three runs in
 * flight while the caller takes the one before. Each chunk is decoded and checked against its id
 * (SHA-256): a flipped bit or a wrong offset is an error, never bytes. A pack that is gone (a future
 * repack moved its chunks and rewrote the record) makes it read the record again, once or twice.
 *
 * Memory: the runs in flight and the one being taken: 64 MiB at most, whatever the file's size,
 * plus the list (48 bytes a chunk).
 *
 * @module
 */
import { createHash } from "node:crypto";
import { sameBytes } from "../../common/bytes.ts";
import { ObjectNotFoundError, type ObjectStore } from "../../objects/object_store.ts";
import { decodeBlob } from "../../repository/blob_codec.ts";
import type { ByteSource, ViewSource } from "../../io/byte_stream.ts";
import {
  CorruptChunkError,
  MissingChunkError,
  type Placement,
} from "../../repository/chunked_source.ts";
import { chunkAt, type ChunkLocation, type ChunkTable } from "./chunk_list.ts";

/** Bytes (decoded) one ranged GET brings at most (a chunk larger than this is read alone). */
export const MAX_RUN_BYTES = 16 * 1024 * 1024;
/** Ranged GETs one read keeps in flight. */
export const RUNS_IN_FLIGHT = 3;
/** Times a read looks at the record again after a pack was gone. */
const RELOADS = 2;

/** What a chunked read works with. */
export interface ChunkedReadContext {
  /** Where the packs are (object names below the storage prefix). */
  store: ObjectStore;
  /** The user's pack folder (`p/USER/`): list entries name packs relative to it. */
  packsFolder: string;
  /** The record's list. */
  list: ChunkTable;
  /** The same version's list, read again (its record re-listed); `undefined` if it is gone. */
  reload(): Promise<ChunkTable | undefined>;
  /** @default MAX_RUN_BYTES */
  maxRunBytes?: number;
  /** @default RUNS_IN_FLIGHT */
  runsInFlight?: number;
}

/** A chunked file's bytes, copied (`read`) or lent (`readView`); `ready` reads the first run. */
export interface ChunkedS3Source extends ByteSource, ViewSource {
  /** Resolves once the first run is read and checked; rejects with what reading it threw. */
  ready(): Promise<void>;
}

interface Run {
  /** Index of its first chunk. */
  start: number;
  chunks: Promise<Uint8Array[]>;
}

/** A source of the file `context.list` describes; see the module comment. */
export function chunkedS3Source(context: ChunkedReadContext): ChunkedS3Source {
  const maxRunBytes = context.maxRunBytes ?? MAX_RUN_BYTES;
  const runsInFlight = context.runsInFlight ?? RUNS_IN_FLIGHT;
  let table = context.list;
  let unasked = 0; // the first chunk no run has asked for
  const ahead: Run[] = [];
  let pieces: Uint8Array[] = [];
  let piece = 0;
  let offset = 0;
  let reloads = 0;

  const fill = () => {
    while (ahead.length < runsInFlight && unasked < table.count) {
      const start = unasked;
      const first = chunkAt(table, start);
      let end = start + 1;
      let bytes = first.storedLength;
      // Bounded by the decoded bytes too: a run of compressed chunks is larger once decoded.
      let raw = first.rawLength;
      let last = first;
      while (end < table.count) {
        const chunk = chunkAt(table, end);
        const adjacent = chunk.pack === last.pack &&
          chunk.offset === last.offset + last.storedLength;
        if (!adjacent || raw + chunk.rawLength > maxRunBytes) break;
        bytes += chunk.storedLength;
        raw += chunk.rawLength;
        last = chunk;
        end++;
      }
      unasked = end;
      const chunks = readRun(context, table, start, end, bytes);
      chunks.catch(() => {}); // awaited in turn
      ahead.push({ start, chunks });
    }
  };

  /** Takes the next run's chunks, reading the record again if its pack is gone. */
  const takeRun = async (): Promise<boolean> => {
    for (;;) {
      fill();
      const run = ahead.shift();
      if (!run) return false;
      fill(); // three runs in flight while the caller takes this one
      try {
        pieces = await run.chunks;
        piece = 0;
        offset = 0;
        return true;
      } catch (error) {
        if (!(error instanceof ObjectNotFoundError)) throw error;
        const was = placementOf(context, table, run.start);
        if (reloads++ >= RELOADS) throw new MissingChunkError(was, { cause: error });
        await Promise.allSettled(ahead.splice(0).map((other) => other.chunks));
        const fresh = await context.reload();
        const now = fresh && fresh.count === table.count
          ? placementOf(context, fresh, run.start)
          : undefined;
        if (!now || now.pack === was.pack || !sameBytes(now.id, was.id)) {
          throw new MissingChunkError(was, { cause: error });
        }
        table = fresh!;
        unasked = run.start;
      }
    }
  };

  /** The next bytes, `max` at most, as a view of a chunk; `null` at the end. */
  const take = async (max: number): Promise<Uint8Array | null> => {
    while (piece >= pieces.length || offset === pieces[piece].length) {
      if (piece < pieces.length) {
        piece++;
        offset = 0;
        continue;
      }
      if (!(await takeRun())) return null;
    }
    const view = pieces[piece].subarray(offset, offset + max);
    offset += view.length;
    return view;
  };
  return {
    async ready() {
      if (pieces.length === 0 && table.count > 0) await takeRun();
    },
    async read(buffer) {
      const view = await take(buffer.length);
      if (view === null) return null;
      buffer.set(view);
      return view.length;
    },
    readView: take,
  };
}

/** Reads chunks `start` to `end` (adjacent in one pack, `bytes` stored) with one ranged GET. */
async function readRun(
  context: ChunkedReadContext,
  table: ChunkTable,
  start: number,
  end: number,
  bytes: number,
): Promise<Uint8Array[]> {
  const first = placementOf(context, table, start);
  const stored = await context.store.get(first.pack, { offset: first.offset, length: bytes });
  if (stored.length !== bytes) throw new MissingChunkError(first);
  const chunks: Uint8Array[] = [];
  let at = 0;
  for (let i = start; i < end; i++) {
    const chunk = placementOf(context, table, i);
    const decoded = decodeBlob(
      stored.subarray(at, at + chunk.storedLength),
      chunk.compression,
      chunk.rawLength,
    );
    at += chunk.storedLength;
    // The id is the chunk's SHA-256: a wrong offset or a flipped bit is an error, never bytes.
    if (!sameBytes(createHash("sha256").update(decoded).digest(), chunk.id)) {
      throw new CorruptChunkError(chunk);
    }
    chunks.push(decoded);
  }
  return chunks;
}

/** Chunk `index` of `table` as a `Placement` (its pack's whole object name). */
function placementOf(context: ChunkedReadContext, table: ChunkTable, index: number): Placement {
  const chunk: ChunkLocation = chunkAt(table, index);
  return { ...chunk, seq: index, pack: context.packsFolder + chunk.pack };
}
