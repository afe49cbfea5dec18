/**
 * The S3 backend's reads of one name: its history, its newest record, and opening a stored version
 * (from its record or its data object, streamed; a `z` record read whole, decoded and checked; a
 * `c` record's chunks from their packs, `chunked_read.ts`), looking again if pruning or a replace
 * removed the object between the listing and the read.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { NoSuchFileError } from "../errors.ts";
import { bytesSource, sourceFromReadable } from "../../io/byte_stream.ts";
import { CorruptStoreError, type StoredFile } from "../storage.ts";
import { S3Error } from "../../objects/s3/s3_error.ts";
import { CorruptBlobError, decodeBlob } from "../../repository/blob_codec.ts";
import { type FileRecord, histories, type History, latest, metadataOf } from "./histories.ts";
import { dataKey, nameRecordsPrefix, packsFolder, recordsRoot } from "./keys.ts";
import type { ListScope } from "./listings.ts";
import type { ObjectStore } from "../../objects/object_store.ts";
import {
  chunkAt,
  type ChunkTable,
  decodeChunkTable,
  MAX_PACK_NAME_BYTES,
  TABLE_HEADER_BYTES,
} from "./chunk_list.ts";
import { CHUNK_ENTRY_BYTES } from "./chunk_entry.ts";
import { chunkedS3Source } from "./chunked_read.ts";

/** The smallest chunk any list may hold but a file's last (a quarter of the chunker's minimum). */
const SMALLEST_CHUNK = 64 * 1024;

/** Every record of `name`, or `undefined` if it has none. */
export function historyOf(scope: ListScope, name: string): Promise<History | undefined> {
  const prefix = nameRecordsPrefix(scope.prefix, scope.userId, name);
  return histories(scope.client, recordsRoot(scope.prefix), prefix).next()
    .then((next) => next.done ? undefined : next.value);
}

/** The newest record of `name` (one key listed), as a history of one. */
export function latestOf(scope: ListScope, name: string): Promise<History | undefined> {
  const prefix = nameRecordsPrefix(scope.prefix, scope.userId, name);
  return latest(scope.client, recordsRoot(scope.prefix), prefix);
}

/** The current version's record: the history's last, unless that is a deletion. */
export function currentRecord(history: History | undefined): FileRecord | undefined {
  const last = history?.records.at(-1);
  return last?.fields.kind === "file" ? last as FileRecord : undefined;
}

/**
 * Opens the current version of `name`, or version `versionId` (current or past).
 *
 * @throws {NoSuchFileError} if there is no such file or version.
 * @throws {CorruptStoreError} if a `z` record does not decode to the file its key describes.
 * @throws {S3Error} if the store refuses the read.
 */
export async function openStored(
  scope: ListScope,
  target: { name: string; versionId?: number },
  packs: ObjectStore,
): Promise<StoredFile> {
  const { name, versionId } = target;
  for (let attempt = 1;; attempt++) {
    const record = versionId === undefined
      ? currentRecord(await latestOf(scope, name))
      : await versionRecord(scope, name, versionId);
    if (!record) throw new NoSuchFileError(name);
    const { data } = record.fields;
    try {
      if (record.fields.chunks) return await openChunked(scope, name, record, packs);
      const response = await scope.client.get(
        data ? dataKey(scope.prefix, scope.userId, data.dataId) : record.key,
      );
      if (record.fields.zstd) {
        const bytes = await decodeRecord(record, response.body);
        return { source: bytesSource(bytes), metadata: metadataOf(record), [Symbol.dispose]() {} };
      }
      const source = sourceFromReadable(response.body ?? ReadableStream.from([]));
      return {
        source,
        metadata: metadataOf(record),
        // A retrieve cut short drops the rest of the object (and its connection to the store).
        [Symbol.dispose]: () => void source.cancel().catch(() => {}),
      };
    } catch (error) {
      // Pruned or replaced between the listing and the read: look again.
      if (error instanceof S3Error && error.status === 404 && attempt < 3) continue;
      throw error;
    }
  }
}

