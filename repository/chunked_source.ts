/**
 * Reads a chunked file back: its chunks' places a page at a time, each chunk read from its pack by
 * range, decompressed and checked against its id (SHA-256), the next two read while the caller
 * takes the one before. Memory: three chunks, and a page of places, whatever the file's size.
 *
 * @module
 */
import { BackupError } from "../common/backup_error.ts";
import { sameBytes } from "../common/bytes.ts";
import { toHex } from "../common/hex.ts";
import type { ByteSource } from "../io/byte_stream.ts";
import { ObjectNotFoundError, type ObjectStore } from "../objects/object_store.ts";
import { decodeBlob } from "./blob_codec.ts";
import { type ChunkHasher, INLINE_HASHER } from "./chunk_hasher.ts";
import type { BlobCompression } from "./pack_format.ts";

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

/** Chunks read ahead of the one the caller takes. */
const READ_AHEAD = 2;

/** Places read per query. */
const PAGE = 64;

/** A chunked file's bytes; `ready` reads its first chunk, so that a broken store shows early. */
export interface ChunkedSource extends ByteSource {
  /** Resolves once the first chunk is in memory; rejects with what reading it threw. */
  ready(): Promise<void>;
}

/**
 * A source of a chunked file of `count` chunks, checked against their ids (in `hasher`'s workers
 * when given). A pack that is gone when its chunk is read (moved by garbage collection meanwhile)
 * is looked up again once.
 */
export function chunkedSource(
  store: ObjectStore,
  count: number,
  pages: PlacementPages,
  hasher: ChunkHasher = INLINE_HASHER,
): ChunkedSource {
  let page: Placement[] = [];
  let nextSeq = 0;
  let current: Uint8Array = new Uint8Array(0);
  let offset = 0;
  /** Chunks being read, in order: `READ_AHEAD` of them while the caller takes the one before. */
  const ahead: Promise<Uint8Array>[] = [];
  const fill = () => {
    while (ahead.length < READ_AHEAD && nextSeq < count) {
      const promise = fetch(nextSeq++);
      promise.catch(() => {}); // awaited when its turn comes
      ahead.push(promise);
    }
  };

  const placementOf = (seq: number): Placement => {
    if (page.length === 0 || page[0].seq > seq || page.at(-1)!.seq < seq) page = pages(seq, PAGE);
    const found = page.find((placement) => placement.seq === seq);
    if (!found) throw new BackupError(`chunk ${seq} of ${count} of a stored file is not indexed`);
    return found;
  };
  const fetch = async (seq: number): Promise<Uint8Array> => {
    let placement = placementOf(seq);
    let stored: Uint8Array;
    try {
      stored = await readStored(store, placement);
    } catch (error) {
      if (!(error instanceof ObjectNotFoundError)) throw error;
      page = [];
      const moved = placementOf(seq);
      if (moved.pack === placement.pack) throw new MissingChunkError(placement, { cause: error });
      placement = moved;
      stored = await readStored(store, placement);
    }
    const decoded = decodeBlob(stored, placement.compression, placement.rawLength);
    // The id is the chunk's SHA-256: a wrong offset or a flipped bit is an error, never bytes.
    const { id, bytes } = await hasher.hash(ownsBuffer(decoded) ? decoded : decoded.slice());
    if (!sameBytes(id, placement.id)) throw new CorruptChunkError(placement);
    return bytes;
  };
  return {
    async ready() {
      fill();
      await ahead[0];
    },
    async read(buffer) {
      while (offset === current.length) {
        fill();
        const pending = ahead.shift();
        if (!pending) return null;
        current = await pending;
        offset = 0;
        fill();
      }
      const take = Math.min(buffer.length, current.length - offset);
      buffer.set(current.subarray(offset, offset + take));
      offset += take;
      return take;
    },
  };
}

async function readStored(store: ObjectStore, placement: Placement): Promise<Uint8Array> {
  const stored = await store.get(placement.pack, {
    offset: placement.offset,
    length: placement.storedLength,
  });
  if (stored.length !== placement.storedLength) throw new MissingChunkError(placement);
  return stored;
}

/** Whether `bytes` is its whole buffer (so that the buffer can move to a worker). */
function ownsBuffer(bytes: Uint8Array): boolean {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
}
