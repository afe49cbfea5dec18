/**
 * The S3 commit path: the checks a new version passes once its bytes are stored (no file/folder
 * conflict, no replace refused, room in the quota), then the record that makes it current. The
 * record is one object put: the version is current once the store has it. A record PUT that
 * fails is taken back (a best-effort DELETE, rule W4), since it may have landed all the same.
 *
 * @module
 */
import { type PutOptions, ReplaceRefusedError } from "../storage.ts";
import { keepsNone, refusesReplace, retentionFor } from "../retention.ts";
import { checkNoConflict } from "./conflicts.ts";
import { type FileRecord, storedBytesOf, type StoredRecord } from "./histories.ts";
import { recordKey, VERSION_TICKS } from "./keys.ts";
import type { Housekeeping } from "./maintenance.ts";
import { recordChargeOf, type UsageEstimates } from "./quota.ts";
import type { StoredBytes } from "./uploads.ts";

/** Where commits go: the store, its retention rules, and the quota estimates they update. */
export interface CommitContext extends Housekeeping {
  usage: UsageEstimates;
}

/** One upload to commit. */
export interface Commit {
  userId: number;
  name: string;
  options: PutOptions;
  sha256: Uint8Array;
  /** Where the upload's bytes are. */
  stored: StoredBytes;
  /**
   * The name's newest record before this commit, if it has any: as just listed, or as this server
   * last stored it (`RecentNames`, under default retention only).
   */
  latest: StoredRecord | undefined;
  /**
   * The file/folder check, when the engine started it already (beside listing `latest`, for a
   * name it did not know): awaited instead of a new one if `latest` is not a file.
   */
  conflictCheck?: Promise<void>;
}

/**
 * Stores the record that makes an upload the current version of its name.
 *
 * @returns the record stored.
 * @throws {NameConflictError} if the name would be both a file and a folder.
 * @throws {ReplaceRefusedError} if the user may not replace the current version.
 * @throws {QuotaExceededError} if the version does not fit in the user's quota.
 */
export async function putFileRecord(ctx: CommitContext, commit: Commit): Promise<FileRecord> {
  const { userId, name, options, sha256, stored, latest } = commit;
  // A name that is a file now was checked when it became one: only a new name (or one deleted)
  // can collide with a folder.
  if (latest?.fields.kind !== "file") {
    await (commit.conflictCheck ?? checkNoConflict(ctx.client, ctx.prefix, userId, name));
  }
  const appendOnly = ctx.appendOnlyOf(userId);
  if (refusesReplace(ctx.retention, appendOnly) && latest?.fields.kind === "file") {
    throw new ReplaceRefusedError(name);
  }
  const retention = retentionFor(ctx.retention, appendOnly);
  const charge = recordChargeOf(name);
  // The quota counts what the bucket holds: a `z` record's compressed bytes, a `c` record's list
  // and the packs its upload wrote.
  const bytes = "data" in stored
    ? stored.data.size
    : stored.body.length + (stored.chunks?.packBytes ?? 0);
  // A replaced record that retention drops frees its charge as well as its bytes.
  const replaced = latest?.fields.kind === "file" && keepsNone(retention)
    ? storedBytesOf(latest as FileRecord) + charge
    : 0;
  await ctx.usage.check(userId, bytes + charge - replaced);
  const versionId = nextVersionId(ctx.now(), latest?.fields.versionId ?? 0);
  const mode = options.mode ?? null;
  const mtimeMs = options.mtimeMs ?? Math.floor(versionId / VERSION_TICKS);
  const fields: FileRecord["fields"] = { kind: "file", versionId, mtimeMs, mode, sha256 };
  if ("data" in stored) fields.data = { size: stored.data.size, dataId: stored.data.dataId };
  else if (stored.zstd) fields.zstd = { size: stored.zstd.size };
  else if (stored.chunks) fields.chunks = { size: stored.chunks.size };
  const key = recordKey(ctx.prefix, userId, name, fields);
  // W3: a chunked upload's record is signed while its pin is fresh, so that the store refuses it
  // if it lands too late for the pin to have kept its packs (docs/s3_repository_plan.md §3.4).
  const signedAt = "body" in stored ? await stored.signRecordAt?.() : undefined;
  try {
    await ctx.client.put(key, "body" in stored ? stored.body : new Uint8Array(0), { signedAt });
  } catch (error) {
    // W4: the PUT may have landed all the same; the upload reports a failure, so take it back.
    await ctx.client.delete(key).catch(() => {});
    throw error;
  }
  ctx.usage.stored(userId, bytes + charge);
  return { key, objectSize: "body" in stored ? stored.body.length : 0, fields };
}

/**
 * A new version id: from the clock (`VERSION_TICKS` per millisecond, the tick at random), above
 * `after` whatever the clocks say.
 *
 * @example
 * ```ts
 * import { nextVersionId } from "./commits.ts";
 * import { VERSION_TICKS } from "./keys.ts";
 * import assert from "node:assert/strict";
 * const id = nextVersionId(1000, 0);
 * assert.ok(id >= 1000 * VERSION_TICKS && id < 1001 * VERSION_TICKS);
 * assert.equal(nextVersionId(1000, 5000 * VERSION_TICKS), 5000 * VERSION_TICKS + 1);
 * ```
 */
export function nextVersionId(nowMs: number, after: number): number {
  const fromClock = nowMs * VERSION_TICKS + Math.floor(Math.random() * VERSION_TICKS);
  return Math.max(fromClock, after + 1);
}
