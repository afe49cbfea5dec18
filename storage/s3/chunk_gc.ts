/**
 * One garbage-collection run of packs on a shared bucket (docs/s3_repository_plan.md §3.3), inside
 * `S3Storage.prune()` after retention:
 *
 * 1. take the prune lock (`gc_lock.ts`; a server that does not get it does nothing more); μ is
 *    the store's time then;
 * 3. **mark**: LIST `g/pins/` (and GET each), **then** LIST `u/` and GET every `c` record's chunk
 *    list, then LIST `g/doomed/` and `p/`. Pins come first: an upload deletes its pin only after
 *    its record is stored, so a pin this mark missed belongs to a record it lists;
 * 4. **sweep**: delete the packs of tombstones at least G old that this mark found unreferenced
 *    and unpinned (`planGc`);
 *    **repack** (§3.6, `repack.ts`): the packs at least G old whose live share is under
 *    `repackBelow` have their live chunks copied into new packs and the records naming them
 *    rewritten; they join this run's tombstone; so do snapshot packs at least the blob grace old
 *    whose live blobs (`snapshot_repack_mark.ts`) are copied and indexed (`snapshot_repack.ts`);
 * 5. **doom**: PUT `g/doomed/RUN` with the packs at least G old that nothing protects;
 * 6. **index**: PUT `x/USER/gc.RUN.N` (every chunk the mark found live, one place each), signed
 *    with the mark's start (a run paused past the store's skew cannot land a stale index), then
 *    DELETE every other `x/` object older than μ: their records were all listed by this mark;
 * 7. DELETE the swept tombstones (now that no index names their packs) and the stale pins;
 *    then merge the snapshot index objects of users who have many (`snapshot_index_merge.ts`).
 *
 * `ensureHeld()` comes before each destructive batch; a run that fails stops where it is (a later
 * run redoes what is left: every step is idempotent). Why no pack a record or a live pin names is
 * ever deleted: §3.4 of the plan. The mark never guesses: a list or pin it cannot read stops the
 * run before anything is deleted.
 *
 * Memory: the mark holds each user's live chunk entries (`gc_mark.ts`) until its index object is
 * written; a repack adds one old pack's live bytes and two new packs (`repack.ts`,
 * `snapshot_repack.ts`).
 *
 * @module
 */
import type { S3Client } from "../../objects/s3/s3_client.ts";
import { systemClock } from "./gc_clock.ts";
import { type GcLock, tryLock } from "./gc_lock.ts";
import { indexBodies, markRecords, withoutPacks } from "./gc_mark.ts";
import {
  decodePin,
  decodeTombstone,
  encodeTombstone,
  pinsPrefix,
  randomId,
  tombstonesPrefix,
} from "./gc_objects.ts";
import { DEFAULT_GRACE_MS, DEFAULT_PIN_STALE_MS, type GcMark } from "./gc_plan.ts";
import { inBatches, listed, readAll } from "./gc_requests.ts";
import {
  type ChunkGcReport,
  type ChunkGcStep,
  DEFAULT_S3_PACK_TARGET_BYTES,
  type S3GcOptions,
} from "./options.ts";
import { repackPacks } from "./repack.ts";
import { readSnapshotObjects } from "./snapshot_mark.ts";
import { DEFAULT_MERGE_INDEXES_ABOVE, mergeSnapshotIndexes } from "./snapshot_index_merge.ts";
import { repackSnapshotPacks } from "./snapshot_repack.ts";
import { planWithSnapshots } from "./snapshot_repack_plan.ts";
import { DEFAULT_BLOB_GRACE_MS } from "../snapshots.ts";
import { BLOB_INDEX_TAG } from "./snapshot_objects.ts";

/** Where a run works. */
export interface ChunkGcContext {
  client: S3Client;
  /** The store's key prefix. */
  prefix: string;
  /** This server (written in its lock object). */
  owner: string;
  gc: S3GcOptions;
  /** Repack cuts its new packs at this size. @default DEFAULT_S3_PACK_TARGET_BYTES */
  packTargetBytes?: number;
  /** Applies retention to one name again, after repack rewrote a record of it. */
  reprune?: (userId: number, name: string) => Promise<void>;
  /** How long a snapshot session's packs are kept whatever references them. @default 24 h */
  blobGraceMs?: number;
  /**
   * Told of failures that do not stop the run (a lock refresh, the lock's release, a pack repack
   * leaves as it is).
   */
  onError?: (error: unknown) => void;
}

