/**
 * The S3 backend's housekeeping: dropping what retention no longer keeps, multipart uploads a killed
 * server left behind, and data objects no record points to (a server killed between completing a
 * large upload and storing its record).
 *
 * @module
 */
import type { S3Client } from "../../objects/s3/s3_client.ts";
import { expiredRecords, histories, type History, type StoredRecord } from "./histories.ts";
import { dataKey, recordsRoot, userDataPrefix } from "./keys.ts";
import { type AppendOnlyOf, type Retention, retentionFor } from "../retention.ts";

const DAY_MS = 86_400_000;
/** A data object younger than this is never taken for an orphan: its record may be on its way. */
export const ORPHAN_GRACE_MS = 60 * 60 * 1000;

/** Where housekeeping works. */
export interface Housekeeping {
  client: S3Client;
  prefix: string;
  retention: Retention;
  /** Whether a user is append-only now: their past versions are not limited in number. */
  appendOnlyOf: AppendOnlyOf;
  now: () => number;
}

/** Deletes a record, then its data object: a record never points to nothing. */
export async function removeRecord(hk: Housekeeping, userId: number, record: StoredRecord) {
  await hk.client.delete(record.key);
  if (record.fields.kind === "file" && record.fields.data) {
    await hk.client.delete(dataKey(hk.prefix, userId, record.fields.data.dataId));
  }
}

/**
 * Drops what retention no longer keeps of one history (as it applies to its user now: see
 * `retentionFor`); resolves to how many versions went.
 */
export async function pruneHistory(hk: Housekeeping, history: History): Promise<number> {
  const { keepDays, keepVersions } = retentionFor(hk.retention, hk.appendOnlyOf(history.userId));
  // Zero days keeps no past version at all, however recent (as the embedded engine does).
  const keepSinceMs = keepDays === 0 ? Infinity : hk.now() - keepDays * DAY_MS;
  const expired = expiredRecords(history, keepSinceMs, keepVersions);
  for (const record of expired) await removeRecord(hk, history.userId, record);
  return expired.filter((record) => record.fields.kind === "file").length;
}

/**
 * Prunes every user's histories, and removes each user's orphan data objects.
 *
 * @returns how many versions were removed.
 */
export async function pruneAll(hk: Housekeeping): Promise<number> {
  let removed = 0;
  let user: number | undefined;
  let referenced = new Set<string>();
  const root = recordsRoot(hk.prefix);
  for await (const history of histories(hk.client, root, root)) {
    if (history.userId !== user) {
      if (user !== undefined) await removeOrphans(hk, user, referenced);
      user = history.userId;
      referenced = new Set();
    }
    removed += await pruneHistory(hk, history);
    for (const record of history.records) {
      if (record.fields.kind === "file" && record.fields.data) {
        referenced.add(record.fields.data.dataId);
      }
    }
  }
  if (user !== undefined) await removeOrphans(hk, user, referenced);
  return removed;
}

/**
 * Aborts the multipart uploads under the data folder that a server with `serverTag` started (a
 * previous run of this one: the server starting now has none yet) or that began before `staleMs`
 * ago (any server's).
 *
 * @returns how many were aborted.
 */
export async function abortStaleUploads(
  hk: Housekeeping,
  serverTag: string,
  staleMs: number,
): Promise<number> {
  let aborted = 0;
  const dataRoot = `${hk.prefix}d/`;
  const cutoff = Date.now() - staleMs; // the store's clock, not the (injectable) version clock
  for await (const upload of hk.client.pendingUploads(dataRoot)) {
    const dataId = upload.key.slice(upload.key.lastIndexOf("/") + 1);
    if (dataId.startsWith(`${serverTag}.`) || upload.initiatedMs < cutoff) {
      await hk.client.abortMultipart(upload.key, upload.uploadId);
      aborted++;
    }
  }
  return aborted;
}

async function removeOrphans(hk: Housekeeping, userId: number, referenced: Set<string>) {
  const folder = userDataPrefix(hk.prefix, userId);
  const cutoff = Date.now() - ORPHAN_GRACE_MS;
  for await (const page of hk.client.list(folder)) {
    for (const object of page) {
      const dataId = object.key.slice(folder.length);
      if (!referenced.has(dataId) && object.lastModifiedMs < cutoff) {
        await hk.client.delete(object.key);
      }
    }
  }
}
