/**
 * Merging a user's snapshot index objects (`x/USER/snap.*`, docs/storage.md "Snapshots on S3"):
 * a session writes one per pack stored (and per commit and close), and every server reads them all
 * at its first session for the user, so a GC run that finds a user with more than
 * `mergeSnapshotIndexesAbove` of them writes their entries again as few objects, then deletes
 * them in a later run:
 *
 * 1. **finish**: each merge manifest `g/merges/MERGE` at least G old (by the store's clock) has
 *    the objects it merged deleted (one gone already is passed over), then itself;
 * 2. **merge**: per user over the bound, with no merge of its own listed: the entries the
 *    mark read (sorted by id, dropped places and packs gone or deleted by this run left out, one
 *    place per id: an index object holds each id once, and a place in a pack no tombstone dooms is
 *    kept over one in a doomed pack, a repack's copy over its original) PUT as
 *    `x/USER/snap.MERGE.N`, `INDEX_MAX_ENTRIES` each, signed at the mark's start, then the
 *    manifest naming them and the objects they merge.
 *
 * A server that listed the old objects before the merged ones were written and GETs one after it
 * is deleted passes it over ("deleted since the LIST") and misses its entries until its next
 * listing: a G wait makes that a reader stalled for G between its LIST and its GETs. Until then
 * both are read (the cache keeps one place per id; the mark counts a place once). `t/` objects
 * are not merged: a tree's references are found by its pack's session (`t/USER/SESSION.*`,
 * `snapshot_reach.ts`), so they stay while a pack of their session does (`snapshot_mark.ts`).
 * Drop records keep their meaning: a merged entry keeps its place, and the places dropped when it
 * was written are left out (a record written later names places the merged entries still have).
 * A run killed after some pieces and before the manifest leaves objects that a later merge takes
 * in (nothing is deleted without a manifest written after its pieces).
 *
 * Memory: one user's entries (the mark's), and a piece being encoded.
 *
 * @module
 */
import type { S3Client } from "../../objects/s3/s3_client.ts";
import { CorruptStoreError } from "../storage.ts";
import { type ChunkTable, encodeChunkTable, sortedById } from "./chunk_list.ts";
import { CHUNK_ENTRY_BYTES, compareIds, packIndexAt } from "./chunk_entry.ts";
import { INDEX_MAX_ENTRIES, withoutPacks } from "./gc_mark.ts";
import type { GcLock } from "./gc_lock.ts";
import { randomId } from "./gc_objects.ts";
import { inBatches, readAll } from "./gc_requests.ts";
import type { ChunkGcReport } from "./options.ts";
import type { SnapshotObjects } from "./snapshot_mark.ts";
import { BLOB_INDEX_TAG } from "./snapshot_objects.ts";

/** A user's snapshot index objects are merged past this many. */
export const DEFAULT_MERGE_INDEXES_ABOVE = 64;

/** What a merge wrote and what it merged (keys relative to the store's prefix). */
export interface MergeManifest {
  userId: number;
  pieces: string[];
  merged: string[];
}

/** The folder of merge manifests. */
export function mergesPrefix(prefix: string): string {
  return `${prefix}g/merges/`;
}

/** What a merge works with: the run's. */
export interface IndexMergeContext {
  client: S3Client;
  prefix: string;
  lock: GcLock;
  /** What the mark read. */
  objects: SnapshotObjects;
  /** μ, by the store's clock. */
  markMs: number;
  graceMs: number;
  /** The mark's start, by this server's clock: what the pieces are signed at. */
  signedAt: number;
  /** Merge a user's objects past this many. */
  above: number;
  /** Whether a pack (`p/USER/NAME`) is gone or deleted by this run. */
  gone(pack: string): boolean;
  /** Whether a pack (`p/USER/NAME`) is in a tombstone this run read or wrote. */
  doomed(pack: string): boolean;
  /** `snapshotIndexesMerged`, `snapshotIndexesWritten` are counted in it. */
  report: ChunkGcReport;
}

/**
 * Finishes earlier merges, then merges; see the module comment.
 *
 * @throws {S3Error} if the store failed a request, {GcLockLostError} if the lock was lost before a
 *   batch, {CorruptStoreError} if a manifest does not decode.
 */
