/**
 * The S3 backend's reads of one name: its history, its newest record, and opening a stored version
 * (from its record or its data object), looking again if pruning or a replace removed the object
 * between the listing and the read.
 *
 * @module
 */
import { FileNotFoundError } from "../../protocol/errors.ts";
import { sourceFromReadable } from "../../io/byte_stream.ts";
import type { StoredFile } from "../storage.ts";
import { S3Error } from "../../objects/s3/s3_client.ts";
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
