/**
 * Reads a chunked file back: its chunks' places a page at a time; adjacent chunks of one pack read
 * together (a run: one ranged read into a buffer of the shared `ReadBuffers`), decompressed, and
 * each checked against its id (SHA-256) in the hasher's worker, all of a run's stored-as-is chunks
 * in one message; further runs read while the caller takes the one before. The caller takes the
 * bytes copied (`read`) or as views of the run's buffer (`readView`: a sender writes them as they
 * are). Memory, whatever the file's size: the run being taken plus `aheadBytes` of runs read ahead,
 * in buffers the pool's cap bounds for all readers together; with none free, one chunk at a time.
 *
 * @module
 */
import { BackupError } from "../common/backup_error.ts";
import { toHex } from "../common/hex.ts";
import type { ByteSource, ViewSource } from "../io/byte_stream.ts";
import { ObjectNotFoundError, type ObjectStore } from "../objects/object_store.ts";
import { type ChunkHasher, INLINE_HASHER } from "./chunk_hasher.ts";
import type { BlobCompression } from "./pack_format.ts";
import { type ReadBuffers, SHARED_READ_BUFFERS } from "./read_buffers.ts";
import { type Checked, checkRun, isDetached } from "./_run_check.ts";

/** Where one chunk of a file is. */
export interface Placement {
  /** Its place in the file's list of chunks, from 0. */
  seq: number;
  /** Its SHA-256. */
  id: Uint8Array;
  /** The pack's object name. */
  pack: string;
  offset: number;
  storedLength: number;
  rawLength: number;
  compression: BlobCompression;
}

/** Gives the places of a file's chunks from `fromSeq` on, `limit` at most, in order. */
export type PlacementPages = (fromSeq: number, limit: number) => Placement[];

/** A chunk the index places is not where it says (its pack gone, or shorter). */
export class MissingChunkError extends BackupError {
  /**
   * @param placement the chunk's place
   */
  constructor(placement: Placement, options?: ErrorOptions) {
    super(
      `chunk ${toHex(placement.id)} is not in pack ${placement.pack} at ${placement.offset}`,
      options,
    );
  }
}

/** A chunk whose bytes are not those its id names: the pack or the index is damaged. */
export class CorruptChunkError extends BackupError {
  /**
   * @param placement the chunk's place
   */
  constructor(placement: Placement) {
    super(
      `chunk ${toHex(placement.id)} in pack ${placement.pack} at ${placement.offset} ` +
        "does not have the SHA-256 it is named by",
    );
  }
}

/** Places read per query. */
const PAGE = 64;

/** How a chunked source reads ahead; memory is bounded by these, not by the file. */
export interface ReadAheadOptions {
  /**
   * Bytes of runs read ahead of the one the caller takes (at least one run): their raw bytes, a
   * whole buffer for a run read into one. Default 8 MiB.
   */
  aheadBytes?: number;
  /**
   * The buffers runs are read into: their size is the most one run takes (adjacent chunks of one
   * pack are read together while their stored and raw bytes both fit; a larger chunk is read
   * alone). Default: the process's `SHARED_READ_BUFFERS` (4 MiB each, 64 MiB in all).
   */
  buffers?: ReadBuffers;
}

/** The default of {@linkcode ReadAheadOptions.aheadBytes} (measured: docs/performance.md). */
export const READ_AHEAD_BYTES = 8 * 1024 * 1024;

/**
 * A chunked file's bytes, copied (`read`) or as views (`readView`); `ready` reads its first run,
 * so that a broken store shows early; `close` gives its buffers back if it is not read to the end.
 */
export interface ChunkedSource extends ByteSource, ViewSource {
  /** Resolves once the first run of chunks is in memory and checked; rejects with what it threw. */
  ready(): Promise<void>;
  /**
   * Stops reading: buffers go back to the pool as their reads end; resolves once they all have.
   * Idempotent.
   */
  close(): Promise<void>;
}