/**
 * Runs one GC if this server gets the prune lock; see the module comment.
 *
 * @returns what it did (`held: false` if another server holds the lock).
 * @throws {S3Error} if the store failed a request, {CorruptStoreError} if a chunk list, pin or
 *   tombstone does not decode, {GcLockLostError} if the lock was lost before a destructive batch.
 */
export async function runChunkGc(ctx: ChunkGcContext): Promise<ChunkGcReport> {
  const report: ChunkGcReport = {
    held: false,
    lists: 0,
    deletedPacks: 0,
    doomedPacks: 0,
    repackedPacks: 0,
    copiedChunks: 0,
    rewrittenRecords: 0,
    indexWritten: 0,
    indexDeleted: 0,
    tombstonesDeleted: 0,
    pinsDeleted: 0,
  };
  const { gc } = ctx;
  const durations = {
    settleMs: gc.lockSettleMs,
    refreshMs: gc.lockRefreshMs,
    refreshableMs: gc.lockRefreshableMs,
    staleMs: gc.lockStaleMs,
    clock: gc.clock,
  };
  const lock = await tryLock({
    client: ctx.client,
    prefix: ctx.prefix,
    owner: ctx.owner,
    // Unset durations take the lock's defaults.
    ...Object.fromEntries(Object.entries(durations).filter(([, value]) => value !== undefined)),
    onRefreshError: ctx.onError,
  });
  if (!lock) return report;
  report.held = true;
  try {
    await collect(ctx, lock, report);
  } finally {
    await lock.release().catch(ctx.onError ?? (() => {}));
  }
  gc.onReport?.(report);
  return report;
}

