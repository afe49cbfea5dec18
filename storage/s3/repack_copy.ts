/**
 * What both repacks (`repack.ts` for the records' chunks, `snapshot_repack.ts` for snapshot blobs)
 * do alike: a pinned session of their own whose pack writer names packs `p/USER/SESSION.N`, and an
 * old pack's live chunks read in runs of adjacent ones (one ranged GET each), each checked.
 *
 * @example
 * ```ts
 * import { runsOf } from "./repack_copy.ts";
 * import assert from "node:assert/strict";
 * const at = (offset: number, storedLength: number) => ({
 *   id: new Uint8Array(32), pack: "a.1", offset, storedLength, rawLength: storedLength,
 *   compression: "none" as const,
 * });
 * const runs = runsOf([at(0, 10), at(10, 5), at(40, 5)]);
 * assert.deepEqual(runs.map((run) => run.map((chunk) => chunk.offset)), [[0, 10], [40]]);
 * ```
 *
 * @module
 */
import { createHash } from "node:crypto";
import { sameBytes } from "../../common/bytes.ts";
import { ObjectNotFoundError } from "../../objects/object_store.ts";
import type { S3Client } from "../../objects/s3/s3_client.ts";
import type { S3ObjectStore } from "../../objects/s3_store.ts";
import { CorruptBlobError, decodeBlob } from "../../repository/blob_codec.ts";
import { PackWriter } from "../../repository/pack_writer.ts";
import type { ChunkLocation } from "./chunk_entry.ts";
import { randomId } from "./gc_objects.ts";
import { packsFolder } from "./keys.ts";
import type { S3GcOptions } from "./options.ts";
import { UploadPin } from "./pins.ts";

/** Bytes one ranged GET of an old pack brings at most. */
export const RUN_BYTES = 16 * 1024 * 1024;

/** A repack's session for one user. */
export interface RepackSession {
  session: string;
  pin: UploadPin;
  writer: PackWriter;
}

/** What a repack's session is made with. */
export interface RepackSessionContext {
  client: S3Client;
  prefix: string;
  gc: S3GcOptions;
  packTargetBytes: number;
  onError: (error: unknown) => void;
}

/** A user's session: its pin first, before any pack PUT (W2). */
export function openRepackSession(
  ctx: RepackSessionContext,
  store: S3ObjectStore,
  userId: number,
): RepackSession {
  const session = randomId();
  let packs = 0;
  return {
    session,
    pin: new UploadPin({
      client: ctx.client,
      prefix: ctx.prefix,
      userId,
      session,
      intervalMs: ctx.gc.pinIntervalMs,
      clock: ctx.gc.clock,
      onError: ctx.onError,
    }),
    writer: new PackWriter(store, {
      targetBytes: ctx.packTargetBytes,
      putsInFlight: 1,
      packName: () => `${packsFolder(userId)}${session}.${++packs}`,
    }),
  };
}

/** What `readLive` found of an old pack's live chunks. */
export type LiveRead =
  | { kind: "read"; checked: { chunk: ChunkLocation; stored: Uint8Array }[] }
  /** Swept meanwhile: nothing to move. */
  | { kind: "gone" }
  /** The first chunk whose stored bytes are not it: the pack stays as it is. */
  | { kind: "damaged"; chunk: ChunkLocation };

/** Reads `live` (sorted by offset) of pack `object` in runs and checks each chunk (`holds`). */
export async function readLive(
  store: S3ObjectStore,
  object: string,
  live: readonly ChunkLocation[],
): Promise<LiveRead> {
  const checked: { chunk: ChunkLocation; stored: Uint8Array }[] = [];
  for (const run of runsOf(live)) {
    const offset = run[0].offset;
    const length = run.reduce((sum, chunk) => sum + chunk.storedLength, 0);
    let bytes: Uint8Array;
    try {
      bytes = await store.get(object, { offset, length });
    } catch (error) {
      if (error instanceof ObjectNotFoundError) return { kind: "gone" };
      throw error;
    }
    let at = 0;
    for (const chunk of run) {
      const stored = bytes.subarray(at, at += chunk.storedLength);
      if (!holds(stored, chunk)) return { kind: "damaged", chunk };
      checked.push({ chunk, stored });
    }
  }
  return { kind: "read", checked };
}

/** `chunks` (sorted by offset) cut into runs of adjacent chunks, `RUN_BYTES` at most each. */
export function runsOf(chunks: readonly ChunkLocation[]): ChunkLocation[][] {
  const runs: ChunkLocation[][] = [];
  let run: ChunkLocation[] = [];
  let bytes = 0;
  for (const chunk of chunks) {
    const last = run.at(-1);
    const adjacent = last && chunk.offset === last.offset + last.storedLength;
    if (run.length > 0 && (!adjacent || bytes + chunk.storedLength > RUN_BYTES)) {
      runs.push(run);
      run = [];
      bytes = 0;
    }
    run.push(chunk);
    bytes += chunk.storedLength;
  }
  if (run.length > 0) runs.push(run);
  return runs;
}

/**
 * Whether `stored` is the chunk: a plain one decodes to bytes hashing to its id; a sealed one (a
 * snapshot's: its id is the client's keyed HMAC) can be checked for its length only.
 */
function holds(stored: Uint8Array, chunk: ChunkLocation): boolean {
  if (stored.length !== chunk.storedLength) return false;
  if (chunk.compression === "sealed") return stored.length === chunk.rawLength;
  try {
    const raw = decodeBlob(stored, chunk.compression, chunk.rawLength);
    return sameBytes(createHash("sha256").update(raw).digest(), chunk.id);
  } catch (error) {
    if (error instanceof CorruptBlobError) return false;
    throw error;
  }
}
