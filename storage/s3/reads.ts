/**
 * The S3 backend's reads of one name: its history, its newest record, and opening a stored version
 * (from its record or its data object, streamed; a `z` record read whole, decoded and checked),
 * looking again if pruning or a replace removed the object between the listing and the read.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { FileNotFoundError } from "../../protocol/errors.ts";
import { bytesSource, sourceFromReadable } from "../../io/byte_stream.ts";
import { CorruptStoreError, type StoredFile } from "../storage.ts";
import { S3Error } from "../../objects/s3/s3_client.ts";
import { CorruptBlobError, decodeBlob } from "../../repository/blob_codec.ts";
import { type FileRecord, histories, type History, latest, metadataOf } from "./histories.ts";
import { dataKey, nameRecordsPrefix, recordsRoot } from "./keys.ts";
import type { ListScope } from "./listings.ts";

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
 * @throws {FileNotFoundError} if there is no such file or version.
 * @throws {CorruptStoreError} if a `z` record does not decode to the file its key describes.
 * @throws {S3Error} if the store refuses the read.
 */
export async function openStored(
  scope: ListScope,
  target: { name: string; versionId?: number },
): Promise<StoredFile> {
  const { name, versionId } = target;
  for (let attempt = 1;; attempt++) {
    const record = versionId === undefined
      ? currentRecord(await latestOf(scope, name))
      : (await historyOf(scope, name))?.records.findLast((r) =>
        r.fields.kind === "file" && r.fields.versionId === versionId
      ) as FileRecord | undefined;
    if (!record) throw new FileNotFoundError(name);
    const { data } = record.fields;
    try {
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
      throw new CorruptStoreError(`record ${key}: a compressed body larger than its file`);
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