async function collect(ctx: ChunkGcContext, lock: GcLock, report: ChunkGcReport): Promise<void> {
  const { client, prefix, gc } = ctx;
  const step = async (name: ChunkGcStep) => await gc.onStep?.(name, report);
  const markMs = lock.storeTimeMs;
  // The index of step 6 is signed now: it names what the mark finds live from here on.
  const markSignedAt = (gc.clock ?? systemClock).now();
  const pins = await readAll(client, prefix, pinsPrefix(prefix), decodePin);
  const records = await markRecords(client, prefix);
  report.lists = records.lists;
  // After the pins (a session's pin goes after its snapshot is stored, as an upload's).
  const snapshotObjects = await readSnapshotObjects(client, prefix);
  const tombstones = (await readAll(client, prefix, tombstonesPrefix(prefix), decodeTombstone))
    .map(({ value, ...listed }) => ({ ...listed, packs: value }));
  const packs = await listed(client, prefix, `${prefix}p/`);
  const mark: GcMark = {
    markMs,
    referenced: records.referenced,
    pins: pins.map(({ value, ...listed }) => ({ ...listed, pin: value })),
    tombstones,
    packs,
    graceMs: gc.graceMs ?? DEFAULT_GRACE_MS,
    pinStaleMs: gc.pinStaleMs ?? DEFAULT_PIN_STALE_MS,
    liveBytes: records.liveBytes,
    repackBelow: gc.repackBelow,
    maxRepacks: gc.maxRepacks,
  };
  // What the snapshots keep depends on what the run deletes and repacks (`snapshot_repack_plan.ts`).
  const { plan, snapshots, repack: snapshotRepack } = planWithSnapshots({
    mark,
    objects: snapshotObjects,
    blobGraceMs: ctx.blobGraceMs ?? DEFAULT_BLOB_GRACE_MS,
  });
  await step("marked");

  // Step 4.
  await inBatches(plan.deletePacks, lock, (pack) => client.delete(prefix + pack));
  report.deletedPacks = plan.deletePacks.length;
  await step("swept");

  // Repack, before the doom: its old packs join this run's tombstone once no record names them.
  const repacked = plan.repack.length === 0 ? [] : await repackPacks({
    client,
    prefix,
    gc,
    lock,
    mark: records,
    packTargetBytes: ctx.packTargetBytes ?? DEFAULT_S3_PACK_TARGET_BYTES,
    report,
    step,
    reprune: ctx.reprune,
    onError: ctx.onError ?? (() => {}),
  }, plan.repack);
  report.repackedPacks = repacked.length;
  // And snapshot packs: theirs once their live blobs are copied and indexed.
  const snapshotRepacked = snapshotRepack.length === 0 ? [] : await repackSnapshotPacks({
    client,
    prefix,
    gc,
    lock,
    objects: snapshotObjects,
    live: snapshots.live,
    packTargetBytes: ctx.packTargetBytes ?? DEFAULT_S3_PACK_TARGET_BYTES,
    report,
    step,
    onError: ctx.onError ?? (() => {}),
  }, snapshotRepack);

  // Step 5.
  const doom = [...new Set([...plan.doom, ...repacked, ...snapshotRepacked])];
  if (doom.length > 0) {
    lock.ensureHeld();
    await client.put(`${tombstonesPrefix(prefix)}${randomId()}`, encodeTombstone(doom));
    report.doomedPacks = doom.length;
  }
  await step("doomed");

  // Step 6: the consolidated index objects, then every other index object older than μ.
  const run = randomId();
  const written = new Set<string>();
  // Not the packs of any tombstone this mark read, even those it spares: a run paused before this
  // PUT must not land an index naming a pack that a later run sweeps (the tombstone would then be
  // gone from the views that filter it). A tombstone written after this mark is G younger than the
  // signature of this PUT, which the store refuses once F late.
  // Nor the packs repacked now (their copies are in the repack's own delta).
  const inTombstones = new Set([...tombstones.flatMap(({ packs }) => packs), ...repacked]);
  for (const [userId, table] of records.byId) {
    const bodies = indexBodies(
      withoutPacks(table, (pack) => inTombstones.has(`p/${userId}/${pack}`)),
    );
    for (const [i, body] of bodies.entries()) {
      const key = `${prefix}x/${userId}/gc.${run}.${i + 1}`;
      lock.ensureHeld();
      await client.put(key, body, { signedAt: markSignedAt });
      written.add(key);
    }
  }
  report.indexWritten = written.size;
  // Deleting an index object is always safe (they are hints); a delta younger than μ is kept
  // only because this mark may have missed its record. Earlier runs' objects name nothing the
  // mark did not see.
  // Snapshot sessions' objects are where their blobs are: they go only with their packs (step 7).
  const older = (await listed(client, "", `${prefix}x/`)).filter(({ key, lastModifiedMs }) =>
    !written.has(key) &&
    !key.slice(prefix.length).startsWith(`x/${userOf(key)}/${BLOB_INDEX_TAG}`) &&
    (lastModifiedMs < markMs || /\/gc\.[0-9a-f]{16}\.\d+$/.test(key))
  );
  await inBatches(older.map(({ key }) => key), lock, (key) => client.delete(key));
  report.indexDeleted = older.length;
  await step("indexed");

  // Step 7, last: no index object names the swept tombstones' packs any more.
  await inBatches(plan.sweptTombstones, lock, (key) => client.delete(prefix + key));
  report.tombstonesDeleted = plan.sweptTombstones.length;
  await inBatches(plan.stalePins, lock, (key) => client.delete(prefix + key));
  report.pinsDeleted = plan.stalePins.length;
  await inBatches(snapshots.deadObjects, lock, (key) => client.delete(prefix + key));
  report.snapshotObjectsDeleted = snapshots.deadObjects.length;

  // Then users' many snapshot index objects are merged (those merged G ago deleted first).
  const existing = new Set(packs.map(({ key }) => key));
  const deleted = new Set(plan.deletePacks);
  const doomed = new Set(doom);
  await mergeSnapshotIndexes({
    client,
    prefix,
    lock,
    objects: snapshotObjects,
    markMs,
    graceMs: mark.graceMs!,
    signedAt: markSignedAt,
    above: gc.mergeSnapshotIndexesAbove ?? DEFAULT_MERGE_INDEXES_ABOVE,
    gone: (pack) => !existing.has(pack) || deleted.has(pack),
    doomed: (pack) => inTombstones.has(pack) || doomed.has(pack),
    report,
  });
}

/** The user of an index object's key (`PREFIX x/USER/NAME`). */
function userOf(key: string): string {
  return /x\/(\d+)\/[^/]*$/.exec(key)?.[1] ?? "";
}
