/**
 * The snapshot record: one backup run as the client describes it (docs/snapshots_plan.md §1.3).
 * Canonical JSON like a tree; its id is the SHA-256 of its bytes. The server stores it beside its
 * root tree's id and never reads it.
 *
 * @module
 */
import { BackupError } from "../../common/backup_error.ts";

/** A record is at most this many bytes. */
export const MAX_SNAPSHOT_RECORD_BYTES = 64 * 1024;

/** What a backup run did, as the client counted it. */
export interface SnapshotSummary {
  /** Files in the snapshot. */
  files: number;
  /** Folders in the snapshot. */
  dirs: number;
  /** Bytes of the files in the snapshot. */
  bytes: number;
  /** Files the parent snapshot did not have. */
  filesNew: number;
  /** Files the parent had, read again because they changed. */
  filesChanged: number;
  /** Files the parent had, unchanged, not read. */
  filesUnmodified: number;
  /** Raw bytes of the chunks this run sent (the rest the server had). */
  bytesAdded: number;
}

/** One snapshot. */
export interface SnapshotRecord {
  /** When the run started (or `backup --time`), ms since the epoch. */
  timeMs: number;
  /** The root tree's id (64 lowercase hex digits). */
  tree: string;
  /** The paths backed up, as given. */
  paths: string[];
  /** The machine backed up (snapshots are per host). */
  host: string;
  /** Who ran the backup on the host. */
  user: string;
  /** Labels given with `--tag`. */
  tags: string[];
  /** The snapshot whose entries the unchanged check compared with. */
  parent?: string;
  /** What the run did. */
  summary: SnapshotSummary;
}

/** Bytes that are not a record `encodeSnapshot` could have written. */
export class CorruptSnapshotError extends BackupError {}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const HEX_ID = /^[0-9a-f]{64}$/;
const SUMMARY_KEYS = [
  "files",
  "dirs",
  "bytes",
  "filesNew",
  "filesChanged",
  "filesUnmodified",
  "bytesAdded",
] as const;

/**
 * The canonical bytes of `record`.
 *
 * @throws {CorruptSnapshotError} if a field breaks a rule or the bytes are over the limit.
 * @example
 * ```ts
 * import { decodeSnapshot, encodeSnapshot } from "./snapshot.ts";
 * import assert from "node:assert/strict";
 * const summary = {
 *   files: 1, dirs: 1, bytes: 2, filesNew: 1, filesChanged: 0, filesUnmodified: 0, bytesAdded: 2,
 * };
 * const record = {
 *   timeMs: 5, tree: "ab".repeat(32), paths: ["/home"], host: "h", user: "u", tags: [], summary,
 * };
 * const bytes = encodeSnapshot(record);
 * assert.ok(new TextDecoder().decode(bytes).startsWith('{"timeMs":5,"tree":"abab'));
 * assert.deepEqual(decodeSnapshot(bytes), record);
 * ```
 */
export function encodeSnapshot(record: SnapshotRecord): Uint8Array {
  const bytes = encoder.encode(JSON.stringify(canonicalRecord(record)));
  if (bytes.length > MAX_SNAPSHOT_RECORD_BYTES) {
    throw new CorruptSnapshotError(
      `a snapshot record of ${bytes.length} bytes; at most ${MAX_SNAPSHOT_RECORD_BYTES}`,
    );
  }
  return bytes;
}

/**
 * The record in `bytes`, which must be exactly what `encodeSnapshot` writes for it.
 *
 * @throws {CorruptSnapshotError} otherwise.
 */
export function decodeSnapshot(bytes: Uint8Array): SnapshotRecord {
  if (bytes.length > MAX_SNAPSHOT_RECORD_BYTES) {
    throw new CorruptSnapshotError(`a snapshot record of ${bytes.length} bytes`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(bytes));
  } catch (error) {
    throw new CorruptSnapshotError(`not a snapshot record: ${(error as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new CorruptSnapshotError("not a snapshot record: not an object");
  }
  const record = parsed as SnapshotRecord;
  const again = encodeSnapshot(record);
  if (again.length !== bytes.length || again.some((byte, i) => byte !== bytes[i])) {
    throw new CorruptSnapshotError("not in canonical form (order, keys or numbers differ)");
  }
  return record;
}

/** Checks every field and rebuilds the record with its keys in the canonical order. */
function canonicalRecord(record: SnapshotRecord): SnapshotRecord {
  const int = (key: string, value: unknown, min = 0) => {
    if (!Number.isSafeInteger(value) || (value as number) < min) {
      throw new CorruptSnapshotError(`${key} is not an integer ≥ ${min}`);
    }
    return value as number;
  };
  const text = (key: string, value: unknown) => {
    if (typeof value !== "string" || !value.isWellFormed() || value.length > 4096) {
      throw new CorruptSnapshotError(`${key} is not a string of at most 4096 characters`);
    }
    return value;
  };
  const id = (key: string, value: unknown) => {
    if (typeof value !== "string" || !HEX_ID.test(value)) {
      throw new CorruptSnapshotError(`${key} is not a snapshot or tree id`);
    }
    return value;
  };
  const texts = (key: string, value: unknown) => {
    if (!Array.isArray(value)) throw new CorruptSnapshotError(`${key} is not a list`);
    return value.map((item) => text(key, item));
  };
  const summary = record.summary as unknown as Record<string, unknown>;
  if (typeof summary !== "object" || summary === null) {
    throw new CorruptSnapshotError("summary is not an object");
  }
  if (Object.keys(summary).length !== SUMMARY_KEYS.length) {
    throw new CorruptSnapshotError("summary has unknown or missing keys");
  }
  const out: Record<string, unknown> = {
    timeMs: int("timeMs", record.timeMs, Number.MIN_SAFE_INTEGER),
    tree: id("tree", record.tree),
    paths: texts("paths", record.paths),
    host: text("host", record.host),
    user: text("user", record.user),
    tags: texts("tags", record.tags),
  };
  if (record.parent !== undefined) out.parent = id("parent", record.parent);
  out.summary = Object.fromEntries(
    SUMMARY_KEYS.map((key) => [key, int(`summary.${key}`, summary[key])]),
  );
  const known = new Set(Object.keys(out));
  for (const key of Object.keys(record)) {
    if (!known.has(key) && (record as unknown as Record<string, unknown>)[key] !== undefined) {
      throw new CorruptSnapshotError(`unknown key ${JSON.stringify(key)}`);
    }
  }
  return out as unknown as SnapshotRecord;
}
