/**
 * An upload of a large file into the S3 repository: its bytes are cut into chunks as they arrive
 * and hashed whole with them (`ChunkedWriter`, the version's SHA-256 checked once the last pack is
 * written: a mismatch deletes the packs, as any refusal does); chunks this server knows the user
 * has (`DedupCache`) are not stored again, new ones go into packs `p/USER/SESSION.N` (a few PUTs in
 * flight). The commit PUTs a `c` record whose body lists every chunk's pack and offset, then (after
 * the answer, in the background) the index object `x/USER/SESSION.N` of the chunks it stored.
 *
 * An upload dropped, or refused at its commit before the record's PUT, deletes its packs: no index
 * names them yet. A record PUT that fails may have landed all the same, so its packs stay (garbage
 * collection dooms them once no record names them) rather than risk a record naming nothing.
 *
 * Garbage collection's writer rules (docs/s3_repository_plan.md §3.2): a chunk is reused only while
 * the tombstone view is fresh and does not doom its pack (W1); the upload's pin covers its own
 * packs and those it reused (W2); the record is signed at the time the pin allows (W3); the index
 * object is signed with the record's time, so the store refuses it if it lands late (W5).
 *
 * @module
 */
import { toHex } from "../../common/hex.ts";
import { encodeBlob } from "../../repository/blob_codec.ts";
import type { ChunkHasher } from "../../repository/chunk_hasher.ts";
import { type ChunkedFile, ChunkedWriter } from "../../repository/chunked_writer.ts";
import { PackWriter } from "../../repository/pack_writer.ts";
import type { ObjectStore } from "../../objects/object_store.ts";
import type { FileMetadata, Upload } from "../storage.ts";
import {
  DigestMismatchError,
  NameConflictError,
  QuotaExceededError,
  ReplaceRefusedError,
} from "../errors.ts";
import { checkedDigest, expectFilled, expectRoom } from "../upload_checks.ts";
import { type ChunkTable, ChunkTableBuilder, encodeChunkTable, sortedById } from "./chunk_list.ts";
import { CHUNK_ENTRY_BYTES, CHUNK_ID_BYTES, type ChunkLocation } from "./chunk_entry.ts";
import type { DedupCache } from "./dedup_cache.ts";
import type { DoomView } from "./doom_view.ts";
import { indexFolder, packsFolder } from "./keys.ts";
import { PinRefreshError, type UploadPin } from "./pins.ts";
import type { StoredBytes } from "./uploads.ts";

/** What a chunked upload works with, given by the engine. */
export interface S3ChunkedUploadContext {
  userId: number;
  fileName: string;
  size: number;
  /** Where packs and index objects go (object names below the storage prefix). */
  store: ObjectStore;
  dedup: DedupCache;
  packTargetBytes: number;
  /** Pack PUTs one upload runs at once. */
  putsInFlight: number;
  /** How long the upload waits for a cold `DedupCache` to load before it goes on without it. */
  dedupWaitMs: number;
  hasher: ChunkHasher;
  /** The tombstone view (W1): a chunk is reused only while it is fresh and spares its pack. */
  view: DoomView;
  /** Starts the pin (W2, W3) of the upload of `session`, before its first pack PUT. */
  pin(session: string): UploadPin;
  /** PUTs an index object (a name below the prefix), signed at `signedAt` (W5). */
  putIndex(name: string, body: Uint8Array, signedAt: number): Promise<void>;
  /** Stores the record that makes the chunks the current version. */
  commit(sha256: Uint8Array, stored: StoredBytes): Promise<FileMetadata>;
  /** Runs work after the answer (the index object), tracked by the engine. */
  background(work: Promise<unknown>): void;
  /** Called once, when the upload is committed or dropped. */
  release(): void;
}

/** Index entries per index object (restic's `indexMaxBlobs`). */
const INDEX_MAX_ENTRIES = 50_000;

/** Refusals a commit throws before it PUTs the record: the packs are nobody's. */
const REFUSALS = [
  DigestMismatchError,
  NameConflictError,
  QuotaExceededError,
  ReplaceRefusedError,
  PinRefreshError,
];

