/**
 * `verify`'s check of one pack: its object is there with the size its row says, its trailer and
 * header decode (`repository/pack_format.ts`) and agree with every chunk the index places in it;
 * when asked, every such chunk is read, decoded and hashed against its id. A sealed chunk (an
 * encrypted repository's blob, docs/keys_plan.md §2) is read for its length only and counted
 * apart: its id is the client's keyed HMAC, which no server can compute, so it is never called
 * damaged for its bytes. The pack's bytes are read by range: memory is its header and one chunk.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { toHex } from "../../common/hex.ts";
import { ObjectNotFoundError, type ObjectStore } from "../../objects/object_store.ts";
import { CorruptBlobError, decodeBlob, SealedBlobError } from "../../repository/blob_codec.ts";
import {
  type BlobCompression,
  CorruptPackError,
  decodePackHeader,
  decodePackTrailer,
  PACK_TRAILER_BYTES,
  type PackBlob,
} from "../../repository/pack_format.ts";
import { compressionOf } from "./chunk_catalog.ts";
import type { BlobRow, PackRow } from "./verify_queries.ts";
import type { ProblemKind } from "./verify_report.ts";

/** A problem of a pack, with the chunks of the index it concerns (their numbers). */
export interface PackFinding {
  kind: ProblemKind;
  detail: string;
  /** The index's numbers of the chunks found bad or lost. */
  blobNos: number[];
  /** Their ids, hex. */
  chunks: string[];
}

/** What checking one pack found. */
export interface PackCheck {
  findings: PackFinding[];
  /** Chunks read and hashed. */
  chunksRead: number;
  /** Sealed chunks read: their lengths checked, their bytes not hashable here. */
  sealedRead: number;
}

/** What `checkPack` works with. */
export interface PackCheckContext {
  store: ObjectStore;
  /** The chunks the index places in the pack, by offset (read after the pack's row). */
  blobs: () => BlobRow[];
  /** Whether the pack's row is still in the index (garbage collection may remove it meanwhile). */
  stillThere: () => boolean;
  /** Whether to read and hash every chunk the index places in the pack. */
  readData: boolean;
}

/** Most chunks named in one finding: a pack gone loses them all, and the count says the rest. */
const MAX_NAMED_CHUNKS = 16;

/**
 * Checks one pack; see the module comment.
 *
 * @returns what was found, or `"removed"` if the pack went away with its row meanwhile.
 */
export async function checkPack(
  ctx: PackCheckContext,
  pack: PackRow,
): Promise<PackCheck | "removed"> {
  const findings: PackFinding[] = [];
  const result: PackCheck = { findings, chunksRead: 0, sealedRead: 0 };
  for (const finding of bookkeeping(pack)) findings.push(finding);
  const lost = (kind: ProblemKind, detail: string, blobs: BlobRow[]): PackCheck | "removed" => {
    if (!ctx.stillThere()) return "removed";
    findings.push(finding(kind, detail, blobs));
    return result;
  };
  try {
    const info = await ctx.store.stat(pack.name);
    if (!info) return lost("missing-pack", "the pack's object is missing", ctx.blobs());
    if (info.size !== pack.size) {
      return lost(
        "pack-size",
        `the object holds ${info.size} bytes, the index says ${pack.size}`,
        ctx.blobs(),
      );
    }
    let entries: PackBlob[];
    try {
      entries = await readHeader(ctx.store, pack);
    } catch (error) {
      if (!(error instanceof CorruptPackError)) throw error;
      return lost("pack-header", error.message, ctx.blobs());
    }
    const blobs = ctx.blobs();
    const disagreeing = disagreements(entries, blobs);
    if (disagreeing.length > 0) {
      const first = disagreeing[0];
      findings.push(finding(
        "pack-header",
        `the header disagrees with the index about ${disagreeing.length} chunk(s); ` +
          `first: ${first.reason}`,
        disagreeing.map((item) => item.blob),
      ));
    }
    if (!ctx.readData) return result;
    const bad: BlobRow[] = [];
    let firstReason = "";
    const skip = new Set(disagreeing.map((item) => item.blob.blob_no));
    for (const blob of blobs) {
      if (skip.has(blob.blob_no)) continue;
      const reason = await readChunk(ctx.store, pack.name, blob);
      if (reason === SEALED) {
        result.sealedRead++;
        continue;
      }
      result.chunksRead++;
      if (reason === undefined) continue;
      if (bad.length === 0) firstReason = reason;
      bad.push(blob);
    }
    if (bad.length > 0) {
      findings.push(finding(
        "bad-chunk",
        `${bad.length} chunk(s) do not hold their bytes; first: ${firstReason}`,
        bad,
      ));
    }
    return result;
  } catch (error) {
    if (error instanceof ObjectNotFoundError) {
      return lost("missing-pack", "the pack's object went missing while read", ctx.blobs());
    }
    throw error;
  }
}