/** Chunks read together: adjacent in one pack. */
interface Run {
  placements: Placement[];
  /** Their raw bytes in all (what the run holds in memory once read). */
  rawBytes: number;
  /** Their stored bytes in all (what the one read of the run takes). */
  storedBytes: number;
}

/** A run read and checked: its bytes in order, as spans, and the pool's buffer it holds, if any. */
interface CheckedRun {
  spans: Uint8Array[];
  pooled?: ArrayBuffer;
}

/**
 * A source of a chunked file of `count` chunks, checked against their ids (in `hasher`'s workers
 * when given). A pack that is gone when its chunks are read (moved by garbage collection meanwhile)
 * is looked up again once, chunk by chunk.
 */
export function chunkedSource(
  store: ObjectStore,
  count: number,
  pages: PlacementPages,
  hasher: ChunkHasher = INLINE_HASHER,
  options: ReadAheadOptions = {},
): ChunkedSource {
  const aheadBytes = options.aheadBytes ?? READ_AHEAD_BYTES;
  const buffers = options.buffers ?? SHARED_READ_BUFFERS;
  const runBytes = buffers.bufferBytes;
  const leave = buffers.join();
  let closed: Promise<void> | undefined;
  let page: Placement[] = [];
  let nextSeq = 0;
  /** The next run, planned but not started (it did not fit in `aheadBytes` yet). */
  let planned: Run | undefined;
  /**
   * Runs being read, in order, each with the bytes it is charged against `aheadBytes`: its raw
   * bytes, or a whole pool buffer if it holds one (a run of one small chunk still takes a buffer:
   * charged less, a file scattered over many packs would take the whole pool for one reader).
   */
  const ahead: { run: Run; checked: Promise<CheckedRun>; charge: number }[] = [];
  let aheadCharged = 0;
  /** The run the caller takes, and where it is in it. */
  let current: CheckedRun = { spans: [] };
  let index = 0;
  let offset = 0;

  const placementOf = (seq: number): Placement => {
    if (page.length === 0 || page[0].seq > seq || page.at(-1)!.seq < seq) page = pages(seq, PAGE);
    const found = page.find((placement) => placement.seq === seq);
    if (!found) throw new BackupError(`chunk ${seq} of ${count} of a stored file is not indexed`);
    return found;
  };
  const plan = (): Run => {
    const first = placementOf(nextSeq++);
    const run: Run = {
      placements: [first],
      rawBytes: first.rawLength,
      storedBytes: first.storedLength,
    };
    // With no buffer free, a chunk at a time (read as it is), as many readers at once must.
    const most = buffers.available ? runBytes : 0;
    while (nextSeq < count) {
      const last = run.placements.at(-1)!;
      const next = placementOf(nextSeq);
      if (
        next.pack !== last.pack || next.offset !== last.offset + last.storedLength ||
        run.storedBytes + next.storedLength > most || run.rawBytes + next.rawLength > most
      ) break;
      run.placements.push(next);
      run.storedBytes += next.storedLength;
      run.rawBytes += next.rawLength;
      nextSeq++;
    }
    return run;
  };
  const fill = () => {
    while (!closed && (planned || nextSeq < count)) {
      planned ??= plan();
      const pooled = store.readInto !== undefined && planned.storedBytes <= runBytes;
      const cost = Math.max(planned.rawBytes, pooled ? runBytes : 0);
      // Beyond one run in flight, only into a buffer of the pool: its cap bounds every reader.
      const room = aheadCharged + cost <= aheadBytes && buffers.available;
      if (ahead.length > 0 && !room) return;
      const run = planned;
      planned = undefined;
      const buffer = pooled ? buffers.take() : undefined;
      const checked = readRun(run, buffer);
      checked.catch(() => {}); // awaited when its turn comes
      const charge = Math.max(run.rawBytes, buffer ? runBytes : 0);
      ahead.push({ run, checked, charge });
      aheadCharged += charge;
    }
  };
  /** Reads `run` into `buffer` (of the pool, given back if the run fails) or, without, by `get`. */
  const readRun = async (run: Run, buffer: ArrayBuffer | undefined): Promise<CheckedRun> => {
    const first = run.placements[0];
    const last = run.placements.at(-1)!;
    const length = run.storedBytes;
    let stored: Uint8Array;
    try {
      if (buffer) {
        stored = new Uint8Array(buffer, 0, length);
        stored = stored.subarray(0, await store.readInto!(first.pack, first.offset, stored));
      } else {
        stored = await store.get(first.pack, { offset: first.offset, length });
      }
    } catch (error) {
      if (buffer) buffers.give(buffer);
      if (!(error instanceof ObjectNotFoundError)) throw error;
      return { spans: await readMoved(run, error) };
    }
    if (stored.length !== length) {
      if (buffer) buffers.give(buffer);
      const cut = run.placements.find((p) =>
        p.offset + p.storedLength - first.offset > stored.length
      );
      throw new MissingChunkError(cut ?? last);
    }
    let checked: Checked;
    try {
      checked = await checkRun(hasher, run.placements, stored, buffer !== undefined);
    } catch (error) {
      // A buffer that went to a worker that failed is lost; one that never left comes back.
      if (buffer) isDetached(buffer) ? buffers.forget() : buffers.give(buffer);
      throw error;
    }
    const pooled = buffer ? checked.buffer : undefined;
    if (checked.bad) {
      if (pooled) buffers.give(pooled);
      throw new CorruptChunkError(checked.bad);
    }
    return { spans: checked.spans, pooled };
  };
  /** A run whose pack is gone: each chunk looked up again and read alone. */
  const readMoved = async (run: Run, cause: ObjectNotFoundError): Promise<Uint8Array[]> => {
    const spans: Uint8Array[] = [];
    for (const placement of run.placements) {
      page = [];
      const moved = placementOf(placement.seq);
      if (moved.pack === placement.pack) throw new MissingChunkError(placement, { cause });
      const stored = await store.get(moved.pack, {
        offset: moved.offset,
        length: moved.storedLength,
      });
      if (stored.length !== moved.storedLength) throw new MissingChunkError(moved);
      const checked = await checkRun(hasher, [moved], stored, false);
      if (checked.bad) throw new CorruptChunkError(checked.bad);
      spans.push(...checked.spans);
    }
    return spans;
  };
  /** Gives the run taken back to the pool: the caller is done with it (a view lasts one call). */
  const letGo = () => {
    if (current.pooled) buffers.give(current.pooled);
    current = { spans: [] };
  };
  const close = (): Promise<void> => {
    if (closed) return closed;
    letGo();
    const reads = ahead.splice(0).map(({ checked }) =>
      checked.then((run) => void (run.pooled && buffers.give(run.pooled)), () => {})
    );
    leave();
    return closed = Promise.all(reads).then(() => {});
  };
  /** The next span's bytes, `max` at most. */
  const nextView = async (max: number): Promise<Uint8Array | null> => {
    while (index === current.spans.length) {
      letGo();
      fill();
      const next = ahead.shift();
      if (!next) {
        close(); // read to the end
        return null;
      }
      try {
        current = await next.checked;
      } catch (error) {
        await close(); // nothing after a failed run is read, nor still reading once it is thrown
        throw error;
      }
      if (closed) {
        letGo(); // closed while this run was read: its buffer goes back, nothing more is given
        return null;
      }
      aheadCharged -= next.charge;
      index = 0;
      offset = 0;
      fill();
    }
    const span = current.spans[index];
    const take = Math.min(max, span.length - offset);
    const view = span.subarray(offset, offset + take);
    offset += take;
    if (offset === span.length) {
      index++;
      offset = 0;
    }
    return view;
  };

  return {
    async ready() {
      fill();
      await ahead[0]?.checked;
    },
    async read(buffer) {
      const view = await nextView(buffer.length);
      if (view === null) return null;
      buffer.set(view);
      return view.length;
    },
    readView: nextView,
    close,
  };
}