/** Starts a chunked upload; resolves once the user's dedup cache is loaded (or a wait passed). */
export async function s3ChunkedUpload(ctx: S3ChunkedUploadContext): Promise<Upload> {
  const { userId, store } = ctx;
  await withinMs(ctx.dedup.refresh(userId), ctx.dedupWaitMs);
  const session = toHex(crypto.getRandomValues(new Uint8Array(8)));
  const pin = ctx.pin(session);
  let packs = 0;
  const folder = packsFolder(userId);
  /** Chunks found in the cache, by hex id: their places go into the list. */
  const reused = new Map<string, ChunkLocation>();
  const writer = new ChunkedWriter({
    size: ctx.size,
    packs: new PackWriter(store, {
      targetBytes: ctx.packTargetBytes,
      putsInFlight: ctx.putsInFlight,
      packName: () => `${folder}${session}.${++packs}`,
    }),
    holds: (id) => {
      const found = ctx.dedup.lookup(userId, id);
      if (!found) return false;
      const pack = `${folder}${found.pack}`;
      // W1: a view too old to decide on, or a doomed pack, is a miss (the chunk is stored anew).
      if (!ctx.view.fresh || ctx.view.isDoomed(pack)) return false;
      pin.addPacks([pack]);
      reused.set(toHex(id), { ...found, id: id.slice() });
      return true;
    },
    encode: encodeBlob,
    hasher: ctx.hasher,
    sha256: true, // hashed with the chunks, off the event loop
  });
  let written = 0;
  let finished = false;
  const finish = () => {
    if (finished) return false;
    finished = true;
    ctx.release();
    return true;
  };
  let signedAt: number | undefined;
  return {
    write: async (chunk) => {
      expectRoom(written, chunk.length, ctx.size);
      pin.throwIfFailed();
      // Rejects when the view cannot be refreshed: `holds` then counts misses.
      await ctx.view.ready().catch(() => {});
      written += chunk.length;
      await writer.write(chunk);
    },
    commit: async (options) => {
      if (!finish()) throw new Error("upload already finished");
      let file: ChunkedFile | undefined;
      try {
        expectFilled(written, ctx.size);
        // The last chunks are decided on now: with a fresh view, or as misses.
        await ctx.view.ready().catch(() => {});
        file = await writer.finish();
        const sha256 = checkedDigest(file.sha256!, options, ctx.fileName);
        const { list, stored } = chunkTables(file, reused, folder);
        const packBytes = file.packs.reduce((sum, pack) => sum + pack.size, 0);
        const body = encodeChunkTable("list", list);
        const metadata = await ctx.commit(sha256, {
          body,
          chunks: { size: ctx.size, packBytes },
          signRecordAt: async () => signedAt = await pin.signRecordAt(),
        });
        if (stored.count > 0) {
          const names = indexNames(userId, session, stored.count);
          ctx.dedup.add(userId, stored, names);
          ctx.background(putIndex(ctx, names, stored, signedAt ?? Date.now()));
        }
        return metadata;
      } catch (error) {
        if (!file) await writer.abort();
        else if (REFUSALS.some((refusal) => error instanceof refusal)) {
          await Promise.all(file.packs.map((pack) => store.delete(pack.name).catch(() => {})));
        }
        throw error;
      } finally {
        await pin.end();
      }
    },
    abort: async () => {
      if (!finish()) return;
      try {
        await writer.abort();
      } finally {
        await pin.end();
      }
    },
  };
}

/**
 * The file's list (every chunk in file order, where it is) and the table of the chunks this upload
 * stored (for the index object), their packs named relative to the user's pack folder.
 */
function chunkTables(
  file: ChunkedFile,
  reused: Map<string, ChunkLocation>,
  folder: string,
): { list: ChunkTable; stored: ChunkTable } {
  const here = new Map<string, ChunkLocation>();
  const stored = new ChunkTableBuilder();
  for (const pack of file.packs) {
    const name = pack.name.slice(folder.length);
    for (const blob of pack.blobs) {
      const location = { ...blob, pack: name };
      here.set(toHex(blob.id), location);
      stored.add(location);
    }
  }
  const list = new ChunkTableBuilder();
  for (let i = 0; i < file.count; i++) {
    const key = toHex(file.ids.subarray(i * CHUNK_ID_BYTES, (i + 1) * CHUNK_ID_BYTES));
    const location = here.get(key) ?? reused.get(key);
    if (!location) throw new Error(`chunk ${key} of the upload is in no pack`);
    list.add(location);
  }
  return { list: list.table(), stored: sortedById(stored.table()) };
}

/** The index objects of an upload's `count` stored chunks: `x/USER/SESSION.N`. */
function indexNames(userId: number, session: string, count: number): string[] {
  const pieces = Math.ceil(count / INDEX_MAX_ENTRIES);
  return Array.from({ length: pieces }, (_, i) => `${indexFolder(userId)}${session}.${i + 1}`);
}

/**
 * PUTs the index objects of `stored` (sorted by id), `INDEX_MAX_ENTRIES` each, signed with the
 * record's time (W5: one that lands later than the store's skew is refused, and only a hint lost).
 */
async function putIndex(
  ctx: S3ChunkedUploadContext,
  names: string[],
  stored: ChunkTable,
  signedAt: number,
): Promise<void> {
  for (const [i, name] of names.entries()) {
    const from = i * INDEX_MAX_ENTRIES;
    const count = Math.min(INDEX_MAX_ENTRIES, stored.count - from);
    const entries = stored.entries.subarray(
      from * CHUNK_ENTRY_BYTES,
      (from + count) * CHUNK_ENTRY_BYTES,
    );
    const body = encodeChunkTable("index", { packs: stored.packs, entries, count });
    await ctx.putIndex(name, body, signedAt);
  }
}

/** Waits for `promise` (which never rejects) at most `ms`. */
async function withinMs(promise: Promise<void>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<void>((resolve) => timer = setTimeout(resolve, ms));
  try {
    await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
