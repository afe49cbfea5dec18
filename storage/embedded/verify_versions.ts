/**
 * `verify`'s check of one version: the shape of its chunk list (always), and, when asked, its bytes
 * read back (from the index, its data file, or its chunks, each chunk hashed against its id as it
 * is read) and hashed against the version's SHA-256. A version removed by the running server
 * meanwhile is told apart from a broken one by looking at the index again.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { toHex } from "../../common/hex.ts";
import { ObjectNotFoundError, type ObjectStore } from "../../objects/object_store.ts";
import type { Placement } from "../../repository/chunked_source.ts";
import { compareBytes } from "../../protocol/list.ts";
import { CorruptStoreError } from "../storage.ts";
import { type DataFiles, MissingDataFileError } from "./data_files.ts";
import { type ChunkRead, decodeChunk } from "./verify_packs.ts";
import type { VersionRow } from "./verify_queries.ts";
import type { ProblemKind, VerifyProblem } from "./verify_report.ts";

/** What checking a version works with. */
export interface VersionCheckContext {
  store: ObjectStore;
  dataFiles: DataFiles;
  /** Where a version's chunks are, from `fromSeq` on, `limit` at most (`ChunkCatalog`). */
  placements: (userId: number, versionId: number, fromSeq: number, limit: number) => Placement[];
  /** Whether the version is still in the index. */
  stillThere: (versionId: number) => boolean;
}

/** What checking one version found. */
export interface VersionCheck {
  problem?: VerifyProblem;
  /** Bytes read and hashed. */
  bytes: number;
  /** Chunks read and hashed. */
  chunksRead: number;
}

const SHA256_BYTES = 32;
const READ_CHUNK = 1024 * 1024;
/** Places of chunks read per query. */
const PLACEMENT_PAGE = 64;
/** Most bad chunks named for one version. */
const MAX_NAMED_CHUNKS = 16;
const decoder = new TextDecoder();

/**
 * Checks one version; reads its bytes only if `read`.
 *
 * @returns what was found, or `"removed"` if the version went away meanwhile.
 */
export async function checkVersion(
  ctx: VersionCheckContext,
  row: VersionRow,
  read: boolean,
): Promise<VersionCheck | "removed"> {
  const result: VersionCheck = { bytes: 0, chunksRead: 0 };
  const found = (kind: ProblemKind, detail: string, chunks?: string[]) => {
    result.problem = {
      kind,
      detail,
      userId: row.user_id,
      name: decoder.decode(row.name),
      versionId: row.id,
      current: row.current === 1,
      ...(chunks ? { chunks } : {}),
    };
    return result;
  };
  if (row.sha256.length !== SHA256_BYTES) return found("missing-digest", "no SHA-256 stored");
  if (row.chunk_count !== null) {
    const shape = listFault(row);
    if (shape) return found("chunk-list", shape);
    if (!read) return result;
    return await readChunked(ctx, row, result, found);
  }
  if (row.data_file === null) {
    if (!read) return result;
    result.bytes = row.content!.length;
    return digestFault(createHash("sha256").update(row.content!).digest(), row, result, found);
  }
  let file: Deno.FsFile;
  try {
    file = await ctx.dataFiles.open(row.data_file, row.size);
  } catch (error) {
    if (error instanceof MissingDataFileError) {
      if (!ctx.stillThere(row.id)) return "removed";
      return found("missing", `data file ${row.data_file} is missing`);
    }
    if (error instanceof CorruptStoreError) return found("unreadable", error.message);
    throw error;
  }
  using _ = file;
  if (!read) return result;
  const hash = createHash("sha256");
  const buffer = new Uint8Array(READ_CHUNK);
  for (let count = await file.read(buffer); count !== null; count = await file.read(buffer)) {
    hash.update(buffer.subarray(0, count));
    result.bytes += count;
  }
  return digestFault(hash.digest(), row, result, found);
}