/** A pack row's counts against its chunks' rows (kept by triggers; one statement read both). */
function bookkeeping(pack: PackRow): PackFinding[] {
  const wrong: string[] = [];
  if (pack.blob_bytes !== pack.indexed_bytes) {
    wrong.push(`blob_bytes ${pack.blob_bytes}, its chunks add up to ${pack.indexed_bytes}`);
  }
  if (pack.live_bytes !== pack.live_indexed_bytes) {
    wrong.push(
      `live_bytes ${pack.live_bytes}, its referenced chunks add up to ${pack.live_indexed_bytes}`,
    );
  }
  if (pack.foreign_blobs > 0) {
    wrong.push(`${pack.foreign_blobs} of its chunks are indexed for another user`);
  }
  if (wrong.length === 0) return [];
  return [{ kind: "pack-bookkeeping", detail: wrong.join("; "), blobNos: [], chunks: [] }];
}

/**
 * The pack's header entries, from its trailer (the last bytes) and the header before it.
 *
 * @throws {CorruptPackError} if either does not decode, or they do not fit the pack's size.
 */
async function readHeader(store: ObjectStore, pack: PackRow): Promise<PackBlob[]> {
  if (pack.size < PACK_TRAILER_BYTES) {
    throw new CorruptPackError(`a pack of ${pack.size} bytes has no room for its trailer`);
  }
  const trailerAt = pack.size - PACK_TRAILER_BYTES;
  const trailer = decodePackTrailer(
    await store.get(pack.name, { offset: trailerAt, length: PACK_TRAILER_BYTES }),
  );
  if (trailer.headerBytes > trailerAt) {
    throw new CorruptPackError(
      `the trailer says ${trailer.count} chunks (${trailer.headerBytes} header bytes), ` +
        `the pack has ${trailerAt} bytes before its trailer`,
    );
  }
  const header = await store.get(pack.name, {
    offset: trailerAt - trailer.headerBytes,
    length: trailer.headerBytes,
  });
  return decodePackHeader(header, trailer, pack.size);
}

/** The index's chunks that no header entry confirms: same offset, lengths, compression and id. */
function disagreements(
  entries: PackBlob[],
  blobs: BlobRow[],
): Array<{ blob: BlobRow; reason: string }> {
  const byOffset = new Map(entries.map((entry) => [entry.offset, entry]));
  const found: Array<{ blob: BlobRow; reason: string }> = [];
  for (const blob of blobs) {
    const entry = byOffset.get(blob.offset);
    const id = toHex(blob.id);
    const compression = compressionOf(blob.compression);
    let reason: string | undefined;
    if (!entry) reason = `no chunk starts at offset ${blob.offset}`;
    else if (toHex(entry.id) !== id) reason = `the chunk at ${blob.offset} is ${toHex(entry.id)}`;
    else if (
      entry.storedLength !== blob.stored_length || entry.rawLength !== blob.raw_length ||
      entry.compression !== compression
    ) {
      reason = `the header says ${entry.storedLength} stored, ${entry.rawLength} raw, ` +
        `${entry.compression}; the index ${blob.stored_length}, ${blob.raw_length}, ${compression}`;
    }
    if (reason !== undefined) found.push({ blob, reason: `chunk ${id}: ${reason}` });
  }
  return found;
}

/** What `readChunk` answers for a sealed chunk of the right length. */
const SEALED = Symbol("sealed");

/**
 * Reads one chunk where the index places it, decodes it and hashes it (a sealed one: its length).
 *
 * @returns why it is bad, `SEALED` for a sealed chunk of its length, or `undefined` if it holds
 *   its bytes.
 * @throws {ObjectNotFoundError} if the pack is gone.
 */
async function readChunk(
  store: ObjectStore,
  packName: string,
  blob: BlobRow,
): Promise<string | typeof SEALED | undefined> {
  const id = toHex(blob.id);
  const stored = await store.get(packName, { offset: blob.offset, length: blob.stored_length });
  if (stored.length !== blob.stored_length) {
    return `chunk ${id}: the pack ends ${blob.stored_length - stored.length} bytes short of it`;
  }
  if (compressionOf(blob.compression) === "sealed") return SEALED;
  const read = decodeChunk(
    stored,
    compressionOf(blob.compression),
    blob.raw_length,
    blob.id,
  );
  return "fault" in read ? read.fault : undefined;
}

/** A chunk's raw bytes, or why its stored bytes are not them. */
export type ChunkRead = { raw: Uint8Array } | { fault: string };

/**
 * Decodes a chunk's stored bytes and checks that they are `rawLength` bytes hashing to `id`. A
 * sealed chunk has no raw bytes here: a fault where raw bytes are needed (a file's version).
 */
export function decodeChunk(
  stored: Uint8Array,
  compression: BlobCompression,
  rawLength: number,
  id: Uint8Array,
): ChunkRead {
  let raw: Uint8Array;
  try {
    raw = decodeBlob(stored, compression, rawLength);
  } catch (error) {
    if (!(error instanceof CorruptBlobError || error instanceof SealedBlobError)) throw error;
    return { fault: `chunk ${toHex(id)}: ${error.message}` };
  }
  const digest = toHex(createHash("sha256").update(raw).digest());
  return digest === toHex(id)
    ? { raw }
    : { fault: `chunk ${toHex(id)}: its bytes hash to ${digest}` };
}

function finding(kind: ProblemKind, detail: string, blobs: BlobRow[]): PackFinding {
  return {
    kind,
    detail,
    blobNos: blobs.map((blob) => blob.blob_no),
    chunks: blobs.slice(0, MAX_NAMED_CHUNKS).map((blob) => toHex(blob.id)),
  };
}