/** The record of version `versionId` of `name`, if it has one. */
async function versionRecord(
  scope: ListScope,
  name: string,
  versionId: number,
): Promise<FileRecord | undefined> {
  return (await historyOf(scope, name))?.records.findLast((r) =>
    r.fields.kind === "file" && r.fields.versionId === versionId
  ) as FileRecord | undefined;
}

/**
 * A `c` record's file: its list (GET, bounded, checked to add up to the file's size), then its
 * chunks (`chunkedS3Source`), the first run read before this resolves so that a pack gone or
 * damaged is refused before any byte is answered.
 */
async function openChunked(
  scope: ListScope,
  name: string,
  record: FileRecord,
  packs: ObjectStore,
): Promise<StoredFile> {
  const list = await readList(scope, record);
  const source = chunkedS3Source({
    store: packs,
    packsFolder: packsFolder(scope.userId),
    list,
    reload: async () => {
      const again = await versionRecord(scope, name, record.fields.versionId);
      return again?.fields.chunks ? await readList(scope, again) : undefined;
    },
  });
  await source.ready();
  // Its read buffers back to the shared pool, if the answer stopped part-way.
  return { source, metadata: metadataOf(record), [Symbol.dispose]: () => void source.close() };
}

/**
 * A `c` record's chunk list.
 *
 * @throws {CorruptStoreError} if it is malformed or its chunks do not add up to the file's size.
 */
async function readList(scope: ListScope, record: FileRecord): Promise<ChunkTable> {
  const size = record.fields.chunks!.size;
  const most = Math.ceil(size / SMALLEST_CHUNK) + 1;
  const limit = TABLE_HEADER_BYTES + most * (CHUNK_ENTRY_BYTES + 1 + MAX_PACK_NAME_BYTES);
  const response = await scope.client.get(record.key);
  const list = decodeChunkTable("list", await readAtMost(response.body, limit, record.key));
  let total = 0;
  for (let i = 0; i < list.count; i++) total += chunkAt(list, i).rawLength;
  if (total !== size) {
    throw new CorruptStoreError(
      `record ${record.key}: its chunks hold ${total} bytes, not ${size}`,
    );
  }
  return list;
}

/**
 * The file a `z` record holds: its body (never more than the file's size is read: a frame that pays
 * is smaller), decoded by `decodeBlob` bounded by that size, and checked against the key's SHA-256.
 *
 * @throws {CorruptStoreError} if it is anything else.
 */
async function decodeRecord(
  record: FileRecord,
  body: ReadableStream<Uint8Array> | null,
): Promise<Uint8Array> {
  const size = record.fields.zstd!.size;
  const frame = await readAtMost(body, size, record.key);
  let bytes: Uint8Array;
  try {
    bytes = decodeBlob(frame, "zstd", size);
  } catch (error) {
    if (!(error instanceof CorruptBlobError)) throw error;
    throw new CorruptStoreError(`record ${record.key}: ${error.message}`, { cause: error });
  }
  const sha256 = createHash("sha256").update(bytes).digest();
  if (!sha256.equals(record.fields.sha256)) {
    throw new CorruptStoreError(
      `record ${record.key}: its bytes do not have the SHA-256 of its key`,
    );
  }
  return bytes;
}

/** The whole of `body`, refused past `limit` bytes (the rest is not read). */
async function readAtMost(
  body: ReadableStream<Uint8Array> | null,
  limit: number,
  key: string,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let length = 0;
  for await (const chunk of body ?? ReadableStream.from([])) {
    length += chunk.length;
    if (length > limit) {
      // Leaving the loop early cancels the stream (and drops the connection to the store).
      throw new CorruptStoreError(`record ${key}: a body larger than its file can have`);
    }
    chunks.push(chunk);
  }
  const bytes = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  return bytes;
}
