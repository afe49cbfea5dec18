/**
 * Reads a chunked file back from S3 by its `c` record's list (no index): chunks that lie one after
 * the other in one pack are read together, one ranged GET per run of at most 16 MiB, three runs in
 * flight while the caller takes the one before. Each chunk is decoded and checked against its id
 * (SHA-256): a flipped bit or a wrong offset is an error, never bytes. A pack that is gone (a future
 * repack moved its chunks and rewrote the record) makes it read the record again, once or twice.
 *
 * Memory: runs are read into buffers of a pool every reader of the process shares
 * ({@linkcode S3_READ_BUFFERS}: 16 MiB each, 64 MiB in all), the run being taken and those read
 * ahead each holding one until the caller is past it; a reader finding none free reads ahead no
 * further, and reads one chunk at a time (as it would with no pool) while it has nothing in
 * flight. So many reads at once hold the cap plus a chunk or two each, not 64 MiB each; plus the
 * list (48 bytes a chunk). `close` (or reading to the end) gives the buffers back.
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
import { ReadBuffers } from "../../repository/read_buffers.ts";
import { chunkAt, type ChunkTable } from "./chunk_list.ts";
import type { ChunkLocation } from "./chunk_entry.ts";

/** Bytes (decoded) one ranged GET brings at most (a chunk larger than this is read alone). */
export const MAX_RUN_BYTES = 16 * 1024 * 1024;
/** Ranged GETs one read keeps in flight. */
export const RUNS_IN_FLIGHT = 3;
/** Times a read looks at the record again after a pack was gone. */
const RELOADS = 2;

/**
 * The run buffers every S3 reader of the process shares unless given others: one reader at full
 * depth (three runs in flight, one being taken) takes the whole cap.
 */
export const S3_READ_BUFFERS: ReadBuffers = new ReadBuffers({
  bufferBytes: MAX_RUN_BYTES,
  maxBytes: 64 * 1024 * 1024,
});

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
  /** The pool runs are read into (a run is at most one buffer). @default S3_READ_BUFFERS */
  buffers?: ReadBuffers;
}

/**
 * A chunked file's bytes, copied (`read`) or lent (`readView`); `ready` reads the first run;
 * `close` gives the pool's buffers back if it is not read to the end.
 */
export interface ChunkedS3Source extends ByteSource, ViewSource {
  /** Resolves once the first run is read and checked; rejects with what reading it threw. */
  ready(): Promise<void>;
  /** Stops reading: buffers go back to the pool as their reads end. Idempotent. */
  close(): Promise<void>;
}

/** A run's chunks once read and checked, and the pool's buffer they are views of, if any. */
interface ReadRun {
  chunks: Uint8Array[];
  pooled?: ArrayBuffer;
}

interface Run {
  /** Index of its first chunk. */
  start: number;
  chunks: Promise<ReadRun>;
}