/** What is wrong with a chunked version's list, as one statement read it, if anything. */
function listFault(row: VersionRow): string | undefined {
  const count = row.chunk_count!;
  if (row.entries !== count) return `the version has ${count} chunks, its list ${row.entries}`;
  if (count > 0 && (row.first_seq !== 0 || row.last_seq !== count - 1)) {
    return `its list runs from ${row.first_seq} to ${row.last_seq}, not 0 to ${count - 1}`;
  }
  if (row.dangling! > 0) return `${row.dangling} entries of its list name no chunk of its user`;
  if (row.raw_bytes !== row.size) {
    return `its chunks add up to ${row.raw_bytes} bytes, the version has ${row.size}`;
  }
  return undefined;
}

type Found = (kind: ProblemKind, detail: string, chunks?: string[]) => VersionCheck;

function digestFault(digest: Uint8Array, row: VersionRow, result: VersionCheck, found: Found) {
  if (compareBytes(new Uint8Array(digest), row.sha256) === 0) return result;
  return found("mismatch", `SHA-256 is ${toHex(digest)}, stored ${toHex(row.sha256)}`);
}

/** Reads a chunked version chunk by chunk, each checked against its id, then the whole digest. */
async function readChunked(
  ctx: VersionCheckContext,
  row: VersionRow,
  result: VersionCheck,
  found: Found,
): Promise<VersionCheck | "removed"> {
  const count = row.chunk_count!;
  const hash = createHash("sha256");
  const bad: string[] = [];
  let badCount = 0;
  let firstReason = "";
  let lostKind: ProblemKind = "bad-chunk";
  let page: Placement[] = [];
  for (let seq = 0; seq < count; seq++) {
    if (!page.some((placement) => placement.seq === seq)) {
      page = ctx.placements(row.user_id, row.id, seq, PLACEMENT_PAGE);
    }
    let placement = page.find((candidate) => candidate.seq === seq);
    if (!placement) {
      // Its list forgotten: the version was removed and garbage collected meanwhile.
      if (!ctx.stillThere(row.id)) return "removed";
      return found("chunk-list", `chunk ${seq} of ${count} is not indexed`);
    }
    let read: ChunkRead;
    try {
      read = await readPlaced(ctx.store, placement);
    } catch (error) {
      if (!(error instanceof ObjectNotFoundError)) throw error;
      // Moved by garbage collection meanwhile (a repack), or lost: look again once.
      page = ctx.placements(row.user_id, row.id, seq, PLACEMENT_PAGE);
      const moved = page.find((candidate) => candidate.seq === seq);
      if (!moved && !ctx.stillThere(row.id)) return "removed";
      if (moved && moved.pack !== placement.pack) placement = moved;
      read = await readPlaced(ctx.store, placement).catch((again) => {
        if (!(again instanceof ObjectNotFoundError)) throw again;
        lostKind = "missing-chunk";
        return { fault: `chunk ${toHex(placement!.id)}: pack ${placement!.pack} is missing` };
      });
    }
    result.chunksRead++;
    if ("raw" in read) {
      // Hashed again whole: the version's digest proves the list's order, not only its chunks.
      hash.update(read.raw);
      result.bytes += read.raw.length;
      continue;
    }
    const fault = read.fault;
    if (badCount === 0) firstReason = fault;
    badCount++;
    if (bad.length < MAX_NAMED_CHUNKS) bad.push(toHex(placement.id));
  }
  if (badCount > 0) {
    return found(
      lostKind,
      `${badCount} of its ${count} chunks do not hold their bytes; first: ${firstReason}`,
      bad,
    );
  }
  return digestFault(hash.digest(), row, result, found);
}

/**
 * Reads a chunk where `placement` says, decoded and checked against its id.
 *
 * @throws {ObjectNotFoundError} if its pack is gone.
 */
async function readPlaced(store: ObjectStore, placement: Placement): Promise<ChunkRead> {
  const stored = await store.get(placement.pack, {
    offset: placement.offset,
    length: placement.storedLength,
  });
  if (stored.length !== placement.storedLength) {
    return {
      fault: `chunk ${toHex(placement.id)}: pack ${placement.pack} ends ${
        placement.storedLength - stored.length
      } bytes short of it`,
    };
  }
  return decodeChunk(stored, placement.compression, placement.rawLength, placement.id);
}
