/**
 * A user's records as the S3 listing gives them, grouped into each name's history (its records,
 * oldest first), and what a history says: the version current at a moment, every version, what
 * retention drops. Memory: one name's history at a time.
 *
 * @module
 */
import type { FileMetadata, VersionRecord } from "../storage.ts";
import type { S3Client } from "../../objects/s3/s3_client.ts";
import { parseRecordKey, type RecordFields, VERSION_TICKS } from "./keys.ts";

/** One record object. */
export interface StoredRecord {
  key: string;
  /** The record object's own size (the file's when its bytes are in it as they are). */
  objectSize: number;
  fields: RecordFields;
}

/** A file version's record. */
export type FileRecord = StoredRecord & { fields: Extract<RecordFields, { kind: "file" }> };

/** A name and its records, oldest first (the store lists them newest first). */
export interface History {
  userId: number;
  name: string;
  records: StoredRecord[];
}

const encoder = new TextEncoder();

/** When a version was stored, from its id. */
export function storedMsOf(versionId: number): number {
  return Math.floor(versionId / VERSION_TICKS);
}

/**
 * The histories of the names whose record keys start with `listPrefix`, in key order. Keys are
 * read after `recordsRoot` (`PREFIX u/`) as `USER/NAME …`; objects that are not records are passed
 * over (an operator's own files in the bucket).
 */
export async function* histories(
  client: S3Client,
  recordsRoot: string,
  listPrefix: string,
  first?: number,
): AsyncGenerator<History> {
  let current: History | undefined;
  for await (const page of client.list(listPrefix, first)) {
    for (const object of page) {
      const rest = object.key.slice(recordsRoot.length);
      const slash = rest.indexOf("/");
      let parsed;
      try {
        parsed = parseRecordKey(rest.slice(slash + 1));
      } catch {
        continue;
      }
      const userId = Number(rest.slice(0, slash));
      const record = { key: object.key, objectSize: object.size, fields: parsed.fields };
      if (current?.name === parsed.name && current.userId === userId) {
        current.records.push(record);
      } else {
        if (current) yield oldestFirst(current);
        current = { userId, name: parsed.name, records: [record] };
      }
    }
  }
  if (current) yield oldestFirst(current);
}

/**
 * The newest record of each name whose records start with `listPrefix`, as a history of one: one
 * listed key, however long the name's history.
 */
export async function latest(
  client: S3Client,
  recordsRoot: string,
  listPrefix: string,
): Promise<History | undefined> {
  const next = await histories(client, recordsRoot, listPrefix, 1).next();
  return next.done ? undefined : next.value;
}

function oldestFirst(history: History): History {
  history.records.reverse();
  return history;
}

/** The file version of `history` current at `atMs` (`Infinity`: the newest), if any. */
export function currentAt(history: History, atMs = Infinity): VersionRecord | undefined {
  const { records } = history;
  let at = records.length - 1;
  while (at >= 0 && storedMsOf(records[at].fields.versionId) > atMs) at--;
  if (at < 0 || records[at].fields.kind !== "file") return undefined;
  // As seen then, it was current: it had not ended (as the embedded engine lists it too).
  return versionRecord(history.name, records[at] as FileRecord, undefined);
}

/** Every file version of `history`, oldest first, with when and how each ended. */
export function fileVersions(history: History): VersionRecord[] {
  const versions: VersionRecord[] = [];
  history.records.forEach((record, i) => {
    if (record.fields.kind === "file") {
      versions.push(versionRecord(history.name, record as FileRecord, history.records[i + 1]));
    }
  });
  return versions;
}

/** A file record's metadata. */
export function metadataOf(record: FileRecord): FileMetadata {
  const { fields } = record;
  return {
    versionId: fields.versionId,
    size: fields.data?.size ?? fields.zstd?.size ?? fields.chunks?.size ?? record.objectSize,
    mtimeMs: fields.mtimeMs,
    mode: fields.mode,
    sha256: fields.sha256,
    storedMs: storedMsOf(fields.versionId),
  };
}

/**
 * The records retention drops from `history`: past file versions ended before `keepSinceMs` or
 * beyond the newest `keepVersions`, and deletion records with no file version left before them.
 */
export function expiredRecords(
  history: History,
  keepSinceMs: number,
  keepVersions: number | undefined,
): StoredRecord[] {
  const { records } = history;
  const dropped = new Set<StoredRecord>();
  let pastKept = 0;
  for (let i = records.length - 2; i >= 0; i--) {
    const record = records[i];
    if (record.fields.kind !== "file") continue;
    const endedMs = storedMsOf(records[i + 1].fields.versionId);
    const tooMany = keepVersions !== undefined && pastKept >= keepVersions;
    if (endedMs < keepSinceMs || tooMany) dropped.add(record);
    else pastKept++;
  }
  let fileBefore = false;
  for (const record of records) {
    if (record.fields.kind === "file" && !dropped.has(record)) fileBefore = true;
    if (record.fields.kind === "deleted" && !fileBefore) dropped.add(record);
  }
  return records.filter((record) => dropped.has(record));
}

/** Bytes `history`'s versions take against the quota: what the bucket holds for them. */
export function historyBytes(history: History): number {
  let bytes = 0;
  for (const record of history.records) {
    if (record.fields.kind === "file") bytes += storedBytesOf(record as FileRecord);
  }
  return bytes;
}

/**
 * Bytes the bucket holds for a version: its data object's, else its record's (for a `z` record,
 * the compressed size, not the file's; for a `c` record, its chunk list: the packs are counted
 * per user, `S3Storage.usage`, since versions share their chunks).
 */
export function storedBytesOf(record: FileRecord): number {
  return record.fields.data?.size ?? record.objectSize;
}

/** The UTF-8 length of a name. */
export function nameLength(name: string): number {
  return encoder.encode(name).length;
}

function versionRecord(name: string, record: FileRecord, next?: StoredRecord): VersionRecord {
  return {
    ...metadataOf(record),
    name: encoder.encode(name),
    endedMs: next ? storedMsOf(next.fields.versionId) : null,
    deleted: next?.fields.kind === "deleted",
  };
}