/** A source of the file `context.list` describes; see the module comment. */
export function chunkedS3Source(context: ChunkedReadContext): ChunkedS3Source {
  const buffers = context.buffers ?? S3_READ_BUFFERS;
  const maxRunBytes = Math.min(context.maxRunBytes ?? MAX_RUN_BYTES, buffers.bufferBytes);
  const runsInFlight = context.runsInFlight ?? RUNS_IN_FLIGHT;
  const leave = buffers.join();
  let closed: Promise<void> | undefined;
  let table = context.list;
  let unasked = 0; // the first chunk no run has asked for
  const ahead: Run[] = [];
  /** The run the caller takes: its chunks, where it is in them, and the buffer it holds. */
  let current: ReadRun = { chunks: [] };
  let piece = 0;
  let offset = 0;
  let reloads = 0;

  const fill = () => {
    while (!closed && ahead.length < runsInFlight && unasked < table.count) {
      // Beyond one run in flight, only into a buffer of the pool: its cap bounds every reader.
      if (ahead.length > 0 && !buffers.available) return;
      // With no buffer free, a chunk at a time (read as it is), as many readers at once must.
      const most = buffers.available ? maxRunBytes : 0;
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
        if (!adjacent || raw + chunk.rawLength > most || bytes + chunk.storedLength > most) break;
        bytes += chunk.storedLength;
        raw += chunk.rawLength;
        last = chunk;
        end++;
      }
      unasked = end;
      const pooled = context.store.readInto !== undefined && bytes <= buffers.bufferBytes
        ? buffers.take()
        : undefined;
      const chunks = readRun(context, table, start, end, bytes, pooled).catch((error) => {
        if (pooled) buffers.give(pooled);
        throw error;
      });
      chunks.catch(() => {}); // awaited in turn
      ahead.push({ start, chunks });
    }
  };

  /** Gives the run taken back to the pool: the caller is done with it (a view lasts one call). */
  const letGo = () => {
    if (current.pooled) buffers.give(current.pooled);
    current = { chunks: [] };
  };
  const close = (): Promise<void> => {
    if (closed) return closed;
    letGo();
    const reads = ahead.splice(0).map(({ chunks }) =>
      chunks.then((run) => void (run.pooled && buffers.give(run.pooled)), () => {})
    );
    leave();
    return closed = Promise.all(reads).then(() => {});
  };

  /** Takes the next run's chunks, reading the record again if its pack is gone. */
  const takeRun = async (): Promise<boolean> => {
    letGo();
    for (;;) {
      fill();
      const run = ahead.shift();
      if (!run) return false;
      fill(); // three runs in flight while the caller takes this one
      try {
        current = await run.chunks;
        piece = 0;
        offset = 0;
        if (closed) {
          letGo(); // closed while this run was read: its buffer goes back, nothing more is given
          return false;
        }
        return true;
      } catch (error) {
        if (!(error instanceof ObjectNotFoundError)) throw error;
        const was = placementOf(context, table, run.start);
        if (reloads++ >= RELOADS) throw new MissingChunkError(was, { cause: error });
        await Promise.allSettled(
          ahead.splice(0).map((other) =>
            other.chunks.then((read) => void (read.pooled && buffers.give(read.pooled)))
          ),
        );
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
    const pieces = () => current.chunks;
    while (piece >= pieces().length || offset === pieces()[piece].length) {
      if (piece < pieces().length) {
        piece++;
        offset = 0;
        continue;
      }
      let more: boolean;
      try {
        more = !closed && await takeRun();
      } catch (error) {
        await close(); // nothing after a failed run is read, nor still reading once it is thrown
        throw error;
      }
      if (!more) {
        await close(); // read to the end
        return null;
      }
    }
    const view = pieces()[piece].subarray(offset, offset + max);
    offset += view.length;
    return view;
  };
  return {
    async ready() {
      if (current.chunks.length > 0 || table.count === 0) return;
      try {
        if (!(await takeRun())) await close();
      } catch (error) {
        await close();
        throw error;
      }
    },
    async read(buffer) {
      const view = await take(buffer.length);
      if (view === null) return null;
      buffer.set(view);
      return view.length;
    },
    readView: take,
    close,
  };
}

/**
 * Reads chunks `start` to `end` (adjacent in one pack, `bytes` stored) with one ranged GET, into
 * `pooled` if given (the chunks stored as they are then stay views of it).
 */
async function readRun(
  context: ChunkedReadContext,
  table: ChunkTable,
  start: number,
  end: number,
  bytes: number,
  pooled: ArrayBuffer | undefined,
): Promise<ReadRun> {
  const first = placementOf(context, table, start);
  let stored: Uint8Array;
  if (pooled) {
    const target = new Uint8Array(pooled, 0, bytes);
    stored = target.subarray(0, await context.store.readInto!(first.pack, first.offset, target));
  } else {
    stored = await context.store.get(first.pack, { offset: first.offset, length: bytes });
  }
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
  return { chunks, pooled };
}

/** Chunk `index` of `table` as a `Placement` (its pack's whole object name). */
function placementOf(context: ChunkedReadContext, table: ChunkTable, index: number): Placement {
  const chunk: ChunkLocation = chunkAt(table, index);
  return { ...chunk, seq: index, pack: context.packsFolder + chunk.pack };
}
