/**
 * The check of a run of chunks read from a pack (internal to `chunked_source.ts`): each chunk
 * decoded and hashed, those stored as they are in place and in one message to the worker.
 *
 * @module
 */
import { sameBytes } from "../common/bytes.ts";
import { decodeBlob } from "./blob_codec.ts";
import type { ChunkHasher } from "./chunk_hasher.ts";
import type { Placement } from "./chunked_source.ts";

/** What `checkRun` found: the run's spans, its buffer (back from the worker), a chunk not its id's. */
export interface Checked {
  spans: Uint8Array[];
  buffer: ArrayBuffer;
  bad?: Placement;
}

/**
 * Decodes the chunks of a run and checks each against its id: those stored as they are hashed in
 * place, all in one message to the hasher; decompressed ones each on its own. Resolves the run's
 * bytes as spans (chunks stored as they are and adjacent make one span), the run's buffer (moved
 * to the worker and back), and the first chunk, in the file's order, whose bytes are not its id's.
 *
 * @throws {CorruptBlobError} if a chunk does not decode (before anything moves to the worker).
 */
export async function checkRun(
  hasher: ChunkHasher,
  placements: Placement[],
  stored: Uint8Array,
  pooled: boolean,
): Promise<Checked> {
  // The run's buffer moves to the worker: it must be the run's alone (a store may hand a view).
  const owned = pooled || ownsBuffer(stored) ? stored : stored.slice();
  const base = placements[0].offset;
  const pieces: [number, number][] = [];
  const decoded: (Uint8Array | undefined)[] = placements.map((placement) => {
    const at = placement.offset - base;
    const blob = owned.subarray(at, at + placement.storedLength);
    const raw = decodeBlob(blob, placement.compression, placement.rawLength);
    if (raw === blob) {
      pieces.push([at, placement.rawLength]);
      return undefined; // checked in place, in the run's buffer
    }
    return raw;
  });
  const inPlace = pieces.length > 0
    ? hasher.hashPieces(owned.buffer as ArrayBuffer, pieces)
    : Promise.resolve({ ids: [], buffer: owned.buffer as ArrayBuffer });
  const apart = Promise.all(
    decoded.map((raw) => raw && hasher.hash(ownsBuffer(raw) ? raw : raw.slice())),
  );
  const [{ ids, buffer }, hashed] = await Promise.all([inPlace, apart]);
  const spans: Uint8Array[] = [];
  let piece = 0;
  let spanStart = -1;
  let spanEnd = -1;
  const endSpan = () => {
    if (spanStart >= 0) spans.push(new Uint8Array(buffer, spanStart, spanEnd - spanStart));
    spanStart = -1;
  };
  for (const [n, placement] of placements.entries()) {
    const alone = hashed[n];
    // The id is the chunk's SHA-256: a wrong offset or a flipped bit is an error, never bytes.
    if (!sameBytes(alone ? alone.id : ids[piece], placement.id)) {
      return { spans: [], buffer, bad: placement };
    }
    if (alone) {
      endSpan();
      spans.push(alone.bytes);
      continue;
    }
    const [at, length] = pieces[piece++];
    if (spanStart < 0) spanStart = at;
    spanEnd = at + length;
  }
  endSpan();
  return { spans, buffer };
}

/** Whether `bytes` is its whole buffer (so that the buffer can move to a worker). */
function ownsBuffer(bytes: Uint8Array): boolean {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
}

/** Whether `buffer` moved away (to a worker) and is now empty here. */
export function isDetached(buffer: ArrayBuffer): boolean {
  return (buffer as ArrayBuffer & { detached?: boolean }).detached === true;
}