export async function mergeSnapshotIndexes(ctx: IndexMergeContext): Promise<void> {
  const { client, prefix, lock } = ctx;
  const manifests = await readAll(client, prefix, mergesPrefix(prefix), decodeManifest);
  // Users with a merge of their own under way, or finished now (the mark read what it deleted).
  const busy = new Set(manifests.map(({ value }) => value.userId));
  for (const manifest of manifests) {
    if (manifest.lastModifiedMs > ctx.markMs - ctx.graceMs) continue;
    await inBatches(manifest.value.merged, lock, (key) => client.delete(prefix + key));
    lock.ensureHeld();
    await client.delete(prefix + manifest.key);
    ctx.report.snapshotIndexesDeleted = (ctx.report.snapshotIndexesDeleted ?? 0) +
      manifest.value.merged.length;
  }
  for (const [userId, user] of ctx.objects) {
    if (user.indexes.length <= ctx.above || busy.has(userId)) continue;
    const table = onePlacePerId(
      withoutPacks(sortedById(user.builder.table()), (pack) => ctx.gone(`p/${userId}/${pack}`)),
      (pack) => ctx.doomed(`p/${userId}/${pack}`),
    );
    const merge = randomId();
    const pieces: string[] = [];
    for (let from = 0, n = 1; from < table.count; from += INDEX_MAX_ENTRIES, n++) {
      const count = Math.min(INDEX_MAX_ENTRIES, table.count - from);
      const entries = table.entries.subarray(
        from * CHUNK_ENTRY_BYTES,
        (from + count) * CHUNK_ENTRY_BYTES,
      );
      const key = `x/${userId}/${BLOB_INDEX_TAG}${merge}.${n}`;
      lock.ensureHeld();
      await client.put(
        prefix + key,
        encodeChunkTable("blobs", { packs: table.packs, entries, count }),
        { signedAt: ctx.signedAt },
      );
      pieces.push(key);
    }
    const manifest: MergeManifest = {
      userId,
      pieces,
      merged: user.indexes.map(({ key }) => key),
    };
    lock.ensureHeld();
    await client.put(`${mergesPrefix(prefix)}${merge}`, encodeManifest(manifest));
    ctx.report.snapshotIndexesMerged = (ctx.report.snapshotIndexesMerged ?? 0) +
      manifest.merged.length;
    ctx.report.snapshotIndexesWritten = (ctx.report.snapshotIndexesWritten ?? 0) + pieces.length;
  }
}

/** The body of a manifest (JSON). */
export function encodeManifest(manifest: MergeManifest): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(manifest));
}

/** @throws {CorruptStoreError} if `bytes` is not a manifest. */
export function decodeManifest(bytes: Uint8Array): MergeManifest {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    value = undefined;
  }
  const manifest = value as Partial<MergeManifest> | undefined;
  const keys = (list: unknown) =>
    Array.isArray(list) && list.every((key) => typeof key === "string" && key.startsWith("x/"));
  if (
    !manifest || !Number.isSafeInteger(manifest.userId) || !keys(manifest.pieces) ||
    !keys(manifest.merged)
  ) {
    throw new CorruptStoreError(`a merge manifest of ${bytes.length} bytes that is not one`);
  }
  return manifest as MergeManifest;
}

/**
 * `table` (sorted by id) with one entry per id: the first in a pack not `doomed`, else the first.
 * Two places of an id come from sessions that stored one blob at once, or a repack's copy.
 */
export function onePlacePerId(table: ChunkTable, doomed: (pack: string) => boolean): ChunkTable {
  const source = table.entries;
  const end = table.count * CHUNK_ENTRY_BYTES;
  const entries = new Uint8Array(end);
  let out = 0;
  for (let run = 0; run < end;) {
    let next = run + CHUNK_ENTRY_BYTES;
    while (next < end && compareIds(source, run, source, next) === 0) next += CHUNK_ENTRY_BYTES;
    let kept = run;
    for (let at = run; at < next; at += CHUNK_ENTRY_BYTES) {
      if (!doomed(table.packs[packIndexAt(source, at)])) {
        kept = at;
        break;
      }
    }
    entries.set(source.subarray(kept, kept + CHUNK_ENTRY_BYTES), out);
    out += CHUNK_ENTRY_BYTES;
    run = next;
  }
  return { packs: table.packs, entries: entries.subarray(0, out), count: out / CHUNK_ENTRY_BYTES };
}
